//! One read per byte for the artifact zip (issue 25): the scan hands every byte it reads
//! for the hash and the credential scan to a [`FileWriter`] too, which deflates it into a
//! local spool; once the policies pass, [`Prepack::write_zip`] streams the archive from
//! the spool. The tree is read once instead of twice (the second read came from the disk
//! again whenever the tree was larger than the page cache the job had).
//!
//! Nothing leaves the machine before the gate: the compressed bytes are held in memory up
//! to a bound (an entry stored as it is, incompressible or at level 0, is read again from
//! its file instead: holding it would cost a copy of the whole file and a second read of
//! that copy), then in an unnamed file under `RUNNER_TEMP` (`O_TMPFILE` where the file
//! system has it, else created and unlinked at once), which the kernel frees when the run
//! drops it, fails or is killed. The archive is the one [`super::write_zip`] writes from
//! the same bytes: the same units, the same probe for incompressible files, the same
//! methods, so it is byte for byte the same zip (a test compares them).
//!
//! A file rewritten between its read and the upload is refused (exit 4, as with two
//! reads): before the first request, its metadata is compared with what `fstat` said
//! when it was read ([`Prepack::verify`]).

use std::fs::{File, Metadata};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use rayon::prelude::*;

use super::layout::{self, CentralEntry, DosTime};
use super::{Counted, Method, PackEntry, PackError, Packed, compress_unit, incompressible};

/// Compressed bytes held in memory before the spool file is used.
pub const DEFAULT_MEMORY: u64 = 64 << 20;

/// What the read of a file saw of its metadata: a later `stat` that differs means the file
/// was rewritten (or replaced) after it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    size: u64,
    modified: Option<std::time::SystemTime>,
    #[cfg(unix)]
    changed: (i64, i64),
    #[cfg(unix)]
    inode: (u64, u64),
}

impl Stamp {
    /// The stamp of `meta` (from `fstat` on the open file, or `lstat` for a link).
    #[must_use]
    pub fn of(meta: &Metadata) -> Self {
        #[cfg(unix)]
        use std::os::unix::fs::MetadataExt as _;
        Stamp {
            size: meta.len(),
            modified: meta.modified().ok(),
            #[cfg(unix)]
            changed: (meta.ctime(), meta.ctime_nsec()),
            #[cfg(unix)]
            inode: (meta.dev(), meta.ino()),
        }
    }
}

/// One file's compressed bytes in the spool.
#[derive(Debug)]
struct Record {
    pieces: Vec<Span>,
    method: Method,
    crc: u32,
    compressed: u64,
    size: u64,
    stamp: Option<Stamp>,
}

/// Where a piece is: in the held buffer or in the spool file, at `at`; or, for an entry
/// stored as it is (incompressible), in the file itself, read again when the zip is
/// streamed: spooling it would write the whole file once more and read that copy back,
/// the same read plus a write.
#[derive(Debug, Clone, Copy)]
enum Span {
    Held { at: usize, len: usize },
    Source { at: u64, len: usize },
    File { at: u64, len: usize },
}

/// Append-only store: memory up to a bound, then an unnamed file.
struct Spool {
    dir: PathBuf,
    memory: u64,
    inner: Mutex<SpoolInner>,
}

/// One buffer for what is held, not one allocation per piece: a piece's vector has room
/// for the whole input, and thousands of small ones kept alive between the compressor's
/// large allocations held the heap many times the bound (measured: 2.6 GiB for 40 MB).
#[derive(Default)]
struct SpoolInner {
    held: Vec<u8>,
    file: Option<File>,
    end: u64,
}

impl Spool {
    fn put(&self, data: &[u8]) -> Result<Span, PackError> {
        let len = data.len();
        let mut inner = lock(&self.inner);
        let at = inner.held.len();
        if (at + len) as u64 <= self.memory {
            if inner.held.capacity() < at + len {
                let bound = usize::try_from(self.memory).unwrap_or(usize::MAX);
                let grown = (inner.held.capacity() * 2).max(at + len).max(1 << 20);
                inner.held.reserve_exact(grown.min(bound) - at);
            }
            inner.held.extend_from_slice(data);
            return Ok(Span::Held { at, len });
        }
        let spool_err = |source| PackError::Spool {
            dir: self.dir.clone(),
            source,
        };
        let at = inner.end;
        let file = match &mut inner.file {
            Some(file) => file,
            slot => slot.insert(tempfile::tempfile_in(&self.dir).map_err(spool_err)?),
        };
        file.write_all(data).map_err(spool_err)?;
        inner.end += len as u64;
        Ok(Span::File { at, len })
    }

