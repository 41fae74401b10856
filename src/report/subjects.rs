//! The `subject-checksums` output: what this run shipped, one `<hex>  <name>` line per
//! subject, for `actions/attest` (and `attest-build-provenance`) to read as its
//! `subject-checksums` input.
//!
//! Why not the `checksums` file: it is written for `sha256sum -c`, which escapes a name
//! holding `\`, a line feed or a carriage return the GNU way (the line starts with `\`).
//! attest reads a line as the text before the first space (which must be hex) and the rest
//! (one leading `*` or space dropped); an escaped line fails its hex check and the whole
//! attest step with it (`actions/attest` `src/subject.ts`, `getSubjectFromChecksumsString`).
//! Here names are written as they are: a `\` is an ordinary character to attest. A name
//! holding a line feed or carriage return cannot be one line in any reading, and attest
//! refuses a name with either; such a file is left out (a warning counts them, the log
//! lists them inside a stop-commands fence), so the attest step covers every other file
//! rather than failing.
//!
//! What a subject is, per destination:
//! - release: each of this job's assets under the name GitHub stores it under;
//! - artifact: each artifact, as its digest (`artifact-digest`) names it: `<name>.zip` for
//!   an archive, the file's name with `archive: false`; the v3 protocol stores no single
//!   blob and gives no digest, so its artifacts are not subjects;
//! - directory, S3, or no destination: each selected file under its path in the checksums
//!   file, once a destination shipped it (a dry run: once the policies passed).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::Reached;
use crate::upload::DestinationReport;

/// The file's name, beside the run's other documents.
pub(crate) const FILE_NAME: &str = "subject-checksums.txt";

/// attest refuses a `subject-checksums` file larger than this
/// (`MAX_SUBJECT_CHECKSUM_SIZE_BYTES` in `src/subject.ts`: 512 x 1024).
pub(crate) const ATTEST_MAX_BYTES: usize = 512 * 1024;

/// The subjects of a run, and the names that cannot be one.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Subjects {
    /// `(name, hex sha256)`, sorted by name, each pair once.
    pub(crate) lines: BTreeSet<(String, String)>,
    /// Names left out: they hold a line feed or carriage return.
    pub(crate) left_out: Vec<String>,
}

impl Subjects {
    fn add(&mut self, name: &str, hex: &str) {
        if name.contains(['\n', '\r']) {
            self.left_out.push(name.to_owned());
        } else {
            self.lines
                .insert((name.to_owned(), hex.to_ascii_lowercase()));
        }
    }

    /// The document: `<hex>  <name>\n` per subject.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        for (name, hex) in &self.lines {
            let _ = writeln!(out, "{hex}  {name}");
        }
        out
    }
}

/// What the run shipped, by destination (see the module documentation); `None` before the
/// scan.
pub(crate) fn collect(state: &Reached) -> Option<Subjects> {
    let manifest = state.manifest.as_ref()?;
    let mut subjects = Subjects::default();
    // The selected files are subjects once, however many destinations hold them: with no
    // destination (a dry run) once the policies passed, else where a directory or S3
    // destination shipped them. Destinations configured but none reached (the run stopped
    // before shipping, e.g. on a credential finding): nothing shipped.
    let dry_run = state
        .config
        .as_ref()
        .is_some_and(|c| c.destinations.is_empty());
    let passed = state
        .gate
        .as_ref()
        .is_some_and(crate::gate::GateOutcome::passed);
    let mut files_shipped = dry_run && passed;
    let archive = state.config.as_ref().is_none_or(|c| c.artifact.archive);
    for destination in &state.destinations {
        match destination {
            DestinationReport::Directory(shipped) | DestinationReport::S3(shipped, _) => {
                files_shipped |= shipped.result.is_ok();
            }
            DestinationReport::Artifact(_, landed) => {
                for artifact in landed {
                    if let Some(digest) = &artifact.digest {
                        let name = if archive {
                            format!("{}.zip", artifact.name)
                        } else {
                            artifact.name.clone()
                        };
                        subjects.add(&name, digest);
                    }
                }
            }
            DestinationReport::Release(_, report) => {
                for (name, hex) in &report.subjects {
                    subjects.add(name, hex);
                }
            }
        }
    }
    if files_shipped {
        for (file, record) in manifest.selection.files.iter().zip(&manifest.records) {
            if file.link().is_none() {
                subjects.add(file.rel(), &hex::encode(record.sha256));
            }
        }
    }
    subjects.left_out.sort();
    subjects.left_out.dedup();
    Some(subjects)
}

/// Writes the rendered list beside `checksums` (the run's documents directory).
pub(crate) fn write(text: &str, checksums: &Path) -> std::io::Result<PathBuf> {
    let path = checksums.with_file_name(FILE_NAME);
    std::fs::write(&path, text)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::Subjects;

    #[test]
    fn names_are_written_as_they_are_and_line_breaks_are_left_out() {
        let mut s = Subjects::default();
        let hex = "AB".repeat(32);
        s.add("dir\\back slash.txt", &hex);
        s.add("*star", &hex);
        s.add("line\nfeed", &hex);
        s.add("carriage\rreturn", &hex);
        s.add("*star", &hex);
        assert_eq!(
            s.render(),
            format!(
                "{lower}  *star\n{lower}  dir\\back slash.txt\n",
                lower = "ab".repeat(32)
            )
        );
        assert_eq!(s.left_out, ["line\nfeed", "carriage\rreturn"]);
    }
}
