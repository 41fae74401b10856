//! The zip writer for artifact uploads: entries deflated on every core and streamed out
//! in order while later entries are still compressing, with a fixed number of chunks in
//! flight whatever the archive size.
//!
//! Work is cut into units of at most [`PackOptions::chunk`] bytes. A file larger than one
//! unit is deflated as independent pieces, each ended with a sync flush so the pieces
//! concatenate into one valid deflate stream (the technique of pigz), which lets one large
//! file use all cores too; CRC-32s of the pieces are combined. The calling thread writes
//! headers, data and descriptors in archive order; the workers wait when they run more
//! than [`PackOptions::window`] units ahead of it, which bounds memory.
//!
//! Dedicated threads rather than rayon: the writer must block on the next unit in order,
//! and a blocked rayon worker would take a core away from compression.

pub(crate) mod layout;
pub mod prepack;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, OnceLock, mpsc};

use flate2::{Compress, Compression, FlushCompress, Status};

pub use layout::Method;
use layout::{CentralEntry, DosTime};

/// One file to archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackEntry {
    /// The file on disk.
    pub path: PathBuf,
    /// Name in the archive (`/`-separated, relative).
    pub name: String,
    /// Size recorded by the scan; the file must still have exactly this many bytes.
    pub size: u64,
    /// Permission bits; `S_IFLNK | 0o777` (the scan's `LINK_MODE`) for a symbolic link
    /// stored as a link: its content is the link's target, read with `readlink`, never
    /// the file it points to.
    pub mode: u32,
    /// Modification time, seconds since the Unix epoch.
    pub mtime: i64,
    /// CRC-32 recorded by the scan, when it recorded one: the archived bytes must match,
    /// so a file rewritten to the same length after the scan is caught too.
    pub crc32: Option<u32>,
}

/// How to pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackOptions {
    /// Deflate level 0-9; 0 stores every entry.
    pub level: u32,
    /// Compression threads.
    pub threads: usize,
    /// Largest unit of work in bytes.
    pub chunk: usize,
    /// Units that may be read or compressed ahead of the writer.
    pub window: usize,
}

