//! The directory destination: a copy of the selection, the checksums file and the
//! manifest, published all at once.
//!
//! Files are copied into a fresh staging directory beside the target (same file system),
//! each one re-hashed on the way and compared with the scan, then the staging directory is
//! renamed into place. A failure removes the staging directory, so the target is either
//! absent, untouched, or complete; never a partial copy that looks finished. A run killed
//! on the way (SIGKILL, a lost runner) cannot clean up: the next run into the same
//! directory does, under a lock on the parent, before it decides anything. Because the
//! staging directory is new and every sub-directory is created by stevedore, no existing
//! link can redirect a write outside the target.

use std::cell::RefCell;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::{Bundle, Context, MANIFEST_NAME, UploadError};
use crate::events::{Event, Reporter};

thread_local! {
    static BUFFER: RefCell<Vec<u8>> = RefCell::new(vec![0; 256 * 1024]);
}

/// Resolves `~/` and relative paths.
#[must_use]
pub(crate) fn resolve(path: &Path, ctx: &Context<'_>) -> PathBuf {
    if let (Ok(rest), Some(home)) = (path.strip_prefix("~"), ctx.home) {
        return normalize(&home.join(rest));
    }
    normalize(&ctx.cwd.join(path))
}

/// Lexical normalization (`a/./b/../c` -> `a/c`) so comparisons work on paths that do
/// not exist yet.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Canonical form of a path that may not exist: the deepest existing ancestor is
/// resolved, the rest appended.
pub(crate) fn canonical_lenient(path: &Path) -> PathBuf {
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    while fs::symlink_metadata(&existing).is_err() {
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name.to_owned());
                existing = parent.to_path_buf();
            }
            _ => break,
        }
    }
    let mut out = fs::canonicalize(&existing).unwrap_or(existing);
    out.extend(rest.iter().rev());
    out
}

/// Checks the target before anything is written.
pub(crate) fn preflight(target: &Path, root: &Path, overwrite: bool) -> Result<(), UploadError> {
    let real_target = canonical_lenient(target);
    let real_root = canonical_lenient(root);
    if real_root.starts_with(&real_target) {
        return Err(UploadError::Overlap {
            path: target.to_path_buf(),
            root: root.to_path_buf(),
        });
    }
    match fs::symlink_metadata(target) {
        Err(_) => Ok(()),
        Ok(meta) if !meta.is_dir() => Err(UploadError::NotADirectory {
            path: target.to_path_buf(),
        }),
        Ok(_) => {
            let empty = fs::read_dir(target)
                .map_err(|source| UploadError::Write {
                    path: target.to_path_buf(),
                    source,
                })?
                .next()
                .is_none();
            if empty || overwrite {
                Ok(())
            } else {
                Err(UploadError::DirNotEmpty {
                    path: target.to_path_buf(),
                })
            }
        }
    }
}

/// Copies the bundle to `target` and publishes it with a rename.
pub(crate) fn copy(
    target: &Path,
    bundle: &Bundle<'_>,
    overwrite: bool,
    reporter: &dyn Reporter,
) -> Result<(), UploadError> {
    let name = target
        .file_name()
        .map_or_else(|| "out".to_owned(), |n| n.to_string_lossy().into_owned());
    let parent = target.parent().unwrap_or(Path::new("/"));
    fs::create_dir_all(parent).map_err(|source| UploadError::Write {
        path: parent.to_path_buf(),
        source,
    })?;
    // Held until the copy is published: see `lock_parent`.
    let lock = lock_parent(parent);
    if lock.is_some() {
        recover(parent, &name, target, reporter);
    }
    // Checked (again) now that a target moved aside by a killed run is back in place.
    preflight(target, &bundle.manifest.selection.root, overwrite)?;
    let token = &crate::secret::random_hex()[..12];
    let staging = parent.join(format!(".{name}.stevedore-partial-{token}"));
    fs::create_dir(&staging).map_err(|source| UploadError::Write {
        path: staging.clone(),
        source,
    })?;

    let result =
        fill(&staging, bundle).and_then(|()| publish(&staging, target, parent, &name, token));
    if result.is_err() {
        // Best effort: the error being returned matters more than a failed clean-up.
        let _ = fs::remove_dir_all(&staging);
    } else {
        reporter.event(&Event::info(format!(
            "copied {} files to `{}`",
            bundle.manifest.records.len() + 2,
            target.display()
        )));
    }
    drop(lock);
    result
}

