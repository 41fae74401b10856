//! The S3 destination (`s3://bucket/prefix`, any S3-compatible server).
//!
//! Every object is a signed `PutObject` whose `x-amz-checksum-sha256` (signed) is the scan's
//! SHA-256, so the server verifies each byte against the scan; files above
//! [`MULTIPART_THRESHOLD`] go up as multipart uploads with parts in parallel, each part
//! carrying its own SHA-256, the whole file re-hashed as it is read and compared with the
//! scan before the upload is completed (an incomplete upload is aborted). Objects go up
//! concurrently (`upload-concurrency`, default 32); the checksums file and the manifest go
//! last, so their presence means every object listed in them landed.

pub mod client;
pub(crate) mod keys;
pub(crate) mod sign;

use std::fmt::Write as _;
use std::io::Read as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use sha2::{Digest as _, Sha256};
use tokio::runtime::Runtime;
use tokio::sync::{Semaphore, mpsc};

use self::client::{Body, Client, RequestError, xml_text};
use self::keys::Endpoint;
use self::sign::{Credentials, EMPTY_SHA256, Payload, Signer};
use super::{Bundle, MANIFEST_NAME};
use crate::config::Config;
use crate::events::{Event, Reporter};
use crate::exit_code::ExitCode;
use crate::github::RunnerEnv;
use crate::units;

/// Objects in flight when `upload-concurrency` is not set.
const DEFAULT_CONCURRENCY: usize = 32;
/// Files larger than this are multipart uploads.
pub const MULTIPART_THRESHOLD: u64 = 64 * 1024 * 1024;
/// Smallest part; larger for files that would need more than 10,000 parts.
const PART_SIZE: u64 = 16 * 1024 * 1024;
/// Parts in memory and in flight across all multipart uploads.
const PARTS_IN_FLIGHT: usize = 8;
/// Most URIs written to the `s3-uris` output (the manifest lists every file).
pub const MAX_URIS_OUTPUT: usize = 1000;

/// Why the S3 destination failed.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    /// No credentials in the environment.
    #[error(
        "the s3:// destination needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials); set them in the step's `env:` or run aws-actions/configure-aws-credentials first"
    )]
    MissingCredentials,
    /// `s3-endpoint` is unusable.
    #[error("{0}")]
    Endpoint(String),
    /// The server refused the credentials or the bucket.
    #[error(
        "S3 refused the request for `{key}`: {source}; {hint} ({landed} object(s) uploaded before)"
    )]
    Refused {
        /// The object.
        key: String,
        /// What S3 said.
        source: RequestError,
        /// What to check.
        hint: &'static str,
        /// Objects that landed.
        landed: usize,
    },
    /// An object could not be uploaded.
    #[error("uploading `{key}` failed: {source}; {landed} object(s) uploaded, the rest were not")]
    Failed {
        /// The object.
        key: String,
        /// The cause.
        source: RequestError,
        /// Objects that landed.
        landed: usize,
    },
    /// A file changed after the scan.
    #[error(
        "`{path}` changed after it was scanned (S3 computed a different SHA-256); it was not uploaded, run again once the build has finished writing"
    )]
    Changed {
        /// The file (relative path).
        path: String,
    },
    /// The HTTP client could not be built.
    #[error("{0}")]
    Client(String),
}

impl S3Error {
    /// Configuration and credential problems are exit 2; failed transfers are exit 4.
    #[must_use]
    pub fn exit_code(&self) -> ExitCode {
        match self {
            S3Error::MissingCredentials | S3Error::Endpoint(_) | S3Error::Refused { .. } => {
                ExitCode::BadInput
            }
            S3Error::Failed { .. } | S3Error::Changed { .. } | S3Error::Client(_) => {
                ExitCode::UploadFailed
            }
        }
    }
}

/// One object to put.
#[derive(Debug, Clone)]
struct Object {
    key: String,
    rel: String,
    path: std::path::PathBuf,
    size: u64,
    sha256: [u8; 32],
    content_type: &'static str,
}

