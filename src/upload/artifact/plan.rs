//! What is decided before the first request: the runner's token and results service,
//! retention, and the artifacts to create: one zip of the selection (`archive: true`,
//! entries named as upload-artifact's archiver names them, the documents at its top) or
//! one raw artifact per file. Every name problem is found here, so nothing is created for
//! a selection that cannot be shipped whole.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::messages::{VERSION_RAW, VERSION_ZIP};
use super::transfer::Source;
use super::{ArtifactError, DEFAULT_CONCURRENCY, DEFAULT_STALL};
use crate::config::{Config, FORBIDDEN_NAME_CHARS, parse_size};
use crate::github::RunnerEnv;
use crate::github::results::token::{self, BackendIds};
use crate::github::results::twirp;
use crate::pack::PackEntry;
use crate::pack::prepack::{self, Prepack};
use crate::secret::Secret;
use crate::upload::Bundle;

/// One artifact to create.
#[derive(Debug, Clone)]
pub(super) struct Job {
    pub(super) name: String,
    pub(super) version: i32,
    pub(super) content_type: &'static str,
    pub(super) files: usize,
    pub(super) source: Source,
}

/// Which artifact protocol the runner serves.
#[derive(Debug, Clone)]
pub(super) enum Service {
    /// The results service (upload-artifact v4+): `ACTIONS_RESULTS_URL` is set.
    Results {
        results_url: String,
        ids: BackendIds,
    },
    /// The pipelines service (the v3 protocol of GitHub Enterprise Server): only
    /// `ACTIONS_RUNTIME_URL` is set.
    Pipelines { runtime_url: String, run_id: String },
}

/// Everything checked before the first request: the uploads to make and how.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(super) token: Secret,
    pub(super) service: Service,
    /// Where a v3 upload spools a large file's gzip stream (`RUNNER_TEMP`).
    pub(super) spool_dir: PathBuf,
    pub(super) retention_days: Option<u32>,
    pub(super) overwrite: bool,
    pub(super) concurrency: usize,
    pub(super) stall: Duration,
    pub(super) idle: Duration,
    pub(super) links: Option<Links>,
    pub(super) jobs: Vec<Job>,
    pub(super) warnings: Vec<String>,
}

/// What needs no file to be checked (issue 26 item 8): the runner's token and results
/// service URL, before the scan, with every other destination's, so all are said at once.
#[must_use]
pub(crate) fn check_setup(env: &RunnerEnv) -> Vec<ArtifactError> {
    let mut errors = Vec::new();
    // Only the results service needs the token's `Actions.Results` scope; the v3 protocol
    // sends the token as it is (GitHub Enterprise Server's need not name a results run).
    let v3 = env.results_url.is_none() && env.runtime_url.is_some();
    match &env.runtime_token {
        None => errors.push(ArtifactError::MissingEnv {
            var: "ACTIONS_RUNTIME_TOKEN",
        }),
        Some(_) if v3 => {}
        Some(token) => errors.extend(token::backend_ids(token.expose()).err().map(Into::into)),
    }
    match (&env.results_url, &env.runtime_url) {
        (None, None) => errors.push(ArtifactError::MissingEnv {
            var: "ACTIONS_RESULTS_URL",
        }),
        (Some(url), _) => errors.extend(twirp::origin(url).err().map(ArtifactError::ResultsUrl)),
        (None, Some(_)) => {
            if env.run_id.is_none() {
                errors.push(ArtifactError::MissingEnv {
                    var: "GITHUB_RUN_ID",
                });
            }
        }
    }
    errors.extend(spool_memory(env).err());
    errors
}

/// Bytes of the compressed zip held in memory before the spool file is used:
/// `STEVEDORE_SPOOL_MEMORY` when set. A value that is not a size is refused rather than
/// replaced by the default: whoever set it meant to bound the run's memory.
fn spool_memory(env: &RunnerEnv) -> Result<u64, ArtifactError> {
    match env.spool_memory.as_deref() {
        None => Ok(prepack::DEFAULT_MEMORY),
        // A size is more than zero; here zero means every byte spooled.
        Some(raw) if raw.trim() == "0" => Ok(0),
        Some(raw) => parse_size(raw).map_err(ArtifactError::SpoolMemory),
    }
}

