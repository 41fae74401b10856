//! Extracts a downloaded artifact zip exactly and safely (issue 14 items 3, 4 and 6).
//!
//! Exactly: every entry's CRC-32 and size are checked against the central directory, Unix
//! modes come back from the external attributes (archiver and `pack` both store them;
//! reference/artifact-protocol.md section 5.2), and symbolic link entries become links.
//! Safely: the whole central directory is checked before the first byte is written (names,
//! duplicates, case collisions, files under files or links, link targets, sizes that deflate
//! cannot produce), and nothing is created except below `dest` with create-new semantics.
//! Files are then written on every core, each worker reading its entry through positional
//! reads of one shared handle with fixed buffers, so memory does not grow with the archive.

mod central;
mod checks;
pub(crate) mod names;
mod write;

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use crate::exit_code::ExitCode;
pub(crate) use crate::tree_path::NameProblem;
pub(crate) use central::MAX_ENTRIES;
use central::{CentralEntry, CentralError};
use checks::{check_space, check_structure, implied_dirs, locate_data, plan, read_link_targets};
use write::write_all;
pub(crate) use write::{private_dir, set_mode};

/// The default file systems of macOS (APFS) and Windows (NTFS) fold case; Linux's do not.
const PLATFORM_FOLDS_CASE: bool = cfg!(any(target_os = "macos", windows));

/// How to extract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtractOptions {
    /// The target file system folds case (names differing only in case collide).
    /// [`ExtractOptions::default`] guesses from the platform (true on macOS and Windows);
    /// [`ExtractOptions::for_destination`] probes the destination.
    pub case_insensitive: bool,
    /// Leave every directory private and writable (0700) and return the modes in
    /// [`Extracted::dirs`] for the caller to apply once the tree is where it belongs: a
    /// read-only directory can neither be moved to another parent nor emptied by a
    /// user who is not root, so applying its mode in a staging directory would stop the
    /// move into `path` half-way.
    pub defer_directory_modes: bool,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        ExtractOptions {
            case_insensitive: PLATFORM_FOLDS_CASE,
            defer_directory_modes: false,
        }
    }
}

impl ExtractOptions {
    /// Probes `dest` (an existing, writable directory): creates a file with a lower-case name
    /// and looks for it under the upper-case one. Falls back to the platform guess if the
    /// probe cannot be made.
    #[must_use]
    pub(crate) fn for_destination(dest: &Path) -> Self {
        let lower = dest.join(".stevedore-case-probe");
        let upper = dest.join(".STEVEDORE-CASE-PROBE");
        match OpenOptions::new().write(true).create_new(true).open(&lower) {
            Ok(file) => {
                drop(file);
                let folds = upper.symlink_metadata().is_ok();
                let _ = fs::remove_file(&lower);
                ExtractOptions {
                    case_insensitive: folds,
                    ..ExtractOptions::default()
                }
            }
            Err(_) => ExtractOptions::default(),
        }
    }
}

/// What an entry became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link to `target` (as stored: relative, `/`-separated).
    Symlink {
        /// The link's content.
        target: String,
    },
}

/// One extracted entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractedEntry {
    /// Relative to `dest`, `/`-separated, no trailing `/`.
    pub path: String,
    /// File, directory or link.
    pub kind: EntryKind,
    /// Bytes of a file (the target's length for a link, 0 for a directory).
    pub(crate) size: u64,
    /// Permission bits restored (0o777 for a link).
    pub(crate) mode: u32,
}

/// The result of one extraction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extracted {
    /// Every entry, in central directory order.
    pub entries: Vec<ExtractedEntry>,
    /// Regular files written.
    pub files: u64,
    /// Bytes of regular files written.
    pub bytes: u64,
    /// Every directory (explicit or implied by an entry below it), parents first, with the
    /// mode it is to have: applied already, unless [`ExtractOptions::defer_directory_modes`].
    pub(crate) dirs: Vec<(String, u32)>,
}