    /// Passes the piece at `span` to `out`; `buf` is reused between calls.
    fn read(&self, span: Span, buf: &mut Vec<u8>, out: &mut Counted<'_>) -> Result<(), PackError> {
        let mut inner = lock(&self.inner);
        match span {
            Span::Held { at, len } => out.write(&inner.held[at..at + len]),
            Span::Source { .. } => Err(PackError::Sink(io::Error::other(
                "a piece of the file itself is read by the writer",
            ))),
            Span::File { at, len } => {
                let spool_err = |source| PackError::Spool {
                    dir: self.dir.clone(),
                    source,
                };
                let file = inner
                    .file
                    .as_mut()
                    .ok_or_else(|| spool_err(io::Error::other("the spool file is gone")))?;
                buf.resize(len, 0);
                file.seek(SeekFrom::Start(at)).map_err(spool_err)?;
                file.read_exact(buf).map_err(spool_err)?;
                // The seek position is the end again for the next `put` (none come after
                // the scan, but the invariant is cheap).
                file.seek(SeekFrom::End(0)).map_err(spool_err)?;
                drop(inner);
                out.write(buf)
            }
        }
    }
}

/// The archive's entries compressed while the scan reads them.
pub struct Prepack {
    level: u32,
    chunk: usize,
    spool: Spool,
    records: Vec<OnceLock<Record>>,
    failure: Mutex<Option<PackError>>,
    failed: AtomicBool,
}

impl std::fmt::Debug for Prepack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepack")
            .field("level", &self.level)
            .field("dir", &self.spool.dir)
            .finish_non_exhaustive()
    }
}

impl Prepack {
    /// Room for `slots` files (the selection, then the documents), deflated at `level`
    /// (0 stores) in units of 1 MiB as [`super::write_zip`] cuts them; compressed bytes
    /// beyond `memory` go to an unnamed file in `dir`.
    #[must_use]
    pub fn new(level: u32, dir: PathBuf, memory: u64, slots: usize) -> Self {
        Prepack {
            level,
            chunk: super::PackOptions::new(level).chunk,
            spool: Spool {
                dir,
                memory,
                inner: Mutex::new(SpoolInner::default()),
            },
            records: (0..slots).map(|_| OnceLock::new()).collect(),
            failure: Mutex::new(None),
            failed: AtomicBool::new(false),
        }
    }