impl PackOptions {
    /// One thread per core, 1 MiB units, four units in flight per thread.
    #[must_use]
    pub fn new(level: u32) -> Self {
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        PackOptions {
            level,
            threads,
            chunk: 1 << 20,
            window: threads * 4,
        }
    }
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packed {
    /// Archive size in bytes.
    pub bytes: u64,
    /// Entries, with the method each ended up with.
    pub methods: Vec<Method>,
}

/// Why packing failed.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// A file could not be read.
    #[error("cannot read `{}`: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A file is shorter, or its bytes differ, from when it was scanned.
    #[error("`{}` changed after it was scanned; nothing was uploaded, run again once the build has finished writing", path.display())]
    Changed {
        /// The file.
        path: PathBuf,
    },
    /// The compressor reported an error (a bug in the deflate library if it happens).
    #[error("cannot compress `{}`: {message}", path.display())]
    Compress {
        /// The file.
        path: PathBuf,
        /// The compressor's message.
        message: String,
    },
    /// The destination refused the bytes.
    #[error("cannot write the archive: {0}")]
    Sink(#[source] io::Error),
    /// The compressed archive could not be held until the policies passed.
    #[error("cannot hold the compressed archive in `{}` until the policies pass: {source}; nothing was uploaded: free space there (the runner's `RUNNER_TEMP`), or lower the archive's size", dir.display())]
    Spool {
        /// Where the spool file is (`RUNNER_TEMP`).
        dir: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

/// A piece of one entry.
#[derive(Debug, Clone, Copy)]
struct Unit {
    entry: usize,
    offset: u64,
    len: usize,
    first: bool,
    last: bool,
}

/// A compressed (or stored) piece.
struct Piece {
    data: Vec<u8>,
    crc: crc32fast::Hasher,
    raw_len: u64,
    method: Method,
}

fn units(entries: &[PackEntry], chunk: usize) -> Vec<Unit> {
    let mut out = Vec::new();
    for (entry, e) in entries.iter().enumerate() {
        let mut offset = 0u64;
        loop {
            let len = usize::try_from(e.size - offset)
                .unwrap_or(usize::MAX)
                .min(chunk);
            let last = offset + len as u64 >= e.size;
            out.push(Unit {
                entry,
                offset,
                len,
                first: offset == 0,
                last,
            });
            if last {
                break;
            }
            offset += len as u64;
        }
    }
    out
}

/// Writes a zip of `entries` to `sink`, in order, and returns what was written.
pub fn write_zip(
    entries: &[PackEntry],
    options: &PackOptions,
    sink: &mut dyn FnMut(&[u8]) -> io::Result<()>,
) -> Result<Packed, PackError> {
    let units = units(entries, options.chunk.max(1));
    let next = AtomicUsize::new(0);
    let abort = AtomicBool::new(false);
    let emitted = (Mutex::new(0usize), Condvar::new());
    let (tx, rx) = mpsc::channel::<(usize, Result<Piece, PackError>)>();
    let incompressible: Vec<OnceLock<bool>> = entries.iter().map(|_| OnceLock::new()).collect();

    std::thread::scope(|scope| {
        for _ in 0..options.threads.max(1) {
            let tx = tx.clone();
            let (units, next, abort, emitted, incompressible) =
                (&units, &next, &abort, &emitted, &incompressible);
            scope.spawn(move || {
                // A worker that panics stops the others, so the writer waiting for its
                // piece sees the channel close instead of waiting forever.
                let _stop_on_panic = StopOnPanic { abort, emitted };
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= units.len() || abort.load(Ordering::Relaxed) {
                        return;
                    }
                    // Stay within the window ahead of the writer.
                    let (lock, cvar) = emitted;
                    let mut done = lock
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    while i >= *done + options.window && !abort.load(Ordering::Relaxed) {
                        done = cvar
                            .wait(done)
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                    }
                    drop(done);
                    let unit = units[i];
                    let entry = &entries[unit.entry];
                    let store = options.level == 0
                        || *incompressible[unit.entry].get_or_init(|| probe_incompressible(entry));
                    let piece = process(entry, unit, options.level, store);
                    if tx.send((i, piece)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let _stop_on_panic = StopOnPanic {
            abort: &abort,
            emitted: &emitted,
        };
        let result = assemble(entries, &units, &rx, &emitted, sink);
        if result.is_err() {
            stop(&abort, &emitted);
        }
        result
    })
}

/// Tells every worker to stop, waking those waiting for the window. The flag is set
/// under the window's lock: set outside it, a worker that had just read it as false
/// under the lock would miss the wake-up and wait forever (it did, in CI).
fn stop(abort: &AtomicBool, emitted: &(Mutex<usize>, Condvar)) {
    let (lock, cvar) = emitted;
    let guard = lock
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    abort.store(true, Ordering::Relaxed);
    drop(guard);
    cvar.notify_all();
}

/// Stops the workers when a worker or the writer unwinds: the scope joins every worker
/// before the panic goes on, so one left waiting would hang it.
struct StopOnPanic<'a> {
    abort: &'a AtomicBool,
    emitted: &'a (Mutex<usize>, Condvar),
}

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            stop(self.abort, self.emitted);
        }
    }
}

/// The writer: headers, pieces and descriptors in archive order, then the directory.
fn assemble(
    entries: &[PackEntry],
    units: &[Unit],
    rx: &mpsc::Receiver<(usize, Result<Piece, PackError>)>,
    emitted: &(Mutex<usize>, Condvar),
    sink: &mut dyn FnMut(&[u8]) -> io::Result<()>,
) -> Result<Packed, PackError> {
    let mut out = Counted { sink, offset: 0 };
    let mut pending: BTreeMap<usize, Piece> = BTreeMap::new();
    let mut central: Vec<CentralEntry> = Vec::with_capacity(entries.len());
    let mut buf = Vec::with_capacity(256);
    // Replaced by the first unit, which always starts an entry.
    let mut open = OpenEntry::at(0, Method::Stored);
    for (i, unit) in units.iter().enumerate() {
        let piece = next_piece(i, &mut pending, rx)?;
        let entry = &entries[unit.entry];
        if unit.first {
            open = OpenEntry::at(out.offset, piece.method);
            buf.clear();
            layout::local_header(
                &mut buf,
                &entry.name,
                open.method,
                DosTime::from_unix(entry.mtime),
            );
            out.write(&buf)?;
        }
        debug_assert!(
            unit.first || piece.method == open.method,
            "all pieces of an entry share its method"
        );
        open.crc.combine(&piece.crc);
        open.compressed += piece.data.len() as u64;
        out.write(&piece.data)?;
        debug_assert_eq!(piece.raw_len, unit.len as u64);
        if unit.last {
            central.push(close_entry(&mut out, &mut buf, entry, &open)?);
        }
        mark_emitted(emitted, i + 1);
    }
    write_central_directory(&mut out, &mut buf, &central)?;
    Ok(Packed {
        bytes: out.offset,
        methods: central.iter().map(|e| e.method).collect(),
    })
}

/// The sink, counting: the offset of each local header and of the central directory is
/// the number of bytes written before it.
struct Counted<'s> {
    sink: &'s mut dyn FnMut(&[u8]) -> io::Result<()>,
    offset: u64,
}

impl Counted<'_> {
    fn write(&mut self, bytes: &[u8]) -> Result<(), PackError> {
        (self.sink)(bytes).map_err(PackError::Sink)?;
        self.offset += bytes.len() as u64;
        Ok(())
    }
}

/// The entry being written: where its local header is, and what its pieces so far add up
/// to (the descriptor and the central directory need both).
struct OpenEntry {
    header_at: u64,
    method: Method,
    crc: crc32fast::Hasher,
    compressed: u64,
}

impl OpenEntry {
    fn at(header_at: u64, method: Method) -> Self {
        OpenEntry {
            header_at,
            method,
            crc: crc32fast::Hasher::new(),
            compressed: 0,
        }
    }
}

/// Piece `i`: the workers finish out of order, so pieces that arrive early wait in
/// `pending` until the writer reaches them.
fn next_piece(
    i: usize,
    pending: &mut BTreeMap<usize, Piece>,
    rx: &mpsc::Receiver<(usize, Result<Piece, PackError>)>,
) -> Result<Piece, PackError> {
    loop {
        if let Some(p) = pending.remove(&i) {
            return Ok(p);
        }
        match rx.recv() {
            Ok((j, Ok(p))) => {
                pending.insert(j, p);
            }
            Ok((_, Err(e))) => return Err(e),
            Err(_) => {
                return Err(PackError::Sink(io::Error::other(
                    "compression threads stopped",
                )));
            }
        }
    }
}

/// Ends an entry: its bytes must still be the ones the scan saw, then the data descriptor;
/// returns the entry's central directory record.
fn close_entry(
    out: &mut Counted<'_>,
    buf: &mut Vec<u8>,
    entry: &PackEntry,
    open: &OpenEntry,
) -> Result<CentralEntry, PackError> {
    let crc = open.crc.clone().finalize();
    if entry.crc32.is_some_and(|expected| expected != crc) {
        return Err(PackError::Changed {
            path: entry.path.clone(),
        });
    }
    buf.clear();
    layout::data_descriptor(buf, crc, open.compressed, entry.size);
    out.write(buf)?;
    Ok(CentralEntry {
        name: entry.name.clone(),
        method: open.method,
        time: DosTime::from_unix(entry.mtime),
        crc,
        compressed: open.compressed,
        size: entry.size,
        offset: open.header_at,
        mode: entry.mode,
    })
}

/// Moves the workers' window: the writer is done with the first `done` units.
fn mark_emitted(emitted: &(Mutex<usize>, Condvar), done: usize) {
    let (lock, cvar) = emitted;
    *lock
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = done;
    cvar.notify_all();
}

/// The central directory and the end records, after the last entry.
fn write_central_directory(
    out: &mut Counted<'_>,
    buf: &mut Vec<u8>,
    central: &[CentralEntry],
) -> Result<(), PackError> {
    let cd_offset = out.offset;
    buf.clear();
    for e in central {
        layout::central_entry(buf, e);
    }
    let cd_size = buf.len() as u64;
    layout::end_records(buf, central.len(), cd_offset, cd_size);
    out.write(buf)
}

/// Bytes of a file's start deflated to judge whether the whole file compresses.
const PROBE: usize = 64 * 1024;

/// Whether a file looks incompressible (already compressed archives, images, binaries):
/// its first [`PROBE`] bytes do not shrink by 2% at the fastest level. Every piece of a
/// file computes the same verdict from the same bytes, so all pieces agree on the method
/// without waiting for each other. Deflating such data would cost most of the packing time
/// and save nothing. A file that cannot be read here is judged by the normal path.
fn probe_incompressible(entry: &PackEntry) -> bool {
    if is_link(entry) {
        return false;
    }
    // A file of one probe or less is deflated whole and stored if that is not smaller: a
    // probe would compress it twice.
    let Ok(len) = usize::try_from(entry.size) else {
        return false;
    };
    if len <= PROBE {
        return false;
    }
    let mut head = vec![0u8; PROBE];
    let read = File::open(&entry.path).and_then(|mut f| f.read_exact(&mut head));
    read.is_ok() && incompressible(&head)
}

/// The probe's verdict on a file's first [`PROBE`] bytes (all of them when it is shorter).
fn incompressible(head: &[u8]) -> bool {
    head.len() >= 512 && deflate(head, 1, true).is_ok_and(|out| out.len() * 100 >= head.len() * 98)
}

/// Whether the entry is a symbolic link stored as a link.
fn is_link(entry: &PackEntry) -> bool {
    entry.mode & 0o170_000 == 0o120_000
}

/// Reads and compresses one unit (or stores it when `store`).
fn process(entry: &PackEntry, unit: Unit, level: u32, store: bool) -> Result<Piece, PackError> {
    let read_err = |source| PackError::Read {
        path: entry.path.clone(),
        source,
    };
    let mut raw = vec![0u8; unit.len];
    if unit.len > 0 && is_link(entry) {
        let target = std::fs::read_link(&entry.path).map_err(read_err)?;
        let bytes = target.as_os_str().as_encoded_bytes();
        let start = usize::try_from(unit.offset).unwrap_or(usize::MAX);
        match bytes.get(start..start + unit.len) {
            Some(piece) if bytes.len() as u64 == entry.size => raw.copy_from_slice(piece),
            _ => {
                return Err(PackError::Changed {
                    path: entry.path.clone(),
                });
            }
        }
    } else if unit.len > 0 {
        let mut file = File::open(&entry.path).map_err(read_err)?;
        if unit.offset > 0 {
            file.seek(SeekFrom::Start(unit.offset)).map_err(read_err)?;
        }
        file.read_exact(&mut raw).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                PackError::Changed {
                    path: entry.path.clone(),
                }
            } else {
                read_err(e)
            }
        })?;
    }
    let mut crc = crc32fast::Hasher::new();
    crc.update(&raw);
    let raw_len = raw.len() as u64;
    let whole = unit.first && unit.last;
    if store || unit.len == 0 {
        return Ok(Piece {
            data: raw,
            crc,
            raw_len,
            method: Method::Stored,
        });
    }
    let data =
        compress_unit(&raw, level, whole, unit.last).map_err(|message| PackError::Compress {
            path: entry.path.clone(),
            message,
        })?;
    if whole && data.len() >= raw.len() {
        // Not smaller: store it, as archiver would have to for the same bytes.
        return Ok(Piece {
            data: raw,
            crc,
            raw_len,
            method: Method::Stored,
        });
    }
    Ok(Piece {
        data,
        crc,
        raw_len,
        method: Method::Deflated,
    })
}

