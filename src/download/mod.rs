//! `stevedore download`: artifacts of this run (results service) or of another run (REST
//! API with `github-token`) come back exactly as they left. Per artifact: the blob is
//! streamed into a spool file while its SHA-256 is computed and compared with the listed
//! digest (`digest-mismatch` decides), then extracted (`extract`: CRC-32 and sizes checked,
//! modes and links restored, hostile entries refused) into a staging directory beside
//! `path`. Artifacts download concurrently; extracting one overlaps downloading the next.
//! Only when every artifact verified is the staged tree moved into `path` (`place`); a
//! failure removes the staging directory and leaves `path` as it was (exit 4).
//!
//! Layout as download-artifact v8: one artifact (by `name`, or the only one listed or
//! matched) goes into `path`; several go into `path/<name>/` each, or with
//! `merge-multiple: true` all into `path`, where two different files with one path are an
//! error naming both artifacts (identical copies are fine), never a silent overwrite.

pub mod extract;
pub(crate) mod fetch;
mod inputs;
mod links;
pub(crate) mod place;
pub(crate) mod source;
mod v3;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;

use self::fetch::{Fetched, Kind};
pub use self::inputs::{DOWNLOAD_INPUTS, DownloadInputs};
pub(crate) use self::inputs::{
    DigestMismatch, DownloadConfig, DownloadConfigError, Origin, Wanted,
};
pub(crate) use self::place::PlaceError;
use self::place::{DirModes, Staging};
pub(crate) use self::source::Listed;
use self::source::Source;
use crate::events::{Event, Progress, Reporter, with_progress};
use crate::exit_code::ExitCode;
use crate::github::RunnerEnv;
use crate::net::Http;
use crate::units;

/// Artifacts downloading at once (download-artifact runs 5).
const CONCURRENCY: usize = 4;

/// Why a download failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DownloadError {
    /// Invalid inputs.
    #[error(transparent)]
    Config(#[from] DownloadConfigError),
    /// A runner variable the results service needs is missing.
    #[error(
        "downloading this run's artifacts needs {var}, which the runner gives only to actions: use `uses: <owner>/stevedore/download@v1`, which passes it on, or give `github-token`, `repository` and `run-id` to download through the REST API"
    )]
    MissingEnv { var: &'static str },
    /// The environment is unusable (a results URL, the runtime token, the HTTP deadline).
    #[error("{0}")]
    Environment(String),
    /// What was asked for is not in the run.
    #[error("{what} not found in the workflow run; it has {}", available_list(.available))]
    NotFound {
        /// What was asked for, naming the input.
        what: String,
        /// The names (and ids) the run has.
        available: Vec<String>,
    },
    /// The artifacts could not be listed.
    #[error("cannot list the run's artifacts: {0}")]
    List(String),
    /// An artifact name that cannot be a directory name.
    #[error(
        "artifact `{name}` cannot be downloaded into `path/{name}`: the name {problem}; download it by `artifact-ids` alone or with `merge-multiple: true`"
    )]
    Name {
        /// The name (control characters made visible).
        name: String,
        problem: crate::tree_path::NameProblem,
    },
    /// One artifact failed (download or extraction).
    #[error("artifact `{name}` (id {id}): {message}; `path` was left as it was")]
    Artifact {
        name: String,
        id: u64,
        message: String,
    },
    /// `digest-mismatch: error` and bytes whose SHA-256 is not the listed digest.
    #[error(
        "digest validation failed for artifact(s) {}: the downloaded bytes' SHA-256 differs from the digest the service listed; `path` was left as it was (use `digest-mismatch: warn` to accept them)",
        .names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
    )]
    Digest { names: Vec<String> },
    /// Merging or placing the verified result failed.
    #[error("{0}{tail}", tail = place_tail(.0))]
    Place(#[from] PlaceError),
    /// The HTTP runtime could not start.
    #[error("{0}")]
    Runtime(String),
}

/// What a placement error adds: whether `path` is as it was.
fn place_tail(e: &PlaceError) -> &'static str {
    if e.left_path_as_it_was() {
        "; `path` was left as it was"
    } else {
        ""
    }
}

