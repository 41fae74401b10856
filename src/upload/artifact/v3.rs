//! The artifact destination over the v3 protocol (`github::pipelines`), where the runner
//! gives `ACTIONS_RUNTIME_URL` and no results service (GitHub Enterprise Server, act with
//! its results URL withheld). An artifact is a container of plain files, so the planned zip's
//! entries (the documents included) are uploaded one by one under `<artifact>/<entry>`, at
//! most `upload-concurrency` files at a time, each in ranges of 8 MiB, and the container is
//! finalized with the files' total size only once every file is in.
//!
//! Each file is gzip-encoded when that makes it smaller, as the official v3 client does
//! (at `compression-level`; `0` sends every file as it is), except files whose extension
//! says they are compressed already (the client's list). Up to 8 MiB is compressed in
//! memory; a larger file into a spool file beside the other temporary files, removed
//! afterwards. Every file's bytes are checked against the scan as they are read (its size,
//! and its CRC-32 when the scan recorded one, or its SHA-256 for a file shipped as it is):
//! a file changed since the scan fails the artifact before it is finalized.
//!
//! What does not survive the protocol: modes (downloads make every file `0644`), links
//! (refused in the plan) and empty directories.

use std::fs::File;
use std::io::{self, Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::time::Instant;

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;

use super::plan::Job;
use super::transfer::{Source, TransferError};
use super::{ArtifactError, ArtifactReport, Plan};
use crate::events::{Event, Reporter};
use crate::github::pipelines::{Pipelines, PipelinesError, Range};
use crate::pack::PackEntry;
use crate::units;

/// Bytes per `PUT` (`getUploadChunkSize()`), and the most a file is compressed in memory.
const CHUNK: usize = 8 * 1024 * 1024;

/// Extensions the official client never gzips (`gzipExemptFileExtensions`).
const COMPRESSED: &[&str] = &[
    ".gz", ".gzip", ".tgz", ".taz", ".Z", ".taZ", ".bz2", ".tbz", ".tbz2", ".tz2", ".lz", ".lzma",
    ".tlz", ".lzo", ".xz", ".txz", ".zst", ".zstd", ".tzst", ".zip", ".7z",
];

/// One file of an artifact.
#[derive(Debug, Clone)]
struct Item {
    path: PathBuf,
    /// `<artifact>/<entry>`.
    stored: String,
    size: u64,
    crc32: Option<u32>,
    /// The scan's SHA-256, for a file shipped as it is (`archive: false`), which the scan
    /// records no CRC-32 for.
    sha256: Option<[u8; 32]>,
}

/// What the bytes read are checked with: the scan's CRC-32 or SHA-256, when it has one.
#[derive(Clone)]
struct Hashes {
    crc: crc32fast::Hasher,
    sha: Option<sha2::Sha256>,
}

impl Hashes {
    fn new(item: &Item) -> Self {
        Hashes {
            crc: crc32fast::Hasher::new(),
            sha: item.sha256.map(|_| <sha2::Sha256 as sha2::Digest>::new()),
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        self.crc.update(bytes);
        if let Some(sha) = &mut self.sha {
            sha2::Digest::update(sha, bytes);
        }
    }

    /// True when the bytes are not the scan's.
    fn differ(self, item: &Item) -> bool {
        item.crc32.is_some_and(|want| want != self.crc.finalize())
            || match (item.sha256, self.sha) {
                (Some(want), Some(sha)) => want[..] != sha2::Digest::finalize(sha)[..],
                _ => false,
            }
    }
}

/// A file's bytes as they will be sent.
enum Body {
    /// Whole, in memory; `original` is the raw length when gzip-encoded.
    Memory { bytes: Bytes, original: Option<u64> },
    /// Gzip-encoded in a spool file (removed on drop).
    Spool {
        spool: Spool,
        len: u64,
        original: u64,
    },
    /// Raw from the file, checked against the scan as it is read.
    File,
}

/// A spool file, removed when dropped.
struct Spool(PathBuf);

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Uploads every planned artifact through the pipelines service.
pub(super) async fn upload_all(
    plan: &Plan,
    pipelines: &Pipelines,
    reporter: &dyn Reporter,
    landed: &mut Vec<ArtifactReport>,
) -> Result<(), ArtifactError> {
    let results = super::super::bounded::run(&plan.jobs, plan.concurrency, |job| {
        upload_one(plan, pipelines, reporter, job)
    })
    .await;
    super::gather(results, landed)
}

/// One artifact: create its container, put every file, then finalize it.
async fn upload_one(
    plan: &Plan,
    pipelines: &Pipelines,
    reporter: &dyn Reporter,
    job: &Job,
) -> Result<ArtifactReport, ArtifactError> {
    let name = job.name.as_str();
    let started = Instant::now();
    let service = |source: PipelinesError| ArtifactError::Pipelines {
        name: name.to_owned(),
        source: Box::new(source),
    };
    let items = items(job);
    let container = pipelines
        .create(name, plan.retention_days)
        .await
        .map_err(|e| match e.status() {
            Some(409) => ArtifactError::V3Conflict {
                name: name.to_owned(),
            },
            _ => service(e),
        })?;
    reporter.event(&Event::info(format!(
        "Uploading artifact `{name}` ({} file(s)) to the artifact service (v3 protocol)",
        units::count(job.files as u64)
    )));
    let level = match &job.source {
        Source::Zip { level, .. } => *level,
        Source::File { .. } => 6,
    };
    let url = container.file_container_resource_url.as_str();
    let sent = super::super::bounded::run(&items, plan.concurrency, |item| {
        put_file(pipelines, url, item, level, &plan.spool_dir)
    })
    .await;
    let mut uploaded = 0u64;
    for result in sent.into_iter().flatten() {
        uploaded += result.map_err(|(path, e)| ArtifactError::V3File {
            name: name.to_owned(),
            path,
            source: Box::new(e),
        })?;
    }
    let raw: u64 = items.iter().map(|i| i.size).sum();
    pipelines.finalize(name, raw).await.map_err(service)?;
    let elapsed = started.elapsed();
    let url = plan.links.as_ref().map(super::plan::Links::run_page);
    reporter.event(&Event::info(format!(
        "Artifact `{name}` finalized: {} in {} file(s), {} sent in {} ({}){}",
        units::bytes(raw),
        units::count(items.len() as u64),
        units::bytes(uploaded),
        units::duration(elapsed),
        units::rate(units::throughput(uploaded, elapsed)),
        url.as_ref().map(|u| format!(", {u}")).unwrap_or_default()
    )));
    Ok(ArtifactReport {
        name: name.to_owned(),
        id: container.container_id,
        url,
        digest: None,
        size: uploaded,
        files: items.len(),
        elapsed,
    })
}

/// The files of `job`, named as the container stores them.
fn items(job: &Job) -> Vec<Item> {
    let item = |entry: &str| format!("{}/{entry}", job.name);
    match &job.source {
        Source::Zip { entries, .. } => entries
            .iter()
            .map(|e: &PackEntry| Item {
                path: e.path.clone(),
                stored: item(&e.name),
                size: e.size,
                crc32: e.crc32,
                sha256: None,
            })
            .collect(),
        Source::File { path, sha256 } => {
            let size = std::fs::metadata(path).map_or(0, |m| m.len());
            vec![Item {
                path: path.clone(),
                stored: item(&job.name),
                size,
                crc32: None,
                sha256: Some(*sha256),
            }]
        }
    }
}

/// Prepares and puts one file; returns the bytes sent.
async fn put_file(
    pipelines: &Pipelines,
    container: &str,
    item: &Item,
    level: u32,
    spool_dir: &Path,
) -> Result<u64, (PathBuf, TransferError)> {
    let fail = |e: TransferError| (item.path.clone(), e);
    let prepared = {
        let (item, spool_dir) = (item.clone(), spool_dir.to_owned());
        tokio::task::spawn_blocking(move || prepare(&item, level, &spool_dir))
            .await
            .map_err(|e| fail(TransferError::Producer(e.to_string())))?
            .map_err(fail)?
    };
    let put = |range: Range| async move {
        pipelines
            .put(container, &item.stored, &range)
            .await
            .map_err(|e| TransferError::V3(Box::new(e)))
    };
    let sent = match prepared {
        Body::Memory { bytes, original } => {
            let total = bytes.len() as u64;
            // An empty file is one empty range (`bytes 0--1/0`, as the official client sends).
            let mut start = 0;
            loop {
                let end = (start + CHUNK).min(bytes.len());
                put(Range {
                    body: bytes.slice(start..end),
                    start: start as u64,
                    total,
                    original,
                })
                .await
                .map_err(fail)?;
                start = end;
                if start >= bytes.len() {
                    break;
                }
            }
            total
        }
        Body::Spool {
            spool,
            len,
            original,
        } => {
            put_ranges(&spool.0, len, Some(original), None, &put)
                .await
                .map_err(fail)?;
            len
        }
        Body::File => {
            put_ranges(&item.path, item.size, None, Some(item), &put)
                .await
                .map_err(fail)?;
            item.size
        }
    };
    Ok(sent)
}

/// Puts `len` bytes of `path` in [`CHUNK`] ranges, reading each as it goes. With `check`,
/// the bytes are the raw file and must still be what the scan saw.
async fn put_ranges<F, Fut>(
    path: &Path,
    len: u64,
    original: Option<u64>,
    check: Option<&Item>,
    put: &F,
) -> Result<(), TransferError>
where
    F: Fn(Range) -> Fut,
    Fut: Future<Output = Result<(), TransferError>>,
{
    let read_err = |source: io::Error| TransferError::Read {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(read_err)?;
    let file = std::sync::Arc::new(std::sync::Mutex::new(file));
    let mut hashes = check.map(Hashes::new);
    let mut start = 0u64;
    while start < len {
        let want = usize::try_from((len - start).min(CHUNK as u64)).unwrap_or(CHUNK);
        let chunk = {
            let file = file.clone();
            tokio::task::spawn_blocking(move || -> io::Result<Vec<u8>> {
                let mut buf = vec![0; want];
                let mut file = file
                    .lock()
                    .map_err(|_| io::Error::other("the file lock was poisoned"))?;
                file.seek(SeekFrom::Start(start))?;
                file.read_exact(&mut buf)?;
                Ok(buf)
            })
            .await
            .map_err(|e| TransferError::Producer(e.to_string()))?
        };
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof && check.is_some() => {
                return Err(changed(path));
            }
            Err(e) => return Err(read_err(e)),
        };
        if let Some(hashes) = &mut hashes {
            hashes.update(&chunk);
        }
        put(Range {
            body: Bytes::from(chunk),
            start,
            total: len,
            original,
        })
        .await?;
        start += want as u64;
    }
    if let Some(item) = check {
        let longer = file
            .lock()
            .ok()
            .and_then(|mut f| f.read(&mut [0u8; 1]).ok())
            .is_some_and(|n| n > 0);
        if longer || hashes.is_some_and(|h| h.differ(item)) {
            return Err(changed(path));
        }
    }
    Ok(())
}

fn changed(path: &Path) -> TransferError {
    TransferError::Changed {
        path: path.to_owned(),
    }
}

/// Reads the file once: checks it against the scan, and gzips it when that is smaller.
fn prepare(item: &Item, level: u32, spool_dir: &Path) -> Result<Body, TransferError> {
    let read_err = |source| TransferError::Read {
        path: item.path.clone(),
        source,
    };
    let gzip = level > 0 && !COMPRESSED.iter().any(|ext| item.stored.ends_with(ext));
    if item.size > CHUNK as u64 && !gzip {
        return Ok(Body::File);
    }
    let mut file = File::open(&item.path).map_err(read_err)?;
    let mut hashes = Hashes::new(item);
    let mut read = 0u64;
    if item.size <= CHUNK as u64 {
        let mut raw = Vec::with_capacity(usize::try_from(item.size).unwrap_or(0));
        (&mut file)
            .take(item.size + 1)
            .read_to_end(&mut raw)
            .map_err(read_err)?;
        hashes.update(&raw);
        check(item, raw.len() as u64, hashes)?;
        if gzip {
            let mut encoder = GzEncoder::new(Vec::new(), Compression::new(level));
            encoder.write_all(&raw).map_err(read_err)?;
            let gz = encoder.finish().map_err(read_err)?;
            // The official client keeps gzip unless the file is smaller than it.
            if gz.len() <= raw.len() {
                return Ok(Body::Memory {
                    bytes: Bytes::from(gz),
                    original: Some(item.size),
                });
            }
        }
        return Ok(Body::Memory {
            bytes: Bytes::from(raw),
            original: None,
        });
    }
    let spool = Spool(spool_dir.join(format!(".stevedore-gzip-{}", crate::secret::random_hex())));
    let spool_err = |source| TransferError::Read {
        path: spool.0.clone(),
        source,
    };
    let out = File::create_new(&spool.0).map_err(spool_err)?;
    let mut encoder = GzEncoder::new(io::BufWriter::new(out), Compression::new(level));
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(read_err)?;
        if n == 0 {
            break;
        }
        hashes.update(&buf[..n]);
        read += n as u64;
        encoder.write_all(&buf[..n]).map_err(spool_err)?;
    }
    check(item, read, hashes)?;
    let mut out = encoder.finish().map_err(spool_err)?;
    out.flush().map_err(spool_err)?;
    let len = out.get_ref().metadata().map_err(spool_err)?.len();
    if len < item.size {
        Ok(Body::Spool {
            spool,
            len,
            original: item.size,
        })
    } else {
        Ok(Body::File)
    }
}

/// The bytes read must be the scan's.
fn check(item: &Item, read: u64, hashes: Hashes) -> Result<(), TransferError> {
    if read != item.size || hashes.differ(item) {
        return Err(TransferError::Changed {
            path: item.path.clone(),
        });
    }
    Ok(())
}
