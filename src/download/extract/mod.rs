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
pub mod names;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::exit_code::ExitCode;
use central::{CentralEntry, CentralError, RangeReader};
pub use names::NameProblem;
use names::{TargetProblem, check_entry_name, resolve_target, shown};

/// Unix file type bits of a mode.
const S_IFMT: u32 = 0o170_000;
const S_IFLNK: u32 = 0o120_000;
const S_IFDIR: u32 = 0o040_000;
/// MS-DOS directory attribute (low byte of the external attributes).
const DOS_DIR: u32 = 0x10;
/// "Version made by" host 3: the external attributes' high 16 bits are a Unix mode.
const HOST_UNIX: u8 = 3;
/// Deflate's best ratio is about 1032:1 (258-byte matches at a bit or two each); a declared
/// size beyond that, plus slack for tiny streams, cannot come from the compressed bytes.
const DEFLATE_MAX_RATIO: u64 = 1032;
const DEFLATE_SLACK: u64 = 1024;
/// Longest link target accepted (Linux `PATH_MAX`).
const MAX_LINK_TARGET: u64 = 4096;
/// Output buffer per worker.
const OUT_BUF: usize = 256 * 1024;
/// Input buffer per worker.
const IN_BUF: usize = 64 * 1024;

/// The default file systems of macOS (APFS) and Windows (NTFS) fold case; Linux's do not.
const PLATFORM_FOLDS_CASE: bool = cfg!(any(target_os = "macos", windows));

/// How to extract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtractOptions {
    /// The target file system folds case (names differing only in case collide).
    /// [`ExtractOptions::default`] guesses from the platform (true on macOS and Windows);
    /// [`ExtractOptions::for_destination`] probes the destination.
    pub case_insensitive: bool,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        ExtractOptions {
            case_insensitive: PLATFORM_FOLDS_CASE,
        }
    }
}

