//! The GitHub Actions artifact destination: the same wire protocol as
//! `actions/upload-artifact` (reference/artifact-protocol.md), so `download-artifact` and
//! the artifact UI work unchanged.
//!
//! Per artifact: (with `overwrite`) delete the previous one, `CreateArtifact`, stream the
//! zip (or the raw file) into blob blocks while it is produced, commit the block list, then
//! `FinalizeArtifact` with the size and SHA-256 of exactly the bytes uploaded. Anything that
//! fails before the commit leaves nothing finalized: an uncommitted blob is invisible and
//! the service expires it.

pub(crate) mod blob;
pub(crate) mod messages;
mod plan;
pub(crate) mod transfer;
mod v3;

use self::plan::Service;
pub(crate) use self::plan::{Plan, check_setup, plan, prepack};

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::runtime::Runtime;
use tokio::sync::Semaphore;

use self::blob::{BlobError, BlobTarget};
use self::messages::{
    ArtifactIdResponse, CreateArtifactRequest, CreateArtifactResponse, FinalizeArtifactRequest,
    VERSION_RAW,
};
use self::plan::Job;
use self::transfer::TransferError;
use crate::events::{Event, Reporter};
use crate::exit_code::ExitCode;
use crate::github::pipelines::Pipelines;
use crate::github::results::messages::{
    ListArtifactsRequest, ListArtifactsResponse, NamedArtifactRequest,
};
use crate::github::results::token::{BackendIds, TokenError};
use crate::github::results::twirp::{TwirpClient, TwirpError};
use crate::net::Http;
use crate::units;

/// Blocks in flight when `upload-concurrency` is not set (the official client runs 4).
const DEFAULT_CONCURRENCY: usize = 4;
/// Stall timeout per blob request when `ACTIONS_ARTIFACT_UPLOAD_TIMEOUT_MS` is not set.
const DEFAULT_STALL: Duration = Duration::from_mins(5);

