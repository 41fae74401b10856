//! The end of every run, whatever stage it reached: step outputs first (building them can
//! add a warning), then the job summary (rendered once, also for the check run), the
//! console summary, and the annotations.

use std::fs;
use std::path::Path;
use std::time::Instant;

use super::commands::{Annotation, Severity};
use super::log::{LogReporter, Mode};
use super::{Outcome, Reached, annotations, check_run, outputs, summary};
use crate::error::Error;
use crate::exit_code::ExitCode;
use crate::github::RunnerEnv;
use crate::units;
use crate::upload::DestinationReport;

/// Writes everything the run reports, whatever stage it reached: step outputs, the job
/// summary, the console summary, annotations and the check run. Returns the exit code.
pub(crate) fn finish(
    env: &RunnerEnv,
    cwd: &Path,
    log: &LogReporter,
    state: &Reached,
    error: Option<&Error>,
    started: Instant,
) -> ExitCode {
    log.end_group();
    let mut code = error.map_or(ExitCode::Success, Error::exit_code);
    // Outputs first: building them can add a warning, which the annotations must include.
    if let Some(path) = &env.output_file
        && let Err(e) = outputs::write(path, &outputs::step_outputs(state, log))
    {
        log.line(&format!("error: {e}"));
        if code == ExitCode::Success {
            code = ExitCode::Internal;
        }
    }
    let warnings = log.warnings();
    let outcome = Outcome {
        reached: state,
        error,
        warnings: &warnings,
        workspace: env.workspace.as_deref().or(Some(cwd)),
        elapsed: started.elapsed(),
    };
    let want_summary = state.config.as_ref().is_none_or(|c| c.summary);
    let summary_file = env.summary_file.as_ref().filter(|_| want_summary);
    let check_run = state.config.as_ref().is_some_and(|c| c.check_run);
    // Rendered once, for the job summary and the check run alike.
    let rendered = (summary_file.is_some() || check_run)
        .then(|| super::redact::text(&summary::render(&outcome)).into_owned());
    if let (Some(path), Some(text)) = (summary_file, &rendered) {
        append_job_summary(log, path, text);
    }

    console_summary(log, &outcome);
    let mut notes: Vec<Annotation> = annotations::build(&outcome);
    if let Some(text) = rendered.as_deref().filter(|_| check_run) {
        // A check run that cannot be published is one more warning, printed with the rest.
        notes.extend(publish_check_run(env, log, state, &outcome, text, code));
    }
    print_annotations(log, &notes);
    code
}

/// Appends the rendered summary to `$GITHUB_STEP_SUMMARY`, where earlier steps' summaries
/// are kept. A summary that cannot be written costs a warning, not the run.
pub(crate) fn append_job_summary(log: &LogReporter, path: &Path, text: &str) {
    if let Err(e) = fs::OpenOptions::new()
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
}

/// Workflow commands inside Actions; elsewhere the same annotations as plain lines,
/// fenced, since messages quote file names.
/// Annotations as workflow commands in Actions, else as `error:`/`warning:` lines.
pub(crate) fn print_annotations(log: &LogReporter, notes: &[Annotation]) {
    if log.mode() == Mode::Actions {
        for a in notes {
            log.command(&a.to_command());
        }
        return;
    }
    let lines: Vec<String> = notes
        .iter()
        .map(|a| {
            let severity = if a.severity == Severity::Error {
                "error"
            } else {
                "warning"
            };
            format!("{severity}: {}", a.message)
        })
        .collect();
    log.listing(&lines);
}

/// `check-run: true`: the summary and every located annotation as a check run. Problems
/// here are returned as a warning annotation: the upload has happened.
fn publish_check_run(
    env: &RunnerEnv,
    log: &LogReporter,
    state: &Reached,
    outcome: &Outcome<'_>,
    summary: &str,
    code: ExitCode,
) -> Option<Annotation> {
    let warn = |message: String| Some(Annotation::new(Severity::Warning, "stevedore", message));
    let token = state.config.as_ref().and_then(|c| c.token.clone());
    let (Some(token), Some(repo), Some(sha)) = (token, env.repository.clone(), env.sha.clone())
    else {
        return warn("`check-run: true` needs `token`, GITHUB_REPOSITORY and GITHUB_SHA (set by the runner); no check run was published".into());
    };
    let idle = match crate::net::idle_deadline(env.http_timeout.as_deref()) {
        Ok(idle) => idle,
        Err(e) => return warn(format!("{e}; no check run was published")),
    };
    let target = check_run::Target {
        api_url: env.api_url().to_owned(),
        repo,
        sha,
        token,
        idle,
    };
    let (mut errors, warnings) = annotations::all(outcome);
    errors.extend(warnings);
    match check_run::publish(&target, code == ExitCode::Success, summary, &errors) {
        Ok(url) => {
            log.line(&format!("check run: {url}"));
            None
        }
        Err(e) => warn(format!("could not publish the check run: {e}")),
    }
}

fn console_summary(log: &LogReporter, outcome: &Outcome<'_>) {
    if let Some(m) = outcome.manifest() {
        log.line(&format!(
            "stevedore: {}, {}, {} duplicate(s), {} finding(s), scanned in {}, total {}",
            units::plural(m.records.len() as u64, "file"),
            units::bytes(m.total_bytes),
            units::count(m.duplicate_files() as u64),
            units::count(m.open_findings() as u64),
            units::duration(m.elapsed),
            units::duration(outcome.elapsed)
        ));
    }
    if outcome.error.is_none() && outcome.config().is_some_and(|c| c.destinations.is_empty()) {
        log.line(if log.mode() == Mode::Actions {
            "nothing was shipped: the destination is `none` (a dry run)"
        } else {
            "dry run: nothing was shipped; to ship, add --destination ./DIR (or s3://bucket/prefix, artifact, release)"
        });
    }
    if let Some(p) = outcome.manifest_path() {
        log.line(&format!("manifest: {}", p.display()));
    }
    if let Some(p) = outcome.checksums_path() {
        log.line(&format!("checksums: {}", p.display()));
    }
    for d in outcome
        .destinations()
        .iter()
        .map(DestinationReport::shipped)
    {
        match &d.result {
            Ok(location) => log.line(&format!(
                "{}: done, {} files -> {location}",
                d.destination, d.files
            )),
            Err(e) => log.line(&format!("{}: failed: {e}", d.destination)),
        }
    }
}
