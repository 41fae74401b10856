//! Multipart uploads, for objects above [`super::MULTIPART_THRESHOLD`]: parts read once
//! from disk, sent in parallel under one budget shared by every multipart upload, each
//! carrying its own SHA-256; the whole file is re-hashed as it is read and must equal the
//! scan's before `CompleteMultipartUpload`, and an upload that fails is aborted.

use std::fmt::Write as _;
use std::io::Read as _;
use std::sync::Arc;

use bytes::Bytes;
use sha2::{Digest as _, Sha256};
use tokio::sync::mpsc;

use super::client::{Body, Client, RequestError, xml_text};
use super::sign::{EMPTY_SHA256, Payload};
use super::{Ctx, Object, checksum_header, checksum_headers, stored_headers};
use crate::config::S3Checksum;
use crate::events::Event;

/// Smallest part; larger for files that would need more than 10,000 parts.
const PART_SIZE: u64 = 16 * 1024 * 1024;
/// Parts in memory and in flight across all multipart uploads.
pub(super) const PARTS_IN_FLIGHT: usize = 8;

/// A part read from disk.
struct Part {
    number: usize,
    data: Bytes,
    sha256: [u8; 32],
    /// The CRC `s3-checksum` names (CRC-32 or CRC-32C), computed only in those modes.
    crc: u32,
}

/// A part the server took: its number, `ETag` and checksums, for the completion.
struct Sent {
    number: usize,
    etag: String,
    sha256: [u8; 32],
    crc: u32,
}

type PartResult = Result<Sent, RequestError>;

fn flatten(joined: Result<PartResult, tokio::task::JoinError>) -> PartResult {
    match joined {
        Ok(result) => result,
        Err(e) => Err(RequestError::Exhausted {
            last: format!("part upload stopped: {e}"),
        }),
    }
}

pub(super) async fn multipart(ctx: &Ctx<'_>, object: &Object) -> Result<(), RequestError> {
    let client = &ctx.client;
    let mut headers = stored_headers(ctx, object);
    match ctx.checksum {
        S3Checksum::Sha256 => headers.push(("x-amz-checksum-algorithm", "SHA256".to_owned())),
        S3Checksum::Crc32 => headers.push(("x-amz-checksum-algorithm", "CRC32".to_owned())),
        S3Checksum::Crc32c => headers.push(("x-amz-checksum-algorithm", "CRC32C".to_owned())),
        S3Checksum::None => {}
    }
    let created = client
        .send(
            reqwest::Method::POST,
            &client.url(&object.key, "uploads="),
            &headers,
            &Body::Empty,
            Payload::Sha256(EMPTY_SHA256),
        )
        .await?;
    let upload_id = xml_text(&created.body, "UploadId").ok_or_else(|| RequestError::Refused {
        status: created.status,
        code: "NoUploadId".into(),
        message: "CreateMultipartUpload answered without an UploadId".into(),
    })?;
    let result = upload_parts(ctx, object, &upload_id).await;
    if result.is_err() {
        // Best effort: an aborted upload frees the stored parts. Lifecycle rules catch the rest.
        let abort = client
            .send(
                reqwest::Method::DELETE,
                &client.url(
                    &object.key,
                    &format!("uploadId={}", crate::net::percent_encode(&upload_id)),
                ),
                &[],
                &Body::Empty,
                Payload::Sha256(EMPTY_SHA256),
            )
            .await;
        if let Err(e) = abort {
            ctx.reporter.event(&Event::warning(format!(
                "could not abort the incomplete multipart upload of `{}`: {e}",
                object.key
            )));
        }
    }
    result
}

/// The parts of a multipart upload, read once from disk while they are sent; the whole
/// file's hash must still be the scan's before the upload is completed.
async fn upload_parts(ctx: &Ctx<'_>, object: &Object, upload_id: &str) -> Result<(), RequestError> {
    let part_size = PART_SIZE.max(object.size.div_ceil(10_000));
    let (tx, rx) = mpsc::channel::<Part>(1);
    let reader = spawn_reader(object.path.clone(), part_size, ctx.checksum, tx);
    let sent = send_parts(ctx, object, upload_id, rx).await;
    let whole = reader.await.map_err(|e| RequestError::Read {
        path: object.path.clone(),
        message: e.to_string(),
    })?;
    let done = sent?;
    let whole = whole.map_err(|e| RequestError::Read {
        path: object.path.clone(),
        message: e.to_string(),
    })?;
    if whole != object.sha256 {
        return Err(RequestError::Refused {
            status: 400,
            code: "BadDigest".into(),
            message: "the file's bytes differ from the scan".into(),
        });
    }
    complete(&ctx.client, object, upload_id, done, ctx.checksum).await
}

