//! Step outputs in `$GITHUB_OUTPUT`, in the heredoc form `@actions/core` writes:
//! `name<<ghadelimiter_<random>` / value / delimiter.

use std::fmt::Write as _;
use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::log::LogReporter;
use super::{Reached, subjects};
use crate::events::{Event, Reporter as _};
use crate::scan::checksums;
use crate::secret::random_hex;
use crate::units;
use crate::upload::DestinationReport;

/// Why outputs could not be written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OutputError {
    /// The file could not be opened or written.
    #[error("cannot write step outputs to `{path}`: {source}")]
    Io {
        /// `$GITHUB_OUTPUT`.
        path: PathBuf,
        source: std::io::Error,
    },
    /// A value contains the delimiter (practically impossible with a random one).
    #[error("output `{name}` contains the heredoc delimiter")]
    Delimiter { name: String },
}

/// Renders outputs, each with its own random delimiter.
pub(crate) fn render(outputs: &[(&str, String)]) -> Result<String, OutputError> {
    let mut out = String::new();
    for (name, value) in outputs {
        let delimiter = format!("ghadelimiter_{}", random_hex());
        if name.contains(&delimiter) || value.contains(&delimiter) {
            return Err(OutputError::Delimiter {
                name: (*name).to_owned(),
            });
        }
        let _ = write!(out, "{name}<<{delimiter}\n{value}\n{delimiter}\n");
    }
    Ok(out)
}

/// Appends outputs to the file named by `$GITHUB_OUTPUT`.
pub(crate) fn write(path: &Path, outputs: &[(&str, String)]) -> Result<(), OutputError> {
    let text = render(outputs)?;
    let io = |source| OutputError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)
}

/// Largest `hashes` output written; job outputs are limited to 1 MB in total.
const MAX_HASHES_OUTPUT: usize = 512 * 1024;

/// Every step output of the run, in the order they are written.
pub(crate) fn step_outputs(state: &Reached, log: &LogReporter) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(m) = &state.manifest {
        out.push(("files", m.records.len().to_string()));
        out.push(("bytes", m.total_bytes.to_string()));
        out.push(("duplicates", m.duplicate_files().to_string()));
        out.push(("findings", m.open_findings().to_string()));
    }
    if let Some(d) = &state.documents {
        out.push(("manifest", d.manifest.display().to_string()));
    }
    artifact_outputs(state, &mut out);
    s3_outputs(state, &mut out);
    release_outputs(state, &mut out);
    if let Some(path) = state.documents.as_ref().map(|d| &d.checksums) {
        out.push(("checksums", path.display().to_string()));
        let size = fs::metadata(path).map_or(0, |m| usize::try_from(m.len()).unwrap_or(usize::MAX));
        let encoded = checksums::base64_len(size);
        let read = if encoded <= MAX_HASHES_OUTPUT {
            fs::read(path).map(Some)
        } else {
            Ok(None)
        };
        match read {
            // The checksums file names every file: a name holding a credential would leave
            // the runner base64-encoded, where no masker recognises it.
            Ok(Some(bytes)) if carries_credential(&bytes) => log.event(&Event::warning(
                "the `hashes` output is left empty: a file name in the checksums file looks like a credential; read the file at the `checksums` output instead".into(),
            )),
            Ok(Some(bytes)) => out.push(("hashes", checksums::hashes_output(&bytes))),
            Ok(None) => log.event(&Event::warning(format!(
                "the `hashes` output is left empty: base64 of the checksums file is {}, over the {} budget for job outputs; read the file at the `checksums` output instead",
                units::bytes(encoded as u64),
                units::bytes(MAX_HASHES_OUTPUT as u64)
            ))),
            Err(e) => log.line(&format!("warning: cannot read `{}`: {e}", path.display())),
        }
    }
    subject_output(state, log, &mut out);
    out
}

