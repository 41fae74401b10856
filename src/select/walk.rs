//! The traversal of `@actions/glob`'s `globGenerator`, with the options upload-artifact
//! passes: follow symbolic links, omit broken ones, implicit descendants, and optionally
//! skip hidden items.
//!
//! From each search path, an item is visited only when some pattern matches it or may
//! match below it; symbolic-link cycles are detected by comparing the real path of a
//! directory with the real paths of its ancestors. Sub-directories are visited in
//! parallel (see [`walk`]). Unlike the original, each entry's
//! type comes from `readdir` where it can, so regular files and plain directories cost no
//! `stat` call; only links are followed with one.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::SelectError;
use super::pattern::{ItemPath, MATCH_FILE, MATCH_NONE, MatchKind, Pattern};
use crate::events::{Event, Reporter};

/// Whether `stat` failed on a link chain that never ends (`ELOOP`: 40 on Linux, 62 on
/// macOS). Node's `stat` throws on it; stevedore treats it like a broken link, with a
/// warning.
#[cfg(unix)]
fn is_link_loop(error: &io::Error) -> bool {
    error.raw_os_error() == Some(libc::ELOOP)
}

/// Windows reports a link loop with its own error codes, not `errno`: there it is not
/// told apart and fails the walk like any other error.
#[cfg(not(unix))]
fn is_link_loop(_: &io::Error) -> bool {
    false
}

/// What `readdir` said about an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hint {
    File,
    Dir,
    /// A symbolic link or an unknown type: needs a `stat`.
    Follow,
    /// A FIFO, socket or device: never uploaded.
    Special,
}

struct Item {
    path: String,
    hint: Hint,
}

/// `patternHelper.match`: later patterns override earlier ones.
fn match_all(patterns: &[Pattern], item: &ItemPath<'_>) -> MatchKind {
    let mut result = MATCH_NONE;
    for p in patterns {
        if p.negate {
            result &= !p.match_item(item);
        } else {
            result |= p.match_item(item);
        }
    }
    result
}

/// `patternHelper.getSearchPaths`: search paths of the positive patterns, without
/// duplicates and without paths that have another search path as an ancestor.
pub(crate) fn search_paths(patterns: &[Pattern]) -> Vec<String> {
    let positive: Vec<&Pattern> = patterns.iter().filter(|p| !p.negate).collect();
    let candidates: std::collections::HashSet<&str> =
        positive.iter().map(|p| p.search_path.as_str()).collect();
    let mut result: Vec<String> = Vec::new();
    for p in positive {
        if result.contains(&p.search_path) {
            continue;
        }
        let mut current = p.search_path.as_str();
        let mut has_ancestor = false;
        while let Some(parent) = parent_of(current) {
            if candidates.contains(parent) {
                has_ancestor = true;
                break;
            }
            current = parent;
        }
        if !has_ancestor {
            result.push(p.search_path.clone());
        }
    }
    result
}

/// Node's `path.dirname` for normalized absolute paths; `None` at the root.
pub(crate) fn parent_of(path: &str) -> Option<&str> {
    if path == "/" || path.is_empty() {
        return None;
    }
    match path.rfind('/') {
        Some(0) => Some("/"),
        Some(i) => Some(&path[..i]),
        None => None,
    }
}

/// Walks the search paths and returns the absolute paths of matching regular files, in
/// no particular order (the caller sorts).
///
/// Sub-directories are visited in parallel. That changes nothing about the result: what
/// `@actions/glob` decides for an item depends only on the item and on its ancestors
/// (the chain of real paths used to cut cycles), never on siblings or visit order.
///
/// With `preserve_links`, a symbolic link that a pattern selects is returned as it is,
/// not followed (`symlinks: preserve`); a link that only leads towards a match is
/// followed as before.
pub(crate) fn walk(
    patterns: &[Pattern],
    roots: &[String],
    include_hidden: bool,
    preserve_links: bool,
    reporter: &dyn Reporter,
) -> Result<Vec<String>, SelectError> {
    let walker = Walker {
        patterns,
        include_hidden,
        preserve_links,
        reporter,
    };
    let mut found = Found::default();
    for root in roots {
        match fs::symlink_metadata(root) {
            Ok(_) => walker.visit(
                Item {
                    path: root.clone(),
                    hint: Hint::Follow,
                },
                &[],
                &mut found,
            )?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(SelectError::Io {
                    path: PathBuf::from(root),
                    source,
                });
            }
        }
    }
    Ok(found.into_paths())
}