/// Locks the directory that holds the target (an advisory lock, `flock`, which the kernel
/// releases when the process dies, however it dies). stevedore runs writing into the same
/// directory take turns, so while a run holds the lock every `.<name>.stevedore-*` entry
/// there belongs to a run that was killed. `None` where the lock cannot be taken (a
/// directory cannot be opened as a file on Windows, some network file systems): the
/// leftovers of a killed run then stay, rather than risk removing a live run's staging.
fn lock_parent(parent: &Path) -> Option<File> {
    let dir = File::open(parent).ok()?;
    dir.lock().ok()?;
    Some(dir)
}

/// What a killed run left beside `target`, named by `copy` and `publish`: `(partial, old)`
/// entries.
fn leftovers(parent: &Path, name: &str) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let partial = format!(".{name}.stevedore-partial-");
    let old = format!(".{name}.stevedore-old-");
    let ours = |file_name: &str, prefix: &str| {
        file_name
            .strip_prefix(prefix)
            .is_some_and(|token| token.len() == 12 && token.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    let (mut partials, mut olds) = (Vec::new(), Vec::new());
    for entry in fs::read_dir(parent).into_iter().flatten().flatten() {
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            continue;
        };
        if ours(file_name, &partial) {
            partials.push(entry.path());
        } else if ours(file_name, &old) {
            olds.push(entry.path());
        }
    }
    (partials, olds)
}

/// Makes the state a killed run left converge (called with the parent locked): a previous
/// target it had moved aside and not yet replaced is put back (as `publish` does on a
/// failed rename), so this run decides about it as about any existing target; staging
/// directories and old targets already replaced are removed.
fn recover(parent: &Path, name: &str, target: &Path, reporter: &dyn Reporter) {
    let (partials, olds) = leftovers(parent, name);
    for old in olds {
        if fs::symlink_metadata(target).is_err() && fs::rename(&old, target).is_ok() {
            reporter.event(&Event::info(format!(
                "put back `{}`, moved aside by an interrupted run",
                target.display()
            )));
            continue;
        }
        remove_leftover(&old, reporter);
    }
    for partial in partials {
        remove_leftover(&partial, reporter);
    }
}

fn remove_leftover(path: &Path, reporter: &dyn Reporter) {
    match fs::remove_dir_all(path) {
        Ok(()) => reporter.event(&Event::info(format!(
            "removed `{}`, left by an interrupted run",
            path.display()
        ))),
        Err(e) => reporter.event(&Event::warning(format!(
            "could not remove `{}`, left by an interrupted run: {e}",
            path.display()
        ))),
    }
}