/// Everything checked before the first request.
#[derive(Debug)]
pub struct Plan {
    credentials: Credentials,
    region: String,
    endpoint: Endpoint,
    bucket: String,
    objects: Vec<Object>,
    documents: Vec<Object>,
    concurrency: usize,
    idle: Duration,
}

/// What landed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct S3Report {
    /// `s3://bucket/key` of every object, files first, then checksums and manifest.
    pub uris: Vec<String>,
    /// Bytes uploaded.
    pub bytes: u64,
}

/// The region: the `s3-region` input, else `AWS_REGION`, else us-east-1 (as the AWS CLI).
fn region(config: &Config, env: &RunnerEnv) -> String {
    config
        .s3
        .region
        .clone()
        .or_else(|| env.aws_region.clone())
        .unwrap_or_else(|| "us-east-1".to_owned())
}

/// What needs no file to be checked (issue 26 item 8): the credentials and the endpoint,
/// before the scan, with every other destination's, so all are said at once.
#[must_use]
pub fn check_setup(config: &Config, env: &RunnerEnv) -> Vec<S3Error> {
    let mut errors = Vec::new();
    if env.aws_access_key_id.is_none() || env.aws_secret_access_key.is_none() {
        errors.push(S3Error::MissingCredentials);
    }
    let region = region(config, env);
    if let Err(e) = Endpoint::new(config.s3.endpoint.as_deref(), &region, config.s3.path_style) {
        errors.push(S3Error::Endpoint(e));
    }
    errors
}

/// Checks credentials and the endpoint and lists the objects.
pub fn plan(
    bundle: &Bundle<'_>,
    config: &Config,
    env: &RunnerEnv,
    bucket: &str,
    prefix: &str,
    idle: Duration,
) -> Result<Plan, S3Error> {
    let (Some(access_key_id), Some(secret_access_key)) = (
        env.aws_access_key_id.clone(),
        env.aws_secret_access_key.clone(),
    ) else {
        return Err(S3Error::MissingCredentials);
    };
    let region = region(config, env);
    let endpoint = Endpoint::new(config.s3.endpoint.as_deref(), &region, config.s3.path_style)
        .map_err(S3Error::Endpoint)?;
    let objects = bundle
        .manifest
        .files()
        .map(|(file, record)| Object {
            key: keys::key(prefix, file.rel()),
            rel: file.rel().to_owned(),
            path: file.path().to_path_buf(),
            size: record.size,
            sha256: record.sha256,
            content_type: crate::net::mime_type(file.rel()),
        })
        .collect();
    let documents = documents(bundle, prefix, config.s3.job_key.as_deref())?;
    Ok(Plan {
        credentials: Credentials {
            access_key_id,
            secret_access_key,
            session_token: env.aws_session_token.clone(),
        },
        region,
        endpoint,
        bucket: bucket.to_owned(),
        objects,
        documents,
        concurrency: config.upload_concurrency.unwrap_or(DEFAULT_CONCURRENCY),
        idle,
    })
}

/// The checksums file and the manifest, written by this run (not part of the scan), so
/// hashed here. With `job-key` they are `<checksums>-<key>` and
/// `stevedore-manifest-<key>.json`: jobs sharing a prefix each keep their own (a re-run of
/// a job replaces its own), and together they list every object, each relative to the
/// prefix where it lies. A merged document written with conditional writes was the other
/// way; s3s-fs 0.14.1 checks `If-None-Match`/`If-Match` before it writes, not atomically
/// with the write, so two jobs racing could both pass, and per-job names need no such
/// server guarantee at all.
fn documents(
    bundle: &Bundle<'_>,
    prefix: &str,
    job_key: Option<&str>,
) -> Result<Vec<Object>, S3Error> {
    let mut documents = Vec::new();
    let (checksums_name, manifest_name) = match job_key {
        Some(key) => (
            format!("{}-{key}", bundle.checksums_name),
            format!("stevedore-manifest-{key}.json"),
        ),
        None => (bundle.checksums_name.to_owned(), MANIFEST_NAME.to_owned()),
    };
    for (name, is_manifest, path) in [
        (checksums_name.as_str(), false, bundle.checksums),
        (manifest_name.as_str(), true, bundle.manifest_json),
    ] {
        let (size, sha256) = hash_file(path).map_err(|e| S3Error::Failed {
            key: keys::key(prefix, name),
            source: RequestError::Read {
                path: path.to_path_buf(),
                message: e.to_string(),
            },
            landed: 0,
        })?;
        documents.push(Object {
            key: keys::key(prefix, name),
            rel: name.to_owned(),
            path: path.to_path_buf(),
            size,
            sha256,
            content_type: if is_manifest {
                "application/json"
            } else {
                "text/plain; charset=utf-8"
            },
        });
    }
    Ok(documents)
}

