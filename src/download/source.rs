//! Where artifacts are listed and where their bytes are: this run's artifacts through the
//! results service (`ListArtifacts`, then `GetSignedArtifactURL` with the listed artifact's
//! own backend IDs, as `@actions/artifact` does: reference/artifact-protocol.md section 9),
//! or another run's through the REST API with `github-token`
//! (`GET /repos/{owner}/{repo}/actions/runs/{run_id}/artifacts`, then
//! `GET /repos/{owner}/{repo}/actions/artifacts/{id}/zip`, whose `302` names the blob). The
//! token goes only to the API: the redirect is never followed with it (the blob URL is
//! signed, and its host is not GitHub's).

use std::collections::HashMap;
use std::time::Duration;

use super::DownloadError;
use super::inputs::Origin;
use crate::github::RunnerEnv;
use crate::github::results::messages::{
    ListArtifactsRequest, ListArtifactsResponse, NamedArtifactRequest, SignedUrlResponse,
};
use crate::github::results::token::{BackendIds, backend_ids};
use crate::github::results::twirp::{TwirpClient, origin as results_origin};
use crate::net::{Http, Policy, Verdict, describe, random_unit};
use crate::secret::Secret;

/// Pages of 100 read at most: the official client's cap of 1000 artifacts
/// (`ACTIONS_ARTIFACT_MAX_ARTIFACT_COUNT`).
const MAX_PAGES: u32 = 10;
/// REST calls: transport failures, 429 and 5xx retried, waiting 1, 2, 4, 8 s (+ jitter).
const REST_RETRY: Policy = Policy {
    attempts: 5,
    delay: |n, _| {
        Duration::from_secs_f64(f64::from(1u32 << (n - 1).min(4)) * (1.0 + random_unit() * 0.25))
    },
};

/// One artifact as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Its id (`database_id`; the REST API's `id`).
    pub id: u64,
    /// Its name.
    pub name: String,
    /// Stored size in bytes.
    pub size: u64,
    /// `sha256:<hex>` of the stored bytes, when the service records one.
    pub digest: Option<String>,
    run: String,
    job: String,
}

/// A listing and signed-URL client for one origin.
#[derive(Debug)]
pub(crate) enum Source {
    /// This run (results service).
    Results {
        /// Twirp client.
        client: TwirpClient,
        /// From the runtime token.
        ids: BackendIds,
    },
    /// Another run (REST API).
    Rest {
        /// A client that never follows redirects.
        http: Http,
        /// `GITHUB_API_URL`.
        api: String,
        /// `owner/name`.
        repository: String,
        /// The run.
        run_id: u64,
        /// `github-token`.
        token: Secret,
    },
}

impl Source {
    /// The source `origin` names, with what the environment gives it.
    pub(crate) fn new(
        origin: &Origin,
        env: &RunnerEnv,
        idle: Duration,
    ) -> Result<Self, DownloadError> {
        match origin {
            Origin::ThisRun => {
                let token = env.runtime_token.clone().ok_or(DownloadError::MissingEnv {
                    var: "ACTIONS_RUNTIME_TOKEN",
                })?;
                let url = env.results_url.clone().ok_or(DownloadError::MissingEnv {
                    var: "ACTIONS_RESULTS_URL",
                })?;
                results_origin(&url).map_err(DownloadError::Environment)?;
                let ids = backend_ids(token.expose())
                    .map_err(|e| DownloadError::Environment(e.to_string()))?;
                let http = Http::new(idle).map_err(DownloadError::Environment)?;
                let client =
                    TwirpClient::new(http, &url, token).map_err(DownloadError::Environment)?;
                Ok(Source::Results { client, ids })
            }
            Origin::Rest {
                token,
                repository,
                run_id,
            } => {
                let http = Http::build(
                    crate::net::http_client().redirect(reqwest::redirect::Policy::none()),
                    idle,
                )
                .map_err(DownloadError::Environment)?;
                Ok(Source::Rest {
                    http,
                    api: env.api_url().trim_end_matches('/').to_owned(),
                    repository: repository.clone(),
                    run_id: *run_id,
                    token: token.clone(),
                })
            }
        }
    }

