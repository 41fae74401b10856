//! `stevedore verify DIR`: does a directory hold exactly what a checksums file or a
//! stevedore manifest says? The check anyone runs after a download, whoever wrote the
//! list. Every missing, extra and changed file is named (through the log's redaction and
//! inert-line filter: names are untrusted), then a count line; exit 0 when intact, 3
//! when not, 2 when the arguments or the list are unusable.
//!
//! Above `report` (it prints through `report::log`), beside `run`: no stage imports it.

mod list;
mod tree;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::config::MANIFEST_NAME;
use crate::exit_code::ExitCode;
use crate::report::commands::{Annotation, Severity};
use crate::report::log::LogReporter;

/// The checksums file verify looks for when no list is named (stevedore's default
/// `checksums` name).
pub(crate) const DEFAULT_CHECKSUMS: &str = "SHA256SUMS";
/// The manifest verify looks for when no list is named.
pub(crate) const DEFAULT_MANIFEST: &str = MANIFEST_NAME;

/// A list the directory is checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ListChoice {
    /// `--checksums FILE`.
    Checksums(PathBuf),
    /// `--manifest FILE`.
    Manifest(PathBuf),
}

/// The arguments of `stevedore verify`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyArgs {
    /// The directory to check, as given.
    pub(crate) dir: PathBuf,
    /// The lists to check it against, together (several: a `job-key` layout, one per
    /// job); none: the directory's own (see `list::default_for`).
    pub(crate) lists: Vec<ListChoice>,
    /// `--ignore-missing`: a listed file that is absent is no failure (`sha256sum -c
    /// --ignore-missing`: one downloaded asset beside a release's `SHA256SUMS`).
    pub(crate) ignore_missing: bool,
    /// Compare Unix modes where a manifest records them (`--no-modes` turns it off:
    /// modes do not survive every transfer).
    pub(crate) modes: bool,
}

impl VerifyArgs {
    /// The directory against its own lists, every check on.
    #[cfg(test)]
    #[must_use]
    pub(crate) fn new(dir: PathBuf) -> Self {
        VerifyArgs {
            dir,
            lists: Vec::new(),
            ignore_missing: false,
            modes: true,
        }
    }
}

/// Why verify could not check at all (exit 2). A directory that does not match its list
/// is not an error: it is the answer (exit 3).
#[derive(Debug, thiserror::Error)]
pub(crate) enum VerifyError {
    /// The directory cannot be read.
    #[error("cannot read the directory `{}`: {source}; pass an existing directory", dir.display())]
    Directory {
        dir: PathBuf,
        source: std::io::Error,
    },
    /// No list named, and neither default list in the directory.
    #[error(
        "`{}` holds neither {DEFAULT_MANIFEST} nor {DEFAULT_CHECKSUMS}: pass --checksums FILE (sha256sum format) or --manifest FILE (a stevedore manifest)",
        dir.display()
    )]
    NoDefault { dir: PathBuf },
    /// The list cannot be read.
    #[error("cannot read `{}`: {source}; pass a readable file", list.display())]
    ReadList {
        list: PathBuf,
        source: std::io::Error,
    },
    /// A checksums line that is not one.
    #[error("`{}` line {line}: {reason}", list.display())]
    BadLine {
        list: PathBuf,
        /// 1-based.
        line: usize,
        reason: String,
    },
    /// A manifest verify cannot read.
    #[error("`{}`: {reason}", list.display())]
    BadManifest { list: PathBuf, reason: String },
    /// A listed path that would leave the directory.
    #[error("`{}` entry {line} names `{entry}`: {reason}; lists name files relative to the directory", list.display())]
    Escapes {
        list: PathBuf,
        /// Line (checksums) or 1-based position in `files` (manifest).
        line: usize,
        entry: String,
        reason: &'static str,
    },
    /// Two lists vouch for different contents at one path.
    #[error(
        "`{}` and `{}` disagree about `{entry}`; a path must have one content in every list checked together",
        first.display(), second.display()
    )]
    Disagree {
        entry: String,
        first: PathBuf,
        second: PathBuf,
    },
    /// The same path listed twice: which entry would count is ambiguous.
    #[error("`{}` lists `{entry}` twice (entries {first} and {line}); keep one", list.display())]
    Duplicate {
        list: PathBuf,
        entry: String,
        first: usize,
        line: usize,
    },
}