/// Why the artifact destination failed.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// A runner variable the results service needs is missing.
    #[error(
        "the artifact destination needs {var}, which the runner gives only to actions: use stevedore through its action (`uses: <owner>/stevedore@v1`), which passes it on; outside GitHub Actions choose a directory destination"
    )]
    MissingEnv { var: &'static str },
    /// The runtime token carries no backend IDs.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// `ACTIONS_RESULTS_URL` is unusable.
    #[error("{0}")]
    ResultsUrl(String),
    /// `STEVEDORE_SPOOL_MEMORY` is not a size.
    #[error(
        "STEVEDORE_SPOOL_MEMORY: {0}; it is how much of the compressed artifact is held in memory before the rest goes to a spool file in RUNNER_TEMP (0 spools everything, the default is 64MiB): fix it or unset it"
    )]
    SpoolMemory(String),
    /// An artifact of that name exists in the run (HTTP 409).
    #[error(
        "an artifact named `{name}` already exists in this workflow run: give each job's artifact a unique `name` (in a matrix, include the matrix values) and merge them later, or set `overwrite: true` to replace it"
    )]
    Conflict { name: String },
    /// An artifact of that name exists in the run, over the v3 protocol (HTTP 409), which
    /// cannot replace it.
    #[error(
        "an artifact named `{name}` already exists in this workflow run, and this runner's artifact service (the v3 protocol of GitHub Enterprise Server) cannot replace it: give each job's artifact a unique `name` (in a matrix, include the matrix values)"
    )]
    V3Conflict { name: String },
    /// The name is held by an artifact created in this run and never finalized (HTTP 409,
    /// and no listing shows it): `overwrite` only deletes listed, finalized artifacts.
    #[error(
        "an artifact named `{name}` was created in this workflow run but never finalized: a job attempt was cancelled or killed during its upload, or another job is uploading it now; the service does not list it, so `overwrite: true` cannot replace it: give this artifact another `name` (for a re-run, include `${{{{ github.run_attempt }}}}`; in a matrix, the matrix values), or start a new workflow run"
    )]
    Unfinalized { name: String },
    /// Two files would become artifacts of the same name (`archive: false`).
    #[error(
        "with `archive: false` every file becomes an artifact named after its file name, and `{first}` and `{second}` would both be `{name}`; narrow `path` so file names are unique, or keep `archive: true`"
    )]
    NameClash {
        name: String,
        /// One file.
        first: String,
        second: String,
    },
    /// A file name is not a valid artifact name (`archive: false`).
    #[error(
        "with `archive: false` the file `{path}` would be an artifact named `{name}`, but artifact names must not contain \" : < > | * ? \\ / or line breaks; rename the file or keep `archive: true`"
    )]
    InvalidName { path: String, name: String },
    /// Two files would be one zip entry (a `\\` in a name is a separator in the zip).
    #[error(
        "`{first}` and `{second}` would both be the zip entry `{entry}` (upload-artifact writes `\\` as `/`); rename one of them"
    )]
    SameEntry {
        entry: String,
        first: String,
        second: String,
    },
    /// A file whose zip entry name (after `\\` became `/`) a download would refuse or
    /// place outside its destination (issue 19 item 3): `x\\..\\..\\evil.sh`.
    #[error(
        "`{path}` cannot be shipped in an artifact: its zip entry `{entry}` {problem}, which stevedore download refuses and other unzippers may write outside their destination; exclude it with a `!` pattern in `path` or rename it"
    )]
    UnsafeEntry {
        /// The file, relative to the root (escaped for display).
        path: String,
        /// Its entry name (escaped for display).
        entry: String,
        problem: crate::tree_path::NameProblem,
    },
    /// One file's entry lies below another file's entry (`y` and `y\\z` become `y` and
    /// `y/z`): no unzipper can create both.
    #[error(
        "`{path}` cannot be shipped in an artifact: its zip entry `{entry}` lies below `{file}`, the entry of the file `{file_path}` (upload-artifact writes `\\` as `/`); rename one of them"
    )]
    EntryUnderFile {
        /// The file below (escaped for display).
        path: String,
        entry: String,
        file: String,
        /// That file's relative path (escaped for display).
        file_path: String,
    },
    /// The checksums file or the manifest cannot be read.
    #[error("cannot read `{}` to put it in the artifact: {source}", path.display())]
    Document {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The results service refused or failed.
    #[error("artifact `{name}`: {source}")]
    Service { name: String, source: TwirpError },
    /// The pipelines service (the v3 protocol) refused or failed; nothing was finalized.
    #[error("artifact `{name}`: {source}; the artifact was not finalized")]
    Pipelines {
        name: String,
        source: Box<crate::github::pipelines::PipelinesError>,
    },
    /// One file of a v3 artifact could not be put; nothing was finalized.
    #[error("artifact `{name}`: `{}`: {source}; the artifact was not finalized", path.display())]
    V3File {
        name: String,
        path: PathBuf,
        source: Box<TransferError>,
    },
    /// A link, which the v3 protocol cannot hold.
    #[error(
        "`{path}` cannot be shipped to this runner's artifact service: it is a symbolic link, and the v3 protocol (GitHub Enterprise Server's) stores plain files; set `symlinks: follow` to ship what it points to, or exclude it with a `!` pattern in `path`"
    )]
    V3Link {
        /// The file, relative to the root (escaped for display).
        path: String,
    },
    /// The service returned an upload URL that does not parse.
    #[error("artifact `{name}`: {message}")]
    UploadUrl { name: String, message: String },
    /// Moving the bytes failed; nothing was finalized.
    #[error("artifact `{name}`: {source}; the artifact was not finalized")]
    Transfer { name: String, source: TransferError },
    /// The zip compressed during the scan cannot be shipped (a file changed since its
    /// read, or the spool failed); checked before the first request.
    #[error("artifact `{name}`: {source}")]
    Prepacked {
        name: String,
        source: crate::pack::PackError,
    },
    /// Committing the blocks failed; nothing was finalized.
    #[error("artifact `{name}`: {source}; the artifact was not finalized")]
    Commit { name: String, source: BlobError },
}

impl ArtifactError {
    /// Configuration problems are exit 2; failures while uploading are exit 4.
    #[must_use]
    pub fn exit_code(&self) -> ExitCode {
        match self {
            ArtifactError::MissingEnv { .. }
            | ArtifactError::Token(_)
            | ArtifactError::ResultsUrl(_)
            | ArtifactError::SpoolMemory(_)
            | ArtifactError::Conflict { .. }
            | ArtifactError::V3Conflict { .. }
            | ArtifactError::Unfinalized { .. }
            | ArtifactError::NameClash { .. }
            | ArtifactError::InvalidName { .. }
            | ArtifactError::SameEntry { .. }
            | ArtifactError::UnsafeEntry { .. }
            | ArtifactError::EntryUnderFile { .. }
            | ArtifactError::V3Link { .. } => ExitCode::BadInput,
            ArtifactError::Service { .. }
            | ArtifactError::Document { .. }
            | ArtifactError::UploadUrl { .. }
            | ArtifactError::Transfer { .. }
            | ArtifactError::Prepacked { .. }
            | ArtifactError::Commit { .. }
            | ArtifactError::Pipelines { .. }
            | ArtifactError::V3File { .. } => ExitCode::UploadFailed,
        }
    }
}