/// What the walk found, as runs of paths in walk order: merging the results of parallel
/// tasks moves a run (24 bytes) instead of copying every path into a growing vector,
/// which with 100,000 files was 15 ms on one thread between the walk and the scan.
#[derive(Default)]
struct Found {
    runs: Vec<Vec<String>>,
}

impl Found {
    fn push(&mut self, path: String) {
        match self.runs.last_mut() {
            Some(run) => run.push(path),
            None => self.runs.push(vec![path]),
        }
    }

    fn append(&mut self, other: Found) {
        self.runs.extend(other.runs);
    }

    fn into_paths(self) -> Vec<String> {
        let mut paths = Vec::with_capacity(self.runs.iter().map(Vec::len).sum());
        for run in self.runs {
            paths.extend(run);
        }
        paths
    }
}

struct Walker<'a> {
    patterns: &'a [Pattern],
    include_hidden: bool,
    preserve_links: bool,
    reporter: &'a dyn Reporter,
}

/// Children handled by one rayon task: enough to amortize scheduling.
const CHILDREN_PER_TASK: usize = 64;

impl Walker<'_> {
    /// `globGenerator`'s loop body for one item; `chain` holds the real paths of the
    /// directories above it.
    fn visit(&self, item: Item, chain: &[PathBuf], out: &mut Found) -> Result<(), SelectError> {
        let (matched, partial) = {
            let segments = ItemPath::new(&item.path);
            let matched = match_all(self.patterns, &segments);
            (
                matched,
                matched != MATCH_NONE
                    || self
                        .patterns
                        .iter()
                        .any(|p| !p.negate && p.partial_item(&segments)),
            )
        };
        if !partial {
            return Ok(());
        }
        if self.preserve_links
            && item.hint == Hint::Follow
            && matched & MATCH_FILE != 0
            && fs::symlink_metadata(&item.path).is_ok_and(|m| m.file_type().is_symlink())
        {
            if self.include_hidden || !basename(&item.path).starts_with('.') {
                out.push(item.path);
            }
            return Ok(());
        }
        let Some(is_dir) = stat(&item, matched, self.reporter)? else {
            return Ok(());
        };
        let hidden = !self.include_hidden && basename(&item.path).starts_with('.');
        if !is_dir {
            if !hidden && matched & MATCH_FILE != 0 {
                out.push(item.path);
            }
            return Ok(());
        }

        let real = if item.hint == Hint::Dir
            && let Some(parent) = chain.last()
        {
            parent.join(basename(&item.path))
        } else {
            fs::canonicalize(&item.path).map_err(|source| SelectError::Io {
                path: PathBuf::from(&item.path),
                source,
            })?
        };
        if chain.contains(&real) {
            self.reporter.event(&Event::debug(format!(
                "symbolic link cycle at `{}`",
                item.path
            )));
            return Ok(());
        }
        if hidden {
            return Ok(());
        }
        let mut below = Vec::with_capacity(chain.len() + 1);
        below.extend_from_slice(chain);
        below.push(real);
        let children = read_children(&item, self.reporter)?;
        // Runs of 64 children amortize the scheduling, and a directory of fewer than two
        // runs is walked in order on one thread (its warnings and its first error come
        // out the same on every run). A larger one is walked in parallel anyway: when it
        // holds anything but plain files (sub-directories, or links that may lead to
        // one), each child is a task of its own, since reading a sub-directory is the
        // costly part and a run of 64 of them on one thread left the other cores idle at
        // the walk's end.
        let per_task = if children.len() >= 2 * CHILDREN_PER_TASK
            && children.iter().any(|c| c.hint != Hint::File)
        {
            1
        } else {
            CHILDREN_PER_TASK
        };
        let found = children
            .into_par_iter()
            .with_min_len(per_task)
            .try_fold(Found::default, |mut acc, child| {
                self.visit(child, &below, &mut acc).map(|()| acc)
            })
            .try_reduce(Found::default, |mut a, b| {
                a.append(b);
                Ok(a)
            })?;
        out.append(found);
        Ok(())
    }
}