    /// The writer for slot `index`; `link` for a link stored as a link (its content is its
    /// target), `stamp` from the metadata the read started from.
    #[must_use]
    pub fn writer(&self, index: usize, link: bool, stamp: Option<Stamp>) -> FileWriter<'_> {
        FileWriter {
            prepack: self,
            index,
            unit: Vec::new(),
            started: false,
            store: (self.level == 0).then_some(true).or(link.then_some(false)),
            link,
            flushed: 0,
            method: Method::Stored,
            pieces: Vec::new(),
            crc: crc32fast::Hasher::new(),
            compressed: 0,
            size: 0,
            stamp,
        }
    }

    /// Reads the file at `path` whole into slot `index` (the checksums file and the
    /// manifest, written after the scan). A failure is kept for [`Prepack::write_zip`].
    pub fn add_file(&self, index: usize, path: &Path) {
        let read_err = |source| PackError::Read {
            path: path.to_owned(),
            source,
        };
        let mut file = match File::open(path) {
            Ok(file) => file,
            Err(e) => return self.fail(read_err(e)),
        };
        let mut writer = self.writer(index, false, None);
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => writer.write(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return self.fail(read_err(e)),
            }
        }
        writer.finish();
    }

    /// The first failure while the archive was compressed, if any.
    fn check(&self) -> Result<(), PackError> {
        if !self.failed.load(Ordering::Relaxed) {
            return Ok(());
        }
        match lock(&self.failure).take() {
            Some(e) => Err(e),
            None => Err(PackError::Sink(io::Error::other(
                "the compressed archive is incomplete",
            ))),
        }
    }

    /// Keeps the first failure and gives back what the spool holds at once: on a full
    /// disk the run still writes its documents and reports, and says why it stopped.
    fn fail(&self, e: PackError) {
        let mut slot = lock(&self.failure);
        if slot.is_none() {
            *slot = Some(e);
        }
        self.failed.store(true, Ordering::Relaxed);
        drop(slot);
        *lock(&self.spool.inner) = SpoolInner::default();
    }

    /// Before the first request: every entry was compressed (none failed, the spool held
    /// them) and every file still has the metadata its read saw, so a file rewritten since
    /// is refused before anything is created or replaced (entry `i` is slot `i`).
    pub fn verify(&self, entries: &[PackEntry]) -> Result<(), PackError> {
        self.check()?;
        let records = self.records_of(entries)?;
        entries
            .par_iter()
            .zip(&records)
            .try_for_each(|(entry, record)| unchanged(entry, record))
    }

    fn records_of(&self, entries: &[PackEntry]) -> Result<Vec<&Record>, PackError> {
        entries
            .iter()
            .enumerate()
            .map(|(slot, entry)| {
                self.records
                    .get(slot)
                    .and_then(OnceLock::get)
                    .filter(|r| r.size == entry.size)
                    .ok_or_else(|| PackError::Changed {
                        path: entry.path.clone(),
                    })
            })
            .collect()
    }

    /// Writes the zip of `entries` (entry `i` from slot `i`) from the spool to `sink`: the
    /// bytes the scan read, hashed and checked, whatever happened to the files since.
    pub fn write_zip(
        &self,
        entries: &[PackEntry],
        sink: &mut dyn FnMut(&[u8]) -> io::Result<()>,
    ) -> Result<Packed, PackError> {
        self.check()?;
        let records = self.records_of(entries)?;
        let mut out = Counted { sink, offset: 0 };
        let mut central = Vec::with_capacity(entries.len());
        let mut buf = Vec::with_capacity(256);
        let mut piece = Vec::new();
        for (entry, record) in entries.iter().zip(records) {
            let header_at = out.offset;
            let time = DosTime::from_unix(entry.mtime);
            buf.clear();
            layout::local_header(&mut buf, &entry.name, record.method, time);
            out.write(&buf)?;
            let mut source: Option<(File, crc32fast::Hasher)> = None;
            for span in &record.pieces {
                match *span {
                    Span::Source { at, len } => {
                        let (file, crc) = match &mut source {
                            Some(open) => open,
                            None => source.insert((open_source(entry)?, crc32fast::Hasher::new())),
                        };
                        read_source(entry, file, at, len, &mut piece)?;
                        crc.update(&piece);
                        out.write(&piece)?;
                    }
                    span => self.spool.read(span, &mut piece, &mut out)?,
                }
            }
            if let Some((_, crc)) = source
                && crc.finalize() != record.crc
            {
                return Err(PackError::Changed {
                    path: entry.path.clone(),
                });
            }
            buf.clear();
            layout::data_descriptor(&mut buf, record.crc, record.compressed, record.size);
            out.write(&buf)?;
            central.push(CentralEntry {
                name: entry.name.clone(),
                method: record.method,
                time,
                crc: record.crc,
                compressed: record.compressed,
                size: record.size,
                offset: header_at,
                mode: entry.mode,
            });
        }
        super::write_central_directory(&mut out, &mut buf, &central)?;
        Ok(Packed {
            bytes: out.offset,
            methods: central.iter().map(|e| e.method).collect(),
        })
    }
}

/// An entry stored as it is, opened again to stream it.
fn open_source(entry: &PackEntry) -> Result<File, PackError> {
    File::open(&entry.path).map_err(|source| PackError::Read {
        path: entry.path.clone(),
        source,
    })
}

/// Bytes `at..at + len` of a stored entry's file into `buf`; a file now shorter changed.
fn read_source(
    entry: &PackEntry,
    file: &mut File,
    at: u64,
    len: usize,
    buf: &mut Vec<u8>,
) -> Result<(), PackError> {
    buf.resize(len, 0);
    file.seek(SeekFrom::Start(at))
        .and_then(|_| file.read_exact(buf))
        .map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => PackError::Changed {
                path: entry.path.clone(),
            },
            _ => PackError::Read {
                path: entry.path.clone(),
                source: e,
            },
        })
}

