//! The pipeline: config -> select -> scan -> gate -> upload -> report. Each stage takes
//! the previous stage's result; the report is written whatever stage the run ended in.

use std::fs::{self, File};
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::config::{Config, RawInputs};
use crate::error::{Error, ExitCode};
use crate::gate::{GateOutcome, gate};
use crate::github::RunnerEnv;
use crate::report::commands::Annotation;
use crate::report::log::LogReporter;
use crate::report::{Event, Outcome, Reporter, annotations, format, outputs, summary};
use crate::scan::secrets::SecretScanner;
use crate::scan::{Manifest, Progress, ScanOptions, checksums, scan};
use crate::select::{SelectOptions, select};
use crate::upload::{self, Bundle, DestinationReport};

/// Largest `hashes` output written; job outputs are limited to 1 MB in total.
const MAX_HASHES_OUTPUT: usize = 512 * 1024;
/// File names listed in the log before "…and N more".
const LISTED_FILES: usize = 20;

/// Everything a run starts from.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The environment.
    pub env: RunnerEnv,
    /// The inputs.
    pub inputs: RawInputs,
    /// Working directory.
    pub cwd: PathBuf,
}

/// What the run accumulated, stage by stage.
#[derive(Default)]
struct State {
    config: Option<Config>,
    manifest: Option<Manifest>,
    gate: Option<GateOutcome>,
    destinations: Vec<DestinationReport>,
    checksums: Option<PathBuf>,
    manifest_path: Option<PathBuf>,
}

/// Runs stevedore and returns the exit code. Everything the user sees goes through `log`.
pub fn run(invocation: &Invocation, log: &LogReporter) -> ExitCode {
    let started = Instant::now();
    let mut state = State::default();
    let result = pipeline(invocation, log, &mut state);
    log.end_group();
    finish(invocation, log, &state, result.as_ref().err(), started)
}

fn pipeline(inv: &Invocation, log: &LogReporter, state: &mut State) -> Result<(), Error> {
    let config = Config::from_raw(&inv.inputs, inv.env.github_actions)?;
    if let Some(token) = &config.token {
        // Masked before anything else is printed.
        log.add_mask(token.expose());
    }
    for warning in &config.warnings {
        log.event(&Event::warning(warning.clone()));
    }
    let config = state.config.insert(config);

    log.stage("Selecting files");
    let selection = select_stage(inv, config, log)?;

    log.stage(&format!(
        "Scanning {} files",
        format::count(selection.files.len() as u64)
    ));
    let manifest = state.manifest.insert(scan_stage(selection, config, log)?);
    let work = work_dir(&inv.env)?;
    let checksums_path = work.join(&config.checksums_name);
    let manifest_path = work.join("manifest.json");
    write_documents(manifest, &checksums_path, &manifest_path)?;
    state.checksums = Some(checksums_path.clone());
    state.manifest_path = Some(manifest_path.clone());

    log.stage("Checking policies");
    let verdict = state.gate.insert(gate(manifest, config));
    if !verdict.passed() {
        return Err(Error::Policy {
            count: verdict.violations.len(),
        });
    }

    let mut result = Ok(());
    if !config.destinations.is_empty() {
        log.stage("Uploading");
        let bundle = Bundle {
            manifest,
            checksums_name: &config.checksums_name,
            checksums: &checksums_path,
            manifest_json: &manifest_path,
        };
        let ctx = upload::Context {
            cwd: &inv.cwd,
            home: inv.env.home.as_deref(),
            env: &inv.env,
        };
        let (reports, error) = upload::upload(&bundle, config, &ctx, log);
        state.destinations = reports;
        result = error.map_or(Ok(()), |e| Err(e.into()));
    }
    result
}

fn select_stage(
    inv: &Invocation,
    config: &Config,
    log: &LogReporter,
) -> Result<crate::select::Selection, Error> {
    let artifact_paths = config
        .destinations
        .iter()
        .any(|d| matches!(d, crate::config::Destination::Artifact));
    let options = SelectOptions {
        patterns: &config.path,
        cwd: &inv.cwd,
        home: inv.env.home.as_deref(),
        include_hidden: config.include_hidden_files,
        artifact_paths,
    };
    let selection = select(&options, log)?;
    log.line(&format!(
        "With the provided path, there will be {} file(s) uploaded from `{}`",
        selection.files.len(),
        selection.root.display()
    ));
    let mut listing: Vec<String> = selection
        .files
        .iter()
        .take(LISTED_FILES)
        .map(|f| format!("  {}", f.rel))
        .collect();
    if selection.files.len() > LISTED_FILES {
        listing.push(format!(
            "  …and {} more",
            format::count((selection.files.len() - LISTED_FILES) as u64)
        ));
    }
    log.listing(&listing);
    Ok(selection)
}

