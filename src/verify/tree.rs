//! The directory side of `verify`: every entry under the directory (hidden ones too),
//! then the listed regular files hashed in parallel and compared with the list.
//!
//! Symbolic links are never followed: a link is not the file the list vouches for, and
//! following one could make verify read (and vouch for) bytes outside the directory. A
//! listed file is opened one component at a time without following a link; a listed path
//! that is a link is changed, unless a manifest records that very link (`symlinks:
//! preserve`); an unlisted link is extra; a linked directory is not entered. A name that is
//! not UTF-8 can be in no list: it is extra under its own (escaped) name, never folded into
//! another's.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::sync::atomic::Ordering;

use rayon::prelude::*;

use super::list::Expected;
use crate::events::{Progress, Reporter, with_progress};
use crate::scan::read::read_opened;

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
    /// Entries whose name is not UTF-8 (shown escaped); not entered.
    not_utf8: Vec<String>,
}

/// Walks `root` (already canonical) depth-first with one `readdir` per directory and
/// no `stat` per file: the entry's type comes with it.
fn walk(root: &Path) -> std::io::Result<Tree> {
    let mut tree = Tree {
        entries: BTreeMap::new(),
        unreadable: Vec::new(),
        not_utf8: Vec::new(),
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
            let name = match entry.file_name().into_string() {
                Ok(name) => name,
                Err(raw) => {
                    let shown = format!("{} (a name that is not UTF-8)", raw.to_string_lossy());
                    tree.not_utf8.push(if prefix.is_empty() {
                        shown
                    } else {
                        format!("{prefix}/{shown}")
                    });
                    continue;
                }
            };
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

/// How to compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Options {
    /// Compare modes the list records.
    pub(crate) modes: bool,
    /// A listed file that is absent is counted, not a failure.
    pub(crate) ignore_missing: bool,
}

/// What the comparison found, each list sorted by path.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    /// Listed files that are intact.
    pub(crate) intact: usize,
    /// Listed, absent, and ignored (`--ignore-missing`).
    pub(crate) absent: usize,
    /// Of `changed`, those where only the mode differs.
    pub(crate) mode_only: usize,
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
    options: Options,
    reporter: &dyn Reporter,
) -> std::io::Result<Findings> {
    let tree = walk(root)?;
    let mut findings = Findings::default();
    let mut to_hash: Vec<&Expected> = Vec::new();
    for expected in list {
        match (tree.entries.get(&expected.path), &expected.link) {
            (None, _) if options.ignore_missing => findings.absent += 1,
            (None, _) => findings.missing.push(expected.path.clone()),
            (Some(Entry::Link), Some(target)) => match fs::read_link(root.join(&expected.path)) {
                Ok(found) if found.as_os_str() == target.as_str() => findings.intact += 1,
                Ok(found) => findings.changed.push((
                    expected.path.clone(),
                    format!("links to `{}`, listed `{target}`", found.display()),
                )),
                Err(e) => findings
                    .changed
                    .push((expected.path.clone(), format!("cannot be read: {e}"))),
            },
            (Some(_), Some(target)) => findings.changed.push((
                expected.path.clone(),
                format!("is not a symbolic link (listed as a link to `{target}`)"),
            )),
            (Some(Entry::File), None) => to_hash.push(expected),
            (Some(Entry::Link), None) => findings.changed.push((
                expected.path.clone(),
                "is a symbolic link (verify does not follow links)".to_owned(),
            )),
            (Some(Entry::Directory), None) => findings
                .changed
                .push((expected.path.clone(), "is a directory".to_owned())),
            (Some(Entry::Other), None) => findings
                .changed
                .push((expected.path.clone(), "is not a regular file".to_owned())),
        }
    }
    // Files of every size: rayon's work stealing keeps both cores busy on a mix.
    let progress = Progress::default();
    let verdicts: Vec<Option<(String, Verdict)>> = with_progress(
        reporter,
        &progress,
        to_hash.len() as u64,
        &crate::scan::files_scanned,
        || {
            to_hash
                .par_iter()
                .map(|expected| {
                    let (verdict, size) = check(root, expected, options.modes);
                    progress.files.fetch_add(1, Ordering::Relaxed);
                    progress.bytes.fetch_add(size, Ordering::Relaxed);
                    verdict.map(|why| (expected.path.clone(), why))
                })
                .collect()
        },
    );
    for verdict in verdicts {
        match verdict {
            Some((path, verdict)) => {
                if verdict.mode_only {
                    findings.mode_only += 1;
                }
                findings.changed.push((path, verdict.why));
            }
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
    findings.extra.extend(tree.not_utf8);
    findings.extra.sort();
    for (path, why) in tree.unreadable {
        findings
            .changed
            .push((path, format!("cannot be listed: {why}")));
    }
    findings.missing.sort();
    findings.changed.sort();
    Ok(findings)
}

/// What differs, and whether only the mode does.
struct Verdict {
    why: String,
    mode_only: bool,
}

/// What differs between a listed file and the file at its path under `root`, if anything,
/// and the bytes read.
fn check(root: &Path, expected: &Expected, modes: bool) -> (Option<Verdict>, u64) {
    let facts = match open_beneath(root, &expected.path).and_then(|f| {
        read_opened(f, None, crate::scan::read::Crcs::default(), |_, _| {
            Vec::new()
        })
    }) {
        Ok(facts) => facts,
        Err(e) => {
            let verdict = Verdict {
                why: format!("cannot be read: {e}"),
                mode_only: false,
            };
            return (Some(verdict), 0);
        }
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
    let content_differs = !why.is_empty();
    // Other systems have no Unix modes to compare (the scan reports a stand-in there).
    if cfg!(unix)
        && modes
        && let Some(mode) = expected.mode
        && mode != facts.mode
    {
        why.push(format!("mode {:04o}, listed {mode:04o}", facts.mode));
    }
    let verdict = (!why.is_empty()).then(|| Verdict {
        why: why.join(", "),
        mode_only: !content_differs,
    });
    (verdict, facts.size)
}

/// Opens `rel` (`/`-separated) below `root` one component at a time without following a
/// link: whatever replaced a directory or the file since the walk, verify reads nothing
/// outside `root`.
#[cfg(unix)]
fn open_beneath(root: &Path, rel: &str) -> std::io::Result<fs::File> {
    use rustix::fs::{CWD, Mode, OFlags, openat};
    let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut dir = openat(CWD, root, dir_flags, Mode::empty())?;
    let mut parts: Vec<&str> = rel.split('/').collect();
    let name = parts.pop().unwrap_or(rel);
    for part in parts {
        dir = openat(&dir, part, dir_flags, Mode::empty())?;
    }
    let file = openat(
        &dir,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    Ok(fs::File::from(file))
}

#[cfg(not(unix))]
fn open_beneath(root: &Path, rel: &str) -> std::io::Result<fs::File> {
    fs::File::open(root.join(rel))
}