/// The protocol the environment names: v4 wherever a results service is given, else v3
/// at `ACTIONS_RUNTIME_URL` (GitHub Enterprise Server gives no results service).
fn service(env: &RunnerEnv, token: &Secret) -> Result<Service, ArtifactError> {
    match (&env.results_url, &env.runtime_url) {
        (Some(results_url), _) => {
            twirp::origin(results_url).map_err(ArtifactError::ResultsUrl)?;
            Ok(Service::Results {
                results_url: results_url.clone(),
                ids: token::backend_ids(token.expose())?,
            })
        }
        (None, Some(runtime_url)) => Ok(Service::Pipelines {
            runtime_url: runtime_url.clone(),
            run_id: env.run_id.clone().ok_or(ArtifactError::MissingEnv {
                var: "GITHUB_RUN_ID",
            })?,
        }),
        (None, None) => Err(ArtifactError::MissingEnv {
            var: "ACTIONS_RESULTS_URL",
        }),
    }
}

/// The artifact's zip compressed from the scan's own reads (one read per byte), where the
/// artifact is one zip over the results service. The v3 protocol puts files one by one and
/// `archive: false` ships them raw: those read the files again. `slots`: the files, then
/// the checksums file and the manifest. Not at `compression-level: 0`, where nothing is
/// compressed and every file is read again anyway.
pub(crate) fn prepack(config: &Config, env: &RunnerEnv, files: usize) -> Option<Prepack> {
    let zip = config.ships_artifacts() && config.artifact.archive && files > 0;
    // At level 0 every entry is stored as it is, read again when the zip is streamed:
    // the two-read writer does that on every core.
    let deflated = config.artifact.compression_level > 0;
    (zip && deflated && env.results_url.is_some()).then(|| {
        Prepack::new(
            config.artifact.compression_level,
            env.temp_dir(),
            spool_memory(env).unwrap_or(prepack::DEFAULT_MEMORY),
            files + 2,
        )
    })
}

/// Checks the environment and the names, and lays out the artifacts.
pub(crate) fn plan(
    bundle: &Bundle<'_>,
    config: &Config,
    env: &RunnerEnv,
    idle: Duration,
) -> Result<Plan, ArtifactError> {
    let token = env.runtime_token.clone().ok_or(ArtifactError::MissingEnv {
        var: "ACTIONS_RUNTIME_TOKEN",
    })?;
    let service = service(env, &token)?;
    let v3 = matches!(service, Service::Pipelines { .. });

    let (retention_days, mut warnings) = retention(config, env);
    if v3 {
        check_v3(bundle)?;
        if config.overwrite {
            warnings.push(
                "`overwrite` has no effect on this runner's artifact service (the v3 protocol of GitHub Enterprise Server), which cannot delete an artifact: files are added to an artifact of the same name".into(),
            );
        }
    }

    let jobs = if config.artifact.archive {
        // The documents list the files by their names on disk: where one becomes another
        // name in the zip (`a\b` is the entry `a/b`), they would not match the artifact.
        let renamed = config.artifact.documents.then(|| {
            bundle
                .manifest
                .files()
                .map(|(f, _)| f.rel())
                .find(|rel| entry_name(rel) != *rel)
        });
        if let Some(Some(rel)) = renamed {
            warnings.push(format!(
                "the artifact holds no checksums file or manifest: `{}` is stored as `{}` (upload-artifact writes `\\` as `/`), so they would not match its files; rename it to ship them",
                rel.escape_debug(),
                entry_name(rel).escape_debug()
            ));
        }
        zip_job(bundle, config, matches!(renamed, Some(None)))?
    } else {
        raw_jobs(bundle)?
    };
    Ok(Plan {
        token,
        service,
        spool_dir: env.temp_dir(),
        retention_days,
        overwrite: config.overwrite,
        concurrency: config.upload_concurrency.unwrap_or(DEFAULT_CONCURRENCY),
        stall: env
            .artifact_upload_timeout_ms
            .map_or(DEFAULT_STALL, Duration::from_millis),
        idle,
        links: links(env),
        jobs,
        warnings,
    })
}

/// `retention-days`, clamped to what the repository allows (with a warning saying so).
fn retention(config: &Config, env: &RunnerEnv) -> (Option<u32>, Vec<String>) {
    let mut warnings = Vec::new();
    let mut retention_days = config.artifact.retention_days;
    if let (Some(days), Some(max)) = (retention_days, env.retention_days)
        && days > max
    {
        warnings.push(format!(
            "`retention-days: {days}` is more than this repository allows; the artifact is kept for {max} days"
        ));
        retention_days = Some(max);
    }
    (retention_days, warnings)
}