fn scan_stage(
    selection: crate::select::Selection,
    config: &Config,
    log: &LogReporter,
) -> Result<Manifest, Error> {
    let scanner = (config.secrets != crate::config::SecretsMode::Off).then(SecretScanner::new);
    let progress = Progress::default();
    let total = selection.files.len() as u64;
    let options = ScanOptions {
        secrets: scanner.as_ref(),
        secrets_allow: &config.secrets_allow_set,
        progress: &progress,
        // The zip writer checks every archived entry against the scan's CRC-32.
        crc32: config.artifact.archive
            && config
                .destinations
                .iter()
                .any(|d| matches!(d, crate::config::Destination::Artifact)),
    };
    let manifest = log.with_progress(&progress, total, || scan(selection, &options))?;
    log.line(&format!(
        "hashed {} files, {} in {} ({})",
        format::count(manifest.records.len() as u64),
        format::bytes(manifest.total_bytes),
        format::duration(manifest.elapsed),
        format::rate(crate::scan::throughput(
            manifest.total_bytes,
            manifest.elapsed
        ))
    ));
    Ok(manifest)
}

/// Writes the checksums file and the manifest, in parallel, streamed through buffers so
/// memory does not grow with the number of files.
fn write_documents(
    manifest: &Manifest,
    checksums_path: &Path,
    manifest_path: &Path,
) -> Result<(), Error> {
    let io_err = |path: &Path| {
        let context = format!("cannot write `{}`", path.display());
        move |source| Error::Io { context, source }
    };
    let (sums, json) = rayon::join(
        || -> std::io::Result<()> {
            let mut out = BufWriter::with_capacity(1 << 20, File::create(checksums_path)?);
            checksums::write(manifest, &mut out)?;
            out.flush()
        },
        || -> std::io::Result<()> {
            let mut out = BufWriter::with_capacity(1 << 20, File::create(manifest_path)?);
            manifest.write_json(&mut out)?;
            out.flush()
        },
    );
    sums.map_err(io_err(checksums_path))?;
    json.map_err(io_err(manifest_path))
}

/// A fresh directory for this run's manifest and checksums.
fn work_dir(env: &RunnerEnv) -> Result<PathBuf, Error> {
    let dir = env.temp_dir().join(format!(
        "stevedore-{}",
        &crate::report::commands::random_token()[..12]
    ));
    fs::create_dir_all(&dir).map_err(|source| Error::Io {
        context: format!("cannot create `{}`", dir.display()),
        source,
    })?;
    Ok(dir)
}

fn finish(
    inv: &Invocation,
    log: &LogReporter,
    state: &State,
    error: Option<&Error>,
    started: Instant,
) -> ExitCode {
    let mut code = error.map_or(ExitCode::Success, Error::exit_code);
    // Outputs first: building them can add a warning, which the annotations must include.
    if let Some(path) = &inv.env.output_file
        && let Err(e) = outputs::write(path, &step_outputs(state, log))
    {
        log.line(&format!("error: {e}"));
        if code == ExitCode::Success {
            code = ExitCode::Internal;
        }
    }
    let warnings = log.warnings();
    let outcome = Outcome {
        config: state.config.as_ref(),
        manifest: state.manifest.as_ref(),
        gate: state.gate.as_ref(),
        destinations: &state.destinations,
        error,
        warnings: &warnings,
        checksums_path: state.checksums.as_deref(),
        manifest_path: state.manifest_path.as_deref(),
        workspace: inv.env.workspace.as_deref().or(Some(inv.cwd.as_path())),
        elapsed: started.elapsed(),
    };
    let want_summary = state.config.as_ref().is_none_or(|c| c.summary);
    let summary_file = inv.env.summary_file.as_ref().filter(|_| want_summary);
    let check_run = state.config.as_ref().is_some_and(|c| c.check_run);
    // Rendered once, for the job summary and the check run alike.
    let rendered = (summary_file.is_some() || check_run)
        .then(|| log.redact(&summary::render(&outcome)).into_owned());
    if let (Some(path), Some(text)) = (summary_file, &rendered)
        && let Err(e) = fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
    {
        log.line(&format!(
            "warning: cannot write the job summary to `{}`: {e}",
            path.display()
        ));
    }

    console_summary(log, &outcome);
    let mut notes: Vec<Annotation> = annotations::build(&outcome);
    if let Some(text) = rendered.as_deref().filter(|_| check_run) {
        // A check run that cannot be published is one more warning, printed with the rest.
        notes.extend(publish_check_run(inv, log, state, &outcome, text, code));
    }
    if log.mode() == crate::report::log::Mode::Actions {
        for a in &notes {
            log.command(&a.to_command());
        }
    } else {
        // The same annotations as plain lines, fenced: messages quote file names.
        let lines: Vec<String> = notes
            .iter()
            .map(|a| {
                format!(
                    "{}: {}",
                    if a.severity == crate::report::commands::Severity::Error {
                        "error"
                    } else {
                        "warning"
                    },
                    a.message
                )
            })
            .collect();
        log.listing(&lines);
    }
    code
}