/// Why an archive was refused or could not be extracted. Each names the zip and, where one
/// is to blame, the entry (control characters made visible).
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The zip cannot be opened or read.
    #[error("cannot read `{}`: {source}", zip.display())]
    Open {
        /// The zip.
        zip: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The zip's end records or central directory are missing or inconsistent.
    #[error("`{}` is not a complete zip: {reason}", zip.display())]
    Corrupt {
        /// The zip.
        zip: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The destination is not an empty directory.
    #[error("cannot extract `{}` into `{}`: {reason}", zip.display(), dest.display())]
    Destination {
        /// The zip.
        zip: PathBuf,
        /// The destination.
        dest: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// An entry name is unsafe (`..`, absolute, drive letter, backslash, empty component, NUL).
    #[error("`{}`: refused entry `{entry}`: its name {problem}", zip.display())]
    UnsafeName {
        /// The zip.
        zip: PathBuf,
        /// The entry.
        entry: String,
        /// Why.
        problem: NameProblem,
    },
    /// The same name appears twice.
    #[error("`{}`: refused entry `{entry}`: the archive holds it twice", zip.display())]
    Duplicate {
        /// The zip.
        zip: PathBuf,
        /// The entry.
        entry: String,
    },
    /// Two names differ only in case and the destination folds case.
    #[error(
        "`{}`: refused entry `{entry}`: it collides with `{other}` on a case-insensitive file system",
        zip.display()
    )]
    CaseCollision {
        /// The zip.
        zip: PathBuf,
        /// The entry.
        entry: String,
        /// The entry it collides with.
        other: String,
    },
    /// An entry lies below a file or link entry (`a` and `a/b`).
    #[error("`{}`: refused entry `{entry}`: its path passes through `{parent}`, which is not a directory", zip.display())]
    UnderNonDirectory {
        /// The zip.
        zip: PathBuf,
        /// The entry.
        entry: String,
        /// The file or link entry above it.
        parent: String,
    },
    /// A link entry points outside the destination, or through another link.
    #[error("`{}`: refused link `{entry}` -> `{target}`: {reason}", zip.display())]
    LinkTarget {
        /// The zip.
        zip: PathBuf,
        /// The link entry.
        entry: String,
        /// Its target.
        target: String,
        /// Why.
        reason: String,
    },
    /// Links cannot be recreated on this platform.
    #[error(
        "`{}`: entry `{entry}` is a symbolic link, which stevedore recreates only on Unix; download on Linux or macOS, or upload with `symlinks: follow`",
        zip.display()
    )]
    LinkUnsupported {
        /// The zip.
        zip: PathBuf,
        /// The link entry.
        entry: String,
    },
    /// Encrypted, or a compression method other than stored and deflate.
    #[error("`{}`: entry `{entry}` is {what}, which artifact zips never are", zip.display())]
    Unsupported {
        /// The zip.
        zip: PathBuf,
        /// The entry.
        entry: String,
        /// What it is.
        what: String,
    },
    /// The declared sizes cannot be true (a zip bomb's lie) or entries overlap.
    #[error("`{}`: refused entry `{entry}`: {reason}", zip.display())]
    SizeLie {
        /// The zip.
        zip: PathBuf,
        /// The entry.
        entry: String,
        /// What does not add up.
        reason: String,
    },
    /// More entries than [`MAX_ENTRIES`].
    #[error(
        "`{}` holds {count} entries (with the directories they imply); stevedore restores at most {max} from one artifact (each is a file system entry and memory while it is checked): split the artifact",
        zip.display(), max = MAX_ENTRIES
    )]
    TooManyEntries {
        /// The zip.
        zip: PathBuf,
        /// Entries it declares.
        count: u64,
    },
    /// The entries do not fit the destination's free inodes.
    #[error(
        "`{}` holds {entries} entries but the file system of `{}` has room for {available} more",
        zip.display(), dest.display()
    )]
    NoInodes {
        /// The zip.
        zip: PathBuf,
        /// The destination.
        dest: PathBuf,
        /// Entries to create.
        entries: u64,
        /// Free inodes.
        available: u64,
    },
    /// The declared total does not fit the destination's free space.
    #[error(
        "`{}` declares {declared} bytes of files but `{}` has {available} bytes free",
        zip.display(), dest.display()
    )]
    NoSpace {
        /// The zip.
        zip: PathBuf,
        /// The destination.
        dest: PathBuf,
        /// Sum of declared sizes.
        declared: u64,
        /// Free bytes.
        available: u64,
    },
    /// An entry's data is not what the central directory declares.
    #[error("`{}`: entry `{entry}` is damaged: {reason}", zip.display())]
    Damaged {
        /// The zip.
        zip: PathBuf,
        /// The entry.
        entry: String,
        /// CRC mismatch, size mismatch, bad deflate data, data beyond the file.
        reason: String,
    },
    /// Writing below the destination failed.
    #[error("`{}`: cannot write entry `{entry}` to `{}`: {source}", zip.display(), path.display())]
    Write {
        /// The zip.
        zip: PathBuf,
        /// The entry.
        entry: String,
        /// The path written.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

impl ExtractError {
    /// Every refusal and failure is exit 4: the download did not arrive intact.
    #[must_use]
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::UploadFailed
    }
}