/// `subject-checksums`: the path of the list `actions/attest` reads ([`subjects`]).
fn subject_output(state: &Reached, log: &LogReporter, out: &mut Vec<(&'static str, String)>) {
    let (Some(docs), Some(found)) = (&state.documents, subjects::collect(state)) else {
        return;
    };
    if !found.left_out.is_empty() {
        // The names are untrusted: listed inside a fence, never in the annotation.
        log.event(&Event::warning(format!(
            "{} left out of the `subject-checksums` list (listed in the log): a name holding a line break cannot be an attestation subject (attest reads one subject per line); rename such files to attest them",
            units::plural(found.left_out.len() as u64, "file")
        )));
        let names: Vec<String> = found
            .left_out
            .iter()
            .map(|n| format!("  not attested: {}", n.escape_debug()))
            .collect();
        log.listing(&names);
    }
    let text = found.render();
    if text.len() > subjects::ATTEST_MAX_BYTES {
        log.event(&Event::warning(format!(
            "the `subject-checksums` list is {} ({} subjects); actions/attest refuses a list over {}: attest fewer files (a narrower `path`), or an archive of them",
            units::bytes(text.len() as u64),
            found.lines.len(),
            units::bytes(subjects::ATTEST_MAX_BYTES as u64)
        )));
    }
    match subjects::write(&text, &docs.checksums) {
        Ok(path) => out.push(("subject-checksums", path.display().to_string())),
        Err(e) => log.event(&Event::warning(format!(
            "the `subject-checksums` output is left empty: cannot write `{}`: {e}",
            docs.checksums.with_file_name(subjects::FILE_NAME).display()
        ))),
    }
}

fn carries_credential(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    super::redact::text(&text) != text
}

/// `artifact-id`, `artifact-url`, `artifact-digest`: plain values for one artifact, as
/// upload-artifact writes them; with `archive: false` and several files, JSON objects
/// keyed by artifact name.
fn artifact_outputs(state: &Reached, out: &mut Vec<(&'static str, String)>) {
    let landed: Vec<&crate::upload::artifact::ArtifactReport> = state
        .destinations
        .iter()
        .flat_map(DestinationReport::artifacts)
        .collect();
    match landed.as_slice() {
        [] => {}
        [one] => {
            if let Some(id) = one.id {
                out.push(("artifact-id", id.to_string()));
            }
            if let Some(url) = &one.url {
                out.push(("artifact-url", url.clone()));
            }
            if let Some(digest) = &one.digest {
                out.push(("artifact-digest", digest.clone()));
            }
        }
        many => {
            let map = |f: &dyn Fn(
                &crate::upload::artifact::ArtifactReport,
            ) -> Option<serde_json::Value>| {
                serde_json::Value::Object(
                    many.iter()
                        .filter_map(|a| f(a).map(|v| (a.name.clone(), v)))
                        .collect(),
                )
                .to_string()
            };
            out.push(("artifact-id", map(&|a| a.id.map(Into::into))));
            out.push(("artifact-url", map(&|a| a.url.clone().map(Into::into))));
            out.push((
                "artifact-digest",
                map(&|a| a.digest.clone().map(Into::into)),
            ));
        }
    }
}

/// `release-id`, `release-url`, `assets` (JSON: asset name -> download URL),
/// `release-published` (the release's state at the end, whoever published it).
fn release_outputs(state: &Reached, out: &mut Vec<(&'static str, String)>) {
    for report in state
        .destinations
        .iter()
        .filter_map(DestinationReport::release)
    {
        if let Some(id) = report.id {
            out.push(("release-id", id.to_string()));
        }
        if let Some(url) = &report.url {
            out.push(("release-url", url.clone()));
        }
        let assets: serde_json::Map<String, serde_json::Value> = report
            .assets
            .iter()
            .map(|(name, url)| (name.clone(), url.as_str().into()))
            .collect();
        out.push(("assets", serde_json::Value::Object(assets).to_string()));
        if let Some(published) = report.release_published {
            out.push(("release-published", published.to_string()));
        }
    }
}

/// `s3-uris`: a JSON list, bounded (the manifest lists every file).
fn s3_outputs(state: &Reached, out: &mut Vec<(&'static str, String)>) {
    let wanted = state.config.as_ref().is_some_and(|c| {
        c.destinations
            .iter()
            .any(|d| matches!(d, crate::config::Destination::S3 { .. }))
    });
    if !wanted {
        return;
    }
    let uris: Vec<serde_json::Value> = state
        .destinations
        .iter()
        .flat_map(DestinationReport::s3_uris)
        .take(crate::upload::s3::MAX_URIS_OUTPUT)
        .map(|u| serde_json::Value::from(u.as_str()))
        .collect();
    out.push(("s3-uris", serde_json::Value::from(uris).to_string()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heredoc_blocks() {
        let text = render(&[("files", "3".into()), ("multi", "a\nb".into())]).expect("renders");
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("files<<ghadelimiter_"));
        let delim = &lines[0]["files<<".len()..];
        assert_eq!(lines[1], "3");
        assert_eq!(lines[2], delim);
        assert!(lines[3].starts_with("multi<<ghadelimiter_"));
        assert_ne!(
            &lines[3]["multi<<".len()..],
            delim,
            "each output gets a fresh delimiter"
        );
        assert_eq!(&lines[4..6], ["a", "b"]);
    }
}
