//! The staging directory and what happens to `path`. Everything is downloaded and
//! extracted into a private (0700) `.stevedore-<random>/` on `path`'s own file system:
//! beside `path`, or inside it when `path` is a directory on another file system than its
//! parent (a mount point, a link elsewhere), so the final moves are renames. Only once
//! every artifact verified is the result moved into `path`: the whole staging tree is
//! renamed to `path` when `path` does not exist; otherwise its entries are moved in, a
//! file replacing a same-named file, as download-artifact overwrites.
//!
//! All or nothing (issue 19 item 4): before the first move, no file may replace a
//! directory or the reverse, every link must stay inside `path` on the file system itself
//! (`links`), and every directory that receives an entry must be writable and on the
//! staging's file system. The moves then keep a journal (a replaced file is first linked,
//! or moved, into the staging directory), and a move that fails all the same puts back
//! every one made before it. Directory modes are applied last, to the directories the
//! download created: a read-only directory stops neither the moves nor the clean-up. The
//! staging directory goes on every way out.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};

use super::links::check_staged_links;

/// Why the staged result could not be merged or placed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PlaceError {
    /// A file system operation failed.
    #[error("cannot {what} `{path}`: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// `merge-multiple`: two artifacts hold different files at one path.
    #[error(
        "artifacts `{first}` and `{second}` both hold `{file}` with different contents; with `merge-multiple: true` a path may come from one artifact only (identical copies are fine): download them without `merge-multiple`, or pick one with `name`/`pattern`"
    )]
    Conflict {
        /// The path inside the artifacts.
        file: String,
        /// The artifact that placed it first.
        first: String,
        /// The artifact that brought another version.
        second: String,
    },
    /// `path` holds a file where the download has a directory, or the reverse.
    #[error(
        "`{existing}` is a {existing_kind} but the download holds a {new_kind} there; remove it or download into another `path`"
    )]
    Shape {
        existing: PathBuf,
        /// What it is there.
        existing_kind: &'static str,
        /// What the download has.
        new_kind: &'static str,
    },
    /// A link `path` holds would be replaced by a link that leads elsewhere.
    #[error(
        "`{}` is a link to `{old}` and the download holds a link to `{new}` there; links already in `path` may lead through it, so a link is never replaced by another: remove it first, or download into another `path`",
        link.display()
    )]
    ReplacesLink {
        link: PathBuf,
        old: String,
        new: String,
    },
    /// A link would lead outside `path` once placed.
    #[error(
        "refused link `{link}` -> `{target}`: {reason}; links are restored only when they stay inside `path` together with everything `path` already holds"
    )]
    Link {
        link: String,
        target: String,
        reason: String,
    },
    /// A directory that would receive entries cannot (checked before the first move).
    #[error("cannot place the download in `{dir}`: {reason}")]
    Unplaceable { dir: PathBuf, reason: String },
    /// A move failed and not every earlier move could be put back.
    #[error(
        "cannot move the download to `{failed}`: {source}; putting back what was moved before failed for {}: `path` is partly changed (the originals of replaced files are in `{kept}`)",
        .unrestored.iter().map(|p| format!("`{}`", p.display())).collect::<Vec<_>>().join(", ")
    )]
    Partial {
        failed: PathBuf,
        source: io::Error,
        /// Entries of `path` not restored.
        unrestored: Vec<PathBuf>,
        kept: PathBuf,
    },
}

impl PlaceError {
    /// Whether `path` is as it was before the download (every error but [`PlaceError::Partial`]).
    #[must_use]
    pub(crate) fn left_path_as_it_was(&self) -> bool {
        !matches!(self, PlaceError::Partial { .. })
    }
}