fn available_list(names: &[String]) -> String {
    if names.is_empty() {
        return "no artifacts".into();
    }
    let shown: Vec<String> = names.iter().take(20).map(|n| format!("`{n}`")).collect();
    let more = names.len().saturating_sub(shown.len());
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

impl DownloadError {
    /// The exit code: 2 for inputs and environment, 4 for transfers, 1 for the runtime.
    #[must_use]
    pub(crate) fn exit_code(&self) -> ExitCode {
        match self {
            DownloadError::Config(_)
            | DownloadError::MissingEnv { .. }
            | DownloadError::Environment(_)
            | DownloadError::NotFound { .. } => ExitCode::BadInput,
            DownloadError::Runtime(_) => ExitCode::Internal,
            _ => ExitCode::UploadFailed,
        }
    }
}

/// One downloaded artifact.
#[derive(Debug, Clone)]
pub(crate) struct ArtifactReport {
    pub(crate) name: String,
    pub(crate) id: u64,
    /// The SHA-256 of the downloaded bytes, `sha256:<hex>`.
    pub(crate) digest: String,
    /// The digest the service listed (`None`: it listed none, so nothing was compared).
    pub(crate) listed_digest: Option<String>,
    /// Files it held (1 for a raw artifact).
    pub(crate) files: u64,
    /// Bytes of those files.
    pub(crate) bytes: u64,
    /// Bytes downloaded (the zip's size).
    pub(crate) downloaded: u64,
    pub(crate) path: PathBuf,
}

/// What a download did.
#[derive(Debug, Clone, Default)]
pub(crate) struct DownloadReport {
    /// `path`.
    pub(crate) path: PathBuf,
    /// Each artifact, in listing order.
    pub(crate) artifacts: Vec<ArtifactReport>,
    /// Artifacts whose digest differed (with `digest-mismatch` other than `error`).
    pub(crate) mismatches: Vec<String>,
    /// Identical copies `merge-multiple` dropped: files and bytes, not counted twice.
    pub(crate) merged_duplicates: (u64, u64),
    /// Wall time.
    pub(crate) elapsed: Duration,
}

impl DownloadReport {
    /// Files restored (an identical copy merged from two artifacts counts once).
    #[must_use]
    pub(crate) fn files(&self) -> u64 {
        let all: u64 = self.artifacts.iter().map(|a| a.files).sum();
        all - self.merged_duplicates.0
    }

    /// Bytes of those files.
    #[must_use]
    pub(crate) fn bytes(&self) -> u64 {
        let all: u64 = self.artifacts.iter().map(|a| a.bytes).sum();
        all - self.merged_duplicates.1
    }
}

/// Where one artifact's files go in the staging tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// Straight into `path`.
    Single,
    /// `path/<name>/`.
    Separate,
    /// Its own part, merged into `path` afterwards.
    Merge,
}

