//! Stage 4, upload: ships the scanned files, the checksums file and the manifest to every
//! destination. All destinations are checked before the first byte moves, so a bad
//! destination never leaves the others half-done.

pub(crate) mod artifact;
pub(crate) mod bounded;
pub(crate) mod dir;
pub(crate) mod release;
pub mod s3;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;

use crate::config::{Config, Destination};
use crate::events::{Event, Reporter};
use crate::exit_code::ExitCode;
use crate::scan::Manifest;

pub(crate) use crate::config::MANIFEST_NAME;
pub(crate) use crate::net::RuntimeError;

/// What every destination ships besides the files themselves.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bundle<'a> {
    /// The scan result (files and their hashes).
    pub(crate) manifest: &'a Manifest,
    /// Name of the checksums file (`checksums` input).
    pub(crate) checksums_name: &'a str,
    /// The checksums file, as written by the scan stage.
    pub(crate) checksums: &'a Path,
    pub(crate) manifest_json: &'a Path,
    /// The artifact's zip, compressed while the scan read the files (slots: the files in
    /// order, then the checksums file and the manifest).
    pub(crate) prepack: Option<&'a std::sync::Arc<crate::pack::prepack::Prepack>>,
    /// Directory destinations whose staging directories the scan filled.
    pub(crate) prestaged: &'a [dir::Prestaged],
}

/// The staging directories of the directory destinations, made before the scan so its
/// reads fill them (one read per byte). A destination whose checks fail here is left to
/// [`upload`], which reports it after the scan as before; so are two destinations that
/// name one directory.
pub(crate) fn prestage(
    config: &Config,
    ctx: &Context<'_>,
    selection: &crate::select::Selection,
    reporter: &dyn Reporter,
) -> Vec<dir::Prestaged> {
    let targets: Vec<PathBuf> = config
        .destinations
        .iter()
        .filter_map(|d| match d {
            Destination::Directory(path) => Some(dir::resolve(path, ctx)),
            _ => None,
        })
        .collect();
    let canonical: Vec<PathBuf> = targets.iter().map(|t| dir::canonical_lenient(t)).collect();
    if (1..canonical.len()).any(|i| canonical[..i].contains(&canonical[i])) {
        return Vec::new();
    }
    let protected = dir::protected(ctx);
    targets
        .iter()
        .filter_map(|target| {
            dir::Prestaged::new(
                target,
                &selection.root,
                config.overwrite,
                &protected,
                selection.files.len(),
                reporter,
            )
            .ok()
        })
        .collect()
}

/// Where relative destination paths start.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context<'a> {
    pub(crate) cwd: &'a Path,
    /// Home directory, for `~/`.
    pub(crate) home: Option<&'a Path>,
    /// The runner environment (service URLs and tokens).
    pub(crate) env: &'a crate::github::RunnerEnv,
}

/// Checks what every destination needs from the environment and the inputs that no file
/// decides (tokens, repository, tag, credentials, endpoints) before anything is scanned,
/// and says every problem at once rather than one per run.
pub(crate) fn check_setup(config: &Config, ctx: &Context<'_>) -> Result<(), UploadError> {
    let mut errors: Vec<UploadError> = Vec::new();
    for destination in &config.destinations {
        match destination {
            Destination::Directory(_) => {}
            Destination::Artifact => errors.extend(
                artifact::check_setup(ctx.env)
                    .into_iter()
                    .map(UploadError::from),
            ),
            Destination::S3 { .. } => errors.extend(
                s3::check_setup(config, ctx.env)
                    .into_iter()
                    .map(UploadError::from),
            ),
            Destination::Release => errors.extend(
                release::check_setup(config, ctx.env, ctx.cwd)
                    .into_iter()
                    .map(UploadError::from),
            ),
        }
    }
    let mut seen = std::collections::HashSet::new();
    errors.retain(|e| seen.insert(e.to_string()));
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        _ => Err(UploadError::Setup(errors)),
    }
}