/// One artifact that landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactReport {
    /// Its name.
    pub name: String,
    /// The id the service gave it (the v3 protocol's container id, which act gives none).
    pub id: Option<u64>,
    /// Its page, built as upload-artifact builds `artifact-url` (when the run is known);
    /// with the v3 protocol, which has no page per artifact, the run's page.
    pub url: Option<String>,
    /// Hex SHA-256 of the uploaded bytes (`artifact-digest`); none with the v3 protocol,
    /// which stores files, not one blob.
    pub digest: Option<String>,
    /// Bytes uploaded.
    pub size: u64,
    /// Files inside it.
    pub files: usize,
    /// Time from create to finalize.
    pub elapsed: Duration,
}

/// Uploads every planned artifact. Returns what landed, and the failure that stopped it, if
/// any (the same shape as the S3 and release destinations).
pub(crate) fn upload(
    plan: &Plan,
    runtime: &Runtime,
    reporter: &dyn Reporter,
) -> (Vec<ArtifactReport>, Option<ArtifactError>) {
    for warning in &plan.warnings {
        reporter.event(&Event::warning(warning.clone()));
    }
    if plan.jobs.is_empty() {
        reporter.event(&Event::info(
            "no files selected: no artifact was created".into(),
        ));
        return (Vec::new(), None);
    }
    let mut landed = Vec::new();
    let error = runtime
        .block_on(async {
            match &plan.service {
                Service::Results { .. } => upload_all(plan, reporter, &mut landed).await,
                Service::Pipelines {
                    runtime_url,
                    run_id,
                } => {
                    let http = Http::new(plan.idle).map_err(ArtifactError::ResultsUrl)?;
                    let pipelines = Pipelines::new(http, runtime_url, run_id, plan.token.clone())
                        .map_err(|source| ArtifactError::Pipelines {
                        name: plan.jobs[0].name.clone(),
                        source: Box::new(source),
                    })?;
                    v3::upload_all(plan, &pipelines, reporter, &mut landed).await
                }
            }
        })
        .err();
    (landed, error)
}

async fn upload_all(
    plan: &Plan,
    reporter: &dyn Reporter,
    landed: &mut Vec<ArtifactReport>,
) -> Result<(), ArtifactError> {
    let Service::Results { results_url, ids } = &plan.service else {
        return Ok(());
    };
    let http = Http::new(plan.idle).map_err(ArtifactError::ResultsUrl)?;
    let client = TwirpClient::new(http.clone(), results_url, plan.token.clone())
        .map_err(ArtifactError::ResultsUrl)?;
    let slots = Arc::new(Semaphore::new(plan.concurrency.max(1)));
    let ctx = Ctx {
        plan,
        ids,
        client: &client,
        http: &http,
        slots: &slots,
        reporter,
    };
    // Artifacts run concurrently (several only with `archive: false`), bounded by the same
    // number as their blocks; reports are kept in plan order.
    let results =
        super::bounded::run(&plan.jobs, plan.concurrency, |job| upload_one(&ctx, job)).await;
    gather(results, landed)
}

/// Keeps the artifacts that landed, in plan order, and returns the first failure (either
/// protocol's uploads end here).
fn gather(
    results: Vec<Option<Result<ArtifactReport, ArtifactError>>>,
    landed: &mut Vec<ArtifactReport>,
) -> Result<(), ArtifactError> {
    let mut failure = None;
    for result in results.into_iter().flatten() {
        match result {
            Ok(report) => landed.push(report),
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
    }
    failure.map_or(Ok(()), Err)
}

struct Ctx<'p> {
    plan: &'p Plan,
    ids: &'p BackendIds,
    client: &'p TwirpClient,
    http: &'p Http,
    slots: &'p Arc<Semaphore>,
    reporter: &'p dyn Reporter,
}