/// Runs `stevedore verify` and reports on `log`.
pub fn run(args: &VerifyArgs, log: &LogReporter) -> ExitCode {
    match check(args, log) {
        Ok(true) => ExitCode::Success,
        Ok(false) => {
            fail(
                log,
                &format!("`{}` does not match its list", args.dir.display()),
            );
            ExitCode::Policy
        }
        Err(e) => {
            fail(log, &e.to_string());
            ExitCode::BadInput
        }
    }
}

/// An `error:` line, and in Actions an annotation.
fn fail(log: &LogReporter, message: &str) {
    log.line(&format!("error: {message}"));
    log.command(
        &Annotation::new(Severity::Error, "stevedore verify", message.to_owned()).to_command(),
    );
}

/// True when the directory is intact.
fn check(args: &VerifyArgs, log: &LogReporter) -> Result<bool, VerifyError> {
    let root = std::fs::canonicalize(&args.dir).map_err(|source| VerifyError::Directory {
        dir: args.dir.clone(),
        source,
    })?;
    let chosen: Vec<(list::Kind, PathBuf)> = if args.lists.is_empty() {
        list::default_for(&args.dir)?
    } else {
        args.lists
            .iter()
            .map(|l| match l {
                ListChoice::Checksums(path) => (list::Kind::Checksums, path.clone()),
                ListChoice::Manifest(path) => (list::Kind::Manifest, path.clone()),
            })
            .collect()
    };
    let (expected, documents) = read_lists(&root, &chosen)?;

    log.line(&format!(
        "verifying `{}` against {}, {} files)",
        args.dir.display(),
        chosen
            .iter()
            .map(|(kind, p)| format!(
                "`{}` ({}",
                p.display(),
                match kind {
                    list::Kind::Checksums => "checksums",
                    list::Kind::Manifest => "manifest",
                }
            ))
            .collect::<Vec<_>>()
            .join("), "),
        expected.len()
    ));
    let options = tree::Options {
        modes: args.modes,
        ignore_missing: args.ignore_missing,
    };
    let findings = tree::compare(&root, &expected, &documents, options, log).map_err(|source| {
        VerifyError::Directory {
            dir: args.dir.clone(),
            source,
        }
    })?;
    let mut lines = Vec::new();
    lines.extend(findings.missing.iter().map(|p| format!("missing: {p}")));
    lines.extend(
        findings
            .changed
            .iter()
            .map(|(p, why)| format!("changed: {p} ({why})")),
    );
    lines.extend(findings.extra.iter().map(|p| format!("extra: {p}")));
    if !lines.is_empty() {
        log.listing(&lines);
    }
    let ignored = if args.ignore_missing {
        format!(" ({} absent, ignored)", findings.absent)
    } else {
        String::new()
    };
    log.line(&format!(
        "{} listed: {} intact, {} changed, {} missing{ignored}; {} extra",
        crate::units::count(expected.len() as u64),
        crate::units::count(findings.intact as u64),
        crate::units::count(findings.changed.len() as u64),
        crate::units::count(findings.missing.len() as u64),
        crate::units::count(findings.extra.len() as u64),
    ));
    if findings.mode_only > 0 && findings.mode_only == findings.changed.len() {
        log.line(
            "only modes differ: modes do not survive every transfer (S3, HTTP downloads, `cp` under `umask 077`); `stevedore verify --no-modes` compares contents only",
        );
    }
    Ok(findings.is_intact())
}

