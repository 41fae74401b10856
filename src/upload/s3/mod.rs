//! The S3 destination (`s3://bucket/prefix`, any S3-compatible server).
//!
//! Every object is a signed `PutObject` whose `x-amz-checksum-sha256` (signed) is the scan's
//! SHA-256, so the server verifies each byte against the scan; files above
//! [`MULTIPART_THRESHOLD`] go up as multipart uploads with parts in parallel, each part
//! carrying its own SHA-256, the whole file re-hashed as it is read and compared with the
//! scan before the upload is completed (an incomplete upload is aborted). Objects go up
//! concurrently (`upload-concurrency`, default 32); the checksums file and the manifest go
//! last, so their presence means every object listed in them landed.

pub(crate) mod client;
pub(crate) mod keys;
mod multipart;
mod shared;
pub(crate) mod sign;

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use tokio::runtime::Runtime;
use tokio::sync::Semaphore;

use self::client::{Body, Client, RequestError};
use self::keys::Endpoint;
use self::sign::{Credentials, Payload, Signer};
use super::{Bundle, MANIFEST_NAME};
use crate::config::{Config, ContentTypeRule, S3Checksum, S3Options};
use crate::events::{Event, Reporter};
use crate::exit_code::ExitCode;
use crate::github::RunnerEnv;
use crate::units;

/// Objects in flight when `upload-concurrency` is not set.
const DEFAULT_CONCURRENCY: usize = 32;
/// Files larger than this are multipart uploads.
pub(crate) const MULTIPART_THRESHOLD: u64 = 64 * 1024 * 1024;
/// Most URIs written to the `s3-uris` output (the manifest lists every file).
pub(crate) const MAX_URIS_OUTPUT: usize = 1000;

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
        "`{path}` changed after it was scanned (S3 computed a different checksum of the bytes it received); it was not uploaded, run again once the build has finished writing"
    )]
    Changed {
        /// The file (relative path).
        path: String,
    },
    /// The HTTP client could not be built: in practice a CA variable naming nothing usable
    /// (`net::TrustError`), which is configuration, as for the other destinations.
    #[error("{0}")]
    Client(String),
}

impl S3Error {
    /// Configuration and credential problems are exit 2; failed transfers are exit 4.
    #[must_use]
    pub(crate) fn exit_code(&self) -> ExitCode {
        match self {
            S3Error::MissingCredentials
            | S3Error::Endpoint(_)
            | S3Error::Refused { .. }
            | S3Error::Client(_) => ExitCode::BadInput,
            S3Error::Failed { .. } | S3Error::Changed { .. } => ExitCode::UploadFailed,
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
    /// CRC-32 of the bytes, when `s3-checksum: crc32` asked the scan for it.
    crc32: Option<u32>,
    /// CRC-32C of the bytes, when `s3-checksum: crc32c` asked the scan for it.
    crc32c: Option<u32>,
    content_type: String,
}

/// Everything checked before the first request.
#[derive(Debug)]
pub(crate) struct Plan {
    credentials: Credentials,
    region: String,
    endpoint: Endpoint,
    bucket: String,
    objects: Vec<Object>,
    documents: Vec<Object>,
    concurrency: usize,
    idle: Duration,
    checksum: S3Checksum,
    /// The destination's prefix (keys start with it).
    prefix: String,
    /// The documents may meet another job's or run's (no `job-key`, no `overwrite`):
    /// written only where nothing is, else merged (`shared`).
    shared_documents: bool,
    /// What every object is stored with (`s3-cache-control`, `s3-acl`, ...), as headers of
    /// `PutObject` and `CreateMultipartUpload`.
    stored_with: Vec<(&'static str, String)>,
}

/// What landed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct S3Report {
    /// `s3://bucket/key` of every object, files first, then checksums and manifest.
    pub(crate) uris: Vec<String>,
    /// Bytes uploaded.
    pub(crate) bytes: u64,
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
pub(crate) fn check_setup(config: &Config, env: &RunnerEnv) -> Vec<S3Error> {
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
pub(crate) fn plan(
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
            crc32: record.crc32,
            crc32c: record.crc32c,
            content_type: content_type(&config.s3.content_types, file.rel()),
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
        checksum: config.s3.checksum,
        prefix: keys::key(prefix, ""),
        shared_documents: config.s3.job_key.is_none() && !config.overwrite,
        stored_with: stored_with(&config.s3),
    })
}

/// The checksums file and the manifest, written by this run (not part of the scan), so
/// hashed here. With `job-key` they are `<checksums>-<key>` and
/// `stevedore-manifest-<key>.json`: jobs sharing a prefix each keep their own (a re-run of
/// a job replaces its own), and together they list every object, each relative to the
/// prefix where it lies; per-job names need no server guarantee at all. Without it, the
/// documents are written with conditional writes and merged (`shared`).
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
        let (size, sha256, crc32, crc32c) = hash_file(path).map_err(|e| S3Error::Failed {
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
            crc32: Some(crc32),
            crc32c: Some(crc32c),
            content_type: if is_manifest {
                "application/json"
            } else {
                "text/plain; charset=utf-8"
            }
            .to_owned(),
        });
    }
    Ok(documents)
}