/// `check-run: true`: the summary and every located annotation as a check run. Problems
/// here are returned as a warning annotation: the upload has happened.
fn publish_check_run(
    inv: &Invocation,
    log: &LogReporter,
    state: &State,
    outcome: &Outcome<'_>,
    summary: &str,
    code: ExitCode,
) -> Option<Annotation> {
    let warn = |message: String| {
        Some(Annotation::new(
            crate::report::commands::Severity::Warning,
            "stevedore",
            message,
        ))
    };
    let token = state.config.as_ref().and_then(|c| c.token.clone());
    let (Some(token), Some(repo), Some(sha)) =
        (token, inv.env.repository.clone(), inv.env.sha.clone())
    else {
        return warn("`check-run: true` needs `token`, GITHUB_REPOSITORY and GITHUB_SHA (set by the runner); no check run was published".into());
    };
    let idle = match crate::upload::net::idle_deadline(inv.env.http_timeout.as_deref()) {
        Ok(idle) => idle,
        Err(e) => return warn(format!("{e}; no check run was published")),
    };
    let target = crate::report::check_run::Target {
        api_url: inv
            .env
            .api_url
            .clone()
            .unwrap_or_else(|| "https://api.github.com".into()),
        repo,
        sha,
        token,
        idle,
    };
    let (mut errors, warnings) = annotations::all(outcome);
    errors.extend(warnings);
    match crate::report::check_run::publish(&target, code == ExitCode::Success, summary, &errors) {
        Ok(url) => {
            log.line(&format!("check run: {url}"));
            None
        }
        Err(e) => warn(format!("could not publish the check run: {e}")),
    }
}

fn step_outputs(state: &State, log: &LogReporter) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(m) = &state.manifest {
        out.push(("files", m.records.len().to_string()));
        out.push(("bytes", m.total_bytes.to_string()));
        out.push(("duplicates", m.duplicate_files().to_string()));
        out.push(("findings", m.open_findings().to_string()));
    }
    if let Some(p) = &state.manifest_path {
        out.push(("manifest", p.display().to_string()));
    }
    artifact_outputs(state, &mut out);
    s3_outputs(state, &mut out);
    release_outputs(state, &mut out);
    if let Some(path) = &state.checksums {
        out.push(("checksums", path.display().to_string()));
        let size = fs::metadata(path).map_or(0, |m| usize::try_from(m.len()).unwrap_or(usize::MAX));
        let encoded = checksums::base64_len(size);
        let read = if encoded <= MAX_HASHES_OUTPUT {
            fs::read(path).map(Some)
        } else {
            Ok(None)
        };
        match read {
            // The checksums file names every file: a name holding a credential would leave
            // the runner base64-encoded, where no masker recognises it.
            Ok(Some(bytes)) if carries_credential(&bytes) => log.event(&Event::warning(
                "the `hashes` output is left empty: a file name in the checksums file looks like a credential; read the file at the `checksums` output instead".into(),
            )),
            Ok(Some(bytes)) => out.push(("hashes", checksums::hashes_output(&bytes))),
            Ok(None) => log.event(&Event::warning(format!(
                "the `hashes` output is left empty: base64 of the checksums file is {}, over the {} budget for job outputs; read the file at the `checksums` output instead",
                format::bytes(encoded as u64),
                format::bytes(MAX_HASHES_OUTPUT as u64)
            ))),
            Err(e) => log.line(&format!("warning: cannot read `{}`: {e}", path.display())),
        }
    }
    out
}