/// `archive: true`: one zip of every file (none when nothing was selected); two files
/// may not become one entry.
fn zip_job(
    bundle: &Bundle<'_>,
    config: &Config,
    documents: bool,
) -> Result<Vec<Job>, ArtifactError> {
    let mut seen: HashMap<String, &str> = HashMap::new();
    let mut entries: Vec<PackEntry> = Vec::new();
    for (file, record) in bundle.manifest.files() {
        let name = entry_name(file.rel());
        if let Err(problem) = crate::tree_path::check_entry_name(name.as_bytes()) {
            return Err(ArtifactError::UnsafeEntry {
                path: file.rel().escape_debug().to_string(),
                entry: name.escape_debug().to_string(),
                problem,
            });
        }
        if let Some(first) = seen.insert(name.clone(), file.rel()) {
            return Err(ArtifactError::SameEntry {
                entry: name,
                first: first.to_owned(),
                second: file.rel().to_owned(),
            });
        }
        entries.push(PackEntry {
            path: file.path().to_path_buf(),
            name,
            size: record.size,
            mode: record.mode,
            mtime: record.mtime,
            crc32: record.crc32,
        });
    }
    for entry in &entries {
        for (at, _) in entry.name.match_indices('/') {
            if let Some(file) = seen.get(&entry.name[..at]) {
                return Err(ArtifactError::EntryUnderFile {
                    path: seen
                        .get(&entry.name)
                        .map_or_else(String::new, |p| p.escape_debug().to_string()),
                    entry: entry.name.escape_debug().to_string(),
                    file: entry.name[..at].escape_debug().to_string(),
                    file_path: file.escape_debug().to_string(),
                });
            }
        }
    }
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    if documents {
        entries.extend(document_entries(bundle)?);
    }
    if let Some(prepack) = bundle.prepack {
        prepack
            .verify(&entries)
            .map_err(|source| ArtifactError::Prepacked {
                name: config.artifact.name.clone(),
                source,
            })?;
    }
    Ok(vec![Job {
        name: config.artifact.name.clone(),
        version: VERSION_ZIP,
        content_type: "application/zip",
        files: entries.len(),
        source: Source::Zip {
            entries,
            level: config.artifact.compression_level,
            prepacked: bundle.prepack.cloned(),
        },
    }])
}

/// The checksums file and the manifest as entries at the top of the zip (issue 26 item
/// 3): a downloaded artifact then carries what it is checked against, as a directory or
/// an S3 prefix does. Their names were checked against the selection's (`upload`).
fn document_entries(bundle: &Bundle<'_>) -> Result<[PackEntry; 2], ArtifactError> {
    let entry = |path: &Path, name: &str| -> Result<PackEntry, ArtifactError> {
        let meta = std::fs::metadata(path).map_err(|source| ArtifactError::Document {
            path: path.to_owned(),
            source,
        })?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
        Ok(PackEntry {
            path: path.to_owned(),
            name: name.to_owned(),
            size: meta.len(),
            mode: 0o644,
            mtime,
            crc32: None,
        })
    };
    Ok([
        entry(bundle.checksums, bundle.checksums_name)?,
        entry(bundle.manifest_json, crate::config::MANIFEST_NAME)?,
    ])
}

/// Where an artifact's page is: GitHub's by id, Gitea's and Forgejo's by name.
#[derive(Debug, Clone)]
pub(super) struct Links {
    /// `<server>/<repo>/actions/runs/<run>`.
    run_page: String,
    /// Gitea's pages: runs by their number, artifacts by name.
    gitea: bool,
}

impl Links {
    /// An artifact's page, as upload-artifact builds `artifact-url` on GitHub
    /// (`…/artifacts/<id>`), or as Gitea routes it (`…/artifacts/<name>`).
    pub(super) fn artifact(&self, id: u64, name: &str) -> String {
        if self.gitea {
            let mut url = format!("{}/artifacts/", self.run_page);
            url.extend(url_escape(name));
            url
        } else {
            format!("{}/artifacts/{id}", self.run_page)
        }
    }

    /// The run's page, where a v3 artifact is listed (the protocol has no page per artifact).
    pub(super) fn run_page(&self) -> String {
        self.run_page.clone()
    }
}

/// Percent-encodes a path segment (everything but unreserved characters).
fn url_escape(segment: &str) -> impl Iterator<Item = String> + '_ {
    segment.bytes().map(|b| {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            char::from(b).to_string()
        } else {
            format!("%{b:02X}")
        }
    })
}

/// The run's pages, when the run is known: `GITHUB_SERVER_URL` (github.com when unset),
/// the repository and the run (Gitea's pages name a run by its number).
fn links(env: &RunnerEnv) -> Option<Links> {
    let run = if env.gitea {
        env.run_number.as_ref().or(env.run_id.as_ref())
    } else {
        env.run_id.as_ref()
    };
    match (&env.repository, run) {
        (Some(repo), Some(run)) => Some(Links {
            run_page: format!(
                "{}/{repo}/actions/runs/{run}",
                env.server_url
                    .as_deref()
                    .unwrap_or("https://github.com")
                    .trim_end_matches('/')
            ),
            gitea: env.gitea,
        }),
        _ => None,
    }
}