fn io_err(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> PlaceError {
    let path = path.to_owned();
    move |source| PlaceError::Io { what, path, source }
}

/// Modes of the directories the download brings, relative to `path`, applied to those it
/// creates once they are in place.
pub(crate) type DirModes = BTreeMap<String, u32>;

/// A staging directory on `path`'s file system, removed on drop.
#[derive(Debug)]
pub(crate) struct Staging {
    root: PathBuf,
    /// Kept when `path` could not be put back whole: it holds the originals the error
    /// names ([`PlaceError::Partial`]).
    keep: bool,
}

impl Staging {
    /// Creates `.stevedore-<random>/` with `spool/` and `out/` in it: beside `path`, or in
    /// `path` when that is a directory on another file system than its parent.
    pub(crate) fn create(path: &Path) -> Result<Staging, PlaceError> {
        let parent = path.parent().unwrap_or(path);
        fs::create_dir_all(parent).map_err(io_err("create", parent))?;
        let base = if on_other_device(path, parent) {
            path
        } else {
            parent
        };
        let root = base.join(format!(".stevedore-{}", crate::secret::random_hex()));
        super::extract::private_dir(&root)
            .map_err(io_err("create the staging directory", &root))?;
        let staging = Staging { root, keep: false };
        for dir in [staging.spool_dir(), staging.out(), staging.kept()] {
            fs::create_dir(&dir).map_err(io_err("create", &dir))?;
        }
        Ok(staging)
    }

    /// The staging directory itself.
    #[cfg(test)]
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    fn spool_dir(&self) -> PathBuf {
        self.root.join("spool")
    }

    /// Where the originals of replaced files wait until the download is placed.
    fn kept(&self) -> PathBuf {
        self.root.join("replaced")
    }

    /// Where artifact number `i` is downloaded.
    pub(crate) fn spool(&self, i: usize) -> PathBuf {
        self.spool_dir().join(format!("{i}.download"))
    }

    /// The tree that becomes `path`.
    pub(crate) fn out(&self) -> PathBuf {
        self.root.join("out")
    }

    /// A directory of its own for artifact `i` before merging.
    pub(crate) fn part(&self, i: usize) -> PathBuf {
        self.root.join(format!("part-{i}"))
    }

    /// Moves the staged tree into `path` (see the module docs), then applies `modes` to the
    /// directories it created. Returns the directories whose mode could not be applied
    /// (the download is in place; the caller warns).
    pub(crate) fn commit(self, path: &Path, modes: &DirModes) -> Result<Vec<String>, PlaceError> {
        self.commit_with(path, modes, &mut |from, to| fs::rename(from, to))
    }

    /// [`Staging::commit`] with the final renames made by `rename` (a test makes one fail).
    fn commit_with(
        mut self,
        path: &Path,
        modes: &DirModes,
        rename: &mut dyn FnMut(&Path, &Path) -> io::Result<()>,
    ) -> Result<Vec<String>, PlaceError> {
        let out = self.out();
        // `path` itself may be a link to a directory (a workspace linked elsewhere): followed.
        let created: Vec<String> = match fs::metadata(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                check_staged_links(&out, None)?;
                rename(&out, path).map_err(io_err("move the download to", path))?;
                vec![String::new()]
            }
            Err(e) => return Err(io_err("read", path)(e)),
            Ok(meta) if !meta.is_dir() => {
                return Err(PlaceError::Shape {
                    existing: path.to_owned(),
                    existing_kind: "file",
                    new_kind: "directory",
                });
            }
            Ok(_) => {
                check_shapes(&out, path)?;
                check_staged_links(&out, Some(path))?;
                let mut planned = Vec::new();
                plan_moves(&out, path, "", &mut planned)?;
                preflight(&self.root, path, &planned)?;
                if let Err(e) = Journal::run(&planned, &self.kept(), rename) {
                    // The originals the message points to must outlive this value.
                    self.keep = matches!(e, PlaceError::Partial { .. });
                    return Err(e);
                }
                planned
                    .into_iter()
                    .filter(|m| m.is_dir && !m.replaces)
                    .map(|m| m.rel)
                    .collect()
            }
        };
        Ok(apply_modes(path, modes, &created))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_dir_all(&self.root);
        }
    }
}