/// Size, SHA-256, CRC-32 and CRC-32C of a document written by this run (not part of the
/// scan).
fn hash_file(path: &std::path::Path) -> std::io::Result<(u64, [u8; 32], u32, u32)> {
    use std::io::Read as _;
    let mut file = std::fs::File::open(path)?;
    let (mut sha256, mut crc32) = (Sha256::new(), crc32fast::Hasher::new());
    let (mut crc32c, mut size) = (0u32, 0u64);
    // In pieces: a manifest of a large tree runs to hundreds of megabytes.
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let piece = &buf[..n];
        sha256.update(piece);
        crc32.update(piece);
        crc32c = crc32c::crc32c_append(crc32c, piece);
        size += n as u64;
    }
    Ok((size, sha256.finalize().into(), crc32.finalize(), crc32c))
}

/// Uploads the plan. Returns what landed, and the failure that stopped it, if any.
pub(crate) fn upload(
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
    checksum: S3Checksum,
    stored_with: &'a [(&'static str, String)],
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
        parts: Arc::new(Semaphore::new(multipart::PARTS_IN_FLIGHT)),
        reporter,
        checksum: plan.checksum,
        stored_with: &plan.stored_with,
    };
    let started = Instant::now();
    let multipart_keys: Vec<&str> = plan
        .objects
        .iter()
        .filter(|o| o.size > MULTIPART_THRESHOLD)
        .map(|o| o.key.as_str())
        .collect();
    let aborted = multipart::abort_leftovers(&ctx, &plan.prefix, &multipart_keys).await;
    if aborted > 0 {
        reporter.event(&Event::info(format!(
            "Aborted {aborted} incomplete multipart upload(s) an earlier run left under the keys this run writes"
        )));
    }
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
        let written = if plan.shared_documents {
            shared::write(&ctx, document, &plan.bucket).await
        } else {
            put(&ctx, document)
                .await
                .map(|()| (document.key.clone(), document.size))
        };
        let (key, size) = match written {
            Ok(written) => written,
            Err(source) => return Err(classify(document, source, report.uris.len())),
        };
        report.uris.push(format!("s3://{}/{key}", plan.bucket));
        report.bytes += size;
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

/// The headers an object is created with: its type and what `stored_with` asks of
/// every object.
fn stored_headers(ctx: &Ctx<'_>, object: &Object) -> Vec<(&'static str, String)> {
    let mut headers = vec![("content-type", object.content_type.clone())];
    headers.extend(ctx.stored_with.iter().cloned());
    headers
}