/// Sends each part the reader hands over, in parallel under the shared part budget. After
/// the first failure no part starts and those in flight are stopped; the reader then sees
/// the channel closed. Returns every part's number, `ETag` and SHA-256, or the first
/// failure.
async fn send_parts(
    ctx: &Ctx<'_>,
    object: &Object,
    upload_id: &str,
    mut rx: mpsc::Receiver<Part>,
) -> Result<Vec<Sent>, RequestError> {
    let mut uploads = tokio::task::JoinSet::new();
    let mut done: Vec<Sent> = Vec::new();
    let mut failure = None;
    'parts: loop {
        let Ok(permit) = ctx.parts.clone().acquire_owned().await else {
            break;
        };
        let Some(part) = rx.recv().await else {
            break;
        };
        let url = ctx.client.url(
            &object.key,
            &format!(
                "partNumber={}&uploadId={}",
                part.number,
                crate::net::percent_encode(upload_id)
            ),
        );
        let client = Arc::clone(&ctx.client);
        let checksum = ctx.checksum;
        uploads.spawn(async move {
            let part_hex = hex::encode(part.sha256);
            let (headers, payload) = checksum_headers(checksum, &part.sha256, part.crc, &part_hex);
            let reply = client
                .send(
                    reqwest::Method::PUT,
                    &url,
                    &headers,
                    &Body::Bytes(part.data),
                    payload,
                )
                .await;
            drop(permit);
            let etag = reply?
                .headers
                .get("etag")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            Ok(Sent {
                number: part.number,
                etag,
                sha256: part.sha256,
                crc: part.crc,
            })
        });
        while let Some(joined) = uploads.try_join_next() {
            match flatten(joined) {
                Ok(entry) => done.push(entry),
                Err(e) => {
                    failure = Some(e);
                    break 'parts;
                }
            }
        }
    }
    drop(rx);
    if failure.is_some() {
        uploads.abort_all();
    }
    while let Some(joined) = uploads.join_next().await {
        match flatten(joined) {
            Ok(entry) => done.push(entry),
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
    }
    failure.map_or(Ok(done), Err)
}

/// `CompleteMultipartUpload` with every part's `ETag` and SHA-256, in order.
async fn complete(
    client: &Client,
    object: &Object,
    upload_id: &str,
    mut done: Vec<Sent>,
    checksum: S3Checksum,
) -> Result<(), RequestError> {
    done.sort_by_key(|sent| sent.number);
    let mut xml =
        String::from("<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for Sent {
        number,
        etag,
        sha256,
        crc,
    } in &done
    {
        let sum = match checksum {
            S3Checksum::Sha256 => format!(
                "<ChecksumSHA256>{}</ChecksumSHA256>",
                checksum_header(sha256)
            ),
            S3Checksum::Crc32 => format!(
                "<ChecksumCRC32>{}</ChecksumCRC32>",
                checksum_header(&crc.to_be_bytes())
            ),
            S3Checksum::Crc32c => format!(
                "<ChecksumCRC32C>{}</ChecksumCRC32C>",
                checksum_header(&crc.to_be_bytes())
            ),
            S3Checksum::None => String::new(),
        };
        let _ = write!(
            xml,
            "<Part>{sum}<ETag>{}</ETag><PartNumber>{number}</PartNumber></Part>",
            etag.replace('&', "&amp;").replace('"', "&quot;")
        );
    }
    xml.push_str("</CompleteMultipartUpload>");
    let body = Bytes::from(xml);
    let body_sha = hex::encode(Sha256::digest(&body));
    client
        .send(
            reqwest::Method::POST,
            &client.url(
                &object.key,
                &format!("uploadId={}", crate::net::percent_encode(upload_id)),
            ),
            &[("content-type", "application/xml".to_owned())],
            &Body::Bytes(body),
            Payload::Sha256(&body_sha),
        )
        .await
        .map(|_| ())
}