/// Leaves out of the selection the files that lie in a directory destination: when `path`
/// selects the directory the destination is in (`stevedore . --destination ./out`), a
/// second run would otherwise ship the first run's copy into itself (`out/out`). Said
/// with a warning naming the destination.
pub(crate) fn leave_out_destinations(
    selection: &mut crate::select::Selection,
    config: &Config,
    ctx: &Context<'_>,
    reporter: &dyn Reporter,
) {
    let root = dir::canonical_lenient(&selection.root);
    for destination in &config.destinations {
        let Destination::Directory(path) = destination else {
            continue;
        };
        let target = dir::canonical_lenient(&dir::resolve(path, ctx));
        let Ok(inside) = target.strip_prefix(&root) else {
            continue;
        };
        let Some(prefix) = inside.to_str().filter(|p| !p.is_empty()) else {
            continue;
        };
        let prefix = prefix.replace(std::path::MAIN_SEPARATOR, "/");
        let before = selection.files.len();
        selection.files.retain(|f| {
            let rel = f.rel();
            !(rel == prefix
                || rel
                    .strip_prefix(prefix.as_str())
                    .is_some_and(|r| r.starts_with('/')))
        });
        let left_out = before - selection.files.len();
        if left_out > 0 {
            reporter.event(&Event::warning(format!(
                "destination `{}` lies inside what `path` selects: its {} file(s) (an earlier copy) are left out, so they are not shipped into themselves",
                path.display(),
                left_out
            )));
        }
    }
}

/// What every destination reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shipped {
    /// The destination as the user wrote it.
    pub(crate) destination: String,
    /// `Ok(location)` where the files are now, or the error message.
    pub result: Result<String, String>,
    /// Files shipped (for a directory and S3: the selection plus checksums and manifest).
    pub(crate) files: usize,
    /// Bytes shipped.
    pub(crate) bytes: u64,
    /// Time taken.
    pub(crate) elapsed: Duration,
}

/// How one destination went: what all report, and what each kind adds. A closed set,
/// matched where it is used (as cargo-dist's `HostingStyle`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DestinationReport {
    /// A directory.
    Directory(Shipped),
    /// Actions artifacts: the ones created.
    Artifact(Shipped, Vec<artifact::ArtifactReport>),
    /// An S3 prefix: the objects that landed.
    S3(Shipped, s3::S3Report),
    /// A release and its assets.
    Release(Shipped, release::ReleaseReport),
}

impl DestinationReport {
    /// What every destination reports.
    #[must_use]
    pub fn shipped(&self) -> &Shipped {
        match self {
            DestinationReport::Directory(shipped)
            | DestinationReport::Artifact(shipped, _)
            | DestinationReport::S3(shipped, _)
            | DestinationReport::Release(shipped, _) => shipped,
        }
    }

    /// The artifacts an artifact destination created (none for other kinds).
    #[must_use]
    pub(crate) fn artifacts(&self) -> &[artifact::ArtifactReport] {
        match self {
            DestinationReport::Artifact(_, landed) => landed,
            _ => &[],
        }
    }

    /// The release, for a release destination.
    #[must_use]
    pub(crate) fn release(&self) -> Option<&release::ReleaseReport> {
        match self {
            DestinationReport::Release(_, report) => Some(report),
            _ => None,
        }
    }