/// A unit compressed: a whole file with libdeflate, which takes about three quarters of
/// zlib-rs's CPU for the same level and size (bench/deflate, bench/README.md); a piece of a
/// larger file with zlib-rs, because libdeflate ends every output with a final block and
/// the pieces must end with a sync flush to concatenate.
fn compress_unit(input: &[u8], level: u32, whole: bool, last: bool) -> Result<Vec<u8>, String> {
    if whole {
        deflate_whole(input, level)
    } else {
        deflate(input, level, last).map_err(|e| e.to_string())
    }
}

/// Raw deflate of a whole file with libdeflate (one compressor per thread and level). It
/// writes into a per-thread scratch buffer, zeroed once, and the result is copied out at
/// its compressed length: a zeroed buffer of the bound per file cost the musl build's
/// allocator fresh pages for every file.
fn deflate_whole(input: &[u8], level: u32) -> Result<Vec<u8>, String> {
    thread_local! {
        static LIBDEFLATE: std::cell::RefCell<Option<(u32, libdeflater::Compressor, Vec<u8>)>> =
            const { std::cell::RefCell::new(None) };
    }
    LIBDEFLATE.with_borrow_mut(|slot| {
        let (compressor, scratch) = match slot {
            Some((l, c, scratch)) if *l == level => (c, scratch),
            _ => {
                let lvl = i32::try_from(level)
                    .ok()
                    .and_then(|l| libdeflater::CompressionLvl::new(l).ok())
                    .ok_or_else(|| format!("no deflate level {level}"))?;
                let (_, c, scratch) =
                    slot.insert((level, libdeflater::Compressor::new(lvl), Vec::new()));
                (c, scratch)
            }
        };
        let bound = compressor.deflate_compress_bound(input.len());
        if scratch.len() < bound {
            scratch.resize(bound, 0);
        }
        let n = compressor
            .deflate_compress(input, &mut scratch[..bound])
            .map_err(|e| e.to_string())?;
        Ok(scratch[..n].to_vec())
    })
}

