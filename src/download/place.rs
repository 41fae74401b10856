//! The staging directory and what happens to `path`. Everything is downloaded and
//! extracted into `<parent of path>/.stevedore-<random>/` (beside `path`, so the final
//! moves are renames on one file system). Only once every artifact verified is the result
//! moved into `path`: the whole staging tree is renamed to `path` when `path` does not
//! exist; otherwise its entries are moved in, a file replacing a same-named file, as
//! download-artifact overwrites, after a check that no file would replace a directory or
//! the reverse. Any failure before that removes the staging directory and leaves `path`
//! as it was.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};

/// Why the staged result could not be merged or placed.
#[derive(Debug, thiserror::Error)]
pub enum PlaceError {
    /// A file system operation failed.
    #[error("cannot {what} `{path}`: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// Where.
        path: PathBuf,
        /// The cause.
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
        /// The path in `path`.
        existing: PathBuf,
        /// What it is there.
        existing_kind: &'static str,
        /// What the download has.
        new_kind: &'static str,
    },
}

fn io_err(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> PlaceError {
    let path = path.to_owned();
    move |source| PlaceError::Io { what, path, source }
}

/// A staging directory beside `path`, removed on drop unless committed.
#[derive(Debug)]
pub(crate) struct Staging {
    root: PathBuf,
    committed: bool,
}

impl Staging {
    /// Creates `<parent of path>/.stevedore-<random>/` with `spool/` and `out/` in it.
    pub(crate) fn create(path: &Path) -> Result<Staging, PlaceError> {
        let parent = path.parent().unwrap_or(path);
        fs::create_dir_all(parent).map_err(io_err("create", parent))?;
        let root = parent.join(format!(".stevedore-{}", crate::secret::random_hex()));
        fs::create_dir(&root).map_err(io_err("create the staging directory", &root))?;
        let staging = Staging {
            root,
            committed: false,
        };
        for dir in [staging.spool_dir(), staging.out()] {
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

    /// Moves the staged tree into `path` (see the module docs) and removes the rest.
    pub(crate) fn commit(mut self, path: &Path) -> Result<(), PlaceError> {
        let out = self.out();
        // `path` itself may be a link to a directory (a workspace linked elsewhere): followed.
        match fs::metadata(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::rename(&out, path).map_err(io_err("move the download to", path))?;
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
                move_into(&out, path)?;
            }
        }
        self.committed = true;
        let _ = fs::remove_dir_all(&self.root);
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.root);
        }
    }
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
    for entry in fs::read_dir(from).map_err(io_err("read", from))? {
        let entry = entry.map_err(io_err("read", from))?;
        let dest = to.join(entry.file_name());
        let Ok(existing) = fs::symlink_metadata(&dest) else {
            continue;
        };
        let new = entry.file_type().map_err(io_err("read", &entry.path()))?;
        match (new.is_dir(), existing.is_dir()) {
            (true, true) => check_shapes(&entry.path(), &dest)?,
            (false, false) => {}
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

/// Moves every entry of `from` into `to`: new names by rename, directories merged, files
/// replaced (a rename over the old file, so a reader sees the old or the new one).
fn move_into(from: &Path, to: &Path) -> Result<(), PlaceError> {
    for entry in fs::read_dir(from).map_err(io_err("read", from))? {
        let entry = entry.map_err(io_err("read", from))?;
        let dest = to.join(entry.file_name());
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if is_dir && fs::symlink_metadata(&dest).is_ok_and(|m| m.is_dir()) {
            move_into(&entry.path(), &dest)?;
        } else {
            fs::rename(entry.path(), &dest).map_err(io_err("move the download to", &dest))?;
        }
    }
    Ok(())
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
    let mut entries: Vec<_> = fs::read_dir(from)
        .map_err(io_err("read", from))?
        .collect::<Result<_, _>>()
        .map_err(io_err("read", from))?;
    entries.sort_by_key(fs::DirEntry::file_name);
    for entry in entries {
        let name = entry.file_name();
        let src = entry.path();
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
        staging.commit(&path).expect("rename");
        assert_eq!(fs::read_to_string(path.join("d/f")).expect("f"), "new");

        let staging = Staging::create(&path).expect("staging");
        write(&staging.out().join("d/f"), "newer");
        write(&staging.out().join("d/g"), "g");
        staging.commit(&path).expect("move in");
        assert_eq!(fs::read_to_string(path.join("d/f")).expect("f"), "newer");
        assert_eq!(fs::read_to_string(path.join("d/g")).expect("g"), "g");

        let staging = Staging::create(&path).expect("staging");
        write(&staging.out().join("d/f/inner"), "dir where a file is");
        write(&staging.out().join("z"), "z");
        let e = staging.commit(&path).expect_err("shape");
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
                .commit(&linked)
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
}
