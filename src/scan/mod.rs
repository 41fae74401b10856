//! Stage 2, scan: every selected file read once on rayon (SHA-256, size, mode, credential
//! scan), then duplicate groups -> a [`Manifest`].

mod batches;
pub(crate) mod checksums;
pub(crate) mod documents;
mod duplicates;
pub(crate) mod manifest;
pub(crate) mod read;
pub(crate) mod secrets;

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use globset::GlobSet;
use rayon::prelude::*;

pub(crate) use duplicates::DuplicateGroup;
pub use manifest::Manifest;
use secrets::{Finding, RawFinding, SecretScanner, classify};

use crate::events::{Event, Progress, Reporter, with_progress};
use crate::select::Selection;
use crate::units;

/// Facts about one file, aligned with `Selection::files`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileRecord {
    /// Bytes read.
    pub(crate) size: u64,
    /// SHA-256 of exactly those bytes.
    pub(crate) sha256: [u8; 32],
    /// Permission bits (`0o7777`); [`LINK_MODE`] for a preserved link.
    pub(crate) mode: u32,
    /// Modification time, seconds since the Unix epoch (the zip entry's date).
    pub(crate) mtime: i64,
    /// CRC-32 of the same bytes, when [`ScanOptions::crc32`] asked for it: the zip writer
    /// checks every archived entry against it.
    pub(crate) crc32: Option<u32>,
    /// CRC-32C of the same bytes, when [`ScanOptions::crcs`] asked for it
    /// (`s3-checksum: crc32c`).
    pub(crate) crc32c: Option<u32>,
}

/// Scan settings.
pub(crate) struct ScanOptions<'a> {
    /// `None` when `secrets: off`.
    pub(crate) secrets: Option<&'a SecretScanner>,
    /// `secrets-allow`.
    pub(crate) secrets_allow: &'a GlobSet,
    /// Where progress and the scan's summary line go.
    pub(crate) reporter: &'a dyn Reporter,
    /// Also record each file's CRC-32 and CRC-32C, where a destination uses them.
    pub(crate) crcs: read::Crcs,
    /// What is made from the same reads: the artifact's zip, directory destinations'
    /// copies.
    pub(crate) copies: &'a [&'a dyn Copier],
}

/// A copy of the selection made from the scan's own reads, so the tree is read once
/// (issue 25): the artifact's zip is compressed and a directory destination stages its
/// files while they are hashed. What is written stays on this machine, unpublished, until
/// the policies pass.
pub(crate) trait Copier: Sync {
    /// The copy of file `index` (a regular file, open as `source`, not yet read; `meta` is
    /// what `fstat` said of it), or `None` when this copier does not take it.
    fn file(
        &self,
        index: usize,
        file: &crate::select::SelectedFile,
        source: &std::fs::File,
        meta: &std::fs::Metadata,
    ) -> Option<Box<dyn CopyFile + '_>>;
    /// File `index` is a preserved link to `target`; `meta` is the link's own.
    fn link(
        &self,
        index: usize,
        file: &crate::select::SelectedFile,
        target: &str,
        meta: &std::fs::Metadata,
    );
}

/// The artifact's zip: each file compressed into its slot (the file's index).
impl Copier for crate::pack::prepack::Prepack {
    fn file(
        &self,
        index: usize,
        _file: &crate::select::SelectedFile,
        _source: &std::fs::File,
        meta: &std::fs::Metadata,
    ) -> Option<Box<dyn CopyFile + '_>> {
        let stamp = crate::pack::prepack::Stamp::of(meta);
        Some(Box::new(self.writer(index, false, Some(stamp))))
    }

    fn link(
        &self,
        index: usize,
        _file: &crate::select::SelectedFile,
        target: &str,
        meta: &std::fs::Metadata,
    ) {
        let stamp = crate::pack::prepack::Stamp::of(meta);
        let mut writer = self.writer(index, true, Some(stamp));
        writer.write(target.as_bytes());
        writer.finish();
    }
}

impl CopyFile for crate::pack::prepack::FileWriter<'_> {
    fn write(&mut self, bytes: &[u8]) {
        crate::pack::prepack::FileWriter::write(self, bytes);
    }

    fn finish(self: Box<Self>, _size: u64, _meta: &std::fs::Metadata) {
        crate::pack::prepack::FileWriter::finish(*self);
    }
}

/// One file on its way into a copy.
pub(crate) trait CopyFile {
    /// The file's next bytes.
    fn write(&mut self, bytes: &[u8]);
    /// The file ended; `size` bytes were read, `meta` is what `fstat` said when the read
    /// began.
    fn finish(self: Box<Self>, size: u64, meta: &std::fs::Metadata);
}

/// Why the scan failed.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// A selected file could not be read.
    #[error(
        "cannot read `{path}`: {source}; fix its permissions or exclude it with a `!` pattern in `path`"
    )]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Scans a selection, showing progress while it runs.