    /// The `s3://` URIs that landed (none for other kinds).
    #[must_use]
    pub(crate) fn s3_uris(&self) -> &[String] {
        match self {
            DestinationReport::S3(_, landed) => &landed.uris,
            _ => &[],
        }
    }
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
    /// The runtime the network destinations share could not start.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// Every destination's setup problem found before the scan (issue 26 item 8), all at
    /// once: a token, a repository, a tag, S3 credentials.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Setup(Vec<UploadError>),
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
    /// Two `destination` lines name one directory.
    #[error("`destination` names the directory `{}` twice (also as `{}`); keep one line", first.display(), second.display())]
    SameDirectory {
        /// The directory, resolved.
        first: PathBuf,
        /// The second line as written.
        second: PathBuf,
    },
    /// The destination is not a directory.
    #[error("destination `{}` exists and is not a directory", path.display())]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },
    /// `overwrite` into the working directory, the workspace, the home directory, `/` or
    /// one of their parents.
    #[error(
        "input `destination`: `{}` is {}{what}; with `overwrite` stevedore replaces what a destination directory holds, so it refuses that: ship into a directory of its own, such as `./out`",
        path.display(), if *parent { "a parent of " } else { "" }
    )]
    Protected {
        /// The destination.
        path: PathBuf,
        /// What it is.
        what: &'static str,
        /// It is a parent of that directory, not the directory itself.
        parent: bool,
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
            UploadError::Setup(all) => all.first().map_or(ExitCode::BadInput, Self::exit_code),
            UploadError::NameClash { .. }
            | UploadError::Environment(_)
            | UploadError::SameDirectory { .. }
            | UploadError::DirNotEmpty { .. }
            | UploadError::NotADirectory { .. }
            | UploadError::Overlap { .. }
            | UploadError::Protected { .. } => ExitCode::BadInput,
            UploadError::Runtime(_)
            | UploadError::Changed { .. }
            | UploadError::Write { .. }
            | UploadError::Read { .. } => ExitCode::UploadFailed,
        }
    }
}