    /// Every artifact of the run, the newest (highest id) of each name only, as
    /// `listArtifacts({latest: true})` gives them.
    pub(crate) async fn list(&self) -> Result<Vec<Listed>, DownloadError> {
        let all = match self {
            Source::Results { client, ids } => {
                let request = ListArtifactsRequest {
                    workflow_run_backend_id: &ids.run,
                    workflow_job_run_backend_id: &ids.job,
                    name_filter: None,
                    id_filter: None,
                };
                let answer: ListArtifactsResponse = client
                    .call("ListArtifacts", &request)
                    .await
                    .map_err(|e| DownloadError::List(e.to_string()))?;
                answer
                    .artifacts
                    .into_iter()
                    .map(|a| Listed {
                        id: a.database_id,
                        name: a.name,
                        size: a.size,
                        digest: a.digest,
                        run: a.workflow_run_backend_id,
                        job: a.workflow_job_run_backend_id,
                    })
                    .collect()
            }
            Source::Rest { .. } => self.rest_list().await?,
        };
        Ok(latest(all))
    }

    /// A URL the artifact's bytes can be read from without credentials (asked anew after
    /// the blob store refused an expired one).
    pub(crate) async fn blob_url(&self, artifact: &Listed) -> Result<String, String> {
        match self {
            Source::Results { client, ids } => {
                // The listed artifact's own IDs: another job of the run may have uploaded it.
                let request = NamedArtifactRequest {
                    workflow_run_backend_id: if artifact.run.is_empty() {
                        &ids.run
                    } else {
                        &artifact.run
                    },
                    workflow_job_run_backend_id: if artifact.job.is_empty() {
                        &ids.job
                    } else {
                        &artifact.job
                    },
                    name: &artifact.name,
                };
                let answer: SignedUrlResponse = client
                    .call("GetSignedArtifactURL", &request)
                    .await
                    .map_err(|e| e.to_string())?;
                if answer.signed_url.is_empty() {
                    return Err("GetSignedArtifactURL answered without a signed_url".into());
                }
                Ok(answer.signed_url)
            }
            Source::Rest {
                http,
                api,
                repository,
                token,
                ..
            } => {
                let url = format!(
                    "{api}/repos/{repository}/actions/artifacts/{}/zip",
                    artifact.id
                );
                let response = rest_get(http, &url, token).await?;
                let status = response.status();
                if status != reqwest::StatusCode::FOUND {
                    return Err(rest_refusal(response, &url).await);
                }
                let location = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| format!("`GET {url}` answered 302 without a Location"))?;
                let base = reqwest::Url::parse(&url).map_err(|e| e.to_string())?;
                base.join(location)
                    .map(String::from)
                    .map_err(|e| format!("`GET {url}` redirected to an unusable Location ({e})"))
            }
        }
    }

    async fn rest_list(&self) -> Result<Vec<Listed>, DownloadError> {
        let Source::Rest {
            http,
            api,
            repository,
            run_id,
            token,
        } = self
        else {
            return Ok(Vec::new());
        };
        let mut all = Vec::new();
        for page in 1..=MAX_PAGES {
            let url = format!(
                "{api}/repos/{repository}/actions/runs/{run_id}/artifacts?per_page=100&page={page}"
            );
            let response = rest_get(http, &url, token)
                .await
                .map_err(DownloadError::List)?;
            if !response.status().is_success() {
                return Err(DownloadError::List(rest_refusal(response, &url).await));
            }
            let text = response
                .bytes()
                .await
                .map_err(|e| DownloadError::List(format!("`GET {url}`: {}", describe(e))))?;
            let body: RestList = serde_json::from_slice(&text).map_err(|e| {
                DownloadError::List(format!(
                    "`GET {url}` answered JSON that is not an artifact list: {e}"
                ))
            })?;
            let count = body.artifacts.len();
            all.extend(body.artifacts.into_iter().map(|a| Listed {
                id: a.id,
                name: a.name,
                size: a.size_in_bytes,
                digest: a.digest,
                run: String::new(),
                job: String::new(),
            }));
            if count < 100 || all.len() as u64 >= body.total_count {
                break;
            }
        }
        Ok(all)
    }
}

/// `GET /repos/{owner}/{repo}/actions/runs/{run_id}/artifacts`, the fields used.
#[derive(Debug, serde::Deserialize)]
struct RestList {
    #[serde(default)]
    total_count: u64,
    #[serde(default)]
    artifacts: Vec<RestArtifact>,
}