/// `s3-content-type`'s first line matching `rel`, else the type the extension suggests.
fn content_type(rules: &[ContentTypeRule], rel: &str) -> String {
    rules
        .iter()
        .find(|rule| rule.glob.as_ref().is_none_or(|g| g.is_match(rel)))
        .map_or_else(
            || crate::net::mime_type(rel).to_owned(),
            |rule| rule.content_type.clone(),
        )
}

/// The object settings as AWS names their headers (S3 API reference, `PutObject`).
fn stored_with(options: &S3Options) -> Vec<(&'static str, String)> {
    [
        ("cache-control", &options.cache_control),
        ("x-amz-acl", &options.acl),
        ("x-amz-storage-class", &options.storage_class),
        ("x-amz-server-side-encryption", &options.sse),
        (
            "x-amz-server-side-encryption-aws-kms-key-id",
            &options.sse_kms_key_id,
        ),
    ]
    .into_iter()
    .filter_map(|(name, value)| value.clone().map(|v| (name, v)))
    .collect()
}

/// The checksum header a body is sent with, and how its payload is signed: a checksum
/// header beside `UNSIGNED-PAYLOAD` (`crc` is the CRC `mode` names), or (`none`) no header
/// and the body's SHA-256 as the signed payload hash (`sha256_hex`).
fn checksum_headers<'h>(
    mode: S3Checksum,
    sha256: &[u8; 32],
    crc: u32,
    sha256_hex: &'h str,
) -> (Vec<(&'static str, String)>, Payload<'h>) {
    match mode {
        S3Checksum::Sha256 => (
            vec![("x-amz-checksum-sha256", checksum_header(sha256))],
            Payload::Unsigned,
        ),
        S3Checksum::Crc32 => (
            vec![("x-amz-checksum-crc32", checksum_header(&crc.to_be_bytes()))],
            Payload::Unsigned,
        ),
        S3Checksum::Crc32c => (
            vec![("x-amz-checksum-crc32c", checksum_header(&crc.to_be_bytes()))],
            Payload::Unsigned,
        ),
        S3Checksum::None => (Vec::new(), Payload::Sha256(sha256_hex)),
    }
}

fn checksum_header(sha256: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(sha256)
}

async fn put(ctx: &Ctx<'_>, object: &Object) -> Result<(), RequestError> {
    if object.size > MULTIPART_THRESHOLD {
        return multipart::multipart(ctx, object).await;
    }
    put_body(ctx, object, &file_body(object), &[])
        .await
        .map(|_| ())
}

/// An object's file as a request body, streamed from disk (re-opened on every attempt).
fn file_body(object: &Object) -> Body {
    if object.size == 0 {
        Body::Empty
    } else {
        Body::File {
            path: object.path.clone(),
            len: object.size,
        }
    }
}

/// One `PutObject` of `object`'s key with `body` (its bytes, as the object's size, hashes
/// and type say), and `conditions` (`If-None-Match`, `If-Match`) beside its headers.
async fn put_body(
    ctx: &Ctx<'_>,
    object: &Object,
    body: &Body,
    conditions: &[(&'static str, String)],
) -> Result<client::Reply, RequestError> {
    let url = ctx.client.url(&object.key, "");
    let mut headers = stored_headers(ctx, object);
    let sha256_hex = hex::encode(object.sha256);
    // The scan computes the CRC `s3-checksum` names; a record without it is checked by
    // its SHA-256 rather than not at all.
    let crc = match ctx.checksum {
        S3Checksum::Crc32 => object.crc32,
        S3Checksum::Crc32c => object.crc32c,
        S3Checksum::Sha256 | S3Checksum::None => Some(0),
    };
    let (checksums, payload) = match crc {
        Some(crc) => checksum_headers(ctx.checksum, &object.sha256, crc, &sha256_hex),
        None => checksum_headers(S3Checksum::Sha256, &object.sha256, 0, &sha256_hex),
    };
    headers.extend(checksums);
    headers.extend(conditions.iter().cloned());
    ctx.client
        .send(reqwest::Method::PUT, &url, &headers, body, payload)
        .await
}
