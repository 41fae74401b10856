//! `stevedore verify DIR`: does a directory hold exactly what a checksums file or a
//! stevedore manifest says? The check anyone runs after a download, whoever wrote the
//! list. Every missing, extra and changed file is named (through the log's redaction and
//! inert-line filter: names are untrusted), then a count line; exit 0 when intact, 3
//! when not, 2 when the arguments or the list are unusable.
//!
//! Above `report` (it prints through `report::log`), beside `run`: no stage imports it.

mod list;
mod tree;

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::config::MANIFEST_NAME;
use crate::exit_code::ExitCode;
use crate::report::commands::{Annotation, Severity};
use crate::report::log::LogReporter;

/// The checksums file verify looks for when no list is named (stevedore's default
/// `checksums` name).
pub const DEFAULT_CHECKSUMS: &str = "SHA256SUMS";
/// The manifest verify looks for when no list is named.
pub const DEFAULT_MANIFEST: &str = MANIFEST_NAME;

/// Which list the directory is checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListChoice {
    /// `DIR/stevedore-manifest.json`, else `DIR/SHA256SUMS`.
    Default,
    /// `--checksums FILE`.
    Checksums(PathBuf),
    /// `--manifest FILE`.
    Manifest(PathBuf),
}

/// The arguments of `stevedore verify`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyArgs {
    /// The directory to check, as given.
    pub dir: PathBuf,
    /// The list to check it against.
    pub list: ListChoice,
}

/// Why verify could not check at all (exit 2). A directory that does not match its list
/// is not an error: it is the answer (exit 3).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The directory cannot be read.
    #[error("cannot read the directory `{}`: {source}; pass an existing directory", dir.display())]
    Directory {
        /// As given.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// No list named, and neither default list in the directory.
    #[error(
        "`{}` holds neither {DEFAULT_MANIFEST} nor {DEFAULT_CHECKSUMS}: pass --checksums FILE (sha256sum format) or --manifest FILE (a stevedore manifest)",
        dir.display()
    )]
    NoDefault {
        /// As given.
        dir: PathBuf,
    },
    /// The list cannot be read.
    #[error("cannot read `{}`: {source}; pass a readable file", list.display())]
    ReadList {
        /// As given.
        list: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A checksums line that is not one.
    #[error("`{}` line {line}: {reason}", list.display())]
    BadLine {
        /// The list.
        list: PathBuf,
        /// 1-based.
        line: usize,
        /// What is wrong and what is expected.
        reason: String,
    },
    /// A manifest verify cannot read.
    #[error("`{}`: {reason}", list.display())]
    BadManifest {
        /// The list.
        list: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A listed path that would leave the directory.
    #[error("`{}` entry {line} names `{entry}`: {reason}; lists name files relative to the directory", list.display())]
    Escapes {
        /// The list.
        list: PathBuf,
        /// Line (checksums) or 1-based position in `files` (manifest).
        line: usize,
        /// The name as listed.
        entry: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The same path listed twice: which entry would count is ambiguous.
    #[error("`{}` lists `{entry}` twice (entries {first} and {line}); keep one", list.display())]
    Duplicate {
        /// The list.
        list: PathBuf,
        /// The path (normalized).
        entry: String,
        /// The first entry.
        first: usize,
        /// The repeat.
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
    let (kind, list_path) = match &args.list {
        ListChoice::Default => list::default_for(&args.dir)?,
        ListChoice::Checksums(path) => (list::Kind::Checksums, path.clone()),
        ListChoice::Manifest(path) => (list::Kind::Manifest, path.clone()),
    };
    let text = std::fs::read(&list_path).map_err(|source| VerifyError::ReadList {
        list: list_path.clone(),
        source,
    })?;
    let expected = match kind {
        list::Kind::Checksums => list::checksums(&text, &list_path)?,
        list::Kind::Manifest => list::manifest(&text, &list_path)?,
    };
    // The list itself and stevedore's two documents describe the tree; they are not
    // part of it.
    let mut documents: BTreeSet<String> = [DEFAULT_CHECKSUMS, DEFAULT_MANIFEST]
        .map(String::from)
        .into();
    if let Ok(canonical) = std::fs::canonicalize(&list_path)
        && let Ok(rel) = canonical.strip_prefix(&root)
        && let Some(rel) = rel.to_str()
    {
        documents.insert(rel.replace('\\', "/"));
    }
    let what = match kind {
        list::Kind::Checksums => "checksums",
        list::Kind::Manifest => "manifest",
    };
    log.line(&format!(
        "verifying `{}` against `{}` ({what}, {} files)",
        args.dir.display(),
        list_path.display(),
        expected.len()
    ));
    let findings = tree::compare(&root, &expected, &documents, log).map_err(|source| {
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
    log.line(&format!(
        "{} listed: {} intact, {} changed, {} missing; {} extra",
        crate::units::count(expected.len() as u64),
        crate::units::count(findings.intact as u64),
        crate::units::count(findings.changed.len() as u64),
        crate::units::count(findings.missing.len() as u64),
        crate::units::count(findings.extra.len() as u64),
    ));
    Ok(findings.is_intact())
}
