//! Reads one file once: SHA-256, size, mode and the credential scan share one buffer.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use super::CopyFile;
use super::secrets::{FileKind, LOOKAHEAD, RawFinding, SecretScanner};

/// Bytes hashed per read. Large enough that small files take one `read`, small enough to
/// stay in L2 while SHA-256 and the anchor search both pass over it.
const CHUNK: usize = 256 * 1024;

/// Every read lands on a page boundary of the buffer. The kernel copies the page cache
/// into it with `rep movsb`, which on this VM's EPYC ran at 2.4 GB/s into an address one
/// byte past a page boundary against 6.7 GB/s into an aligned one; the look-ahead carried
/// between windows (16 KiB and one byte) had put every read after a file's first there.
const PAGE: usize = 4096;

/// Room before the read position for the carried look-ahead, in whole pages.
const CARRY: usize = (LOOKAHEAD + 1).div_ceil(PAGE) * PAGE;

thread_local! {
    /// One reusable buffer per scanning thread: no allocation per file. A page of slack
    /// lets the read position be aligned wherever the allocator put the buffer.
    static BUFFER: RefCell<Vec<u8>> = RefCell::new(vec![0; PAGE + CARRY + CHUNK]);
}

/// Bumped by every scan: a directory descriptor cached by an earlier scan in this process
/// (a test runs many) is never used for a path that may since name another directory.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// Starts a scan: descriptors cached by earlier scans are no longer used.
pub(crate) fn new_generation() {
    GENERATION.fetch_add(1, Ordering::Relaxed);
}

#[cfg(unix)]
thread_local! {
    /// The directory of the file this thread opened last, open, with the scan generation
    /// that opened it. Files arrive in path order, so consecutive files on one thread
    /// mostly share a directory: opening them relative to its descriptor (`openat`) saves
    /// the kernel a lookup of every component of the absolute path, which the profile of
    /// a 100,000-file scan showed as a tenth of its CPU time.
    static DIRECTORY: RefCell<Option<(u64, std::path::PathBuf, rustix::fd::OwnedFd)>> =
        const { RefCell::new(None) };
}

/// Opens `path` for reading, through the cached descriptor of its directory when it is the
/// same directory as this thread's previous file. Links are followed as `File::open` does.
#[cfg(unix)]
fn open(path: &Path) -> io::Result<File> {
    use rustix::fs::{Mode, OFlags};
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return File::open(path);
    };
    let generation = GENERATION.load(Ordering::Relaxed);
    DIRECTORY.with_borrow_mut(|cached| {
        let fresh = cached
            .as_ref()
            .is_some_and(|(g, dir, _)| *g == generation && dir.as_os_str() == parent.as_os_str());
        if !fresh {
            *cached = None;
            let fd = rustix::fs::open(
                parent,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            *cached = Some((generation, parent.to_path_buf(), fd));
        }
        match cached {
            Some((_, _, dir)) => Ok(File::from(rustix::fs::openat(
                &*dir,
                name,
                OFlags::RDONLY | OFlags::CLOEXEC,
                Mode::empty(),
            )?)),
            None => File::open(path),
        }
    })
}

#[cfg(not(unix))]
fn open(path: &Path) -> io::Result<File> {
    File::open(path)
}

/// What reading a file produced.
#[derive(Debug, Clone)]
pub(crate) struct FileFacts {
    pub(crate) size: u64,
    pub(crate) sha256: [u8; 32],
    pub(crate) mode: u32,
    pub(crate) mtime: i64,
    pub(crate) crc32: Option<u32>,
    pub(crate) crc32c: Option<u32>,
    pub(crate) findings: Vec<RawFinding>,
}

/// The CRCs a read computes beside SHA-256, where a destination uses them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Crcs {
    /// CRC-32 (the zip entries; `s3-checksum: crc32`).
    pub(crate) crc32: bool,
    /// CRC-32C (`s3-checksum: crc32c`).
    pub(crate) crc32c: bool,
}

/// Hashes (and optionally scans) the file at `path`; its bytes also go to the copies
/// `copies` starts from the open file and its metadata (the artifact's zip, directory
/// copies).
pub(crate) fn read_file<'c>(
    path: &Path,
    secrets: Option<(&SecretScanner, FileKind)>,
    crcs: Crcs,
    copies: impl FnOnce(&File, &std::fs::Metadata) -> Vec<Box<dyn CopyFile + 'c>>,
) -> io::Result<FileFacts> {
    read_opened(open(path)?, secrets, crcs, copies)
}

