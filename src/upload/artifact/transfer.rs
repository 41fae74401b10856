//! Moves one artifact's bytes into blob storage while they are produced: a producer
//! thread (the zip writer, or a plain file reader) cuts its output into 8 MiB blocks and
//! hashes every byte; blocks are uploaded concurrently as they come. Memory stays bounded
//! whatever the artifact's size: the channel holds one block and each in-flight upload
//! holds one, under a semaphore shared by every artifact of the run.
//!
//! Nothing is committed here: the caller commits the block list only when the producer
//! finished cleanly and every block landed.

use std::io::{self, Read as _};
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use sha2::{Digest as _, Sha256};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

use super::blob::{BLOCK_SIZE, BlobError, BlobTarget, block_id, uuid_v4};
use crate::pack::prepack::Prepack;
use crate::pack::{PackEntry, PackError, PackOptions, write_zip};

/// What to upload.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// A zip of these entries, deflated at `level`.
    Zip {
        /// Entries in archive order.
        entries: Vec<PackEntry>,
        /// `compression-level`.
        level: u32,
        /// The entries already compressed by the scan's reads (entry `i` in slot `i`):
        /// the zip is streamed from there instead of reading the files again.
        prepacked: Option<Arc<Prepack>>,
    },
    /// One file as it is; its bytes must hash to the scan's SHA-256.
    File {
        path: PathBuf,
        /// SHA-256 recorded by the scan.
        sha256: [u8; 32],
    },
}

/// The bytes that went up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sent {
    /// Total bytes.
    pub size: u64,
    /// SHA-256 of exactly those bytes.
    pub sha256: [u8; 32],
    /// Block IDs in order, for Put Block List.
    pub block_ids: Vec<String>,
}

/// Why a transfer stopped.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// A block could not be stored.
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// The zip writer failed (a file changed or could not be read).
    #[error(transparent)]
    Pack(#[from] PackError),
    /// A raw file could not be read.
    #[error("cannot read `{}`: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    /// A raw file's bytes no longer match the scan.
    #[error("`{}` changed after it was scanned", path.display())]
    Changed { path: PathBuf },
    /// The pipelines service refused or failed a file (the v3 protocol).
    #[error(transparent)]
    V3(Box<crate::github::pipelines::PipelinesError>),
    /// The producer thread ended without a result (a bug if it happens).
    #[error("the upload's producer thread stopped: {0}")]
    Producer(String),
}

/// Cuts a byte stream into blocks and hashes it.
struct Blocks {
    tx: mpsc::Sender<Bytes>,
    buf: Vec<u8>,
    hasher: Sha256,
    size: u64,
}

impl Blocks {
    fn push(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        self.hasher.update(bytes);
        self.size += bytes.len() as u64;
        while !bytes.is_empty() {
            let take = (BLOCK_SIZE - self.buf.len()).min(bytes.len());
            self.buf.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.buf.len() == BLOCK_SIZE {
                self.flush()?;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let block = std::mem::replace(&mut self.buf, Vec::with_capacity(BLOCK_SIZE));
        // Fails only when the uploading side gave up; its error is the one reported.
        self.tx
            .blocking_send(Bytes::from(block))
            .map_err(|_| io::Error::other("the upload stopped"))
    }

    fn finish(mut self) -> io::Result<(u64, [u8; 32])> {
        self.flush()?;
        Ok((self.size, self.hasher.finalize().into()))
    }
}

fn produce(source: Source, tx: mpsc::Sender<Bytes>) -> Result<(u64, [u8; 32]), TransferError> {
    let mut blocks = Blocks {
        tx,
        buf: Vec::with_capacity(BLOCK_SIZE),
        hasher: Sha256::new(),
        size: 0,
    };
    match source {
        Source::Zip {
            entries,
            prepacked: Some(prepack),
            ..
        } => {
            prepack.write_zip(&entries, &mut |b| blocks.push(b))?;
            blocks.finish().map_err(|e| PackError::Sink(e).into())
        }
        Source::Zip {
            entries,
            level,
            prepacked: None,
        } => {
            write_zip(&entries, &PackOptions::new(level), &mut |b| blocks.push(b))?;
            blocks.finish().map_err(|e| PackError::Sink(e).into())
        }
        Source::File { path, sha256 } => {
            let read_err = |source| TransferError::Read {
                path: path.clone(),
                source,
            };
            let mut file = std::fs::File::open(&path).map_err(read_err)?;
            let mut chunk = vec![0u8; 1 << 20];
            loop {
                let n = match file.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(read_err(e)),
                };
                blocks
                    .push(&chunk[..n])
                    .map_err(|e| TransferError::from(PackError::Sink(e)))?;
            }
            let (size, digest) = blocks
                .finish()
                .map_err(|e| TransferError::from(PackError::Sink(e)))?;
            if digest != sha256 {
                return Err(TransferError::Changed { path });
            }
            Ok((size, digest))
        }
    }
}

/// Uploads `source` as blocks of `target`, at most as many at once as `slots` allows.
pub(crate) async fn transfer(
    target: &BlobTarget,
    source: Source,
    slots: Arc<Semaphore>,
) -> Result<Sent, TransferError> {
    let (tx, mut rx) = mpsc::channel::<Bytes>(1);
    let writer = tokio::task::spawn_blocking(move || produce(source, tx));
    let prefix = uuid_v4();
    let mut block_ids = Vec::new();
    let mut uploads = JoinSet::new();
    let mut failure: Option<TransferError> = None;
    'blocks: loop {
        // Take a slot first, so a block is read from the channel only when it can go.
        let Ok(permit) = slots.clone().acquire_owned().await else {
            break;
        };
        let Some(block) = rx.recv().await else {
            break;
        };
        let id = block_id(&prefix, block_ids.len());
        block_ids.push(id.clone());
        let target = target.clone();
        uploads.spawn(async move {
            let result = target.put_block(&id, block).await;
            drop(permit);
            result
        });
        while let Some(done) = uploads.try_join_next() {
            if let Err(e) = flatten(done) {
                failure = Some(e);
                break 'blocks;
            }
        }
    }
    if failure.is_some() {
        // Stop the producer (its next send fails) and the other uploads.
        drop(rx);
        uploads.abort_all();
    }
    while let Some(done) = uploads.join_next().await {
        if let Err(e) = flatten(done)
            && failure.is_none()
        {
            failure = Some(e);
        }
    }
    let written = writer
        .await
        .map_err(|e| TransferError::Producer(e.to_string()))
        .and_then(|r| r);
    if let Some(e) = failure {
        return Err(e);
    }
    let (size, sha256) = written?;
    Ok(Sent {
        size,
        sha256,
        block_ids,
    })
}

fn flatten(
    done: Result<Result<(), BlobError>, tokio::task::JoinError>,
) -> Result<(), TransferError> {
    match done {
        Ok(result) => result.map_err(TransferError::from),
        // Aborted on purpose after another failure: that failure is reported.
        Err(e) if e.is_cancelled() => Ok(()),
        Err(e) => Err(TransferError::Producer(e.to_string())),
    }
}