fn fill(staging: &Path, bundle: &Bundle<'_>) -> Result<(), UploadError> {
    let files: Vec<_> = bundle.manifest.files().collect();
    files.par_iter().try_for_each(|(file, record)| {
        let dest = staging.join(safe_relative(file.rel()).ok_or_else(|| UploadError::Write {
            path: staging.join(file.rel()),
            source: io::Error::new(
                io::ErrorKind::InvalidInput,
                "relative path leaves the destination",
            ),
        })?);
        if let Some(dir) = dest.parent() {
            fs::create_dir_all(dir).map_err(|source| UploadError::Write {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let (size, sha256) = match &file.link() {
            Some(_) => copy_link(file.path(), &dest)?,
            None => copy_file(file.path(), &dest, record.mode)?,
        };
        if size != record.size || sha256 != record.sha256 {
            return Err(UploadError::Changed {
                path: file.path().to_path_buf(),
            });
        }
        Ok(())
    })?;
    for (name, source) in [
        (bundle.checksums_name, bundle.checksums),
        (MANIFEST_NAME, bundle.manifest_json),
    ] {
        let path = staging.join(name);
        fs::copy(source, &path).map_err(|source| UploadError::Write { path, source })?;
    }
    Ok(())
}

/// A relative path that cannot climb out of its base.
fn safe_relative(rel: &str) -> Option<PathBuf> {
    let path = Path::new(rel);
    path.components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then(|| path.to_path_buf())
}

/// Copies while hashing what is written; returns size and SHA-256 of the copy.
fn copy_file(src: &Path, dest: &Path, mode: u32) -> Result<(u64, [u8; 32]), UploadError> {
    let read_err = |source| UploadError::Read {
        path: src.to_path_buf(),
        source,
    };
    let write_err = |source| UploadError::Write {
        path: dest.to_path_buf(),
        source,
    };
    let mut input = File::open(src).map_err(read_err)?;
    let mut output = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dest)
        .map_err(write_err)?;
    BUFFER.with_borrow_mut(|buf| {
        let mut hasher = Sha256::new();
        let mut total = 0u64;
        loop {
            let n = match input.read(buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(read_err(e)),
            };
            hasher.update(&buf[..n]);
            output.write_all(&buf[..n]).map_err(write_err)?;
            total += n as u64;
        }
        set_mode(&output, mode).map_err(write_err)?;
        Ok((total, hasher.finalize().into()))
    })
}

/// Recreates a preserved link (`symlinks: preserve`) with the target it has now; returns
/// the target's length and SHA-256, which the caller compares with the scan's.
fn copy_link(src: &Path, dest: &Path) -> Result<(u64, [u8; 32]), UploadError> {
    let target = fs::read_link(src).map_err(|source| UploadError::Read {
        path: src.to_path_buf(),
        source,
    })?;
    make_link(&target, dest).map_err(|source| UploadError::Write {
        path: dest.to_path_buf(),
        source,
    })?;
    let bytes = target.as_os_str().as_encoded_bytes();
    Ok((bytes.len() as u64, Sha256::digest(bytes).into()))
}

#[cfg(unix)]
fn make_link(target: &Path, dest: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, dest)
}

#[cfg(not(unix))]
fn make_link(_target: &Path, _dest: &Path) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "symbolic links are preserved only on Unix",
    ))
}

#[cfg(unix)]
fn set_mode(file: &File, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
#[expect(
    clippy::unnecessary_wraps,
    reason = "the signature of the unix set_mode, so the caller is one for both"
)]
fn set_mode(_file: &File, _mode: u32) -> io::Result<()> {
    Ok(())
}

/// Moves the staging directory into place; an existing target is moved aside first and
/// removed only after the new one is in place.
fn publish(
    staging: &Path,
    target: &Path,
    parent: &Path,
    name: &str,
    token: &str,
) -> Result<(), UploadError> {
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| UploadError::Write { path, source }
    };
    if fs::symlink_metadata(target).is_ok() {
        let old = parent.join(format!(".{name}.stevedore-old-{token}"));
        fs::rename(target, &old).map_err(write_err(target))?;
        if let Err(source) = fs::rename(staging, target) {
            // Put the previous contents back.
            let _ = fs::rename(&old, target);
            return Err(UploadError::Write {
                path: target.to_path_buf(),
                source,
            });
        }
        fs::remove_dir_all(&old).map_err(write_err(&old))?;
    } else {
        fs::rename(staging, target).map_err(write_err(target))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_cannot_escape() {
        assert!(safe_relative("a/b.txt").is_some());
        assert!(safe_relative("../x").is_none());
        assert!(safe_relative("/etc/passwd").is_none());
        assert!(safe_relative("a/../../x").is_none());
    }

    #[test]
    fn normalization() {
        assert_eq!(
            normalize(Path::new("/w/./out/../dist")),
            PathBuf::from("/w/dist")
        );
    }
}