pub(crate) fn scan(selection: Selection, options: &ScanOptions<'_>) -> Result<Manifest, ScanError> {
    let progress = Progress::default();
    let total = selection.files.len() as u64;
    let manifest = with_progress(options.reporter, &progress, total, &files_scanned, || {
        scan_files(selection, options, &progress)
    })?;
    options.reporter.event(&Event::info(format!(
        "hashed {}, {} in {} ({})",
        units::plural(manifest.records.len() as u64, "file"),
        units::bytes(manifest.total_bytes),
        units::duration(manifest.elapsed),
        units::rate(units::throughput(manifest.total_bytes, manifest.elapsed))
    )));
    Ok(manifest)
}

/// The scan's progress line: files of the total, bytes, rate.
#[must_use]
pub(crate) fn files_scanned(
    progress: &Progress,
    total: u64,
    elapsed: std::time::Duration,
) -> String {
    let files = progress.files.load(Ordering::Relaxed);
    let bytes = progress.bytes.load(Ordering::Relaxed);
    let pct = (files * 100).checked_div(total).unwrap_or(100);
    format!(
        "scanned {} of {} files ({pct}%), {}, {}",
        units::count(files),
        units::count(total),
        units::bytes(bytes),
        units::rate(units::throughput(bytes, elapsed))
    )
}

fn scan_files(
    selection: Selection,
    options: &ScanOptions<'_>,
    progress: &Progress,
) -> Result<Manifest, ScanError> {
    let started = Instant::now();
    read::new_generation();
    // Findings are rare: they go to a side list instead of a vector per file.
    let raw_findings: Mutex<Vec<(usize, Vec<RawFinding>)>> = Mutex::new(Vec::new());
    // A read failure goes to a side slot too (the lowest index wins, so the error named is
    // the same whatever the threads' timing) and stops the reads of files after it; files
    // before it are still read, or a later file failing first on another thread would
    // hide an earlier one (the test below caught it, now and then). The records are then
    // collected straight into one vector of the final length: collecting `Result`s would
    // go through a linked list of small vectors, several times the records' own size.
    let failure: Mutex<Option<(usize, ScanError)>> = Mutex::new(None);
    let first_failure = AtomicUsize::new(usize::MAX);
    let records: Vec<FileRecord> = selection
        .files
        .par_iter()
        // One file per task: without this rayon hands each thread long sequential runs,
        // and a few large files in one run leave the other cores idle.
        .with_max_len(1)
        .enumerate()
        .map(|(index, file)| {
            if index > first_failure.load(Ordering::Relaxed) {
                return UNREAD;
            }
            let secrets = options.secrets.map(|s| (s, classify(file.rel())));
            let read = if let Some(target) = file.link() {
                link_facts(file.path(), target, options.crcs, |meta| {
                    for copier in options.copies {
                        copier.link(index, file, target, meta);
                    }
                })
            } else {
                read::read_file(file.path(), secrets, options.crcs, |source, meta| {
                    options
                        .copies
                        .iter()
                        .filter_map(|c| c.file(index, file, source, meta))
                        .collect()
                })
            };
            let facts = match read {
                Ok(facts) => facts,
                Err(source) => {
                    first_failure.fetch_min(index, Ordering::Relaxed);
                    let mut slot = lock(&failure);
                    if slot.as_ref().is_none_or(|(first, _)| index < *first) {
                        let path = file.path().to_path_buf();
                        *slot = Some((index, ScanError::Read { path, source }));
                    }
                    return UNREAD;
                }
            };
            progress.files.fetch_add(1, Ordering::Relaxed);
            progress.bytes.fetch_add(facts.size, Ordering::Relaxed);
            let mut findings = facts.findings;
            if let Some((scanner, kind)) = secrets {
                scanner.scan_path(file.rel(), kind, &mut findings);
            }
            if !findings.is_empty() {
                lock(&raw_findings).push((index, findings));
            }
            FileRecord {
                size: facts.size,
                sha256: facts.sha256,
                mode: facts.mode,
                mtime: facts.mtime,
                crc32: facts.crc32,
                crc32c: facts.crc32c,
            }
        })
        .collect();
    if let Some((_, error)) = failure
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
    {
        return Err(error);
    }

    let mut raw_findings = raw_findings
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    raw_findings.sort_unstable_by_key(|(index, _)| *index);
    let mut findings = Vec::new();
    for (index, raw) in raw_findings {
        findings.extend(locate(&selection.files[index], raw, options.secrets_allow)?);
    }
    let duplicates = duplicates::group(&selection, &records);
    let hashed = started.elapsed();
    Ok(Manifest::new(
        selection, records, duplicates, findings, hashed,
    ))
}