/// The file still has the metadata its read saw.
fn unchanged(entry: &PackEntry, record: &Record) -> Result<(), PackError> {
    let Some(stamp) = record.stamp else {
        return Ok(());
    };
    let now = if super::is_link(entry) {
        std::fs::symlink_metadata(&entry.path)
    } else {
        std::fs::metadata(&entry.path)
    };
    match now {
        Ok(meta) if Stamp::of(&meta) == stamp => Ok(()),
        _ => Err(PackError::Changed {
            path: entry.path.clone(),
        }),
    }
}

/// One file on its way into the spool: its bytes are cut into units as
/// [`super::write_zip`] cuts them; each full unit is compressed as soon as the next byte
/// shows it was not the last.
pub struct FileWriter<'p> {
    prepack: &'p Prepack,
    index: usize,
    unit: Vec<u8>,
    started: bool,
    /// Decided on the first unit (the probe), as the two-read writer decides per entry.
    store: Option<bool>,
    link: bool,
    /// Bytes of the file already cut into units.
    flushed: u64,
    method: Method,
    pieces: Vec<Span>,
    crc: crc32fast::Hasher,
    compressed: u64,
    size: u64,
    stamp: Option<Stamp>,
}

impl FileWriter<'_> {
    /// The file's next bytes.
    pub fn write(&mut self, mut bytes: &[u8]) {
        if self.prepack.failed.load(Ordering::Relaxed) {
            return;
        }
        self.crc.update(bytes);
        self.size += bytes.len() as u64;
        let chunk = self.prepack.chunk;
        while !bytes.is_empty() {
            if self.unit.len() == chunk {
                self.flush(false);
            }
            let take = (chunk - self.unit.len()).min(bytes.len());
            if self.unit.capacity() == 0 {
                let expected = self.stamp.map_or(take as u64, |s| s.size);
                let left = expected.saturating_sub(self.size - bytes.len() as u64);
                self.unit
                    .reserve_exact(usize::try_from(left).unwrap_or(chunk).clamp(take, chunk));
            }
            self.unit.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
        }
    }

    /// The file ended: its last unit is compressed and its record kept.
    pub fn finish(mut self) {
        if self.prepack.failed.load(Ordering::Relaxed) {
            return;
        }
        self.flush(true);
        let record = Record {
            pieces: std::mem::take(&mut self.pieces),
            method: self.method,
            crc: self.crc.clone().finalize(),
            compressed: self.compressed,
            size: self.size,
            stamp: self.stamp,
        };
        // A slot is written once; a second write would be a bug in the caller.
        let _ = self.prepack.records[self.index].set(record);
    }

    fn flush(&mut self, last: bool) {
        let level = self.prepack.level;
        let whole = !self.started && last;
        // As `probe_incompressible` decides: no probe for a file of one probe or less.
        let small = whole && self.unit.len() <= super::PROBE;
        let store = *self.store.get_or_insert_with(|| {
            !small && incompressible(&self.unit[..self.unit.len().min(super::PROBE)])
        });
        let raw = std::mem::take(&mut self.unit);
        let at = self.flushed;
        self.flushed += raw.len() as u64;
        if store && !self.link && !raw.is_empty() {
            self.method = Method::Stored;
            self.started = true;
            self.compressed += raw.len() as u64;
            self.pieces.push(Span::Source { at, len: raw.len() });
            self.unit = raw;
            self.unit.clear();
            return;
        }
        let (data, method) = if store || raw.is_empty() {
            (raw, Method::Stored)
        } else {
            match compress_unit(&raw, level, whole, last) {
                Ok(data) if whole && data.len() >= raw.len() => (raw, Method::Stored),
                Ok(data) => {
                    // The unit buffer is kept for the file's next unit.
                    self.unit = raw;
                    self.unit.clear();
                    (data, Method::Deflated)
                }
                Err(message) => {
                    self.prepack.fail(PackError::Compress {
                        path: PathBuf::from(format!("file {}", self.index)),
                        message,
                    });
                    return;
                }
            }
        };
        if !self.started {
            self.method = method;
        }
        self.started = true;
        self.compressed += data.len() as u64;
        match self.prepack.spool.put(&data) {
            Ok(span) => self.pieces.push(span),
            Err(e) => self.prepack.fail(e),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
