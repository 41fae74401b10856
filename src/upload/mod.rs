//! Stage 4, upload: ships the scanned files, the checksums file and the manifest to every
//! destination. All destinations are checked before the first byte moves, so a bad
//! destination never leaves the others half-done.

pub mod artifact;
pub mod bounded;
pub mod dir;
pub(crate) mod net;
pub mod release;
pub mod s3;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::config::{Config, Destination};
use crate::error::ExitCode;
use crate::report::Reporter;
use crate::scan::Manifest;

/// File name of the manifest next to the uploaded files.
pub const MANIFEST_NAME: &str = "stevedore-manifest.json";

/// What every destination ships besides the files themselves.
#[derive(Debug, Clone, Copy)]
pub struct Bundle<'a> {
    /// The scan result (files and their hashes).
    pub manifest: &'a Manifest,
    /// Name of the checksums file (`checksums` input).
    pub checksums_name: &'a str,
    /// The checksums file, as written by the scan stage.
    pub checksums: &'a Path,
    /// The manifest JSON file.
    pub manifest_json: &'a Path,
}

/// Where relative destination paths start.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// Working directory.
    pub cwd: &'a Path,
    /// Home directory, for `~/`.
    pub home: Option<&'a Path>,
    /// The runner environment (service URLs and tokens).
    pub env: &'a crate::github::RunnerEnv,
}

/// How one destination went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationReport {
    /// The destination as the user wrote it.
    pub destination: String,
    /// `Ok(location)` where the files are now, or the error message.
    pub result: Result<String, String>,
    /// Files shipped (the selection plus checksums and manifest).
    pub files: usize,
    /// Bytes shipped.
    pub bytes: u64,
    /// Time taken.
    pub elapsed: Duration,
    /// The artifacts created (artifact destination only).
    pub artifacts: Vec<artifact::ArtifactReport>,
    /// `s3://` URIs of the objects that landed (S3 destination only).
    pub s3_uris: Vec<String>,
    /// The release and its assets (release destination only).
    pub release: Option<release::ReleaseReport>,
}