/// One artifact: (with `overwrite`) delete the previous one, create, move the bytes and
/// commit them, then finalize with their size and digest.
async fn upload_one(ctx: &Ctx<'_>, job: &Job) -> Result<ArtifactReport, ArtifactError> {
    let plan = ctx.plan;
    let name = job.name.as_str();
    let started = Instant::now();
    if plan.overwrite {
        delete_previous(ctx, name).await;
    }
    let created = create(ctx, job).await?;
    mask_signature(ctx.reporter, &created.signed_upload_url);
    let sent = transfer_and_commit(ctx, job, &created.signed_upload_url).await?;
    let digest = hex::encode(sent.sha256);
    let artifact_id = finalize(ctx, name, &sent, &digest).await?;
    let url = plan
        .links
        .as_ref()
        .map(|links| links.artifact(artifact_id, name));
    ctx.reporter.event(&Event::info(format!(
        "Artifact `{name}` finalized: ID {artifact_id}, {}{}",
        units::bytes(sent.size),
        url.as_ref().map(|u| format!(", {u}")).unwrap_or_default()
    )));
    Ok(ArtifactReport {
        name: name.to_owned(),
        id: Some(artifact_id),
        url,
        digest: Some(digest),
        size: sent.size,
        files: job.files,
        elapsed: started.elapsed(),
    })
}

/// Streams the artifact's bytes into blocks at the signed URL and commits the block list:
/// after this the blob exists, and only `FinalizeArtifact` makes it an artifact.
async fn transfer_and_commit(
    ctx: &Ctx<'_>,
    job: &Job,
    signed_url: &str,
) -> Result<transfer::Sent, ArtifactError> {
    let name = job.name.as_str();
    let target =
        BlobTarget::new(ctx.http.clone(), signed_url, ctx.plan.stall).map_err(|message| {
            ArtifactError::UploadUrl {
                name: name.to_owned(),
                message,
            }
        })?;
    ctx.reporter.event(&Event::info(format!(
        "Uploading artifact `{name}` ({} file(s)) to blob storage",
        units::count(job.files as u64)
    )));
    let transfer_started = Instant::now();
    let sent = transfer::transfer(&target, job.source.clone(), ctx.slots.clone())
        .await
        .map_err(|source| ArtifactError::Transfer {
            name: name.to_owned(),
            source,
        })?;
    target
        .put_block_list(&sent.block_ids, job.content_type)
        .await
        .map_err(|source| ArtifactError::Commit {
            name: name.to_owned(),
            source,
        })?;
    let transfer_time = transfer_started.elapsed();
    ctx.reporter.event(&Event::info(format!(
        "Uploaded {} in {} ({}); SHA256 digest of uploaded artifact is {}",
        units::bytes(sent.size),
        units::duration(transfer_time),
        units::rate(crate::units::throughput(sent.size, transfer_time)),
        hex::encode(sent.sha256)
    )));
    Ok(sent)
}

/// `FinalizeArtifact` with the size and digest of exactly the bytes sent; returns the
/// artifact's id.
async fn finalize(
    ctx: &Ctx<'_>,
    name: &str,
    sent: &transfer::Sent,
    digest: &str,
) -> Result<u64, ArtifactError> {
    let ids = ctx.ids;
    let service = |source| ArtifactError::Service {
        name: name.to_owned(),
        source,
    };
    let finalize = FinalizeArtifactRequest {
        workflow_run_backend_id: &ids.run,
        workflow_job_run_backend_id: &ids.job,
        name,
        size: sent.size,
        hash: Some(format!("sha256:{digest}")),
    };
    match ctx.client.call("FinalizeArtifact", &finalize).await {
        Ok(ArtifactIdResponse {
            ok: false,
            artifact_id: _,
        }) => Err(service(TwirpError::InvalidResponse {
            method: "FinalizeArtifact",
            detail: String::new(),
        })),
        Ok(done) => Ok(done.artifact_id),
        // A Finalize whose answer was lost is retried, and the retry finds nothing pending
        // (404): the first one may have finalized the artifact. It is ours if the run lists
        // it with exactly the bytes this upload sent.
        Err(e) => finalized_earlier(ctx, name, sent.size, digest)
            .await
            .ok_or_else(|| service(e)),
    }
}

/// The id of artifact `name` when the run lists it with this size and digest.
async fn finalized_earlier(ctx: &Ctx<'_>, name: &str, size: u64, digest: &str) -> Option<u64> {
    let listed = list_named(ctx, name).await.ok()?;
    let wanted = format!("sha256:{digest}");
    listed
        .artifacts
        .iter()
        .filter(|a| a.name == name && a.size == size && a.digest.as_deref() == Some(&wanted))
        .map(|a| a.database_id)
        .max()
}