#[derive(Debug, serde::Deserialize)]
struct RestArtifact {
    id: u64,
    name: String,
    #[serde(default)]
    size_in_bytes: u64,
    #[serde(default)]
    digest: Option<String>,
}

/// One authenticated REST GET with retries (transport failures, stalls, 429, 5xx); any
/// other answer is returned for the caller to read.
async fn rest_get(http: &Http, url: &str, token: &Secret) -> Result<reqwest::Response, String> {
    REST_RETRY
        .run(|_| async {
            let watch = http.watch();
            watch.describe("GET", url);
            let request = http
                .client
                .get(url)
                .bearer_auth(token.expose())
                .header("accept", "application/vnd.github+json")
                .header("x-github-api-version", "2022-11-28");
            match watch.run(request.send()).await {
                Err(stalled) => Err(Verdict::Retry(stalled.to_string())),
                Ok(Err(e)) => Err(Verdict::Retry(describe(e))),
                Ok(Ok(response)) => {
                    watch.answered(response.status());
                    let code = response.status().as_u16();
                    if code == 429 || code >= 500 {
                        Err(Verdict::Retry(format!("`GET {url}` answered {code}")))
                    } else {
                        Ok(response)
                    }
                }
            }
        })
        .await
        .map_err(|v| v.give_up(|last| format!("`GET {url}` failed after 5 attempts: {last}")))
}

/// What a refused REST call says, with the fix for the statuses a token causes.
async fn rest_refusal(response: reqwest::Response, url: &str) -> String {
    let status = response.status().as_u16();
    let message = response
        .bytes()
        .await
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
        .unwrap_or_default();
    let hint = match status {
        401 => "; `github-token` is not a valid token",
        403 | 404 => {
            "; check `repository` and `run-id`, and that `github-token` can read that repository's Actions (`actions: read`)"
        }
        410 => "; the artifact has expired",
        _ => "",
    };
    format!("`GET {url}` answered {status} {message}{hint}")
}

/// The newest (highest id) artifact of each name, in the listing's order.
fn latest(all: Vec<Listed>) -> Vec<Listed> {
    let mut newest: HashMap<&str, u64> = HashMap::new();
    for a in &all {
        let id = newest.entry(a.name.as_str()).or_insert(a.id);
        *id = (*id).max(a.id);
    }
    let keep: Vec<bool> = all
        .iter()
        .map(|a| newest.get(a.name.as_str()) == Some(&a.id))
        .collect();
    all.into_iter()
        .zip(keep)
        .filter_map(|(a, keep)| keep.then_some(a))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(id: u64, name: &str) -> Listed {
        Listed {
            id,
            name: name.into(),
            size: 0,
            digest: None,
            run: String::new(),
            job: String::new(),
        }
    }

    #[test]
    fn only_the_newest_of_each_name_is_kept() {
        let kept = latest(vec![
            listed(3, "a"),
            listed(9, "b"),
            listed(5, "a"),
            listed(4, "c"),
        ]);
        let ids: Vec<u64> = kept.iter().map(|a| a.id).collect();
        assert_eq!(ids, [9, 5, 4]);
    }

    #[test]
    fn the_rest_listing_reads_githubs_fields() {
        // A trimmed artifact object as GET /repos/{owner}/{repo}/actions/runs/{run_id}/artifacts
        // documents it (docs.github.com, "List workflow run artifacts").
        let body: RestList = serde_json::from_str(
            r#"{"total_count":1,"artifacts":[{"id":11,"node_id":"MDg6QXJ0aWZhY3QxMQ==","name":"Rails","size_in_bytes":556,"url":"https://api.github.com/repos/octo-org/octo-docs/actions/artifacts/11","archive_download_url":"https://api.github.com/repos/octo-org/octo-docs/actions/artifacts/11/zip","expired":false,"digest":"sha256:cfc3236bdad15b5898bca8408945c9e19e1917da8704adc20eaa618444f48a5f","created_at":"2020-01-10T14:59:22Z"}]}"#,
        )
        .expect("parses");
        assert_eq!(body.total_count, 1);
        assert_eq!(body.artifacts[0].id, 11);
        assert_eq!(body.artifacts[0].size_in_bytes, 556);
        assert!(
            body.artifacts[0]
                .digest
                .as_deref()
                .is_some_and(|d| d.starts_with("sha256:"))
        );
    }
}