/// A preserved link (`symlinks: preserve`): its content is its target, as in the zip
/// entry, so size, SHA-256 and CRC-32 are the target string's; the mode is `S_IFLNK|0777`
/// (what Info-ZIP stores), which tells the packer and the directory copy it is a link.
fn link_facts(
    path: &std::path::Path,
    target: &str,
    crcs: read::Crcs,
    copy: impl FnOnce(&std::fs::Metadata),
) -> std::io::Result<read::FileFacts> {
    use sha2::Digest as _;
    let meta = std::fs::symlink_metadata(path)?;
    copy(&meta);
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    Ok(read::FileFacts {
        size: target.len() as u64,
        sha256: sha2::Sha256::digest(target.as_bytes()).into(),
        mode: LINK_MODE,
        mtime,
        crc32: crcs.crc32.then(|| crc32fast::hash(target.as_bytes())),
        crc32c: crcs.crc32c.then(|| crc32c::crc32c(target.as_bytes())),
        findings: Vec::new(),
    })
}

/// `S_IFLNK | 0o777`: the mode of a preserved link in [`FileRecord::mode`].
pub(crate) const LINK_MODE: u32 = 0o120_777;

/// The record of a file not read because another file failed first: never returned.
const UNREAD: FileRecord = FileRecord {
    size: 0,
    sha256: [0; 32],
    mode: 0,
    mtime: 0,
    crc32: None,
    crc32c: None,
};

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Turns offsets into line numbers and applies `secrets-allow`. One finding per rule and
/// line: a line with the same token twice is one leak.
fn locate(
    file: &crate::select::SelectedFile,
    raw: Vec<RawFinding>,
    allow: &GlobSet,
) -> Result<Vec<Finding>, ScanError> {
    let offsets: Vec<u64> = raw.iter().filter_map(|f| f.offset).collect();
    let lines = if offsets.is_empty() {
        Vec::new()
    } else {
        read::line_numbers(file.path(), &offsets).map_err(|source| ScanError::Read {
            path: file.path().to_path_buf(),
            source,
        })?
    };
    let allowed = allow.is_match(file.rel());
    let mut lines = lines.into_iter();
    let mut out: Vec<Finding> = raw
        .into_iter()
        .map(|f| Finding {
            rule: f.rule.id(),
            description: f.rule.description(),
            path: file.rel().to_owned(),
            line: f.offset.and_then(|_| lines.next()),
            fingerprint: f.fingerprint,
            allowed,
        })
        .collect();
    out.sort_by(|a, b| (a.line, a.rule).cmp(&(b.line, b.rule)));
    out.dedup_by(|a, b| a.line == b.line && a.rule == b.rule);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::select::SelectedFile;
    use sha2::Digest;

    fn selection(root: &std::path::Path, names: &[&str]) -> Selection {
        Selection {
            root: root.to_path_buf(),
            search_paths: vec![root.to_path_buf()],
            files: names
                .iter()
                .map(|n| {
                    let root = root.to_string_lossy();
                    SelectedFile::new(format!("{root}/{n}"), &root, None)
                })
                .collect(),
            unmatched: Vec::new(),
        }
    }

    fn run(selection: Selection) -> Result<Manifest, ScanError> {
        let reporter = crate::events::MemoryReporter::default();
        let allow = GlobSet::empty();
        let options = ScanOptions {
            secrets: None,
            secrets_allow: &allow,
            reporter: &reporter,
            crcs: read::Crcs::default(),
            copies: &[],
        };
        scan(selection, &options)
    }

    /// The directory descriptor cached by one scan is not used by the next: a directory
    /// replaced at the same path between two scans is read afresh.
    #[test]
    fn a_directory_replaced_between_scans_is_read_afresh() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("d");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("a"), b"first").unwrap();
        let first = run(selection(tmp.path(), &["d/a"])).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("a"), b"second!").unwrap();
        let second = run(selection(tmp.path(), &["d/a"])).unwrap();
        assert_eq!(
            first.records[0].sha256,
            <[u8; 32]>::from(sha2::Sha256::digest(b"first"))
        );
        assert_eq!(second.records[0].size, 7);
        assert_eq!(
            second.records[0].sha256,
            <[u8; 32]>::from(sha2::Sha256::digest(b"second!"))
        );
    }

    /// With several unreadable files, the error names the first in path order.
    #[test]
    fn the_first_unreadable_file_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let mut names = Vec::new();
        for i in 0..200 {
            let name = format!("f{i:03}");
            std::fs::write(tmp.path().join(&name), name.as_bytes()).unwrap();
            names.push(name);
        }
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let sel = selection(tmp.path(), &refs);
        for gone in ["f050", "f051", "f199"] {
            std::fs::remove_file(tmp.path().join(gone)).unwrap();
        }
        match run(sel) {
            Err(ScanError::Read { path, .. }) => assert_eq!(path, tmp.path().join("f050")),
            other => panic!("expected a read error, got {other:?}"),
        }
    }
}
