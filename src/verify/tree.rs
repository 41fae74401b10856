//! The directory side of `verify`: every entry under the directory (hidden ones too),
//! then the listed regular files hashed in parallel and compared with the list.
//!
//! Symbolic links are never followed: a link is not the file the list vouches for, and
//! following one could make verify read (and vouch for) bytes outside the directory. A
//! listed path that is a link is changed; an unlisted link is extra; a linked directory
//! is not entered.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use rayon::prelude::*;

use super::list::Expected;
use crate::events::{Progress, Reporter, with_progress};
use crate::scan::read::read_file;

/// What an entry of the directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    File,
    Link,
    Directory,
    Other,
}

/// Everything found under the directory, by `/`-separated relative path.
struct Tree {
    entries: BTreeMap<String, Entry>,
    /// Sub-directories that could not be listed, with the reason.
    unreadable: Vec<(String, String)>,
}

/// Walks `root` (already canonical) depth-first with one `readdir` per directory and
/// no `stat` per file: the entry's type comes with it.
fn walk(root: &Path) -> std::io::Result<Tree> {
    let mut tree = Tree {
        entries: BTreeMap::new(),
        unreadable: Vec::new(),
    };
    // The root must be readable: an unreadable root is a bad argument, not a finding.
    let mut stack = vec![(root.to_path_buf(), String::new(), Some(fs::read_dir(root)?))];
    while let Some((dir, prefix, opened)) = stack.pop() {
        // Sub-directories are opened when their turn comes: one descriptor at a time.
        let entries = match opened.map_or_else(|| fs::read_dir(&dir), Ok) {
            Ok(entries) => entries,
            Err(e) => {
                tree.unreadable.push((prefix, e.to_string()));
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    tree.unreadable.push((prefix.clone(), e.to_string()));
                    break;
                }
            };
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let kind = match entry.file_type() {
                Ok(t) if t.is_symlink() => Entry::Link,
                Ok(t) if t.is_dir() => Entry::Directory,
                Ok(t) if t.is_file() => Entry::File,
                Ok(_) => Entry::Other,
                Err(e) => {
                    tree.unreadable.push((rel, e.to_string()));
                    continue;
                }
            };
            if kind == Entry::Directory {
                stack.push((dir.join(entry.file_name()), rel.clone(), None));
            }
            tree.entries.insert(rel, kind);
        }
    }
    Ok(tree)
}

/// What the comparison found, each list sorted by path.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    /// Listed files that are intact.
    pub(crate) intact: usize,
    /// Listed, absent.
    pub(crate) missing: Vec<String>,
    /// Listed, present, different: path and what differs.
    pub(crate) changed: Vec<(String, String)>,
    /// Present, not listed (symbolic links and other non-directories included).
    pub(crate) extra: Vec<String>,
}

impl Findings {
    /// True when the directory holds exactly what the list says.
    pub(crate) fn is_intact(&self) -> bool {
        self.missing.is_empty() && self.changed.is_empty() && self.extra.is_empty()
    }
}

/// Compares the directory `root` (canonical) with `list`. `documents` are relative paths
/// never counted as extra (the list itself and the documents stevedore writes beside
/// the files). Long hashing shows progress on `reporter`.
pub(crate) fn compare(
    root: &Path,
    list: &[Expected],
    documents: &BTreeSet<String>,
    reporter: &dyn Reporter,
) -> std::io::Result<Findings> {
    let tree = walk(root)?;
    let mut findings = Findings::default();
    let mut to_hash: Vec<(&Expected, PathBuf)> = Vec::new();
    for expected in list {
        match tree.entries.get(&expected.path) {
            None => findings.missing.push(expected.path.clone()),
            Some(Entry::File) => to_hash.push((expected, root.join(&expected.path))),
            Some(Entry::Link) => findings.changed.push((
                expected.path.clone(),
                "is a symbolic link (verify does not follow links)".to_owned(),
            )),
            Some(Entry::Directory) => findings
                .changed
                .push((expected.path.clone(), "is a directory".to_owned())),
            Some(Entry::Other) => findings
                .changed
                .push((expected.path.clone(), "is not a regular file".to_owned())),
        }
    }
    // Files of every size: rayon's work stealing keeps both cores busy on a mix.
    let progress = Progress::default();
    let verdicts: Vec<Option<(String, String)>> = with_progress(
        reporter,
        &progress,
        to_hash.len() as u64,
        &crate::scan::files_scanned,
        || {
            to_hash
                .par_iter()
                .map(|(expected, path)| {
                    let (verdict, size) = check(expected, path);
                    progress.files.fetch_add(1, Ordering::Relaxed);
                    progress.bytes.fetch_add(size, Ordering::Relaxed);
                    verdict.map(|why| (expected.path.clone(), why))
                })
                .collect()
        },
    );
    for verdict in verdicts {
        match verdict {
            Some(changed) => findings.changed.push(changed),
            None => findings.intact += 1,
        }
    }
    let listed: BTreeSet<&str> = list.iter().map(|e| e.path.as_str()).collect();
    for (path, kind) in &tree.entries {
        if *kind != Entry::Directory && !listed.contains(path.as_str()) && !documents.contains(path)
        {
            findings.extra.push(path.clone());
        }
    }
    for (path, why) in tree.unreadable {
        findings
            .changed
            .push((path, format!("cannot be listed: {why}")));
    }
    findings.missing.sort();
    findings.changed.sort();
    Ok(findings)
}

/// What differs between a listed file and the file at `path`, if anything, and the
/// bytes read.
fn check(expected: &Expected, path: &Path) -> (Option<String>, u64) {
    let facts = match read_file(path, None, false) {
        Ok(facts) => facts,
        Err(e) => return (Some(format!("cannot be read: {e}")), 0),
    };
    let mut why = Vec::new();
    if let Some(size) = expected.size
        && size != facts.size
    {
        why.push(format!("size {} bytes, listed {size}", facts.size));
    }
    if facts.sha256 != expected.sha256 {
        why.push("SHA-256 differs".to_owned());
    }
    // Other systems have no Unix modes to compare (the scan reports a stand-in there).
    if cfg!(unix)
        && let Some(mode) = expected.mode
        && mode != facts.mode
    {
        why.push(format!("mode {:04o}, listed {mode:04o}", facts.mode));
    }
    ((!why.is_empty()).then(|| why.join(", ")), facts.size)
}