/// A destination, checked and ready to go (a network one with the runtime it runs on).
enum Prepared {
    Directory(PathBuf, dir::Protected),
    Artifact(Box<artifact::Plan>, &'static Runtime),
    S3(Box<s3::Plan>, &'static Runtime),
    Release(Box<release::Plan>, &'static Runtime),
}

/// Checks every destination, then uploads to each in turn. Returns what landed and the
/// first failure, if any.
pub(crate) fn upload(
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
        let (report, error) = ship(prepared, &destination.to_string(), bundle, config, reporter);
        reports.push(report);
        if error.is_some() {
            return (reports, error);
        }
    }
    (reports, None)
}

/// Ships to one destination.
fn ship(
    prepared: Prepared,
    destination: &str,
    bundle: &Bundle<'_>,
    config: &Config,
    reporter: &dyn Reporter,
) -> (DestinationReport, Option<UploadError>) {
    // The request spans of the destination's own thread nest in it; on a debug re-run its
    // time is logged when it closes.
    let _span = tracing::debug_span!("destination", name = destination).entered();
    let started = Instant::now();
    let shipped = |files, bytes, location: String, error: &Option<UploadError>| Shipped {
        destination: destination.to_owned(),
        result: error.as_ref().map_or(Ok(location), |e| Err(e.to_string())),
        files,
        bytes,
        elapsed: started.elapsed(),
    };
    match prepared {
        Prepared::Directory(target, protected) => {
            let prestaged = bundle.prestaged.iter().find(|p| p.target() == target);
            let error = dir::copy(
                &target,
                bundle,
                config.overwrite,
                &protected,
                prestaged,
                reporter,
            )
            .err();
            let bytes = bundle.manifest.total_bytes
                + file_len(bundle.checksums)
                + file_len(bundle.manifest_json);
            let files = bundle.manifest.records.len() + 2;
            let done = shipped(files, bytes, target.display().to_string(), &error);
            (DestinationReport::Directory(done), error)
        }
        Prepared::Artifact(plan, runtime) => {
            let (landed, error) = artifact::upload(&plan, runtime, reporter);
            let error = error.map(UploadError::from);
            let files = landed.iter().map(|a| a.files).sum();
            let bytes = landed.iter().map(|a| a.size).sum();
            let done = shipped(files, bytes, artifact_location(&landed), &error);
            (DestinationReport::Artifact(done, landed), error)
        }
        Prepared::S3(plan, runtime) => {
            let (landed, error) = s3::upload(*plan, runtime, reporter);
            let error = error.map(UploadError::from);
            let done = shipped(
                landed.uris.len(),
                landed.bytes,
                destination.to_owned(),
                &error,
            );
            (DestinationReport::S3(done, landed), error)
        }
        Prepared::Release(plan, runtime) => {
            let (landed, error) = release::upload(&plan, runtime, reporter);
            let error = error.map(UploadError::from);
            let location = landed.url.clone().unwrap_or_default();
            let done = shipped(landed.assets.len(), landed.bytes, location, &error);
            (DestinationReport::Release(done, landed), error)
        }
    }
}

/// "name (ID n)" for one artifact, a count for several.
fn artifact_location(landed: &[artifact::ArtifactReport]) -> String {
    match landed {
        [] => "no artifact (no files)".to_owned(),
        [one] => match one.id {
            Some(id) => format!("artifact {} (ID {id})", one.name),
            None => format!("artifact {}", one.name),
        },
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
        crate::net::idle_deadline(ctx.env.http_timeout.as_deref())
            .map_err(UploadError::Environment)?
    } else {
        crate::net::DEFAULT_IDLE
    };
    let mut prepared = Vec::new();
    for destination in &config.destinations {
        match destination {
            Destination::Directory(path) => {
                let target = dir::resolve(path, ctx);
                // `./out` and `out/../out` (or a link to it) are one directory: copying there
                // twice would have the second copy replace the first half-way.
                if let Some(earlier) = prepared.iter().find_map(|p| match p {
                    Prepared::Directory(t, _)
                        if dir::canonical_lenient(t) == dir::canonical_lenient(&target) =>
                    {
                        Some(t)
                    }
                    _ => None,
                }) {
                    return Err(UploadError::SameDirectory {
                        first: earlier.clone(),
                        second: path.clone(),
                    });
                }
                let protected = dir::protected(ctx);
                dir::preflight(
                    &target,
                    &bundle.manifest.selection.root,
                    config.overwrite,
                    &protected,
                )?;
                prepared.push(Prepared::Directory(target, protected));
            }
            Destination::Artifact => prepared.push(Prepared::Artifact(
                Box::new(artifact::plan(bundle, config, ctx.env, idle)?),
                crate::net::runtime()?,
            )),
            Destination::S3 { bucket, prefix } => prepared.push(Prepared::S3(
                Box::new(s3::plan(bundle, config, ctx.env, bucket, prefix, idle)?),
                crate::net::runtime()?,
            )),
            Destination::Release => prepared.push(Prepared::Release(
                Box::new(release::plan(bundle, config, ctx.env, ctx.cwd, idle)?),
                crate::net::runtime()?,
            )),
        }
    }
    // The checksums file and the manifest travel beside the files where the destination is
    // a tree of files (a directory, an S3 prefix, an archived artifact unless
    // `artifact-documents: false`).
    let ships_documents = prepared.iter().any(|p| match p {
        Prepared::Directory(..) | Prepared::S3(..) => true,
        Prepared::Artifact(..) => config.artifact.archive && config.artifact.documents,
        Prepared::Release(..) => false,
    });
    if ships_documents {
        let job_key = config
            .destinations
            .iter()
            .any(|d| matches!(d, Destination::S3 { .. }))
            .then_some(config.s3.job_key.as_deref())
            .flatten();
        check_document_names(bundle, job_key)?;
    }
    Ok(prepared)
}

/// No selected file may take the name of the checksums file or the manifest where those
/// are shipped beside the files.
fn check_document_names(bundle: &Bundle<'_>, job_key: Option<&str>) -> Result<(), UploadError> {
    // With `job-key` (S3), the documents also ship as `<checksums>-<key>` and
    // `stevedore-manifest-<key>.json`: a selected file of either name would be overwritten.
    let keyed = job_key.map(|key| {
        (
            format!("{}-{key}", bundle.checksums_name),
            format!("stevedore-manifest-{key}.json"),
        )
    });
    for (file, _) in bundle.manifest.files() {
        let rel = file.rel();
        if rel == bundle.checksums_name || keyed.as_ref().is_some_and(|(sums, _)| rel == sums) {
            return Err(UploadError::NameClash {
                name: rel.to_owned(),
                what: "checksums file",
                fix: "set the `checksums` input (or `job-key`) to another name",
            });
        }
        if rel == MANIFEST_NAME || keyed.as_ref().is_some_and(|(_, manifest)| rel == manifest) {
            return Err(UploadError::NameClash {
                name: rel.to_owned(),
                what: "manifest",
                fix: "exclude that file with a `!` pattern in `path` (or set `job-key` to another name)",
            });
        }
    }
    Ok(())
}