/// Reads the file once, in order: parts for the upload, the whole-file hash for the check.
fn spawn_reader(
    path: std::path::PathBuf,
    part_size: u64,
    checksum: S3Checksum,
    tx: mpsc::Sender<Part>,
) -> tokio::task::JoinHandle<std::io::Result<[u8; 32]>> {
    tokio::task::spawn_blocking(move || -> std::io::Result<[u8; 32]> {
        let mut file = std::fs::File::open(&path)?;
        let mut whole = Sha256::new();
        let mut number = 1;
        loop {
            let mut data = Vec::with_capacity(usize::try_from(part_size).unwrap_or(usize::MAX));
            (&mut file).take(part_size).read_to_end(&mut data)?;
            if data.is_empty() {
                break;
            }
            whole.update(&data);
            let sha256 = Sha256::digest(&data).into();
            let crc = match checksum {
                S3Checksum::Crc32 => crc32fast::hash(&data),
                S3Checksum::Crc32c => crc32c::crc32c(&data),
                S3Checksum::Sha256 | S3Checksum::None => 0,
            };
            if tx
                .blocking_send(Part {
                    number,
                    data: Bytes::from(data),
                    sha256,
                    crc,
                })
                .is_err()
            {
                break;
            }
            number += 1;
        }
        Ok(whole.finalize().into())
    })
}

/// Pages of `ListMultipartUploads` read at most (1,000 uploads each).
const MAX_LISTING_PAGES: usize = 10;

/// Aborts the multipart uploads a killed earlier run left under the keys this run writes
/// as multipart uploads, and only those: a run killed between `CreateMultipartUpload` and
/// `CompleteMultipartUpload` cannot abort its own, and its parts are stored (and billed)
/// until a lifecycle rule removes them. One listing of the destination's prefix, paged.
/// Best effort: a server without `ListMultipartUploads` (s3s-fs) or a refused listing
/// leaves them, said in a debug line; nothing here fails the run. Returns how many were
/// aborted.
pub(super) async fn abort_leftovers(ctx: &Ctx<'_>, prefix: &str, keys: &[&str]) -> usize {
    if keys.is_empty() {
        return 0;
    }
    let client = &ctx.client;
    let mut left = Vec::new();
    let mut markers: Option<(String, String)> = None;
    for _ in 0..MAX_LISTING_PAGES {
        let mut query = format!(
            "prefix={}&uploads=",
            crate::net::percent_encode(prefix).replace('/', "%2F")
        );
        if let Some((key, id)) = &markers {
            query = format!(
                "key-marker={}&{query}&upload-id-marker={}",
                crate::net::percent_encode(key).replace('/', "%2F"),
                crate::net::percent_encode(id)
            );
        }
        let listed = client
            .send(
                reqwest::Method::GET,
                &client.url("", &query),
                &[],
                &Body::Empty,
                Payload::Sha256(EMPTY_SHA256),
            )
            .await;
        let reply = match listed {
            Ok(reply) => reply,
            Err(e) => {
                ctx.reporter.event(&Event::debug(format!(
                    "incomplete multipart uploads of earlier runs were not looked for (further): ListMultipartUploads failed ({e})"
                )));
                // What earlier pages found is still aborted.
                break;
            }
        };
        let text = String::from_utf8_lossy(&reply.body);
        for upload in text.split("<Upload>").skip(1) {
            if let (Some(key), Some(id)) = (
                xml_text(upload.as_bytes(), "Key"),
                xml_text(upload.as_bytes(), "UploadId"),
            ) && keys.contains(&key.as_str())
            {
                left.push((key, id));
            }
        }
        if xml_text(&reply.body, "IsTruncated").as_deref() != Some("true") {
            break;
        }
        match (
            xml_text(&reply.body, "NextKeyMarker"),
            xml_text(&reply.body, "NextUploadIdMarker"),
        ) {
            (Some(key), Some(id)) => markers = Some((key, id)),
            _ => break,
        }
    }
    let mut aborted = 0;
    for (key, id) in &left {
        let abort = client
            .send(
                reqwest::Method::DELETE,
                &client.url(key, &format!("uploadId={}", crate::net::percent_encode(id))),
                &[],
                &Body::Empty,
                Payload::Sha256(EMPTY_SHA256),
            )
            .await;
        match abort {
            Ok(_) => aborted += 1,
            Err(e) => ctx.reporter.event(&Event::warning(format!(
                "could not abort the incomplete multipart upload an earlier run left under `{key}`: {e}"
            ))),
        }
    }
    aborted
}