/// Size and SHA-256 of a document written by this run (not part of the scan).
fn hash_file(path: &std::path::Path) -> std::io::Result<(u64, [u8; 32])> {
    let mut hasher = Sha256::new();
    let size = std::io::copy(&mut std::fs::File::open(path)?, &mut hasher)?;
    Ok((size, hasher.finalize().into()))
}

/// Uploads the plan. Returns what landed, and the failure that stopped it, if any.
pub fn upload(
    plan: Plan,
    runtime: &Runtime,
    reporter: &dyn Reporter,
) -> (S3Report, Option<S3Error>) {
    reporter.mask(plan.credentials.secret_access_key.expose());
    if let Some(token) = &plan.credentials.session_token {
        reporter.mask(token.expose());
    }
    let mut report = S3Report::default();
    let error = runtime
        .block_on(upload_all(plan, reporter, &mut report))
        .err();
    (report, error)
}

struct Ctx<'a> {
    client: Arc<Client>,
    parts: Arc<Semaphore>,
    reporter: &'a dyn Reporter,
}

async fn upload_all(
    plan: Plan,
    reporter: &dyn Reporter,
    report: &mut S3Report,
) -> Result<(), S3Error> {
    let http = crate::net::Http::build(
        crate::net::http_client().pool_max_idle_per_host(plan.concurrency),
        plan.idle,
    )
    .map_err(S3Error::Client)?;
    let ctx = Ctx {
        client: Arc::new(Client {
            http,
            signer: Signer::new(&plan.credentials, &plan.region),
            endpoint: plan.endpoint.clone(),
            bucket: plan.bucket.clone(),
        }),
        parts: Arc::new(Semaphore::new(PARTS_IN_FLIGHT)),
        reporter,
    };
    let started = Instant::now();
    let results =
        super::bounded::run(&plan.objects, plan.concurrency, |object| put(&ctx, object)).await;
    let mut failure: Option<(Object, RequestError)> = None;
    let mut landed = vec![false; plan.objects.len()];
    for (i, result) in results.into_iter().enumerate() {
        match result {
            Some(Ok(())) => landed[i] = true,
            Some(Err(e)) => {
                failure.get_or_insert((plan.objects[i].clone(), e));
            }
            None => {}
        }
    }
    for (object, ok) in plan.objects.iter().zip(&landed) {
        if *ok {
            report
                .uris
                .push(format!("s3://{}/{}", plan.bucket, object.key));
            report.bytes += object.size;
        }
    }
    if let Some((object, source)) = failure {
        return Err(classify(&object, source, report.uris.len()));
    }
    // Last: the checksums file and the manifest vouch for the objects above.
    for document in &plan.documents {
        if let Err(source) = put(&ctx, document).await {
            return Err(classify(document, source, report.uris.len()));
        }
        report
            .uris
            .push(format!("s3://{}/{}", plan.bucket, document.key));
        report.bytes += document.size;
    }
    reporter.event(&Event::info(format!(
        "Uploaded {} object(s), {} to s3://{}/ in {}",
        units::count(report.uris.len() as u64),
        units::bytes(report.bytes),
        plan.bucket,
        units::duration(started.elapsed())
    )));
    Ok(())
}