/// Whether the item is a directory (`Some(true)`), a regular file (`Some(false)`), or
/// something to skip (`None`): broken links, link loops, FIFOs, sockets, devices.
fn stat(
    item: &Item,
    matched: MatchKind,
    reporter: &dyn Reporter,
) -> Result<Option<bool>, SelectError> {
    let skip_special = || {
        if matched & MATCH_FILE != 0 {
            reporter.event(&Event::warning(format!(
                "skipping `{}`: not a regular file",
                item.path
            )));
        }
        Ok(None)
    };
    match item.hint {
        Hint::File => Ok(Some(false)),
        Hint::Dir => Ok(Some(true)),
        Hint::Special => skip_special(),
        Hint::Follow => match fs::metadata(&item.path) {
            Ok(meta) if meta.is_dir() => Ok(Some(true)),
            Ok(meta) if meta.is_file() => Ok(Some(false)),
            Ok(_) => skip_special(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                reporter.event(&Event::debug(format!(
                    "broken symbolic link `{}`",
                    item.path
                )));
                Ok(None)
            }
            Err(e) if is_link_loop(&e) => {
                reporter.event(&Event::warning(format!(
                    "skipping `{}`: too many levels of symbolic links",
                    item.path
                )));
                Ok(None)
            }
            Err(source) => Err(SelectError::Io {
                path: PathBuf::from(&item.path),
                source,
            }),
        },
    }
}

/// The entries of a directory, typed by `readdir` where it can tell.
fn read_children(item: &Item, reporter: &dyn Reporter) -> Result<Vec<Item>, SelectError> {
    let mut children = Vec::new();
    each_entry(&item.path, |name, hint| {
        let Some(name) = name.to_str() else {
            reporter.event(&Event::warning(format!(
                "skipping `{}`: the name is not valid UTF-8",
                Path::new(&item.path).join(name).display()
            )));
            return;
        };
        // Sized exactly: `format!` would grow the string by doubling, and every selected
        // file keeps this allocation until the run ends.
        let mut path = String::with_capacity(item.path.len() + 1 + name.len());
        path.push_str(&item.path);
        if !item.path.ends_with('/') {
            path.push('/');
        }
        path.push_str(name);
        children.push(Item { path, hint });
    })
    .map_err(|source| SelectError::Io {
        path: PathBuf::from(&item.path),
        source,
    })?;
    // In the order of their paths with `/` after a directory's name, which is the order
    // of every path below them: the walk's output then comes out sorted (the selection
    // checks, and sorts only when it is not), each directory sorted on its own walk task.
    // Every child's path starts with the same parent and `/`: only the names differ.
    let parent = item.path.len() + usize::from(!item.path.ends_with('/'));
    children.sort_unstable_by(|a, b| walk_order(a, b, parent));
    Ok(children)
}