/// The run's finalized artifacts named `name` (`ListArtifacts` with a name filter).
async fn list_named(ctx: &Ctx<'_>, name: &str) -> Result<ListArtifactsResponse, TwirpError> {
    let ids = ctx.ids;
    let list = ListArtifactsRequest {
        workflow_run_backend_id: &ids.run,
        workflow_job_run_backend_id: &ids.job,
        name_filter: Some(name),
        id_filter: None,
    };
    ctx.client.call("ListArtifacts", &list).await
}

/// `CreateArtifact`, with the conflict made actionable.
async fn create(ctx: &Ctx<'_>, job: &Job) -> Result<CreateArtifactResponse, ArtifactError> {
    let name = job.name.as_str();
    let mut create = CreateArtifactRequest::new(ctx.ids, name, job.version);
    create.expires_at = ctx.plan.retention_days.map(expires_at);
    if job.version == VERSION_RAW {
        create.mime_type = Some(job.content_type);
    }
    let created: CreateArtifactResponse = match ctx.client.call("CreateArtifact", &create).await {
        Ok(created) => created,
        Err(e) if e.code() == Some("already_exists") || e.status() == Some(409) => {
            return Err(conflict(ctx, name).await);
        }
        Err(e) => {
            return Err(ArtifactError::Service {
                name: name.to_owned(),
                source: e,
            });
        }
    };
    if !created.ok {
        return Err(ArtifactError::Service {
            name: name.to_owned(),
            source: TwirpError::InvalidResponse {
                method: "CreateArtifact",
                detail: String::new(),
            },
        });
    }
    Ok(created)
}

/// Why the name is taken: listings show only finalized artifacts, so a name taken by none
/// of them is held by one that was created and never finalized (a killed or cancelled
/// attempt, or a job uploading now), which `overwrite` cannot delete. A failed listing
/// keeps the ordinary conflict message.
async fn conflict(ctx: &Ctx<'_>, name: &str) -> ArtifactError {
    let listed = list_named(ctx, name).await;
    let name = name.to_owned();
    match listed {
        Ok(found) if found.artifacts.is_empty() => ArtifactError::Unfinalized { name },
        _ => ArtifactError::Conflict { name },
    }
}

/// `overwrite: true`: deletes the newest artifact of that name, as upload-artifact does.
/// Best effort: not finding one is normal, and other errors are reported as warnings (the
/// create that follows then says whether the name is still taken).
async fn delete_previous(ctx: &Ctx<'_>, name: &str) {
    let ids = ctx.ids;
    let listed = list_named(ctx, name).await;
    match listed {
        Ok(found) if found.artifacts.is_empty() => {}
        Ok(_) => {
            let delete = NamedArtifactRequest {
                workflow_run_backend_id: &ids.run,
                workflow_job_run_backend_id: &ids.job,
                name,
            };
            match ctx
                .client
                .call::<_, ArtifactIdResponse>("DeleteArtifact", &delete)
                .await
            {
                Ok(deleted) => ctx.reporter.event(&Event::info(format!(
                    "Deleted the previous artifact `{name}` (ID {}) to overwrite it",
                    deleted.artifact_id
                ))),
                Err(e) if e.status() == Some(404) => {}
                Err(e) => ctx.reporter.event(&Event::warning(format!(
                    "could not delete the previous artifact `{name}`: {e}"
                ))),
            }
        }
        Err(e) => ctx.reporter.event(&Event::warning(format!(
            "could not look for a previous artifact `{name}` to overwrite: {e}"
        ))),
    }
}

/// Masks the `sig` of a signed URL, raw and URL-encoded, as the official client does.
fn mask_signature(reporter: &dyn Reporter, url: &str) {
    if let Ok(parsed) = reqwest::Url::parse(url) {
        for (key, value) in parsed.query_pairs() {
            if key == "sig" {
                reporter.mask(&value);
                let encoded: String = reqwest::Url::parse_with_params("x:", [("s", &*value)])
                    .ok()
                    .and_then(|u| u.query().map(|q| q.trim_start_matches("s=").to_owned()))
                    .unwrap_or_default();
                reporter.mask(&encoded);
            }
        }
    }
}

/// `expires_at` for a retention of `days`, from now (UTC).
fn expires_at(days: u32) -> String {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    messages::rfc3339_millis(now + i64::from(days) * 86_400_000)
}