/// Downloads what `config` asks for into `config.path`.
pub(crate) fn download(
    config: &DownloadConfig,
    env: &RunnerEnv,
    reporter: &dyn Reporter,
) -> Result<DownloadReport, DownloadError> {
    let started = Instant::now();
    let idle = crate::net::idle_deadline(env.http_timeout.as_deref())
        .map_err(DownloadError::Environment)?;
    let runtime = crate::net::runtime().map_err(|e| DownloadError::Runtime(e.to_string()))?;
    let source = Source::new(&config.origin, env, idle)?;
    reporter.stage("Listing artifacts");
    let listed = runtime.block_on(source.list())?;
    let chosen = choose(&config.wanted, listed, reporter)?;
    let mut report = DownloadReport {
        path: config.path.clone(),
        ..DownloadReport::default()
    };
    if chosen.is_empty() {
        reporter.event(&Event::warning(
            "no artifact matched: nothing was downloaded".into(),
        ));
        report.elapsed = started.elapsed();
        return Ok(report);
    }
    let layout = if matches!(config.wanted, Wanted::Name(_)) || chosen.len() == 1 {
        Layout::Single
    } else if config.merge_multiple {
        Layout::Merge
    } else {
        Layout::Separate
    };
    if layout == Layout::Separate
        && let Some((bad, problem)) = chosen.iter().find_map(|a| {
            crate::tree_path::check_component(&a.name)
                .err()
                .map(|p| (a, p))
        })
    {
        return Err(DownloadError::Name {
            name: extract::names::shown(bad.name.as_bytes()),
            problem,
        });
    }
    let total: u64 = chosen.iter().map(|a| a.size).sum();
    let size = if total == 0 && chosen.iter().any(|a| a.container.is_some()) {
        String::new()
    } else {
        format!(" ({})", units::bytes(total))
    };
    reporter.stage(&format!(
        "Downloading {}{size}",
        units::plural(chosen.len() as u64, "artifact"),
    ));
    reporter.listing(&chosen.iter().map(listed_line).collect::<Vec<_>>());
    let staging = Staging::create(&config.path)?;
    let http = Http::new(idle).map_err(DownloadError::Environment)?;
    let progress = Progress::default();
    let results = with_progress(reporter, &progress, total, &downloaded, || {
        let ctx = Ctx {
            http: &http,
            source: &source,
            staging: &staging,
            layout,
            config,
            progress: &progress,
            reporter,
        };
        runtime.block_on(transfer_all(&ctx, &chosen))
    });
    let mut mismatched = Vec::new();
    let mut modes = DirModes::new();
    for done in results? {
        if done.mismatch {
            mismatched.push(done.report.name.clone());
        }
        // Merged artifacts share directories: the first to bring one gives its mode.
        for (dir, mode) in done.dirs {
            modes.entry(dir).or_insert(mode);
        }
        report.artifacts.push(done.report);
    }
    if !mismatched.is_empty() && config.digest_mismatch == DigestMismatch::Error {
        return Err(DownloadError::Digest { names: mismatched });
    }
    report.mismatches = mismatched;
    place_all(
        staging,
        &chosen,
        layout,
        &config.path,
        &modes,
        &mut report,
        reporter,
    )?;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// One chosen artifact as the log lists it.
fn listed_line(a: &Listed) -> String {
    if a.container.is_some() {
        // The v3 protocol lists no digest, and act neither an id nor a size.
        let id = if a.id == 0 {
            String::new()
        } else {
            format!("id {}, ", a.id)
        };
        return format!("{} ({id}v3: files fetched one by one)", a.name);
    }
    format!(
        "{} (id {}, {}, {})",
        a.name,
        a.id,
        units::bytes(a.size),
        a.digest.as_deref().unwrap_or("no digest listed")
    )
}

/// Merges the parts (`merge-multiple`), then moves the verified tree into `path`.
fn place_all(
    staging: Staging,
    chosen: &[Listed],
    layout: Layout,
    path: &Path,
    modes: &DirModes,
    report: &mut DownloadReport,
    reporter: &dyn Reporter,
) -> Result<(), DownloadError> {
    if layout == Layout::Merge {
        reporter.stage("Merging");
        let mut owners = HashMap::new();
        for (i, artifact) in chosen.iter().enumerate() {
            let (files, bytes) = place::merge(
                &staging.part(i),
                &staging.out(),
                &artifact.name,
                &mut owners,
            )?;
            report.merged_duplicates.0 += files;
            report.merged_duplicates.1 += bytes;
        }
    }
    for failed in staging.commit(path, modes)? {
        reporter.event(&Event::warning(format!(
            "the download is in place, but a directory's mode could not be restored: {failed}"
        )));
    }
    Ok(())
}

/// The artifacts `wanted` names, from the run's listing.
fn choose(
    wanted: &Wanted,
    listed: Vec<Listed>,
    reporter: &dyn Reporter,
) -> Result<Vec<Listed>, DownloadError> {
    let available = || {
        listed
            .iter()
            .map(|a| format!("{} (id {})", a.name, a.id))
            .collect::<Vec<_>>()
    };
    match wanted {
        Wanted::Name(name) => match listed.iter().find(|a| &a.name == name) {
            Some(a) => Ok(vec![a.clone()]),
            None => Err(DownloadError::NotFound {
                what: format!("artifact `{name}` (input `name`)"),
                available: available(),
            }),
        },
        Wanted::Ids(ids) => {
            let found: Vec<Listed> = listed
                .iter()
                .filter(|a| ids.contains(&a.id))
                .cloned()
                .collect();
            if found.is_empty() {
                return Err(DownloadError::NotFound {
                    what: format!(
                        "none of the artifact ids {} (input `artifact-ids`)",
                        ids.iter()
                            .map(u64::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    available: available(),
                });
            }
            let missing: Vec<String> = ids
                .iter()
                .filter(|id| !found.iter().any(|a| a.id == **id))
                .map(u64::to_string)
                .collect();
            if !missing.is_empty() {
                reporter.event(&Event::warning(format!(
                    "could not find artifact id(s) {} in the run",
                    missing.join(", ")
                )));
            }
            Ok(found)
        }
        Wanted::Pattern(None) => Ok(listed),
        Wanted::Pattern(Some((_, matcher))) => Ok(listed
            .into_iter()
            .filter(|a| matcher.is_match(&a.name))
            .collect()),
    }
}

/// One artifact's outcome.
struct Done {
    report: ArtifactReport,
    mismatch: bool,
    /// Its directories' modes, relative to `path` (applied once placed).
    dirs: Vec<(String, u32)>,
}

/// The parts of one download that every artifact's transfer shares.
struct Ctx<'a> {
    http: &'a Http,
    source: &'a Source,
    staging: &'a Staging,
    layout: Layout,
    config: &'a DownloadConfig,
    progress: &'a Progress,
    reporter: &'a dyn Reporter,
}

/// Every artifact, [`CONCURRENCY`] at a time, in listing order; after a failure no new
/// one starts, but those running finish, so nothing writes into the staging directory once
/// it is removed. The first failure is returned, not the artifacts skipped because of it.
async fn transfer_all(ctx: &Ctx<'_>, chosen: &[Listed]) -> Result<Vec<Done>, DownloadError> {
    let stop = AtomicBool::new(false);
    let stop = &stop;
    let mut results: Vec<(usize, Option<Result<Done, DownloadError>>)> =
        futures_util::stream::iter(chosen.iter().enumerate())
            .map(|(i, artifact)| async move {
                if stop.load(Ordering::Relaxed) {
                    return (i, None);
                }
                let result = transfer(ctx, artifact, i).await;
                let failed = match &result {
                    Err(_) => true,
                    Ok(done) => {
                        done.mismatch && ctx.config.digest_mismatch == DigestMismatch::Error
                    }
                };
                if failed {
                    stop.store(true, Ordering::Relaxed);
                }
                (i, Some(result))
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
    results.sort_by_key(|(i, _)| *i);
    let mut done = Vec::with_capacity(results.len());
    for (_, result) in results {
        if let Some(result) = result {
            done.push(result?);
        }
    }
    Ok(done)
}

/// One artifact: fetched into its spool file, its digest compared, then unpacked into
/// its place in the staging tree.
async fn transfer(ctx: &Ctx<'_>, artifact: &Listed, i: usize) -> Result<Done, DownloadError> {
    let Ctx {
        http,
        source,
        staging,
        layout,
        config,
        progress,
        reporter,
    } = *ctx;
    let fail = |message: String| DownloadError::Artifact {
        name: artifact.name.clone(),
        id: artifact.id,
        message,
    };
    let (dir, shown) = match layout {
        Layout::Single => (staging.out(), config.path.clone()),
        Layout::Separate => (
            staging.out().join(&artifact.name),
            config.path.join(&artifact.name),
        ),
        Layout::Merge => (staging.part(i), config.path.clone()),
    };
    if let (Source::Pipelines(pipelines), Some(container)) = (source, &artifact.container) {
        let got = v3::fetch(pipelines, &artifact.name, container, &dir, progress)
            .await
            .map_err(fail)?;
        let prefix = if layout == Layout::Separate {
            format!("{}/", artifact.name)
        } else {
            String::new()
        };
        return Ok(finished(
            ArtifactReport {
                name: artifact.name.clone(),
                id: artifact.id,
                digest: String::new(),
                listed_digest: None,
                files: got.files,
                bytes: got.bytes,
                downloaded: got.received,
                path: shown,
            },
            false,
            got.dirs
                .into_iter()
                .map(|d| (format!("{prefix}{d}"), 0o755))
                .collect(),
            1,
            progress,
            reporter,
        ));
    }
    let spool = staging.spool(i);
    let fetched = fetch::fetch(http, source, artifact, &spool, progress)
        .await
        .map_err(fail)?;
    let mismatch = check_digest(artifact, &fetched, config.digest_mismatch, reporter);
    let mut report = ArtifactReport {
        name: artifact.name.clone(),
        id: artifact.id,
        digest: fetched.digest.clone(),
        listed_digest: artifact.digest.clone(),
        files: 0,
        bytes: 0,
        downloaded: fetched.bytes,
        path: shown,
    };
    if mismatch && config.digest_mismatch == DigestMismatch::Error {
        // Nothing of it is extracted: the run fails and the staging directory goes.
        return Ok(Done {
            report,
            mismatch,
            dirs: Vec::new(),
        });
    }
    let kind = fetched.kind.clone();
    let Unpacked {
        files,
        bytes,
        mut dirs,
    } = tokio::task::spawn_blocking(move || unpack(&kind, &spool, &dir))
        .await
        .map_err(|e| fail(format!("the extraction thread failed: {e}")))?
        .map_err(fail)?;
    if layout == Layout::Separate {
        for (dir, _) in &mut dirs {
            *dir = format!("{}/{dir}", artifact.name);
        }
    }
    report.files = files;
    report.bytes = bytes;
    Ok(finished(
        report,
        mismatch,
        dirs,
        fetched.attempts,
        progress,
        reporter,
    ))
}

/// An artifact in its place in the staging tree: counted and said.
fn finished(
    report: ArtifactReport,
    mismatch: bool,
    dirs: Vec<(String, u32)>,
    attempts: u32,
    progress: &Progress,
    reporter: &dyn Reporter,
) -> Done {
    progress.files.fetch_add(1, Ordering::Relaxed);
    let digest = if report.digest.is_empty() {
        String::new()
    } else {
        format!(", {}", report.digest)
    };
    reporter.event(&Event::info(format!(
        "{}: {} ({}) in {} attempt(s){digest}",
        report.name,
        units::plural(report.files, "file"),
        units::bytes(report.bytes),
        attempts,
    )));
    Done {
        report,
        mismatch,
        dirs,
    }
}

/// Compares the downloaded bytes' SHA-256 with the listed digest; true on a mismatch
/// (reported as `digest-mismatch` says, except `error`, which the caller fails on).
fn check_digest(
    artifact: &Listed,
    fetched: &Fetched,
    mode: DigestMismatch,
    reporter: &dyn Reporter,
) -> bool {
    let Some(listed) = &artifact.digest else {
        reporter.event(&Event::debug(format!(
            "{}: the service listed no digest; the download was not compared",
            artifact.name
        )));
        return false;
    };
    if listed.eq_ignore_ascii_case(&fetched.digest) {
        return false;
    }
    let message = format!(
        "artifact `{}` digest validation failed: listed {listed}, downloaded {}",
        artifact.name, fetched.digest
    );
    match mode {
        DigestMismatch::Ignore | DigestMismatch::Error => {}
        DigestMismatch::Info => reporter.event(&Event::info(message)),
        DigestMismatch::Warn => reporter.event(&Event::warning(message)),
    }
    true
}

/// What one artifact became in the staging directory.
struct Unpacked {
    files: u64,
    bytes: u64,
    /// Its directories' modes, relative to its directory (applied once placed).
    dirs: Vec<(String, u32)>,
}

/// Extracts a zip into the empty directory `dir` (created here), or moves a raw file
/// into it under its name. The spool file is gone afterwards.
fn unpack(kind: &Kind, spool: &Path, dir: &Path) -> Result<Unpacked, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
    let result = match kind {
        Kind::Zip => {
            // Probed on the staging directory, which is on `path`'s file system.
            let options = extract::ExtractOptions {
                defer_directory_modes: true,
                ..extract::ExtractOptions::for_destination(dir)
            };
            extract::extract_zip(spool, dir, &options, &|_| {})
                .map(|done| Unpacked {
                    files: done.files,
                    bytes: done.bytes,
                    dirs: done.dirs,
                })
                .map_err(|e| e.to_string())
        }
        Kind::Raw(name) => {
            let target = dir.join(name);
            std::fs::rename(spool, &target)
                .and_then(|()| std::fs::metadata(&target))
                .map(|meta| Unpacked {
                    files: 1,
                    bytes: meta.len(),
                    dirs: Vec::new(),
                })
                .map_err(|e| format!("cannot save `{}`: {e}", target.display()))
        }
    };
    let _ = std::fs::remove_file(spool);
    result
}

/// The download's progress line: bytes of the total, rate, artifacts finished.
fn downloaded(progress: &Progress, total: u64, elapsed: Duration) -> String {
    let bytes = progress.bytes.load(Ordering::Relaxed);
    format!(
        "downloaded {} of {}, {}, {} artifact(s) done",
        units::bytes(bytes),
        units::bytes(total),
        units::rate(units::throughput(bytes, elapsed)),
        progress.files.load(Ordering::Relaxed)
    )
}