/// What the v3 protocol cannot hold, found before anything is created: links (it stores
/// plain files). The characters the file container service refuses in a path are refused
/// for every artifact already (`select`).
fn check_v3(bundle: &Bundle<'_>) -> Result<(), ArtifactError> {
    for (file, record) in bundle.manifest.files() {
        if record.mode == crate::scan::LINK_MODE {
            return Err(ArtifactError::V3Link {
                path: file.rel().escape_debug().to_string(),
            });
        }
    }
    Ok(())
}

/// The zip entry name of a relative path, as upload-artifact's archiver writes it
/// (`archiver-utils` `sanitizePath`, through `normalize-path`): runs of `/` and `\\` become
/// one `/`, so a Unix file named `a\\b` is the entry `a/b` on every unzipper.
fn entry_name(rel: &str) -> String {
    let mut name = String::with_capacity(rel.len());
    let mut separator = false;
    for c in rel.chars() {
        if c == '/' || c == '\\' {
            separator = true;
            continue;
        }
        if separator && !name.is_empty() {
            name.push('/');
        }
        separator = false;
        name.push(c);
    }
    name
}

/// `archive: false`: one artifact per file, named after the file.
fn raw_jobs(bundle: &Bundle<'_>) -> Result<Vec<Job>, ArtifactError> {
    let mut seen: HashMap<&str, &str> = HashMap::new();
    let mut jobs = Vec::new();
    for (file, record) in bundle.manifest.files() {
        let name = file.rel().rsplit('/').next().unwrap_or(file.rel());
        if name.is_empty() || name.contains(FORBIDDEN_NAME_CHARS) {
            return Err(ArtifactError::InvalidName {
                path: file.rel().to_owned(),
                name: name.to_owned(),
            });
        }
        if let Some(first) = seen.insert(name, file.rel()) {
            return Err(ArtifactError::NameClash {
                name: name.to_owned(),
                first: first.to_owned(),
                second: file.rel().to_owned(),
            });
        }
        jobs.push(Job {
            name: name.to_owned(),
            version: VERSION_RAW,
            content_type: crate::net::mime_type(name),
            files: 1,
            source: Source::File {
                path: file.path().to_path_buf(),
                sha256: record.sha256,
            },
        });
    }
    Ok(jobs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_pages_have_the_shape_of_the_host() {
        let env = |vars: &[(&str, &str)]| {
            RunnerEnv::from_vars(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())))
        };
        let github = links(&env(&[
            ("GITHUB_REPOSITORY", "o/r"),
            ("GITHUB_RUN_ID", "99"),
            ("GITHUB_RUN_NUMBER", "7"),
            ("GITHUB_SERVER_URL", "https://ghes.example/"),
        ]))
        .expect("links");
        assert_eq!(
            github.artifact(5, "my art"),
            "https://ghes.example/o/r/actions/runs/99/artifacts/5"
        );
        assert_eq!(
            github.run_page(),
            "https://ghes.example/o/r/actions/runs/99"
        );
        // Gitea routes `/{owner}/{repo}/actions/runs/{run}/artifacts/{artifact_name}`,
        // a run by its number (routers/web/web.go, models/actions/run.go `Link`).
        for flag in ["GITEA_ACTIONS", "FORGEJO_ACTIONS"] {
            let gitea = links(&env(&[
                ("GITHUB_REPOSITORY", "o/r"),
                ("GITHUB_RUN_ID", "99"),
                ("GITHUB_RUN_NUMBER", "7"),
                ("GITHUB_SERVER_URL", "https://git.example"),
                (flag, "true"),
            ]))
            .expect("links");
            assert_eq!(
                gitea.artifact(5, "my art/ü"),
                "https://git.example/o/r/actions/runs/7/artifacts/my%20art%2F%C3%BC"
            );
        }
        assert!(links(&env(&[("GITHUB_RUN_ID", "1")])).is_none());
    }

    #[test]
    fn entry_names_are_written_as_upload_artifacts_archiver_writes_them() {
        assert_eq!(entry_name("a/b.txt"), "a/b.txt");
        assert_eq!(entry_name("back\\slash.txt"), "back/slash.txt");
        assert_eq!(entry_name("d/x\\\\y//z"), "d/x/y/z");
        assert_eq!(entry_name("héllo wörld.md"), "héllo wörld.md");
    }
}