fn classify(object: &Object, source: RequestError, landed: usize) -> S3Error {
    match source.code() {
        Some("BadDigest" | "XAmzContentSHA256Mismatch" | "InvalidDigest") => S3Error::Changed {
            path: object.rel.clone(),
        },
        Some("SignatureDoesNotMatch" | "InvalidAccessKeyId" | "ExpiredToken" | "InvalidToken") => {
            S3Error::Refused {
                key: object.key.clone(),
                source,
                hint: "check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (and `s3-region`)",
                landed,
            }
        }
        Some("AccessDenied") => S3Error::Refused {
            key: object.key.clone(),
            source,
            hint: "the credentials may not write to this bucket or prefix (s3:PutObject)",
            landed,
        },
        Some("NoSuchBucket") => S3Error::Refused {
            key: object.key.clone(),
            source,
            hint: "check the bucket name in `destination`, `s3-endpoint` and `s3-path-style`",
            landed,
        },
        _ => S3Error::Failed {
            key: object.key.clone(),
            source,
            landed,
        },
    }
}

fn checksum_header(sha256: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(sha256)
}

async fn put(ctx: &Ctx<'_>, object: &Object) -> Result<(), RequestError> {
    if object.size > MULTIPART_THRESHOLD {
        return multipart(ctx, object).await;
    }
    let url = ctx.client.url(&object.key, "");
    let headers = [
        ("content-type", object.content_type.to_owned()),
        ("x-amz-checksum-sha256", checksum_header(&object.sha256)),
    ];
    let body = if object.size == 0 {
        Body::Empty
    } else {
        Body::File {
            path: object.path.clone(),
            len: object.size,
        }
    };
    ctx.client
        .send(
            reqwest::Method::PUT,
            &url,
            &headers,
            &body,
            Payload::Unsigned,
        )
        .await
        .map(|_| ())
}

/// A part read from disk.
struct Part {
    number: usize,
    data: Bytes,
    sha256: [u8; 32],
}

type PartResult = Result<(usize, String, [u8; 32]), RequestError>;

fn flatten(joined: Result<PartResult, tokio::task::JoinError>) -> PartResult {
    match joined {
        Ok(result) => result,
        Err(e) => Err(RequestError::Exhausted {
            last: format!("part upload stopped: {e}"),
        }),
    }
}

async fn multipart(ctx: &Ctx<'_>, object: &Object) -> Result<(), RequestError> {
    let client = &ctx.client;
    let created = client
        .send(
            reqwest::Method::POST,
            &client.url(&object.key, "uploads="),
            &[
                ("content-type", object.content_type.to_owned()),
                ("x-amz-checksum-algorithm", "SHA256".to_owned()),
            ],
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
    let reader = spawn_reader(object.path.clone(), part_size, tx);
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
    complete(&ctx.client, object, upload_id, done).await
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
) -> Result<Vec<(usize, String, [u8; 32])>, RequestError> {
    let mut uploads = tokio::task::JoinSet::new();
    let mut done: Vec<(usize, String, [u8; 32])> = Vec::new();
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
        uploads.spawn(async move {
            let headers = [("x-amz-checksum-sha256", checksum_header(&part.sha256))];
            let reply = client
                .send(
                    reqwest::Method::PUT,
                    &url,
                    &headers,
                    &Body::Bytes(part.data),
                    Payload::Unsigned,
                )
                .await;
            drop(permit);
            let etag = reply?
                .headers
                .get("etag")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            Ok((part.number, etag, part.sha256))
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
    mut done: Vec<(usize, String, [u8; 32])>,
) -> Result<(), RequestError> {
    done.sort_by_key(|(number, _, _)| *number);
    let mut xml =
        String::from("<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for (number, etag, sha256) in &done {
        let _ = write!(
            xml,
            "<Part><ChecksumSHA256>{}</ChecksumSHA256><ETag>{}</ETag><PartNumber>{number}</PartNumber></Part>",
            checksum_header(sha256),
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
            if tx
                .blocking_send(Part {
                    number,
                    data: Bytes::from(data),
                    sha256,
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