/// [`read_file`] on a file already open (`verify` opens it without following links).
#[inline]
pub(crate) fn read_opened<'c>(
    mut file: File,
    secrets: Option<(&SecretScanner, FileKind)>,
    crcs: Crcs,
    copies: impl FnOnce(&File, &std::fs::Metadata) -> Vec<Box<dyn CopyFile + 'c>>,
) -> io::Result<FileFacts> {
    let meta = file.metadata()?;
    let expected = meta.len();
    let mode = file_mode(&meta);
    let mtime = meta.modified().map_or(0, unix_seconds);
    let mut copies = copies(&file, &meta);
    BUFFER.with_borrow_mut(|buf| {
        let mut hasher = Sha256::new();
        let mut crc = crcs.crc32.then(crc32fast::Hasher::new);
        let mut crc32c = crcs.crc32c.then_some(0u32);
        let mut findings = Vec::new();
        // New bytes are read into buf[head..end], page-aligned; the window the credential
        // scan sees starts at `start`: bytes carried over from the previous window (already
        // hashed) lie in buf[start..head].
        let aligned = buf.as_ptr().align_offset(PAGE);
        let head = if aligned < PAGE { aligned } else { 0 } + CARRY;
        let end = head + CHUNK;
        let mut start = head;
        let mut base = 0u64;
        let mut total = 0u64;
        let mut scan_from = 0usize;
        loop {
            let (filled, eof) = fill(&mut file, &mut buf[..end], head, &mut total, expected)?;
            let fresh = &buf[head..filled];
            hasher.update(fresh);
            for copy in &mut copies {
                copy.write(fresh);
            }
            if let Some(crc) = &mut crc {
                crc.update(fresh);
            }
            if let Some(crc) = &mut crc32c {
                *crc = crc32c::crc32c_append(*crc, fresh);
            }
            if let Some((scanner, kind)) = secrets {
                let window = &buf[start..filled];
                let scan_to = if eof {
                    window.len()
                } else {
                    window.len() - LOOKAHEAD
                };
                scanner.scan_window(window, scan_from, scan_to, base, kind, &mut findings);
                if !eof {
                    // Carry the look-ahead (and one byte before it, for word boundaries)
                    // to just before the next read.
                    let keep_from = start + scan_to - 1;
                    let kept = filled - keep_from;
                    buf.copy_within(keep_from..filled, head - kept);
                    base += (keep_from - start) as u64;
                    start = head - kept;
                    scan_from = 1;
                }
            }
            if eof {
                break;
            }
        }
        for copy in copies {
            copy.finish(total, &meta);
        }
        Ok(FileFacts {
            size: total,
            sha256: hasher.finalize().into(),
            mode,
            mtime,
            crc32: crc.map(crc32fast::Hasher::finalize),
            crc32c,
            findings,
        })
    })
}

/// Reads into `buf[filled..]` until it is full or the file ends; returns the new fill
/// level and whether the file ended. `total` counts the bytes read from the file.
fn fill(
    file: &mut File,
    buf: &mut [u8],
    mut filled: usize,
    total: &mut u64,
    expected: u64,
) -> io::Result<(usize, bool)> {
    while filled < buf.len() {
        // Stop at the size `fstat` reported: saves the zero-length read that would
        // otherwise cost one more syscall per file. A file that changes after this point
        // is caught when the upload re-hashes what it sends.
        if *total >= expected {
            return Ok((filled, true));
        }
        match file.read(&mut buf[filled..]) {
            Ok(0) => return Ok((filled, true)),
            Ok(n) => {
                filled += n;
                *total += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((filled, false))
}

/// Seconds since the Unix epoch, negative before it.
fn unix_seconds(t: std::time::SystemTime) -> i64 {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

#[cfg(unix)]
pub(crate) fn file_mode(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
pub(crate) fn file_mode(meta: &std::fs::Metadata) -> u32 {
    if meta.permissions().readonly() {
        0o444
    } else {
        0o644
    }
}

/// 1-based line numbers of byte offsets, by counting newlines. Only called for files
/// with findings, which is why a second read is acceptable here.
pub(crate) fn line_numbers(path: &Path, offsets: &[u64]) -> io::Result<Vec<u64>> {
    let mut sorted: Vec<(u64, usize)> = offsets.iter().copied().zip(0..).collect();
    sorted.sort_unstable();
    let mut lines = vec![1; offsets.len()];
    let mut file = File::open(path)?;
    let mut buf = vec![0u8; 64 * 1024];
    let (mut pos, mut line, mut next) = (0u64, 1u64, 0usize);
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        while next < sorted.len() && sorted[next].0 < pos + n as u64 {
            let within = usize::try_from(sorted[next].0 - pos).unwrap_or(n);
            lines[sorted[next].1] =
                line + memchr::memchr_iter(b'\n', &chunk[..within]).count() as u64;
            next += 1;
        }
        if next == sorted.len() {
            break;
        }
        line += memchr::memchr_iter(b'\n', chunk).count() as u64;
        pos += n as u64;
    }
    Ok(lines)
}
