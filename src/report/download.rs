//! The end of a `stevedore download` run: step outputs (`download-path`, `artifacts`,
//! `files`, `bytes`), a job-summary section, a console summary and the annotations. Artifact
//! names come from whoever uploaded them: every one goes through the same display filter
//! (`log`, `format`, `commands`) as file names do in an upload's report.

use std::path::Path;
use std::time::Instant;

use super::commands::{Annotation, Severity};
use super::format::{code, markdown, shorten};
use super::log::LogReporter;
use super::{annotations, outputs};
use crate::download::{DownloadError, DownloadReport};
use crate::exit_code::ExitCode;
use crate::github::RunnerEnv;
use crate::units;

/// Rows in the summary's table.
const MAX_ROWS: usize = 100;

/// Writes outputs, summary, console lines and annotations for a download; returns the exit
/// code.
pub(crate) fn finish(
    env: &RunnerEnv,
    log: &LogReporter,
    result: &Result<DownloadReport, DownloadError>,
    started: Instant,
) -> ExitCode {
    log.end_group();
    let mut code = result
        .as_ref()
        .err()
        .map_or(ExitCode::Success, DownloadError::exit_code);
    if let (Some(path), Ok(report)) = (&env.output_file, result)
        && let Err(e) = outputs::write(path, &step_outputs(report))
    {
        log.line(&format!("error: {e}"));
        code = ExitCode::Internal;
    }
    if let Some(path) = &env.summary_file {
        let text = super::redact::text(&render(result, started)).into_owned();
        super::finish::append_job_summary(log, path, &text);
    }
    // A failure is said once, by the annotation (Actions) or its `error:` line (a terminal).
    if let Ok(report) = result {
        log.line(&format!(
            "stevedore download: {}, {} ({}) into {} in {}",
            units::plural(report.artifacts.len() as u64, "artifact"),
            units::plural(report.files(), "file"),
            units::bytes(report.bytes()),
            report.path.display(),
            units::duration(started.elapsed())
        ));
    }
    let mut notes: Vec<Annotation> = log
        .warnings()
        .into_iter()
        .take(annotations::MAX_PER_SEVERITY)
        .map(|w| Annotation::new(Severity::Warning, "stevedore download", w))
        .collect();
    if let Err(e) = result {
        notes.insert(
            0,
            Annotation::new(Severity::Error, "stevedore download", e.to_string()),
        );
    }
    super::finish::print_annotations(log, &notes);
    code
}

/// `download-path`, `artifacts` (JSON: name, id, digest, files, bytes, path per artifact),
/// `files`, `bytes`.
pub(crate) fn step_outputs(report: &DownloadReport) -> Vec<(&'static str, String)> {
    let artifacts: Vec<serde_json::Value> = report
        .artifacts
        .iter()
        .map(|a| {
            serde_json::json!({
                "name": a.name,
                "id": a.id,
                "digest": (!a.digest.is_empty()).then_some(&a.digest),
                "files": a.files,
                "bytes": a.bytes,
                "path": a.path.display().to_string(),
            })
        })
        .collect();
    vec![
        ("download-path", report.path.display().to_string()),
        ("artifacts", serde_json::Value::from(artifacts).to_string()),
        ("files", report.files().to_string()),
        ("bytes", report.bytes().to_string()),
    ]
}

/// The job-summary section.
fn render(result: &Result<DownloadReport, DownloadError>, started: Instant) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let report = match result {
        Err(e) => {
            let _ = writeln!(s, "## ❌ stevedore download\n");
            let _ = writeln!(
                s,
                "> [!CAUTION]\n> {}\n>\n> Exit code {}.\n",
                markdown(&e.to_string()),
                e.exit_code().code()
            );
            return s;
        }
        Ok(report) => report,
    };
    let _ = writeln!(s, "## ✅ stevedore download\n");
    let _ = writeln!(
        s,
        "{} · {} · {} into {} in {}\n",
        units::plural(report.artifacts.len() as u64, "artifact"),
        units::plural(report.files(), "file"),
        units::bytes(report.bytes()),
        path_code(&report.path),
        units::duration(started.elapsed())
    );
    if report.artifacts.is_empty() {
        return s;
    }
    let _ = writeln!(
        s,
        "| Artifact | ID | Files | Size | Downloaded | SHA-256 | Verified |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---|---|");
    for a in report.artifacts.iter().take(MAX_ROWS) {
        let verified = match &a.listed_digest {
            None => "no digest listed",
            Some(_) if report.mismatches.contains(&a.name) => "⚠️ mismatch",
            Some(_) => "✅",
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {verified} |",
            code(&shorten(&a.name, 200)),
            a.id,
            units::count(a.files),
            units::bytes(a.bytes),
            units::bytes(a.downloaded),
            if a.digest.is_empty() {
                "—".to_owned()
            } else {
                code(a.digest.trim_start_matches("sha256:"))
            },
        );
    }
    if report.artifacts.len() > MAX_ROWS {
        let _ = writeln!(s, "\n…and {} more", report.artifacts.len() - MAX_ROWS);
    }
    s.push('\n');
    s
}

fn path_code(path: &Path) -> String {
    code(&shorten(&path.to_string_lossy(), 200))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::download::ArtifactReport;

    #[test]
    fn outputs_and_summary_quote_names_safely() {
        let report = DownloadReport {
            path: "/w/out".into(),
            artifacts: vec![ArtifactReport {
                name: "evil|name\n::error::x".into(),
                id: 7,
                digest: "sha256:ab".into(),
                listed_digest: Some("sha256:ab".into()),
                files: 2,
                bytes: 10,
                downloaded: 9,
                path: "/w/out".into(),
            }],
            ..DownloadReport::default()
        };
        let out = step_outputs(&report);
        assert_eq!(out[0], ("download-path", "/w/out".to_owned()));
        let json: serde_json::Value = serde_json::from_str(&out[1].1).expect("json");
        assert_eq!(json[0]["id"], 7);
        assert_eq!(json[0]["files"], 2);
        assert_eq!(out[2].1, "2");
        let summary = render(&Ok(report), Instant::now());
        assert!(summary.contains("evil\\|name\\n::error::x"), "{summary}");
        assert!(!summary.lines().any(|l| l.starts_with("::")), "{summary}");
    }
}