/// Whether `path` is an existing directory on another device than `parent`.
#[cfg(unix)]
fn on_other_device(path: &Path, parent: &Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    match (fs::metadata(path), fs::metadata(parent)) {
        (Ok(p), Ok(q)) => p.is_dir() && p.dev() != q.dev(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn on_other_device(_path: &Path, _parent: &Path) -> bool {
    false
}

/// One entry of the staged tree and where it goes.
#[derive(Debug)]
struct Move {
    from: PathBuf,
    to: PathBuf,
    /// Relative to `path`, `/`-separated.
    rel: String,
    is_dir: bool,
    /// A file (or link) of that name is there and is replaced.
    replaces: bool,
}

/// The entries of `dir` in name order, so what is done first (and named first in an error)
/// is the same from run to run.
/// The directory is closed before the caller goes deeper: a walk that kept one open per
/// level runs out of descriptors in a deep tree.
pub(crate) fn sorted_entries(dir: &Path) -> Result<Vec<Listed>, PlaceError> {
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err("read", dir))? {
        let entry = entry.map_err(io_err("read", dir))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(io_err("read", &path))?;
        entries.push(Listed {
            name: entry.file_name(),
            path,
            kind,
        });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

/// One entry of a directory, read with [`sorted_entries`].
pub(crate) struct Listed {
    pub(crate) name: std::ffi::OsString,
    pub(crate) path: PathBuf,
    /// What it is (a link is a link: not followed).
    pub(crate) kind: fs::FileType,
}

/// Each staged entry that moves as a whole: new names, and files replacing files; a staged
/// directory whose name `path` already has as a directory is merged entry by entry.
fn plan_moves(from: &Path, to: &Path, rel: &str, moves: &mut Vec<Move>) -> Result<(), PlaceError> {
    for entry in sorted_entries(from)? {
        let name = entry.name;
        let dest = to.join(&name);
        let child = if rel.is_empty() {
            name.to_string_lossy().into_owned()
        } else {
            format!("{rel}/{}", name.to_string_lossy())
        };
        let is_dir = entry.kind.is_dir();
        match fs::symlink_metadata(&dest) {
            Ok(meta) if is_dir && meta.is_dir() => plan_moves(&entry.path, &dest, &child, moves)?,
            existing => moves.push(Move {
                from: entry.path,
                to: dest,
                rel: child,
                is_dir,
                replaces: existing.is_ok(),
            }),
        }
    }
    Ok(())
}

/// What can be known before the first move: every directory that receives an entry is on
/// the staging directory's file system (a sub-mount would make the rename fail half-way)
/// and writable by this process.
fn preflight(staging: &Path, path: &Path, moves: &[Move]) -> Result<(), PlaceError> {
    let mut checked: Vec<&Path> = Vec::new();
    for m in moves {
        let dir = m.to.parent().unwrap_or(path);
        if checked.contains(&dir) {
            continue;
        }
        checked.push(dir);
        if let Some(reason) = unplaceable(staging, dir) {
            return Err(PlaceError::Unplaceable {
                dir: dir.to_owned(),
                reason,
            });
        }
    }
    Ok(())
}

#[cfg(unix)]
fn unplaceable(staging: &Path, dir: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt as _;
    let (Ok(here), Ok(there)) = (fs::metadata(staging), fs::metadata(dir)) else {
        return Some("it cannot be read".into());
    };
    if here.dev() != there.dev() {
        return Some(
            "it is on another file system (a mount point inside `path`): download into it directly, or into another `path`"
                .into(),
        );
    }
    let access = rustix::fs::Access::WRITE_OK | rustix::fs::Access::EXEC_OK;
    rustix::fs::access(dir, access).err().map(|e| {
        format!(
            "this user cannot write there ({}); give it write permission or download into another `path`",
            io::Error::from(e)
        )
    })
}

#[cfg(not(unix))]
fn unplaceable(_staging: &Path, _dir: &Path) -> Option<String> {
    None
}

/// The moves made so far, and how to put each back.
struct Journal<'m> {
    done: Vec<(&'m Move, Option<PathBuf>)>,
}

impl<'m> Journal<'m> {
    /// Makes every move; on a failure puts back the ones made (last first) and returns the
    /// failure, or [`PlaceError::Partial`] if some could not be put back.
    fn run(
        moves: &'m [Move],
        kept: &Path,
        rename: &mut dyn FnMut(&Path, &Path) -> io::Result<()>,
    ) -> Result<(), PlaceError> {
        let mut journal = Journal { done: Vec::new() };
        for (i, m) in moves.iter().enumerate() {
            let backup = if m.replaces {
                let backup = kept.join(i.to_string());
                // A second name for the original, so the replacing rename stays atomic
                // for a reader; where hard links are refused, the original moves aside.
                if fs::hard_link(&m.to, &backup).is_err()
                    && let Err(source) = rename(&m.to, &backup)
                {
                    return Err(journal.undo(&m.to, source, kept));
                }
                Some(backup)
            } else {
                None
            };
            if let Err(source) = rename(&m.from, &m.to) {
                // The original, moved aside (not linked), goes back first; if it cannot,
                // `path` is not as it was, and the error says where the original is.
                let lost = backup.as_ref().is_some_and(|backup| {
                    fs::symlink_metadata(&m.to).is_err() && rename(backup, &m.to).is_err()
                });
                if lost {
                    journal.done.push((m, backup));
                }
                return Err(journal.undo(&m.to, source, kept));
            }
            journal.done.push((m, backup));
        }
        Ok(())
    }

    /// Puts back every move made, last first.
    fn undo(self, failed: &Path, source: io::Error, kept: &Path) -> PlaceError {
        let mut unrestored = Vec::new();
        for (m, backup) in self.done.into_iter().rev() {
            let restored = match backup {
                Some(backup) => fs::rename(backup, &m.to),
                None => fs::rename(&m.to, &m.from),
            };
            if restored.is_err() {
                unrestored.push(m.to.clone());
            }
        }
        if unrestored.is_empty() {
            PlaceError::Io {
                what: "move the download to",
                path: failed.to_owned(),
                source,
            }
        } else {
            PlaceError::Partial {
                failed: failed.to_owned(),
                source,
                unrestored,
                kept: kept.to_owned(),
            }
        }
    }
}

/// Applies the deferred directory modes, deepest first, to the directories below the
/// entries in `created` (relative to `path`; "" is `path` itself). Directories `path`
/// already had keep their own. Returns the ones that failed.
fn apply_modes(path: &Path, modes: &DirModes, created: &[String]) -> Vec<String> {
    let new = |dir: &str| {
        created.iter().any(|c| {
            c.is_empty()
                || dir == c
                || (dir.starts_with(c.as_str()) && dir[c.len()..].starts_with('/'))
        })
    };
    let mut failed = Vec::new();
    for (dir, mode) in modes.iter().rev() {
        if new(dir) {
            let full = dir
                .split('/')
                .fold(path.to_path_buf(), |acc, c| acc.join(c));
            if let Err(e) = super::extract::set_mode(&full, *mode) {
                failed.push(format!("`{}`: {e}", full.display()));
            }
        }
    }
    failed
}

fn kind(meta: &fs::Metadata) -> &'static str {
    if meta.is_dir() {
        "directory"
    } else if meta.file_type().is_symlink() {
        "symbolic link"
    } else {
        "file"
    }
}

/// Refuses, before anything moves, a staged file over an existing directory or a staged
/// directory over an existing non-directory.
fn check_shapes(from: &Path, to: &Path) -> Result<(), PlaceError> {
    for entry in sorted_entries(from)? {
        let dest = to.join(&entry.name);
        let Ok(existing) = fs::symlink_metadata(&dest) else {
            continue;
        };
        match (entry.kind.is_dir(), existing.is_dir()) {
            (true, true) => check_shapes(&entry.path, &dest)?,
            (false, false) => check_link_replacement(&entry, &dest, &existing)?,
            (new_dir, _) => {
                return Err(PlaceError::Shape {
                    existing: dest,
                    existing_kind: kind(&existing),
                    new_kind: if new_dir { "directory" } else { "file" },
                });
            }
        }
    }
    Ok(())
}

/// A link `path` already holds is replaced only by the very same link: other links there
/// (an earlier step's) may lead through it, and changing where it leads would change where
/// they lead, unchecked (the second review's finding). A file may replace it: what leads
/// through it then leads nowhere.
fn check_link_replacement(
    entry: &Listed,
    dest: &Path,
    existing: &fs::Metadata,
) -> Result<(), PlaceError> {
    if !(existing.file_type().is_symlink() && entry.kind.is_symlink()) {
        return Ok(());
    }
    let read = |p: &Path| fs::read_link(p).map_err(io_err("read", p));
    let (old, new) = (read(dest)?, read(&entry.path)?);
    if old == new {
        return Ok(());
    }
    Err(PlaceError::ReplacesLink {
        link: dest.to_owned(),
        old: super::extract::names::shown(old.as_os_str().as_encoded_bytes()),
        new: super::extract::names::shown(new.as_os_str().as_encoded_bytes()),
    })
}

/// Merges artifact `artifact`'s extracted tree `part` into `out`; `owners` remembers which
/// artifact placed each file. A different file at a taken path is a [`PlaceError::Conflict`];
/// an identical one (same kind, bytes and mode, or same link target) is dropped. Returns
/// the regular files dropped so and their bytes (counted once in the download's totals).
pub(crate) fn merge(
    part: &Path,
    out: &Path,
    artifact: &str,
    owners: &mut HashMap<PathBuf, String>,
) -> Result<(u64, u64), PlaceError> {
    let mut dropped = (0, 0);
    merge_dir(part, out, Path::new(""), artifact, owners, &mut dropped)?;
    Ok(dropped)
}

fn merge_dir(
    from: &Path,
    to: &Path,
    rel: &Path,
    artifact: &str,
    owners: &mut HashMap<PathBuf, String>,
    dropped: &mut (u64, u64),
) -> Result<(), PlaceError> {
    for entry in sorted_entries(from)? {
        let name = entry.name;
        let src = entry.path;
        let dest = to.join(&name);
        let rel = rel.join(&name);
        let src_meta = fs::symlink_metadata(&src).map_err(io_err("read", &src))?;
        match fs::symlink_metadata(&dest) {
            Err(_) => {
                fs::rename(&src, &dest).map_err(io_err("move", &dest))?;
                owners.insert(rel, artifact.to_owned());
            }
            Ok(dest_meta) if src_meta.is_dir() && dest_meta.is_dir() => {
                merge_dir(&src, &dest, &rel, artifact, owners, dropped)?;
            }
            Ok(dest_meta) => {
                if !same_content(&src, &src_meta, &dest, &dest_meta)
                    .map_err(io_err("compare", &dest))?
                {
                    let first = owners
                        .iter()
                        .filter(|(p, _)| rel.starts_with(p))
                        .max_by_key(|(p, _)| p.as_os_str().len())
                        .map_or_else(String::new, |(_, a)| a.clone());
                    return Err(PlaceError::Conflict {
                        file: rel.to_string_lossy().into_owned(),
                        first,
                        second: artifact.to_owned(),
                    });
                }
                if src_meta.is_file() {
                    dropped.0 += 1;
                    dropped.1 += src_meta.len();
                }
            }
        }
    }
    Ok(())
}

fn same_content(a: &Path, am: &fs::Metadata, b: &Path, bm: &fs::Metadata) -> io::Result<bool> {
    let (at, bt) = (am.file_type(), bm.file_type());
    if at.is_symlink() || bt.is_symlink() {
        return Ok(at.is_symlink() && bt.is_symlink() && fs::read_link(a)? == fs::read_link(b)?);
    }
    if !(at.is_file() && bt.is_file()) || am.len() != bm.len() || mode(am) != mode(bm) {
        return Ok(false);
    }
    let (mut fa, mut fb) = (fs::File::open(a)?, fs::File::open(b)?);
    let (mut ba, mut bb) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    loop {
        let n = read_full(&mut fa, &mut ba)?;
        let m = read_full(&mut fb, &mut bb)?;
        if n != m || ba[..n] != bb[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

fn read_full(file: &mut fs::File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

#[cfg(unix)]
fn mode(meta: &fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    meta.permissions().mode() & 0o777
}

#[cfg(not(unix))]
fn mode(_meta: &fs::Metadata) -> u32 {
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(path, text).expect("write");
    }

    #[test]
    fn merging_keeps_identical_files_and_names_both_artifacts_on_a_conflict() {
        let tmp = tempfile::tempdir().expect("tmp");
        let (a, b, c, out) = (
            tmp.path().join("a"),
            tmp.path().join("b"),
            tmp.path().join("c"),
            tmp.path().join("out"),
        );
        write(&a.join("lib/x.txt"), "same");
        write(&a.join("only-a"), "a");
        write(&b.join("lib/x.txt"), "same");
        write(&b.join("only-b"), "b");
        write(&c.join("lib/x.txt"), "other");
        fs::create_dir(&out).expect("out");
        let mut owners = HashMap::new();
        merge(&a, &out, "art-a", &mut owners).expect("first");
        let dropped = merge(&b, &out, "art-b", &mut owners).expect("identical duplicate is fine");
        assert_eq!(dropped, (1, 4), "the identical copy is counted once");
        assert_eq!(fs::read_to_string(out.join("only-b")).expect("b"), "b");
        let e = merge(&c, &out, "art-c", &mut owners).expect_err("conflict");
        let text = e.to_string();
        assert!(
            text.contains("`art-a`") && text.contains("`art-c`") && text.contains("lib/x.txt"),
            "{text}"
        );
        assert_eq!(
            fs::read_to_string(out.join("lib/x.txt")).expect("x"),
            "same"
        );
    }

    #[test]
    fn commit_renames_or_moves_in_and_a_dropped_staging_leaves_nothing() {
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("dl");
        let staging = Staging::create(&path).expect("staging");
        write(&staging.out().join("d/f"), "new");
        staging.commit(&path, &DirModes::new()).expect("rename");
        assert_eq!(fs::read_to_string(path.join("d/f")).expect("f"), "new");

        let staging = Staging::create(&path).expect("staging");
        write(&staging.out().join("d/f"), "newer");
        write(&staging.out().join("d/g"), "g");
        staging.commit(&path, &DirModes::new()).expect("move in");
        assert_eq!(fs::read_to_string(path.join("d/f")).expect("f"), "newer");
        assert_eq!(fs::read_to_string(path.join("d/g")).expect("g"), "g");

        let staging = Staging::create(&path).expect("staging");
        write(&staging.out().join("d/f/inner"), "dir where a file is");
        write(&staging.out().join("z"), "z");
        let e = staging.commit(&path, &DirModes::new()).expect_err("shape");
        assert!(e.to_string().contains("d/f"), "{e}");
        assert!(!path.join("z").exists(), "nothing moved");

        #[cfg(unix)]
        {
            let real = tmp.path().join("real");
            fs::create_dir(&real).expect("real");
            let linked = tmp.path().join("linked");
            std::os::unix::fs::symlink(&real, &linked).expect("link");
            let staging = Staging::create(&linked).expect("staging");
            write(&staging.out().join("f"), "through the link");
            staging
                .commit(&linked, &DirModes::new())
                .expect("a link to a directory is followed");
            assert_eq!(
                fs::read_to_string(real.join("f")).expect("f"),
                "through the link"
            );
            fs::remove_file(&linked).expect("unlink");
            fs::remove_dir_all(&real).expect("rm");
        }

        let staging = Staging::create(&path).expect("staging");
        let root = staging.root().to_owned();
        drop(staging);
        assert!(!root.exists());
        let names: Vec<_> = fs::read_dir(tmp.path())
            .expect("ls")
            .map(|e| e.expect("e").file_name())
            .collect();
        assert_eq!(names, [std::ffi::OsString::from("dl")], "no staging left");
    }

    /// Every entry below `dir` with its content (files), target (links) or `dir`.
    fn listing(dir: &Path) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for entry in fs::read_dir(&d).expect("ls") {
                let p = entry.expect("entry").path();
                let meta = fs::symlink_metadata(&p).expect("meta");
                let rel = p.strip_prefix(dir).expect("below").display().to_string();
                let what = if meta.is_dir() {
                    stack.push(p.clone());
                    "dir".to_owned()
                } else if meta.file_type().is_symlink() {
                    format!("-> {}", fs::read_link(&p).expect("link").display())
                } else {
                    fs::read_to_string(&p).expect("read")
                };
                out.push((rel, what));
            }
        }
        out.sort();
        out
    }

    #[test]
    fn a_move_that_fails_half_way_puts_back_every_one_made_before_it() {
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("dl");
        write(&path.join("a.txt"), "old a");
        write(&path.join("keep/k"), "kept");
        write(&path.join("z.txt"), "old z");
        let before = listing(&path);
        let staging = Staging::create(&path).expect("staging");
        let root = staging.root().to_owned();
        write(&staging.out().join("a.txt"), "new a");
        write(&staging.out().join("keep/new"), "new in a kept directory");
        write(&staging.out().join("new-dir/f"), "new");
        write(&staging.out().join("z.txt"), "new z");
        let mut calls = 0;
        let e = staging
            .commit_with(&path, &DirModes::new(), &mut |from, to| {
                calls += 1;
                // The fourth rename (of four moves: `a.txt`, `keep/new`, `new-dir`,
                // `z.txt`) fails, as a file in use on Windows would.
                if to.ends_with("z.txt") && from.starts_with(&root) {
                    return Err(io::Error::other("the file is in use"));
                }
                fs::rename(from, to)
            })
            .expect_err("the last move fails");
        assert!(calls >= 4, "{calls}");
        assert!(e.left_path_as_it_was(), "{e}");
        assert!(e.to_string().contains("z.txt"), "{e}");
        assert_eq!(listing(&path), before, "`path` is as it was");
        assert!(!root.exists(), "the staging directory is gone");
    }

    #[cfg(unix)]
    #[test]
    fn directory_modes_are_applied_once_placed_and_only_to_new_directories() {
        use std::os::unix::fs::PermissionsExt as _;
        let tmp = tempfile::tempdir().expect("tmp");
        let path = tmp.path().join("dl");
        write(&path.join("old/f"), "old");
        fs::set_permissions(path.join("old"), fs::Permissions::from_mode(0o750)).expect("chmod");
        let staging = Staging::create(&path).expect("staging");
        write(&staging.out().join("old/g"), "g");
        write(&staging.out().join("ro/inner/f"), "f");
        let modes: DirModes = [
            ("old".to_owned(), 0o555),
            ("ro".to_owned(), 0o555),
            ("ro/inner".to_owned(), 0o500),
        ]
        .into_iter()
        .collect();
        let failed = staging.commit(&path, &modes).expect("placed");
        assert!(failed.is_empty(), "{failed:?}");
        let mode = |p: &str| {
            fs::metadata(path.join(p))
                .expect("meta")
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode("old"), 0o750, "a directory `path` had keeps its mode");
        assert_eq!(mode("ro"), 0o555);
        assert_eq!(mode("ro/inner"), 0o500);
        assert_eq!(fs::read_to_string(path.join("ro/inner/f")).expect("f"), "f");
        for dir in ["ro/inner", "ro"] {
            fs::set_permissions(path.join(dir), fs::Permissions::from_mode(0o755)).expect("chmod");
        }
    }

    #[cfg(unix)]
    #[test]
    fn the_staging_directory_is_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let tmp = tempfile::tempdir().expect("tmp");
        let staging = Staging::create(&tmp.path().join("dl")).expect("staging");
        let mode = fs::metadata(staging.root())
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