/// Raw deflate of `input`; a non-final piece ends with a sync flush (byte-aligned, no
/// final block) so the next piece's stream can follow it.
fn deflate(input: &[u8], level: u32, last: bool) -> Result<Vec<u8>, flate2::CompressError> {
    thread_local! {
        /// The compressor's state (a few hundred KiB), reset between units rather than
        /// allocated and zeroed for each file.
        static COMPRESSOR: std::cell::RefCell<Option<(u32, Compress)>> =
            const { std::cell::RefCell::new(None) };
    }
    COMPRESSOR.with_borrow_mut(|slot| {
        let z = match slot {
            Some((l, z)) if *l == level => {
                z.reset();
                z
            }
            _ => {
                &mut slot
                    .insert((level, Compress::new(Compression::new(level), false)))
                    .1
            }
        };
        deflate_with(z, input, last)
    })
}

fn deflate_with(
    z: &mut Compress,
    input: &[u8],
    last: bool,
) -> Result<Vec<u8>, flate2::CompressError> {
    let mut out = Vec::with_capacity(input.len() + input.len() / 1000 + 64);
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    loop {
        let consumed = usize::try_from(z.total_in()).unwrap_or(usize::MAX);
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity() / 2 + 64);
        }
        let status = z.compress_vec(&input[consumed.min(input.len())..], &mut out, flush);
        let all_in = usize::try_from(z.total_in()).unwrap_or(0) == input.len();
        match status {
            Ok(Status::StreamEnd) => break,
            Ok(_) if !last && all_in && out.capacity() > out.len() => break,
            Ok(_) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}