/// An entry after the name and kind checks.
struct Planned {
    central: CentralEntry,
    /// Checked name, no trailing `/`.
    path: String,
    /// Case-folded when the destination folds case.
    key: String,
    kind: Kind,
    mode: u32,
    /// Where its data starts (after the local header).
    data_start: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Dir,
    Symlink,
}

/// Extracts `zip` (a complete, already digest-verified zip on disk) into `dest` (an existing,
/// empty directory: the caller's staging directory). `progress(n)` is called from worker
/// threads with the number of bytes just written (a delta: sum them for a total).
///
/// Every check that needs no entry data runs before anything is written; a refusal or a
/// damaged entry leaves partial content below `dest` only (the caller removes its staging
/// directory), never outside it.
pub fn extract_zip(
    zip: &Path,
    dest: &Path,
    opts: &ExtractOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Extracted, ExtractError> {
    let file = File::open(zip).map_err(|source| ExtractError::Open {
        zip: zip.to_owned(),
        source,
    })?;
    let (central, directory_at) = central::read_central(&file).map_err(|e| match e {
        CentralError::Io(source) => ExtractError::Open {
            zip: zip.to_owned(),
            source,
        },
        CentralError::Malformed(reason) => ExtractError::Corrupt {
            zip: zip.to_owned(),
            reason: reason.to_owned(),
        },
        CentralError::TooMany(count) => ExtractError::TooManyEntries {
            zip: zip.to_owned(),
            count,
        },
    })?;
    check_destination(zip, dest)?;
    let mut planned = plan(zip, central, *opts)?;
    check_structure(zip, &planned)?;
    locate_data(zip, &file, &mut planned, directory_at)?;
    let dirs = implied_dirs(zip, &planned)?;
    check_space(zip, dest, &planned, &dirs)?;
    let targets = read_link_targets(zip, &file, &planned, &dirs, *opts)?;
    write_all(zip, &file, dest, &planned, &targets, *opts, progress)
}

fn check_destination(zip: &Path, dest: &Path) -> Result<(), ExtractError> {
    let refuse = |reason: String| ExtractError::Destination {
        zip: zip.to_owned(),
        dest: dest.to_owned(),
        reason,
    };
    let mut listing = fs::read_dir(dest).map_err(|e| refuse(e.to_string()))?;
    if listing.next().is_some() {
        return Err(refuse("the directory is not empty".into()));
    }
    Ok(())
}
