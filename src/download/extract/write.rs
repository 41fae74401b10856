//! The writing: directories, files on every core (each worker reads its entry through
//! positional reads of the one shared handle, with buffers no larger than the entry),
//! links, then directory modes.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::central::RangeReader;
use super::names::shown;
use super::{EntryKind, ExtractError, ExtractOptions, Extracted, ExtractedEntry, Kind, Planned};

/// Output buffer per worker.
const OUT_BUF: usize = 256 * 1024;
/// Input buffer per worker.
const IN_BUF: usize = 64 * 1024;

/// How reading one entry's data failed.
pub(super) enum DecodeFail {
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
    pub(super) fn into_error(self, zip: &Path, p: &Planned, path: &Path) -> ExtractError {
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
pub(super) fn decode(
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

/// Directories first (parents before children, private until their modes are applied),
/// then files on every core, then links (created relative to their directory, which is
/// opened without following a link), then directory modes deepest first (a read-only
/// directory must not stop its own content), unless the caller applies them later.
pub(super) fn write_all(
    zip: &Path,
    file: &File,
    dest: &Path,
    planned: &[Planned],
    targets: &HashMap<usize, String>,
    opts: ExtractOptions,
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
        private_dir(&path).map_err(|source| ExtractError::Write {
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
        make_link(dest, &p.path, target).map_err(|source| ExtractError::Write {
            zip: zip.to_owned(),
            entry: shown(&p.central.name),
            path: below(dest, &p.path),
            source,
        })?;
    }
    let mut extracted = Extracted::default();
    for (dir, &i) in &dirs {
        let owner = &planned[i];
        let mode = if owner.kind == Kind::Dir && owner.path == *dir {
            owner.mode
        } else {
            0o755
        };
        extracted.dirs.push(((*dir).to_owned(), mode));
    }
    if !opts.defer_directory_modes {
        for ((dir, mode), &i) in extracted.dirs.iter().rev().zip(dirs.values().rev()) {
            let path = below(dest, dir);
            set_mode(&path, *mode).map_err(|source| ExtractError::Write {
                zip: zip.to_owned(),
                entry: shown(&planned[i].central.name),
                path: path.clone(),
                source,
            })?;
        }
    }
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
#[expect(
    clippy::unnecessary_wraps,
    reason = "the signature of the unix version, so callers are one for both"
)]
fn set_file_mode(_file: &File, _mode: u32) -> io::Result<()> {
    Ok(())
}

/// Applies a directory's mode (public: the download applies deferred modes with it).
#[cfg(unix)]
pub(crate) fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

/// Applies a directory's mode (public: the download applies deferred modes with it).
#[cfg(not(unix))]
#[expect(
    clippy::unnecessary_wraps,
    reason = "the signature of the unix version, so callers are one for both"
)]
pub(crate) fn set_mode(_path: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}

/// A directory only its owner can enter (until its mode is applied, for an entry's).
pub(crate) fn private_dir(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        fs::DirBuilder::new().mode(0o700).create(path)
    }
    #[cfg(not(unix))]
    {
        fs::create_dir(path)
    }
}

/// Creates the link `rel` (below `dest`) with `target`. Its directory is reached one
/// component at a time with `O_NOFOLLOW`: a file system that folds case or normalizes
/// names could otherwise make a directory name meet a link just created, and the link
/// would be made wherever that one leads.
#[cfg(unix)]
fn make_link(dest: &Path, rel: &str, target: &str) -> io::Result<()> {
    use rustix::fs::{CWD, Mode, OFlags, openat, symlinkat};
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut dir = openat(CWD, dest, flags, Mode::empty())?;
    let mut components: Vec<&str> = rel.split('/').collect();
    let name = components.pop().unwrap_or(rel);
    for component in components {
        dir = openat(&dir, component, flags, Mode::empty())?;
    }
    symlinkat(target, &dir, name)?;
    Ok(())
}

#[cfg(not(unix))]
fn make_link(_dest: &Path, _rel: &str, _target: &str) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "symbolic links are recreated only on Unix",
    ))
}