fn carries_credential(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    crate::redact::text(&text) != text
}

/// `artifact-id`, `artifact-url`, `artifact-digest`: plain values for one artifact, as
/// upload-artifact writes them; with `archive: false` and several files, JSON objects
/// keyed by artifact name.
fn artifact_outputs(state: &State, out: &mut Vec<(&'static str, String)>) {
    let landed: Vec<&crate::upload::artifact::ArtifactReport> = state
        .destinations
        .iter()
        .flat_map(|d| &d.artifacts)
        .collect();
    match landed.as_slice() {
        [] => {}
        [one] => {
            out.push(("artifact-id", one.id.to_string()));
            if let Some(url) = &one.url {
                out.push(("artifact-url", url.clone()));
            }
            out.push(("artifact-digest", one.digest.clone()));
        }
        many => {
            let map = |f: &dyn Fn(
                &crate::upload::artifact::ArtifactReport,
            ) -> Option<serde_json::Value>| {
                serde_json::Value::Object(
                    many.iter()
                        .filter_map(|a| f(a).map(|v| (a.name.clone(), v)))
                        .collect(),
                )
                .to_string()
            };
            out.push(("artifact-id", map(&|a| Some(a.id.into()))));
            out.push(("artifact-url", map(&|a| a.url.clone().map(Into::into))));
            out.push(("artifact-digest", map(&|a| Some(a.digest.clone().into()))));
        }
    }
}

/// `release-id`, `release-url`, `assets` (JSON: asset name -> download URL).
fn release_outputs(state: &State, out: &mut Vec<(&'static str, String)>) {
    for report in state.destinations.iter().filter_map(|d| d.release.as_ref()) {
        if let Some(id) = report.id {
            out.push(("release-id", id.to_string()));
        }
        if let Some(url) = &report.url {
            out.push(("release-url", url.clone()));
        }
        let assets: serde_json::Map<String, serde_json::Value> = report
            .assets
            .iter()
            .map(|(name, url)| (name.clone(), url.as_str().into()))
            .collect();
        out.push(("assets", serde_json::Value::Object(assets).to_string()));
    }
}

/// `s3-uris`: a JSON list, bounded (the manifest lists every file).
fn s3_outputs(state: &State, out: &mut Vec<(&'static str, String)>) {
    let wanted = state.config.as_ref().is_some_and(|c| {
        c.destinations
            .iter()
            .any(|d| matches!(d, crate::config::Destination::S3 { .. }))
    });
    if !wanted {
        return;
    }
    let uris: Vec<serde_json::Value> = state
        .destinations
        .iter()
        .flat_map(|d| &d.s3_uris)
        .take(crate::upload::s3::MAX_URIS_OUTPUT)
        .map(|u| serde_json::Value::from(u.as_str()))
        .collect();
    out.push(("s3-uris", serde_json::Value::from(uris).to_string()));
}

fn console_summary(log: &LogReporter, outcome: &Outcome<'_>) {
    if let Some(m) = outcome.manifest {
        log.line(&format!(
            "stevedore: {} files, {}, {} duplicate(s), {} finding(s), scanned in {}, total {}",
            format::count(m.records.len() as u64),
            format::bytes(m.total_bytes),
            format::count(m.duplicate_files() as u64),
            format::count(m.open_findings() as u64),
            format::duration(m.elapsed),
            format::duration(outcome.elapsed)
        ));
    }
    if let Some(p) = outcome.manifest_path {
        log.line(&format!("manifest: {}", p.display()));
    }
    if let Some(p) = outcome.checksums_path {
        log.line(&format!("checksums: {}", p.display()));
    }
    for d in outcome.destinations {
        match &d.result {
            Ok(location) => log.line(&format!(
                "{}: done, {} files -> {location}",
                d.destination, d.files
            )),
            Err(e) => log.line(&format!("{}: failed: {e}", d.destination)),
        }
    }
}
