//! The directory destination: a copy of the selection, the checksums file and the
//! manifest, published all at once.
//!
//! `overwrite` replaces what stevedore wrote, never what it did not (issue 26 item 1):
//! files an earlier run listed in its manifest (and its documents) are replaced or
//! removed, a file of the same name as a new one is replaced, and anything else in the
//! directory is carried into the new copy untouched (hard-linked, so nothing is moved
//! until the swap). The working directory, the workspace, the home directory, `/` and
//! their parents are refused as `overwrite` targets, and what was removed is listed.
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
use std::sync::{Arc, Mutex, PoisonError, Weak};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::{Bundle, Context, MANIFEST_NAME, UploadError};
use crate::events::{Event, Reporter};
use crate::pack::prepack::Stamp;
use crate::scan::{Copier, CopyFile};
use crate::select::SelectedFile;

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

/// Directories that `overwrite` may never replace, with what they are: replacing what
/// they hold would take the user's project or home with it.
pub(crate) fn protected(ctx: &Context<'_>) -> Protected {
    let mut dirs = vec![(ctx.cwd.to_path_buf(), "the working directory")];
    if let Some(ws) = &ctx.env.workspace {
        dirs.push((ws.clone(), "the workspace"));
    }
    if let Some(home) = ctx.home {
        dirs.push((home.to_path_buf(), "the home directory"));
    }
    dirs.push((PathBuf::from("/"), "the root directory"));
    dirs
}