/// Every list, merged into one set of expectations (a path two lists give different
/// contents is an error), and the documents that go with them (see [`companions`]).
fn read_lists(
    root: &Path,
    chosen: &[(list::Kind, PathBuf)],
) -> Result<(Vec<list::Expected>, BTreeSet<String>), VerifyError> {
    let mut merged: BTreeMap<String, (list::Expected, usize)> = BTreeMap::new();
    // The lists themselves and the documents written with them describe the tree; they
    // are not part of it. Only these: another list's documents are files like any other.
    let mut documents: BTreeSet<String> = BTreeSet::new();
    for (i, (kind, list_path)) in chosen.iter().enumerate() {
        let text = std::fs::read(list_path).map_err(|source| VerifyError::ReadList {
            list: list_path.clone(),
            source,
        })?;
        let read = match kind {
            list::Kind::Checksums => list::List {
                expected: list::checksums(&text, list_path)?,
                checksums_name: None,
            },
            list::Kind::Manifest => list::manifest(&text, list_path)?,
        };
        documents.extend(companions(root, list_path, *kind, &read));
        for expected in read.expected {
            match merged.get(&expected.path) {
                Some((first, at))
                    if first.sha256 != expected.sha256 || first.link != expected.link =>
                {
                    return Err(VerifyError::Disagree {
                        entry: expected.path,
                        first: chosen[*at].1.clone(),
                        second: list_path.clone(),
                    });
                }
                // A manifest's entry also checks size and mode: it wins.
                Some((first, _)) if first.size.is_some() || expected.size.is_none() => {}
                _ => {
                    merged.insert(expected.path.clone(), (expected, i));
                }
            }
        }
    }
    Ok((merged.into_values().map(|(e, _)| e).collect(), documents))
}

/// The documents that go with a list: the list itself when it is in the directory, and
/// the other document written with it (a manifest's checksums file, a checksums file's
/// manifest) beside it, or at the top when the list is elsewhere, but only when that
/// document vouches for exactly the same files: an unrelated list's documents are files
/// like any other.
fn companions(root: &Path, list_path: &Path, kind: list::Kind, read: &list::List) -> Vec<String> {
    let slash = |p: &Path| p.to_string_lossy().replace('\\', "/");
    let mut out = Vec::new();
    let inside = std::fs::canonicalize(list_path)
        .ok()
        .and_then(|c| c.strip_prefix(root).ok().map(Path::to_path_buf));
    if let Some(rel) = &inside {
        out.push(slash(rel));
    }
    let dir = inside
        .as_deref()
        .and_then(Path::parent)
        .unwrap_or(Path::new(""))
        .to_path_buf();
    let file = list_path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let (sibling, sibling_kind) = match kind {
        list::Kind::Manifest => (
            list::sibling_checksums(file, read.checksums_name.as_deref()),
            list::Kind::Checksums,
        ),
        list::Kind::Checksums => (list::sibling_manifest(file), list::Kind::Manifest),
    };
    let rel = dir.join(&sibling);
    let Ok(text) = std::fs::read(root.join(&rel)) else {
        return out;
    };
    let other = match sibling_kind {
        list::Kind::Checksums => list::checksums(&text, &rel).ok(),
        list::Kind::Manifest => list::manifest(&text, &rel).ok().map(|l| l.expected),
    };
    let vouches = |l: &[list::Expected]| -> BTreeSet<(String, [u8; 32])> {
        l.iter().map(|e| (e.path.clone(), e.sha256)).collect()
    };
    // A checksums file lists regular files only: compare what both can list.
    let files = |l: &[list::Expected]| -> Vec<list::Expected> {
        l.iter().filter(|e| e.link.is_none()).cloned().collect()
    };
    if other.is_some_and(|o| vouches(&files(&o)) == vouches(&files(&read.expected))) {
        out.push(slash(&rel));
    }
    out
}