/// Why an upload did not happen or did not finish.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The artifact destination failed.
    #[error(transparent)]
    Artifact(#[from] artifact::ArtifactError),
    /// The S3 destination failed.
    #[error(transparent)]
    S3(#[from] s3::S3Error),
    /// The release destination failed.
    #[error(transparent)]
    Release(#[from] release::ReleaseError),
    /// An environment variable that tunes the uploads is unusable.
    #[error("{0}")]
    Environment(String),
    /// A selected file has the name of a file stevedore adds.
    #[error("a selected file is named `{name}`, the name of the {what} stevedore uploads; {fix}")]
    NameClash {
        /// The clashing name.
        name: String,
        /// What stevedore adds under that name.
        what: &'static str,
        /// How to resolve it.
        fix: &'static str,
    },
    /// The destination directory has files and `overwrite` is false.
    #[error("destination directory `{}` is not empty; set `overwrite: true` to replace it, or choose an empty or new directory", path.display())]
    DirNotEmpty {
        /// The directory.
        path: PathBuf,
    },
    /// The destination is not a directory.
    #[error("destination `{}` exists and is not a directory", path.display())]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },
    /// Writing there would replace the files being shipped.
    #[error("destination directory `{}` contains the selected files (root `{}`); choose a directory outside it", path.display(), root.display())]
    Overlap {
        /// The destination.
        path: PathBuf,
        /// The selection root.
        root: PathBuf,
    },
    /// A file changed between the scan and the upload.
    #[error("`{}` changed after it was scanned (its SHA-256 no longer matches); nothing was published, run again once the build has finished writing", path.display())]
    Changed {
        /// The source file.
        path: PathBuf,
    },
    /// I/O failure while writing the destination.
    #[error("cannot write `{}`: {source}", path.display())]
    Write {
        /// The path being written.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// I/O failure while reading a source file.
    #[error("cannot read `{}`: {source}", path.display())]
    Read {
        /// The path being read.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl UploadError {
    /// Configuration problems are exit 2; failures during transfer are exit 4.
    #[must_use]
    pub fn exit_code(&self) -> ExitCode {
        match self {
            UploadError::Artifact(e) => e.exit_code(),
            UploadError::S3(e) => e.exit_code(),
            UploadError::Release(e) => e.exit_code(),
            UploadError::NameClash { .. }
            | UploadError::Environment(_)
            | UploadError::DirNotEmpty { .. }
            | UploadError::NotADirectory { .. }
            | UploadError::Overlap { .. } => ExitCode::BadInput,
            UploadError::Changed { .. } | UploadError::Write { .. } | UploadError::Read { .. } => {
                ExitCode::UploadFailed
            }
        }
    }
}

/// A destination, checked and ready to go.
enum Prepared {
    Directory(PathBuf),
    Artifact(Box<artifact::Plan>),
    S3(Box<s3::Plan>),
    Release(Box<release::Plan>),
}

/// Checks every destination, then uploads to each in turn. Returns what landed and the
/// first failure, if any.
pub fn upload(
    bundle: &Bundle<'_>,
    config: &Config,
    ctx: &Context<'_>,
    reporter: &dyn Reporter,
) -> (Vec<DestinationReport>, Option<UploadError>) {
    let prepared = match preflight(bundle, config, ctx) {
        Ok(p) => p,
        Err(e) => return (Vec::new(), Some(e)),
    };
    let mut reports = Vec::new();
    for (destination, prepared) in config.destinations.iter().zip(prepared) {
        let started = Instant::now();
        let mut report = DestinationReport {
            destination: destination.to_string(),
            result: Ok(String::new()),
            files: 0,
            bytes: 0,
            elapsed: Duration::ZERO,
            artifacts: Vec::new(),
            s3_uris: Vec::new(),
            release: None,
        };
        let outcome = match prepared {
            Prepared::Directory(target) => dir::copy(&target, bundle, config.overwrite, reporter)
                .map(|()| {
                    report.files = bundle.manifest.records.len() + 2;
                    report.bytes = bundle.manifest.total_bytes
                        + file_len(bundle.checksums)
                        + file_len(bundle.manifest_json);
                    target.display().to_string()
                }),
            Prepared::Artifact(plan) => {
                let (landed, error) = artifact::upload(*plan, reporter);
                report.files = landed.iter().map(|a| a.files).sum();
                report.bytes = landed.iter().map(|a| a.size).sum();
                let location = artifact_location(&landed);
                report.artifacts = landed;
                error.map_or(Ok(location), |e| Err(e.into()))
            }
            Prepared::S3(plan) => {
                let (landed, error) = s3::upload(*plan, reporter);
                report.files = landed.uris.len();
                report.bytes = landed.bytes;
                report.s3_uris = landed.uris;
                error.map_or(Ok(destination.to_string()), |e| Err(e.into()))
            }
            Prepared::Release(plan) => {
                let (landed, error) = release::upload(&plan, reporter);
                report.files = landed.assets.len();
                let location = landed.url.clone().unwrap_or_default();
                report.release = Some(landed);
                error.map_or(Ok(location), |e| Err(e.into()))
            }
        };
        report.elapsed = started.elapsed();
        match outcome {
            Ok(location) => {
                report.result = Ok(location);
                reports.push(report);
            }
            Err(e) => {
                report.result = Err(e.to_string());
                reports.push(report);
                return (reports, Some(e));
            }
        }
    }
    (reports, None)
}

/// "name (ID n)" for one artifact, a count for several.
fn artifact_location(landed: &[artifact::ArtifactReport]) -> String {
    match landed {
        [] => "no artifact (no files)".to_owned(),
        [one] => format!("artifact {} (ID {})", one.name, one.id),
        many => format!("{} artifacts", many.len()),
    }
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Everything that can be known to fail before any upload starts.
fn preflight(
    bundle: &Bundle<'_>,
    config: &Config,
    ctx: &Context<'_>,
) -> Result<Vec<Prepared>, UploadError> {
    let needs_network = config
        .destinations
        .iter()
        .any(|d| !matches!(d, Destination::Directory(_)));
    let idle = if needs_network {
        net::idle_deadline(ctx.env.http_timeout.as_deref()).map_err(UploadError::Environment)?
    } else {
        net::DEFAULT_IDLE
    };
    let mut prepared = Vec::new();
    for destination in &config.destinations {
        match destination {
            Destination::Directory(path) => {
                let target = dir::resolve(path, ctx);
                dir::preflight(&target, &bundle.manifest.selection.root, config.overwrite)?;
                prepared.push(Prepared::Directory(target));
            }
            Destination::Artifact => prepared.push(Prepared::Artifact(Box::new(artifact::plan(
                bundle, config, ctx.env, idle,
            )?))),
            Destination::S3 { bucket, prefix } => prepared.push(Prepared::S3(Box::new(s3::plan(
                bundle, config, ctx.env, bucket, prefix, idle,
            )?))),
            Destination::Release => prepared.push(Prepared::Release(Box::new(release::plan(
                bundle, config, ctx.env, idle,
            )?))),
        }
    }
    // The checksums file and the manifest travel beside the files where the destination is
    // a tree of files (a directory, an S3 prefix); an artifact holds exactly the selection,
    // as upload-artifact's does.
    let ships_documents = prepared
        .iter()
        .any(|p| matches!(p, Prepared::Directory(_) | Prepared::S3(_)));
    if !ships_documents {
        return Ok(prepared);
    }
    for (file, _) in bundle.manifest.files() {
        if file.rel == bundle.checksums_name {
            return Err(UploadError::NameClash {
                name: file.rel.clone(),
                what: "checksums file",
                fix: "set the `checksums` input to another name",
            });
        }
        if file.rel == MANIFEST_NAME {
            return Err(UploadError::NameClash {
                name: file.rel.clone(),
                what: "manifest",
                fix: "exclude that file with a `!` pattern in `path`",
            });
        }
    }
    Ok(prepared)
}