/// Directories `overwrite` refuses, with what each is.
pub(crate) type Protected = Vec<(PathBuf, &'static str)>;

/// Checks the target before anything is written.
pub(crate) fn preflight(
    target: &Path,
    root: &Path,
    overwrite: bool,
    protected: &[(PathBuf, &'static str)],
) -> Result<(), UploadError> {
    let real_target = canonical_lenient(target);
    let real_root = canonical_lenient(root);
    if real_root.starts_with(&real_target) {
        return Err(UploadError::Overlap {
            path: target.to_path_buf(),
            root: root.to_path_buf(),
        });
    }
    // The directory itself before a directory it is the parent of (`/` is the root
    // directory before it is the working directory's parent).
    let is = |dir: &PathBuf| canonical_lenient(dir) == real_target;
    let holds = |dir: &PathBuf| canonical_lenient(dir).starts_with(&real_target);
    if overwrite
        && let Some((dir, what)) = protected
            .iter()
            .find(|(dir, _)| is(dir))
            .or_else(|| protected.iter().find(|(dir, _)| holds(dir)))
    {
        return Err(UploadError::Protected {
            path: target.to_path_buf(),
            what,
            parent: canonical_lenient(dir) != real_target,
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

/// Copies the bundle to `target` and publishes it with a rename. With `prestaged`, the
/// scan already wrote the files into its staging directory: only what it could not copy
/// is copied here.
pub(crate) fn copy(
    target: &Path,
    bundle: &Bundle<'_>,
    overwrite: bool,
    protected: &[(PathBuf, &'static str)],
    prestaged: Option<&Prestaged>,
    reporter: &dyn Reporter,
) -> Result<(), UploadError> {
    let name = target
        .file_name()
        .map_or_else(|| "out".to_owned(), |n| n.to_string_lossy().into_owned());
    let parent = target.parent().unwrap_or(Path::new("/"));
    let root = &bundle.manifest.selection.root;
    let fresh;
    let staged = if let Some(staged) = prestaged {
        // Checked again: the target may have changed while the scan ran.
        preflight(target, root, overwrite, protected)?;
        staged
    } else {
        fresh = Prestaged::new(target, root, overwrite, protected, 0, reporter)?;
        &fresh
    };
    let (staging, token) = (&staged.staging, staged.token.as_str());

    let result = fill(staging, bundle, staged)
        .and_then(|()| carry_over(target, staging, bundle.checksums_name))
        .and_then(|kept| {
            publish(staging, target, parent, &name, token)?;
            Ok(kept)
        })
        .map(|sorted| sorted.report(target, reporter));
    if result.is_err() {
        // Best effort: the error being returned matters more than a failed clean-up.
        let _ = fs::remove_dir_all(staging);
    } else {
        reporter.event(&Event::info(format!(
            "copied {} files to `{}`",
            bundle.manifest.records.len() + 2,
            target.display()
        )));
    }
    result
}

/// A directory destination's staging directory, made (under the parent's lock, after
/// what a killed run left is recovered) before anything is written into it: before the
/// scan, whose reads fill it (issue 25: one read per byte), or by [`copy`]. It stays
/// hidden beside the target until published, and is removed when dropped unpublished
/// (a failed policy, a failed upload): nothing of it shows as the target.
pub(crate) struct Prestaged {
    target: PathBuf,
    staging: PathBuf,
    token: String,
    /// Held until the process is done with the directory: see `lock_parent`.
    _lock: Option<Arc<File>>,
    /// Per selected file: copied whole from the scan's read, with the metadata that read
    /// began from (a later `stat` that differs means the file changed since).
    copied: Vec<std::sync::OnceLock<Stamp>>,
    /// Whether copies are still tried as reflinks: cleared by the first refusal that says
    /// the file system cannot share extents (ext4, tmpfs), so those pay one `ioctl`.
    #[cfg_attr(
        not(target_os = "linux"),
        expect(dead_code, reason = "reflinks are made on Linux only")
    )]
    reflinks: std::sync::atomic::AtomicBool,
}

impl Prestaged {
    /// Locks the parent, recovers what a killed run left, checks the target and creates
    /// the staging directory, with room for `files` copies from the scan.
    pub(crate) fn new(
        target: &Path,
        root: &Path,
        overwrite: bool,
        protected: &[(PathBuf, &'static str)],
        files: usize,
        reporter: &dyn Reporter,
    ) -> Result<Self, UploadError> {
        let name = target
            .file_name()
            .map_or_else(|| "out".to_owned(), |n| n.to_string_lossy().into_owned());
        let parent = target.parent().unwrap_or(Path::new("/"));
        fs::create_dir_all(parent).map_err(|source| UploadError::Write {
            path: parent.to_path_buf(),
            source,
        })?;
        let lock = lock_parent(parent);
        if lock.is_some() {
            recover(parent, &name, target, reporter);
        }
        // Checked (again) now that a target moved aside by a killed run is back in place.
        preflight(target, root, overwrite, protected)?;
        let token = crate::secret::random_hex()[..12].to_owned();
        let staging = parent.join(format!(".{name}.stevedore-partial-{token}"));
        fs::create_dir(&staging).map_err(|source| UploadError::Write {
            path: staging.clone(),
            source,
        })?;
        Ok(Prestaged {
            target: target.to_path_buf(),
            staging,
            token,
            _lock: lock,
            copied: (0..files).map(|_| std::sync::OnceLock::new()).collect(),
            reflinks: std::sync::atomic::AtomicBool::new(true),
        })
    }

    /// The target it stages.
    pub(crate) fn target(&self) -> &Path {
        &self.target
    }

    fn dest(&self, file: &SelectedFile) -> Option<PathBuf> {
        let dest = self.staging.join(safe_relative(file.rel())?);
        fs::create_dir_all(dest.parent()?).ok()?;
        Some(dest)
    }
}

impl std::fmt::Debug for Prestaged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prestaged")
            .field("target", &self.target)
            .field("staging", &self.staging)
            .finish_non_exhaustive()
    }
}

impl Drop for Prestaged {
    fn drop(&mut self) {
        // Gone already once published (renamed into place).
        let _ = fs::remove_dir_all(&self.staging);
    }
}

/// The scan's reads written into the staging directory, or, where the file system shares
/// extents (btrfs, XFS, bcachefs), each copy of `REFLINK_FROM` bytes or more a reflink of
/// its file made before the read: no byte is written, the blocks are shared until either
/// side changes. A clone is of the file as it was when cloned: a change after the read
/// began shows in the metadata `fill` checks, as for a written copy. A file that cannot be
/// copied here is left out (and its partial copy removed): `fill` copies it the usual way
/// and reports what goes wrong there.
impl Copier for Prestaged {
    fn file(
        &self,
        index: usize,
        file: &SelectedFile,
        source: &File,
        meta: &fs::Metadata,
    ) -> Option<Box<dyn CopyFile + '_>> {
        self.copied.get(index)?;
        let dest = self.dest(file)?;
        let output = create_private(&dest).ok()?;
        let Some(cloned) = self.reflink(&output, source, meta.len()) else {
            let _ = fs::remove_file(&dest);
            return None;
        };
        Some(Box::new(StagedFile {
            staged: self,
            index,
            dest,
            output: Some(output),
            written: 0,
            cloned,
        }))
    }

    fn link(&self, index: usize, file: &SelectedFile, target: &str, meta: &fs::Metadata) {
        let Some(slot) = self.copied.get(index) else {
            return;
        };
        if let Some(dest) = self.dest(file)
            && make_link(Path::new(target), &dest).is_ok()
        {
            let _ = slot.set(Stamp::of(meta));
        }
    }
}

/// Files from this size on are reflinked where the file system shares extents; smaller
/// ones are written. A clone is a metadata transaction of its own: on XFS here, 10,000
/// files of 1-64 KiB took 0.345 s cloned against 0.306 s written, and eight of 64 MiB
/// 0.24 s against 0.43-1.02 s (`bench/directory.py --xfs`).
#[cfg(target_os = "linux")]
const REFLINK_FROM: u64 = 64 * 1024;

impl Prestaged {
    /// Makes `output` a reflink of `source`, `len` bytes (`FICLONE`): `Some(true)` where
    /// it is one, `Some(false)` where it is not (too small, or not here) and `output` is
    /// empty for the read's bytes, `None` where what a failed clone left cannot be dropped.
    #[cfg(target_os = "linux")]
    fn reflink(&self, output: &File, source: &File, len: u64) -> Option<bool> {
        use std::sync::atomic::Ordering;
        if len < REFLINK_FROM || !self.reflinks.load(Ordering::Relaxed) {
            return Some(false);
        }
        match rustix::fs::ioctl_ficlone(output, source) {
            Ok(()) => Some(true),
            Err(e) => {
                output.set_len(0).ok()?;
                // Not this file system, or not between these two: no later file will do.
                if [
                    rustix::io::Errno::OPNOTSUPP,
                    rustix::io::Errno::XDEV,
                    rustix::io::Errno::INVAL,
                    rustix::io::Errno::NOTTY,
                    rustix::io::Errno::NOSYS,
                ]
                .contains(&e)
                {
                    self.reflinks.store(false, Ordering::Relaxed);
                }
                Some(false)
            }
        }
    }

    /// Reflinks are made on Linux only: elsewhere every copy is written from the scan's
    /// read (macOS's `fclonefileat` creates the copy itself, and no Mac runs the suite).
    #[cfg(not(target_os = "linux"))]
    #[expect(
        clippy::unused_self,
        clippy::unnecessary_wraps,
        reason = "the Linux version's signature"
    )]
    fn reflink(&self, _output: &File, _source: &File, _len: u64) -> Option<bool> {
        Some(false)
    }
}

/// One file on its way from the scan into the staging directory.
struct StagedFile<'s> {
    staged: &'s Prestaged,
    index: usize,
    dest: PathBuf,
    output: Option<File>,
    written: u64,
    /// A reflink of the source: its bytes are there already, the read's are not written.
    cloned: bool,
}

impl CopyFile for StagedFile<'_> {
    fn write(&mut self, bytes: &[u8]) {
        if self.cloned {
            return;
        }
        if let Some(output) = &mut self.output {
            if output.write_all(bytes).is_ok() {
                self.written += bytes.len() as u64;
            } else {
                self.output = None;
            }
        }
    }

    fn finish(self: Box<Self>, size: u64, meta: &fs::Metadata) {
        let done = self.output.as_ref().is_some_and(|output| {
            let length = if self.cloned {
                output.metadata().map_or(u64::MAX, |m| m.len())
            } else {
                self.written
            };
            length == size && set_mode(output, crate::scan::read::file_mode(meta)).is_ok()
        });
        if done {
            let _ = self.staged.copied[self.index].set(Stamp::of(meta));
        } else {
            let _ = fs::remove_file(&self.dest);
        }
    }
}

/// Locks the directory that holds the target (an advisory lock, `flock`, which the kernel
/// releases when the process dies, however it dies). stevedore runs writing into the same
/// directory take turns, so while a run holds the lock every `.<name>.stevedore-*` entry
/// there belongs to a run that was killed. `None` where the lock cannot be taken (a
/// directory cannot be opened as a file on Windows, some network file systems): the
/// leftovers of a killed run then stay, rather than risk removing a live run's staging.
///
/// Within the process the lock is shared: the directory destinations are all staged before
/// the scan, and a second `flock` on another descriptor of a parent two of them share
/// would wait for the first forever.
fn lock_parent(parent: &Path) -> Option<Arc<File>> {
    static HELD: Mutex<Vec<(PathBuf, Weak<File>)>> = Mutex::new(Vec::new());
    let key = canonical_lenient(parent);
    let mut held = HELD.lock().unwrap_or_else(PoisonError::into_inner);
    held.retain(|(_, lock)| lock.strong_count() > 0);
    if let Some(lock) = held
        .iter()
        .find(|(dir, _)| *dir == key)
        .and_then(|(_, lock)| lock.upgrade())
    {
        return Some(lock);
    }
    let dir = File::open(parent).ok()?;
    dir.lock().ok()?;
    let dir = Arc::new(dir);
    held.push((key, Arc::downgrade(&dir)));
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

/// What became of an existing target's entries (relative paths).
#[derive(Debug, Default)]
struct Sorted {
    /// Replaced by a new file of the same name.
    replaced: Vec<String>,
    /// An earlier run's files (listed in its manifest) that this run does not ship.
    removed: Vec<String>,
    /// Entries stevedore did not write, carried into the new copy.
    kept: Vec<String>,
    /// Entries stevedore did not write that a new directory or file displaces.
    displaced: Vec<String>,
}

impl Sorted {
    /// Says what happened to the earlier contents; a removed foreign file is a warning.
    fn report(self, target: &Path, reporter: &dyn Reporter) {
        let list = |names: &[String]| {
            let mut text: Vec<String> = names
                .iter()
                .take(20)
                .map(|n| format!("`{}`", n.escape_debug()))
                .collect();
            if names.len() > 20 {
                text.push(format!("and {} more", names.len() - 20));
            }
            text.join(", ")
        };
        let shown = target.display();
        // What happened, worded per kind; a foreign entry removed is the one warning.
        let kinds = [
            (
                &self.replaced,
                "replaced {} file(s) of the same name",
                false,
            ),
            (
                &self.removed,
                "removed {} file(s) an earlier run wrote and this one does not ship",
                false,
            ),
            (
                &self.kept,
                "kept {} entr(ies) stevedore did not write (not in the checksums file)",
                false,
            ),
            (
                &self.displaced,
                "removed {} entr(ies) stevedore did not write, where this run ships a file or directory of the same path",
                true,
            ),
        ];
        for (names, what, warn) in kinds {
            if names.is_empty() {
                continue;
            }
            let text = format!(
                "`{shown}`: {}: {}",
                what.replace("{}", &names.len().to_string()),
                list(names)
            );
            reporter.event(&if warn {
                Event::warning(text)
            } else {
                Event::info(text)
            });
        }
    }
}

/// The files an earlier run's manifest in `target` lists, with its documents; empty when
/// there is none (or it is not a stevedore manifest).
fn written_before(target: &Path, checksums_name: &str) -> std::collections::HashSet<String> {
    let mut ours = std::collections::HashSet::new();
    let Ok(bytes) = fs::read(target.join(MANIFEST_NAME)) else {
        return ours;
    };
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return ours;
    };
    let Some(files) = json.get("files").and_then(serde_json::Value::as_array) else {
        return ours;
    };
    ours.extend(
        files
            .iter()
            .filter_map(|f| f.get("path").and_then(serde_json::Value::as_str))
            .map(str::to_owned),
    );
    ours.extend([
        MANIFEST_NAME.to_owned(),
        checksums_name.to_owned(),
        "SHA256SUMS".to_owned(),
    ]);
    ours
}

/// Sorts what `target` holds (when it exists) against the filled `staging`: entries of the
/// same path are replaced, an earlier run's files dropped, and anything else linked (or
/// copied) into `staging` so the swap keeps it. Nothing in `target` changes here.
fn carry_over(target: &Path, staging: &Path, checksums_name: &str) -> Result<Sorted, UploadError> {
    let mut sorted = Sorted::default();
    if !fs::symlink_metadata(target).is_ok_and(|m| m.is_dir()) {
        return Ok(sorted);
    }
    let ours = written_before(target, checksums_name);
    sort_dir(target, staging, "", &ours, &mut sorted)?;
    for list in [
        &mut sorted.replaced,
        &mut sorted.removed,
        &mut sorted.kept,
        &mut sorted.displaced,
    ] {
        list.sort();
    }
    Ok(sorted)
}

fn sort_dir(
    old: &Path,
    new: &Path,
    rel: &str,
    ours: &std::collections::HashSet<String>,
    sorted: &mut Sorted,
) -> Result<(), UploadError> {
    let read_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| UploadError::Read { path, source }
    };
    for entry in fs::read_dir(old).map_err(read_err(old))? {
        let entry = entry.map_err(read_err(old))?;
        let name = entry.file_name();
        let child = if rel.is_empty() {
            name.to_string_lossy().into_owned()
        } else {
            format!("{rel}/{}", name.to_string_lossy())
        };
        let from = entry.path();
        let to = new.join(&name);
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        let there = fs::symlink_metadata(&to);
        match there {
            Ok(meta) if meta.is_dir() && is_dir => sort_dir(&from, &to, &child, ours, sorted)?,
            Ok(meta) if !meta.is_dir() && !is_dir => sorted.replaced.push(child),
            _ if ours.contains(&child) => sorted.removed.push(child),
            Ok(_) => sorted.displaced.push(child),
            Err(_) if under_a_file(new, &child) => sorted.displaced.push(child),
            Err(_) if is_dir => {
                // Sorted entry by entry: it may hold an earlier run's files and the user's.
                fs::create_dir(&to).map_err(|source| UploadError::Write {
                    path: to.clone(),
                    source,
                })?;
                sort_dir(&from, &to, &child, ours, sorted)?;
                if fs::read_dir(&to).is_ok_and(|mut d| d.next().is_none()) {
                    let _ = fs::remove_dir(&to);
                } else if let Ok(meta) = fs::metadata(&from) {
                    let _ = fs::set_permissions(&to, meta.permissions());
                }
            }
            Err(_) => {
                keep(&from, &to).map_err(|source| UploadError::Write {
                    path: to.clone(),
                    source,
                })?;
                sorted.kept.push(child);
            }
        }
    }
    Ok(())
}

/// Whether a parent of `rel` is a file (or link) in `base`, where nothing can be kept below.
fn under_a_file(base: &Path, rel: &str) -> bool {
    let mut at = base.to_path_buf();
    for component in rel.split('/') {
        if fs::symlink_metadata(&at).is_ok_and(|m| !m.is_dir()) {
            return true;
        }
        at.push(component);
    }
    false
}

/// A second name for `from` at `to` (a hard link; a copy where links are refused), with
/// its directories, keeping links as links.
fn keep(from: &Path, to: &Path) -> io::Result<()> {
    let meta = fs::symlink_metadata(from)?;
    if meta.is_dir() {
        fs::create_dir(to)?;
        fs::set_permissions(to, meta.permissions())?;
        for entry in fs::read_dir(from)? {
            let entry = entry?;
            keep(&entry.path(), &to.join(entry.file_name()))?;
        }
        return Ok(());
    }
    if meta.file_type().is_symlink() {
        return make_link(&fs::read_link(from)?, to);
    }
    if fs::hard_link(from, to).is_err() {
        fs::copy(from, to)?;
    }
    Ok(())
}

fn fill(staging: &Path, bundle: &Bundle<'_>, staged: &Prestaged) -> Result<(), UploadError> {
    let files: Vec<_> = bundle.manifest.files().enumerate().collect();
    files.par_iter().try_for_each(|(index, (file, record))| {
        if let Some(stamp) = staged.copied.get(*index).and_then(std::sync::OnceLock::get) {
            // Copied from the scan's own read: the bytes are the ones hashed, if the
            // file is still the one read.
            let now = match file.link() {
                Some(_) => fs::symlink_metadata(file.path()),
                None => fs::metadata(file.path()),
            };
            return match now {
                Ok(meta) if Stamp::of(&meta) == *stamp => Ok(()),
                _ => Err(UploadError::Changed {
                    path: file.path().to_path_buf(),
                }),
            };
        }
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
        // Rebuilt component by component, so a Windows path says `out\sub\f`, not
        // `out\sub/f`, when an error names it.
        .then(|| path.components().collect())
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
    let mut output = create_private(dest).map_err(write_err)?;
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

/// A new file, private until its own mode is set at the end (issue 19 item 10): no other
/// user opens a half-written copy.
fn create_private(dest: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(dest)
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
