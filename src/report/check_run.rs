//! `check-run: true`: the run's summary and every located annotation as a check run named
//! `stevedore` on the commit, through the same GitHub client as releases. The REST API takes
//! at most 50 annotations per request: the first 50 go with the create, the rest in `PATCH` requests
//! of 50. A failure here is a warning: the files have shipped by then.

use std::time::Duration;

use super::commands::{Annotation, Severity};
use crate::github::api::Api;
use crate::secret::Secret;

/// Annotations per request (the API's limit).
const BATCH: usize = 50;
/// Largest `output.summary` the API accepts, in characters.
const MAX_SUMMARY: usize = 65_000;

/// Where the check run goes.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// `GITHUB_API_URL`.
    pub(crate) api_url: String,
    /// `owner/repo`.
    pub(crate) repo: String,
    pub(crate) sha: String,
    pub(crate) token: Secret,
    /// Idle deadline of each request (`STEVEDORE_HTTP_TIMEOUT`).
    pub(crate) idle: Duration,
}

/// Publishes the check run; returns its page.
pub(crate) fn publish(
    target: &Target,
    success: bool,
    summary: &str,
    annotations: &[Annotation],
) -> Result<String, String> {
    let located: Vec<serde_json::Value> = annotations
        .iter()
        .map(Annotation::redacted)
        .filter_map(|a| {
            let path = a.file.as_ref()?;
            let line = a.line.unwrap_or(1);
            Some(serde_json::json!({
                "path": path,
                "start_line": line,
                "end_line": line,
                "annotation_level": if a.severity == Severity::Error { "failure" } else { "warning" },
                "title": a.title.clone().unwrap_or_else(|| "stevedore".into()),
                "message": a.message,
            }))
        })
        .collect();
    let mut text: String = summary.chars().take(MAX_SUMMARY).collect();
    if text.len() < summary.len() {
        text.push_str("\n\n…truncated; the job summary has the rest.");
    }
    let title = if success {
        "stevedore: shipped"
    } else {
        "stevedore: failed"
    };
    let output = |batch: &[serde_json::Value]| serde_json::json!({ "title": title, "summary": text, "annotations": batch });
    let mut batches = located.chunks(BATCH);
    let first = batches.next().unwrap_or(&[]);
    let runtime = crate::net::runtime().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let api = Api::new(&target.api_url, &target.token, &target.repo, target.idle)?;
        let (id, url) = api
            .create_check_run(&serde_json::json!({
                "name": "stevedore",
                "head_sha": target.sha,
                "status": "completed",
                "conclusion": if success { "success" } else { "failure" },
                "output": output(first),
            }))
            .await
            .map_err(|e| format!("creating the check run: {e}"))?;
        for batch in batches {
            api.update_check_run(id, &serde_json::json!({ "output": output(batch) }))
                .await
                .map_err(|e| format!("adding annotations to the check run: {e}"))?;
        }
        Ok(url)
    })
}
