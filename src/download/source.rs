//! Where artifacts are listed and where their bytes are: this run's artifacts through the
//! results service (`ListArtifacts`, then `GetSignedArtifactURL` with the listed artifact's
//! own backend IDs, as `@actions/artifact` does: reference/artifact-protocol.md section 9),
//! or another run's through the REST API with `github-token` (`github::api`: the run's
//! artifact list, then each zip's `302`, which names the blob). The token goes only to the
//! API: the redirect is never followed with it (the blob URL is signed, and its host is
//! not GitHub's).

use std::collections::HashMap;
use std::time::Duration;

use super::DownloadError;
use super::inputs::Origin;
use crate::github::RunnerEnv;
use crate::github::api::{Api, ApiError};
use crate::github::pipelines::Pipelines;
use crate::github::results::messages::{
    ListArtifactsRequest, ListArtifactsResponse, NamedArtifactRequest, SignedUrlResponse,
};
use crate::github::results::token::{BackendIds, backend_ids};
use crate::github::results::twirp::{TwirpClient, origin as results_origin};
use crate::net::Http;

/// Pages of 100 read at most: the official client's cap of 1000 artifacts
/// (`ACTIONS_ARTIFACT_MAX_ARTIFACT_COUNT`).
const MAX_PAGES: u32 = 10;

/// One artifact as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listed {
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
    /// Where a v3 artifact's items are listed (its `fileContainerResourceUrl`).
    pub(crate) container: Option<String>,
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
    /// This run, through the pipelines service (the v3 protocol, where the runner gives
    /// `ACTIONS_RUNTIME_URL` and no results service: GitHub Enterprise Server).
    Pipelines(Pipelines),
    /// Another run (REST API).
    Rest {
        /// The repository's API, with `github-token`.
        api: Api,
        run_id: u64,
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
            Origin::ThisRun if env.results_url.is_none() && env.runtime_url.is_some() => {
                let token = env.runtime_token.clone().ok_or(DownloadError::MissingEnv {
                    var: "ACTIONS_RUNTIME_TOKEN",
                })?;
                let run_id = env.run_id.clone().ok_or(DownloadError::MissingEnv {
                    var: "GITHUB_RUN_ID",
                })?;
                let url = env.runtime_url.clone().unwrap_or_default();
                let http = Http::new(idle).map_err(DownloadError::Environment)?;
                let pipelines = Pipelines::new(http, &url, &run_id, token)
                    .map_err(|e| DownloadError::Environment(e.to_string()))?;
                Ok(Source::Pipelines(pipelines))
            }
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
                let api = Api::new(env.api_url(), token, repository, idle)
                    .map_err(DownloadError::Environment)?;
                Ok(Source::Rest {
                    api,
                    run_id: *run_id,
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
                        container: None,
                    })
                    .collect()
            }
            Source::Pipelines(pipelines) => pipelines
                .list()
                .await
                .map_err(|e| DownloadError::List(e.to_string()))?
                .into_iter()
                .map(|a| Listed {
                    id: a.container_id.unwrap_or(0),
                    name: a.name,
                    size: a.size.and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                    digest: None,
                    run: String::new(),
                    job: String::new(),
                    container: Some(a.file_container_resource_url),
                })
                .collect(),
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
            Source::Pipelines(_) => {
                Err("a v3 artifact has no single blob: its files are fetched one by one".into())
            }
            Source::Rest { api, .. } => api
                .artifact_zip_url(artifact.id)
                .await
                .map_err(|e| refusal(api, &format!("/actions/artifacts/{}/zip", artifact.id), &e)),
        }
    }

    async fn rest_list(&self) -> Result<Vec<Listed>, DownloadError> {
        let Source::Rest { api, run_id } = self else {
            return Ok(Vec::new());
        };
        let listed = api.run_artifacts(*run_id, MAX_PAGES).await.map_err(|e| {
            DownloadError::List(refusal(
                api,
                &format!("/actions/runs/{run_id}/artifacts"),
                &e,
            ))
        })?;
        Ok(listed
            .into_iter()
            .map(|a| Listed {
                id: a.id,
                name: a.name,
                size: a.size_in_bytes,
                digest: a.digest,
                run: String::new(),
                job: String::new(),
                container: None,
            })
            .collect())
    }
}

/// What a failed REST call says, with the fix for the statuses a token causes.
fn refusal(api: &Api, rest: &str, e: &ApiError) -> String {
    let url = api.repo_url(rest);
    let Some(status) = e.status() else {
        // The client's transport and redirect errors name the request already.
        return if e.to_string().contains(&url) {
            e.to_string()
        } else {
            format!("`GET {url}`: {e}")
        };
    };
    let hint = match status {
        401 => "; `github-token` is not a valid token",
        403 | 404 => {
            "; check `repository` and `run-id`, and that `github-token` can read that repository's Actions (`actions: read`)"
        }
        410 => "; the artifact has expired",
        _ => "",
    };
    format!("`GET {url}` answered {e}{hint}")
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
            container: None,
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
}