/// Calls `f` with the name and type of every entry of the directory `path` but `.` and
/// `..`.
///
/// On Linux through `getdents64` into one 32 KiB buffer: musl's `readdir` (the static
/// release binaries) reads 2 KiB per call, four times glibc's calls, and ext4 refills its
/// hashed-directory tree on each (the musl build spent 9% more system time on a 100,000-file
/// scan); `std::fs::read_dir` also allocates every name.
#[cfg(target_os = "linux")]
fn each_entry(path: &str, mut f: impl FnMut(&std::ffi::OsStr, Hint)) -> io::Result<()> {
    use rustix::fs::{FileType, Mode, OFlags, RawDir};
    use std::os::unix::ffi::OsStrExt;
    let dir = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut buf = Vec::with_capacity(32 * 1024);
    let mut entries = RawDir::new(&dir, buf.spare_capacity_mut());
    while let Some(entry) = entries.next() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let kind = match entry.file_type() {
            // `DT_UNKNOWN` (some file systems never tell): an `lstat`, as std does.
            FileType::Unknown => rustix::fs::statat(
                &dir,
                entry.file_name(),
                rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
            )
            .map(|st| FileType::from_raw_mode(st.st_mode)),
            known => Ok(known),
        };
        let hint = match kind {
            Ok(FileType::RegularFile) => Hint::File,
            Ok(FileType::Directory) => Hint::Dir,
            Ok(FileType::Symlink) | Err(_) => Hint::Follow,
            Ok(_) => Hint::Special,
        };
        f(std::ffi::OsStr::from_bytes(name), hint);
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn each_entry(path: &str, mut f: impl FnMut(&std::ffi::OsStr, Hint)) -> io::Result<()> {
    for entry in fs::read_dir(path)? {
        let entry = entry?;
        let hint = match entry.file_type() {
            Ok(t) if t.is_file() => Hint::File,
            Ok(t) if t.is_dir() => Hint::Dir,
            Ok(t) if t.is_symlink() => Hint::Follow,
            Ok(_) => Hint::Special,
            Err(_) => Hint::Follow,
        };
        f(&entry.file_name(), hint);
    }
    Ok(())
}

/// Two entries of one directory in the order of the full paths they lead to: a
/// directory's name compares as if followed by `/` (`a-b` < `a.txt` < `a/x`). A link
/// (or an entry whose type could not be read) compares by its name alone; if it leads to
/// a directory the output may be out of order, and the selection sorts it.
/// `skip`: the length of the directory's path and `/`, which the entries share (comparing
/// it again for every pair was a tenth of the walk's time).
fn walk_order(a: &Item, b: &Item, skip: usize) -> std::cmp::Ordering {
    fn name(item: &Item, skip: usize) -> &[u8] {
        item.path.as_bytes().get(skip..).unwrap_or_default()
    }
    let (pa, pb) = (name(a, skip), name(b, skip));
    let n = pa.len().min(pb.len());
    pa[..n].cmp(&pb[..n]).then_with(|| {
        let next = |p: &[u8], item: &Item| {
            p.get(n)
                .copied()
                .or((item.hint == Hint::Dir).then_some(b'/'))
        };
        next(pa, a).cmp(&next(pb, b))
    })
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory's entries sort as the paths below them.
    #[test]
    fn entries_sort_as_the_paths_below_them() {
        let item = |path: &str, hint| Item {
            path: path.to_owned(),
            hint,
        };
        let mut entries = [
            item("/w/a", Hint::Dir),
            item("/w/a.txt", Hint::File),
            item("/w/a-b", Hint::File),
            item("/w/a0", Hint::File),
            item("/w/B", Hint::File),
        ];
        entries.sort_unstable_by(|a, b| walk_order(a, b, "/w/".len()));
        let order: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(order, ["/w/B", "/w/a-b", "/w/a.txt", "/w/a", "/w/a0"]);
    }

    /// What the selection relies on to skip its sort: a real tree, with names that sort
    /// around `/` and more directories than one task takes, comes out of the walk in the
    /// byte order of its paths.
    #[cfg(unix)]
    #[test]
    fn a_walk_comes_out_in_path_order() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().to_str().expect("utf-8 temp path").to_owned();
        for d in 0..(CHILDREN_PER_TASK + 6) {
            for name in ["a/x", "a-b", "a.txt", "a0", "B", "a/y/z"] {
                let path = tmp.path().join(format!("d{d}")).join(name);
                fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
                fs::write(&path, b"x").expect("write");
            }
        }
        let pattern = Pattern::parse(&format!("{root}/**"), Path::new("/"), None).expect("pattern");
        let reporter = crate::events::MemoryReporter::default();
        // Hidden items included: the temporary directory's own name starts with a dot.
        let found = walk(&[pattern], &[root], true, false, &reporter).expect("walk");
        assert_eq!(found.len(), (CHILDREN_PER_TASK + 6) * 6);
        let mut sorted = found.clone();
        sorted.sort_unstable();
        assert_eq!(found, sorted);
    }

    #[test]
    fn parents() {
        assert_eq!(parent_of("/a/b"), Some("/a"));
        assert_eq!(parent_of("/a"), Some("/"));
        assert_eq!(parent_of("/"), None);
    }
}