impl ExtractOptions {
    /// Probes `dest` (an existing, writable directory): creates a file with a lower-case name
    /// and looks for it under the upper-case one. Falls back to the platform guess if the
    /// probe cannot be made.
    #[must_use]
    pub fn for_destination(dest: &Path) -> Self {
        let lower = dest.join(".stevedore-case-probe");
        let upper = dest.join(".STEVEDORE-CASE-PROBE");
        match OpenOptions::new().write(true).create_new(true).open(&lower) {
            Ok(file) => {
                drop(file);
                let folds = upper.symlink_metadata().is_ok();
                let _ = fs::remove_file(&lower);
                ExtractOptions {
                    case_insensitive: folds,
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
    pub size: u64,
    /// Permission bits restored (0o777 for a link).
    pub mode: u32,
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
    })?;
    check_destination(zip, dest)?;
    let mut planned = plan(zip, central, *opts)?;
    check_structure(zip, &planned)?;
    locate_data(zip, &file, &mut planned, directory_at)?;
    check_space(zip, dest, &planned)?;
    let targets = read_link_targets(zip, &file, &planned)?;
    write_all(zip, &file, dest, &planned, &targets, progress)
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

/// Names, kinds, modes and sizes of every entry.
fn plan(
    zip: &Path,
    central: Vec<CentralEntry>,
    opts: ExtractOptions,
) -> Result<Vec<Planned>, ExtractError> {
    central
        .into_iter()
        .map(|entry| {
            let shown_name = || shown(&entry.name);
            let (path, slash) =
                check_entry_name(&entry.name).map_err(|problem| ExtractError::UnsafeName {
                    zip: zip.to_owned(),
                    entry: shown_name(),
                    problem,
                })?;
            let unix = (entry.host == HOST_UNIX)
                .then_some(entry.external >> 16)
                .filter(|m| *m != 0);
            let kind = match unix {
                _ if slash => Kind::Dir,
                Some(m) if m & S_IFMT == S_IFLNK => Kind::Symlink,
                Some(m) if m & S_IFMT == S_IFDIR => Kind::Dir,
                None if entry.external & DOS_DIR != 0 => Kind::Dir,
                _ => Kind::File,
            };
            // setuid, setgid and sticky are dropped: an artifact must not grant privileges.
            let mode = match (unix, kind) {
                (_, Kind::Symlink) => 0o777,
                (Some(m), _) => m & 0o777,
                (None, Kind::Dir) => 0o755,
                (None, _) => 0o644,
            };
            let unsupported = |what: &str| ExtractError::Unsupported {
                zip: zip.to_owned(),
                entry: shown_name(),
                what: what.to_owned(),
            };
            if entry.flags & 1 != 0 {
                return Err(unsupported("encrypted"));
            }
            if kind == Kind::Symlink && cfg!(windows) {
                return Err(ExtractError::LinkUnsupported {
                    zip: zip.to_owned(),
                    entry: shown_name(),
                });
            }
            if kind != Kind::Dir {
                check_sizes(zip, &entry, kind)?;
            }
            let key = if opts.case_insensitive {
                path.to_lowercase()
            } else {
                path.clone()
            };
            Ok(Planned {
                central: entry,
                path,
                key,
                kind,
                mode,
                data_start: 0,
            })
        })
        .collect()
}

/// Declared sizes that stored or deflated data cannot produce are a bomb's lie.
fn check_sizes(zip: &Path, entry: &CentralEntry, kind: Kind) -> Result<(), ExtractError> {
    let lie = |reason: String| ExtractError::SizeLie {
        zip: zip.to_owned(),
        entry: shown(&entry.name),
        reason,
    };
    match entry.method {
        0 if entry.compressed != entry.size => Err(lie(format!(
            "stored with {} bytes of data but declares {} bytes",
            entry.compressed, entry.size
        ))),
        8 if entry.size
            > entry
                .compressed
                .saturating_mul(DEFLATE_MAX_RATIO)
                .saturating_add(DEFLATE_SLACK) =>
        {
            Err(lie(format!(
                "declares {} bytes from {} deflated bytes, more than deflate can expand to",
                entry.size, entry.compressed
            )))
        }
        0 | 8 if kind == Kind::Symlink && entry.size > MAX_LINK_TARGET => {
            Err(lie(format!("a link target of {} bytes", entry.size)))
        }
        0 | 8 => Ok(()),
        other => Err(ExtractError::Unsupported {
            zip: zip.to_owned(),
            entry: shown(&entry.name),
            what: format!("compressed with method {other}"),
        }),
    }
}

/// The declared total (already bounded by what the compressed bytes can expand to) must fit
/// the destination's free space: a bomb that passes the ratio check still cannot fill the
/// disk, and an honest artifact too large for the runner fails before writing.
fn check_space(zip: &Path, dest: &Path, planned: &[Planned]) -> Result<(), ExtractError> {
    let declared: u64 = planned
        .iter()
        .filter(|p| p.kind == Kind::File)
        .map(|p| p.central.size)
        .fold(0, u64::saturating_add);
    match free_space(dest) {
        Some(available) if declared > available => Err(ExtractError::NoSpace {
            zip: zip.to_owned(),
            dest: dest.to_owned(),
            declared,
            available,
        }),
        _ => Ok(()),
    }
}

/// Bytes an unprivileged process may still write below `dir`; `None` where unknown.
#[cfg(unix)]
fn free_space(dir: &Path) -> Option<u64> {
    let stat = rustix::fs::statvfs(dir).ok()?;
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}

#[cfg(not(unix))]
fn free_space(_dir: &Path) -> Option<u64> {
    None
}

/// Duplicates, case collisions, and entries below a file or a link.
fn check_structure(zip: &Path, planned: &[Planned]) -> Result<(), ExtractError> {
    let mut by_key: HashMap<&str, usize> = HashMap::with_capacity(planned.len());
    for (i, p) in planned.iter().enumerate() {
        if let Some(&first) = by_key.get(p.key.as_str()) {
            let other = &planned[first];
            return Err(if other.path == p.path {
                ExtractError::Duplicate {
                    zip: zip.to_owned(),
                    entry: shown(&p.central.name),
                }
            } else {
                ExtractError::CaseCollision {
                    zip: zip.to_owned(),
                    entry: shown(&p.central.name),
                    other: shown(&other.central.name),
                }
            });
        }
        by_key.insert(&p.key, i);
    }
    for p in planned {
        for (at, _) in p.key.match_indices('/') {
            if let Some(&above) = by_key.get(&p.key[..at]) {
                let parent = &planned[above];
                if parent.kind != Kind::Dir {
                    return Err(ExtractError::UnderNonDirectory {
                        zip: zip.to_owned(),
                        entry: shown(&p.central.name),
                        parent: shown(&parent.central.name),
                    });
                }
            }
        }
    }
    Ok(())
}

/// Reads every local header: the name must match the central directory's, the data must lie
/// before the central directory, and no two entries' data may overlap (overlapping entries
/// are how a small zip declares an enormous total).
fn locate_data(
    zip: &Path,
    file: &File,
    planned: &mut [Planned],
    directory_at: u64,
) -> Result<(), ExtractError> {
    let mut spans = Vec::with_capacity(planned.len());
    for (i, p) in planned.iter_mut().enumerate() {
        let damaged = |reason: String| ExtractError::Damaged {
            zip: zip.to_owned(),
            entry: shown(&p.central.name),
            reason,
        };
        if p.central.local_offset >= directory_at {
            return Err(damaged(
                "its local header lies outside the entries' area".into(),
            ));
        }
        let local = central::read_local(file, p.central.local_offset)
            .map_err(|e| damaged(e.to_string()))?;
        if local.name != p.central.name {
            return Err(damaged("its local header names another entry".into()));
        }
        let end = local.data_start.checked_add(p.central.compressed);
        if end.is_none_or(|end| end > directory_at) {
            return Err(damaged(
                "its data runs past the end of the entries (truncated zip?)".into(),
            ));
        }
        p.data_start = local.data_start;
        spans.push((
            p.central.local_offset,
            local.data_start + p.central.compressed,
            i,
        ));
    }
    spans.sort_unstable();
    for pair in spans.windows(2) {
        if pair[1].0 < pair[0].1 {
            return Err(ExtractError::SizeLie {
                zip: zip.to_owned(),
                entry: shown(&planned[pair[1].2].central.name),
                reason: format!(
                    "its data overlaps entry `{}`",
                    shown(&planned[pair[0].2].central.name)
                ),
            });
        }
    }
    Ok(())
}

/// Each link's target, read, verified and resolved: it must stay inside the destination
/// and not pass through another link.
fn read_link_targets(
    zip: &Path,
    file: &File,
    planned: &[Planned],
) -> Result<HashMap<usize, String>, ExtractError> {
    let links: HashSet<&str> = planned
        .iter()
        .filter(|p| p.kind == Kind::Symlink)
        .map(|p| p.key.as_str())
        .collect();
    let fold = planned.iter().any(|p| p.key != p.path);
    let mut targets = HashMap::new();
    for (i, p) in planned
        .iter()
        .enumerate()
        .filter(|(_, p)| p.kind == Kind::Symlink)
    {
        let mut bytes = Vec::new();
        decode(file, p, &mut |chunk| {
            bytes.extend_from_slice(chunk);
            Ok(())
        })
        .map_err(|e| e.into_error(zip, p, Path::new("")))?;
        let target_shown = shown(&bytes);
        let refuse = |reason: String| ExtractError::LinkTarget {
            zip: zip.to_owned(),
            entry: shown(&p.central.name),
            target: target_shown.clone(),
            reason,
        };
        let target =
            String::from_utf8(bytes).map_err(|_| refuse("the target is not UTF-8".into()))?;
        let is_link = |prefix: &str| {
            let key = if fold {
                prefix.to_lowercase()
            } else {
                prefix.to_owned()
            };
            links.contains(key.as_str())
        };
        resolve_target(&p.path, &target, is_link).map_err(|problem| {
            refuse(match problem {
                TargetProblem::Name(problem) => format!("the target {problem}"),
                TargetProblem::Escapes => "it points outside the destination".into(),
                TargetProblem::ThroughLink(prefix) => {
                    format!("it passes through the link `{}`, whose own target a check by name cannot follow", shown(prefix.as_bytes()))
                }
            })
        })?;
        targets.insert(i, target);
    }
    Ok(targets)
}

/// How reading one entry's data failed.
enum DecodeFail {
    /// Reading the zip or inflating failed.
    Read(io::Error),
    /// The sink (the output file) failed.
    Write(io::Error),
    /// More bytes than declared.
    TooLong(u64),
    /// Fewer bytes than declared.
    Short(u64),
    /// The CRC-32 differs.
    Crc(u32),
}

impl DecodeFail {
    fn into_error(self, zip: &Path, p: &Planned, path: &Path) -> ExtractError {
        let damaged = |reason: String| ExtractError::Damaged {
            zip: zip.to_owned(),
            entry: shown(&p.central.name),
            reason,
        };
        match self {
            DecodeFail::Read(e) => damaged(format!("reading its data failed: {e}")),
            DecodeFail::Write(source) => ExtractError::Write {
                zip: zip.to_owned(),
                entry: shown(&p.central.name),
                path: path.to_owned(),
                source,
            },
            DecodeFail::TooLong(limit) => ExtractError::SizeLie {
                zip: zip.to_owned(),
                entry: shown(&p.central.name),
                reason: format!("its data expands beyond the {limit} bytes it declares"),
            },
            DecodeFail::Short(got) => damaged(format!(
                "{got} bytes of data where {} were declared",
                p.central.size
            )),
            DecodeFail::Crc(got) => damaged(format!(
                "CRC-32 {got:08x} where {:08x} was declared",
                p.central.crc
            )),
        }
    }
}

/// Streams one entry's data into `sink` through fixed buffers, never past its declared size,
/// and checks its length and CRC-32.
fn decode(
    file: &File,
    p: &Planned,
    sink: &mut dyn FnMut(&[u8]) -> io::Result<()>,
) -> Result<u64, DecodeFail> {
    let raw = RangeReader::new(file, p.data_start, p.central.compressed);
    // Buffers no larger than the entry needs: most artifact files are small, and zeroing
    // 320 KiB per file would cost more than the file.
    let in_len =
        usize::try_from(p.central.compressed.saturating_add(1)).map_or(IN_BUF, |n| n.min(IN_BUF));
    let mut reader: Box<dyn Read> = if p.central.method == 8 {
        Box::new(flate2::bufread::DeflateDecoder::new(
            BufReader::with_capacity(in_len, raw),
        ))
    } else {
        Box::new(BufReader::with_capacity(in_len, raw))
    };
    let declared = p.central.size;
    // One byte more than declared, so a stream that runs on shows in the first read.
    let out_len = usize::try_from(declared.saturating_add(1)).map_or(OUT_BUF, |n| n.min(OUT_BUF));
    let mut buf = vec![0u8; out_len];
    let mut crc = crc32fast::Hasher::new();
    let mut written = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(DecodeFail::Read(e)),
        };
        if written + n as u64 > declared {
            return Err(DecodeFail::TooLong(declared));
        }
        crc.update(&buf[..n]);
        sink(&buf[..n]).map_err(DecodeFail::Write)?;
        written += n as u64;
    }
    if written != declared {
        return Err(DecodeFail::Short(written));
    }
    let got = crc.finalize();
    if got != p.central.crc {
        return Err(DecodeFail::Crc(got));
    }
    Ok(written)
}

/// `dest` joined with a checked, `/`-separated relative path.
fn below(dest: &Path, path: &str) -> PathBuf {
    path.split('/')
        .fold(dest.to_path_buf(), |acc, c| acc.join(c))
}

/// Directories first (parents before children), then files on every core, then links, then
/// directory modes deepest first (a read-only directory must not stop its own content).
fn write_all(
    zip: &Path,
    file: &File,
    dest: &Path,
    planned: &[Planned],
    targets: &HashMap<usize, String>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Extracted, ExtractError> {
    // Each directory, explicit or implied, with the entry that asks for it (for errors).
    let mut dirs: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, p) in planned.iter().enumerate() {
        if p.kind == Kind::Dir {
            dirs.insert(&p.path, i);
        }
        for (at, _) in p.path.match_indices('/') {
            dirs.entry(&p.path[..at]).or_insert(i);
        }
    }
    for (dir, &i) in &dirs {
        let path = below(dest, dir);
        fs::create_dir(&path).map_err(|source| ExtractError::Write {
            zip: zip.to_owned(),
            entry: shown(&planned[i].central.name),
            path: path.clone(),
            source,
        })?;
    }
    planned
        .par_iter()
        .filter(|p| p.kind == Kind::File)
        .try_for_each(|p| write_file(zip, file, dest, p, progress))?;
    for (i, target) in targets {
        let p = &planned[*i];
        let path = below(dest, &p.path);
        make_link(target, &path).map_err(|source| ExtractError::Write {
            zip: zip.to_owned(),
            entry: shown(&p.central.name),
            path: path.clone(),
            source,
        })?;
    }
    for (dir, &i) in dirs.iter().rev() {
        let owner = &planned[i];
        let mode = if owner.kind == Kind::Dir && owner.path == *dir {
            owner.mode
        } else {
            0o755
        };
        let path = below(dest, dir);
        set_mode(&path, mode).map_err(|source| ExtractError::Write {
            zip: zip.to_owned(),
            entry: shown(&owner.central.name),
            path: path.clone(),
            source,
        })?;
    }
    let mut extracted = Extracted::default();
    for (i, p) in planned.iter().enumerate() {
        let kind = match p.kind {
            Kind::File => {
                extracted.files += 1;
                extracted.bytes += p.central.size;
                EntryKind::File
            }
            Kind::Dir => EntryKind::Dir,
            Kind::Symlink => EntryKind::Symlink {
                target: targets.get(&i).cloned().unwrap_or_default(),
            },
        };
        let size = if p.kind == Kind::Dir {
            0
        } else {
            p.central.size
        };
        extracted.entries.push(ExtractedEntry {
            path: p.path.clone(),
            kind,
            size,
            mode: p.mode,
        });
    }
    Ok(extracted)
}

/// One file: created new (never through an existing name or link), streamed, verified,
/// then given its mode.
fn write_file(
    zip: &Path,
    file: &File,
    dest: &Path,
    p: &Planned,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(), ExtractError> {
    let path = below(dest, &p.path);
    let write_error = |source: io::Error| ExtractError::Write {
        zip: zip.to_owned(),
        entry: shown(&p.central.name),
        path: path.clone(),
        source,
    };
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut out = options.open(&path).map_err(write_error)?;
    decode(file, p, &mut |chunk| {
        out.write_all(chunk)?;
        progress(chunk.len() as u64);
        Ok(())
    })
    .map_err(|e| e.into_error(zip, p, &path))?;
    set_file_mode(&out, p.mode).map_err(write_error)?;
    Ok(())
}

#[cfg(unix)]
fn set_file_mode(file: &File, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_file_mode(_file: &File, _mode: u32) -> io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn make_link(target: &str, path: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, path)
}

#[cfg(not(unix))]
fn make_link(_target: &str, _path: &Path) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "symbolic links are recreated only on Unix",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planned(name: &str, size: u64) -> Planned {
        Planned {
            central: CentralEntry {
                name: name.as_bytes().to_vec(),
                host: HOST_UNIX,
                flags: 0,
                method: 8,
                crc: 0,
                compressed: size / 1000,
                size,
                external: 0o100_644 << 16,
                local_offset: 0,
            },
            path: name.to_owned(),
            key: name.to_owned(),
            kind: Kind::File,
            mode: 0o644,
            data_start: 0,
        }
    }

    #[test]
    fn a_declared_total_beyond_the_free_space_is_refused_before_writing() {
        let dest = tempfile::tempdir().expect("tempdir");
        let free = free_space(dest.path()).expect("statvfs works here");
        let zip = Path::new("big.zip");
        // Two entries that fit alone, not together.
        let half = free / 2 + 1;
        let err = check_space(zip, dest.path(), &[planned("a", half), planned("b", half)])
            .expect_err("more than the free space");
        assert!(
            matches!(err, ExtractError::NoSpace { declared, available, .. } if declared == half * 2 && available >= free / 2),
            "{err}"
        );
        assert!(err.to_string().contains("big.zip"), "{err}");
        check_space(zip, dest.path(), &[planned("a", 1 << 20)]).expect("a megabyte fits");
    }
}
