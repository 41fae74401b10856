//! The release calls: JSON through octocrab (base URI from `GITHUB_API_URL`, its
//! rate-limit handler on: `retry-after` and `x-ratelimit-reset` are honoured on 403/429),
//! asset uploads as our own streaming requests (octocrab's retry layer would resend a
//! streamed body empty, and its `upload_asset` buffers the file and re-reads the release).
//!
//! Only the fields stevedore reads are modelled, so payloads from other GitHub versions
//! (GHES, older recordings) still parse.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use octocrab::Octocrab;
use octocrab::service::middleware::retry::{NoOpRateLimitMetrics, RetryConfig};
use serde::Deserialize;

use crate::net::{Http, Policy, SentDigest, Verdict, Watch, describe, error_chain};
use crate::secret::Secret;

/// A release, as far as stevedore needs it.
#[derive(Debug, Clone, Deserialize)]
pub struct Release {
    /// Its id.
    pub id: u64,
    /// Its tag.
    pub tag_name: String,
    /// Not yet published.
    #[serde(default)]
    pub draft: bool,
    /// Assets can no longer change.
    #[serde(default)]
    pub immutable: bool,
    /// RFC 6570 template of the uploads URL.
    pub upload_url: String,
    /// Its page.
    pub html_url: String,
    /// Where its tag is created at publication (a branch or a commit SHA), as recorded
    /// when the release was made; a release set records the commit it was built from.
    #[serde(default)]
    pub target_commitish: Option<String>,
}

/// What a new draft release is created with.
#[derive(Debug, Clone, Copy)]
pub struct Draft<'a> {
    /// Its tag (created if missing, at `target_commitish`).
    pub tag: &'a str,
    /// Its title.
    pub name: &'a str,
    /// Its notes.
    pub body: Option<&'a str>,
    /// Where a new tag points; `None` is the default branch.
    pub target_commitish: Option<&'a str>,
    /// Mark as a prerelease.
    pub prerelease: bool,
}

/// An asset.
#[derive(Debug, Clone, Deserialize)]
pub struct Asset {
    /// Its id.
    pub id: u64,
    /// Its name.
    pub name: String,
    /// `uploaded`, or `starter` when an upload failed half-way.
    #[serde(default)]
    pub state: String,
    /// Bytes.
    #[serde(default)]
    pub size: u64,
    /// `sha256:<hex>` on current GitHub.
    #[serde(default)]
    pub digest: Option<String>,
    /// Where people download it.
    pub browser_download_url: String,
    /// Shown in place of the name on the release page; `null` for assets uploaded through
    /// the web page, empty when an upload set none. Marks stevedore's staged assets.
    #[serde(default)]
    pub label: Option<String>,
}

/// Why a call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// GitHub answered with an error.
    #[error("{status} {message}{detail}")]
    GitHub {
        /// HTTP status.
        status: u16,
        /// GitHub's message.
        message: String,
        /// `: <resource> <code> <field>` of the first validation error, or empty.
        detail: String,
        /// The validation error code, e.g. `already_exists`.
        code: Option<String>,
        /// `retry-after` seconds, on rate limits.
        retry_after: Option<u64>,
    },
    /// No answer.
    #[error("{0}")]
    Transport(String),
    /// The answer did not parse.
    #[error("unexpected response: {0}")]
    Decode(String),
}

impl ApiError {
    /// HTTP status, when GitHub answered.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::GitHub { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The validation code, when GitHub answered 422.
    #[must_use]
    pub fn code(&self) -> Option<&str> {
        match self {
            ApiError::GitHub { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    fn from_octocrab(e: octocrab::Error) -> Self {
        match e {
            octocrab::Error::GitHub { source, .. } => {
                let first = source.errors.as_ref().and_then(|v| v.first());
                let field = |k: &str| {
                    first
                        .and_then(|e| e.get(k))
                        .and_then(serde_json::Value::as_str)
                        .map(str::to_owned)
                };
                let code = field("code");
                let detail = match (field("resource"), &code, field("field")) {
                    (Some(r), Some(c), Some(f)) => format!(": {r} {c} {f}"),
                    _ => String::new(),
                };
                ApiError::GitHub {
                    status: source.status_code.as_u16(),
                    message: source.message,
                    detail,
                    code,
                    retry_after: source
                        .headers
                        .as_ref()
                        .and_then(|h| h.get("retry-after"))
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse().ok()),
                }
            }
            octocrab::Error::Serde { source, .. } => ApiError::Decode(source.to_string()),
            octocrab::Error::Json { source, .. } => ApiError::Decode(source.to_string()),
            other => ApiError::Transport(error_chain(&other)),
        }
    }
}

/// Tries per JSON call when the transport fails.
const JSON_ATTEMPTS: u32 = 4;
/// [`JSON_ATTEMPTS`], waiting 0.5 s, 1 s, 2 s.
const JSON_RETRY: Policy = Policy {
    attempts: JSON_ATTEMPTS,
    delay: |attempt, _| Duration::from_millis(500 << (attempt - 1)),
};

/// One repository's releases.
#[derive(Debug, Clone)]
pub struct Api {
    base: String,
    octo: Octocrab,
    http: Http,
    token: Secret,
    repo: String,
}

impl Api {
    /// A client for `repo` (`owner/name`) at `api_url`.
    pub fn new(
        api_url: &str,
        token: &Secret,
        repo: &str,
        min_wait: Duration,
        idle: Duration,
    ) -> Result<Self, String> {
        // hyper-timeout's read and write deadlines reset on every byte: an idle deadline,
        // which suits these small JSON calls.
        let octo = Octocrab::builder()
            .base_uri(api_url)
            .map_err(|e| format!("GITHUB_API_URL `{api_url}` is not usable: {e}"))?
            .personal_token(token.expose().to_owned())
            .set_read_timeout(Some(idle))
            .set_write_timeout(Some(idle))
            .add_retry_config(RetryConfig::HandleRateLimits {
                metrics: Arc::new(NoOpRateLimitMetrics),
                max_retries: 3,
                min_wait_seconds: min_wait.as_secs(),
                retry_on_forbidden: false,
            })
            .build()
            .map_err(|e| format!("cannot build the GitHub client: {e}"))?;
        let http = Http::new(idle)?;
        Ok(Api {
            base: api_url.trim_end_matches('/').to_owned(),
            octo,
            http,
            token: token.clone(),
            repo: repo.to_owned(),
        })
    }

    /// One JSON call, retried when the transport failed: a dropped connection, an answer
    /// cut inside its body, the idle deadline. octocrab's own retry covers rate limits and
    /// failures before an answer's head, not after it. A create whose answer was lost may
    /// run twice; the release flow converges on the oldest draft for exactly that case.
    async fn json<T, F, Fut>(&self, call: F) -> Result<T, ApiError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, octocrab::Error>>,
    {
        let call = &call;
        JSON_RETRY
            .run(|_| async move {
                match call().await.map_err(ApiError::from_octocrab) {
                    Err(ApiError::Transport(why)) => Err(Verdict::Retry(why)),
                    other => other.map_err(Verdict::Fail),
                }
            })
            .await
            .map_err(|verdict| verdict.give_up(|why| self.transport_failed(why)))
    }

    /// The last transport failure of a JSON call, with the deadline named when it was one.
    fn transport_failed(&self, why: String) -> ApiError {
        if why.contains("timed out") {
            return ApiError::Transport(format!(
                "{why} (no byte moved for {} s; the deadline is STEVEDORE_HTTP_TIMEOUT seconds)",
                self.http.idle.as_secs()
            ));
        }
        ApiError::Transport(why)
    }

    fn route(&self, rest: &str) -> String {
        format!("/repos/{}/releases{rest}", self.repo)
    }

    /// The published release of `tag` (drafts are invisible here), or `None`.
    pub async fn release_by_tag(&self, tag: &str) -> Result<Option<Release>, ApiError> {
        let tag = crate::net::percent_encode(tag).replace('/', "%2F");
        let route = self.route(&format!("/tags/{tag}"));
        match self
            .json(|| self.octo.get::<Release, _, ()>(&route, None))
            .await
        {
            Ok(r) => Ok(Some(r)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A release by id.
    pub async fn release(&self, id: u64) -> Result<Release, ApiError> {
        let route = self.route(&format!("/{id}"));
        self.json(|| self.octo.get::<Release, _, ()>(&route, None))
            .await
    }

    /// Creates a draft release.
    pub async fn create_draft(&self, draft: &Draft<'_>) -> Result<Release, ApiError> {
        let mut body = serde_json::json!({
            "tag_name": draft.tag, "name": draft.name, "draft": true, "prerelease": draft.prerelease,
        });
        if let Some(notes) = draft.body {
            body["body"] = notes.into();
        }
        if let Some(target) = draft.target_commitish {
            body["target_commitish"] = target.into();
        }
        let route = self.route("");
        self.json(|| self.octo.post(&route, Some(&body))).await
    }

    /// GitHub's generated release notes for `tag` (the body it would write), from the
    /// generate-notes endpoint.
    pub async fn generate_notes(
        &self,
        tag: &str,
        target_commitish: Option<&str>,
    ) -> Result<String, ApiError> {
        let mut body = serde_json::json!({ "tag_name": tag });
        if let Some(target) = target_commitish {
            body["target_commitish"] = target.into();
        }
        let route = self.route("/generate-notes");
        let notes: serde_json::Value = self.json(|| self.octo.post(&route, Some(&body))).await?;
        notes["body"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| ApiError::Decode("generated notes without a body".into()))
    }

    /// Publishes a draft.
    pub async fn publish(&self, id: u64, make_latest: Option<&str>) -> Result<Release, ApiError> {
        let mut body = serde_json::json!({ "draft": false });
        if let Some(latest) = make_latest {
            body["make_latest"] = latest.into();
        }
        let route = self.route(&format!("/{id}"));
        self.json(|| self.octo.patch(&route, Some(&body))).await
    }

    /// Creates a check run (`body` as the REST API takes it); returns its id and page.
    pub async fn create_check_run(
        &self,
        body: &serde_json::Value,
    ) -> Result<(u64, String), ApiError> {
        let route = format!("/repos/{}/check-runs", self.repo);
        let run: serde_json::Value = self.json(|| self.octo.post(&route, Some(body))).await?;
        let id = run["id"]
            .as_u64()
            .ok_or_else(|| ApiError::Decode("check run without an id".into()))?;
        Ok((id, run["html_url"].as_str().unwrap_or_default().to_owned()))
    }

    /// Updates a check run (more annotations).
    pub async fn update_check_run(
        &self,
        id: u64,
        body: &serde_json::Value,
    ) -> Result<(), ApiError> {
        let route = format!("/repos/{}/check-runs/{id}", self.repo);
        self.json(|| {
            self.octo
                .patch::<serde_json::Value, _, _>(&route, Some(body))
        })
        .await
        .map(|_| ())
    }

    /// Every asset of a release.
    pub async fn assets(&self, id: u64) -> Result<Vec<Asset>, ApiError> {
        let mut all = Vec::new();
        for page in 1..=20u32 {
            let route = self.route(&format!("/{id}/assets"));
            let query = [("per_page", 100u32), ("page", page)];
            let list: Vec<Asset> = self.json(|| self.octo.get(&route, Some(&query))).await?;
            let done = list.len() < 100;
            all.extend(list);
            if done {
                break;
            }
        }
        Ok(all)
    }

    /// Every draft with this tag, oldest (lowest id) first.
    pub async fn drafts_with_tag(&self, tag: &str) -> Result<Vec<Release>, ApiError> {
        let mut found = Vec::new();
        for page in 1..=10u32 {
            let route = self.route("");
            let query = [("per_page", 100u32), ("page", page)];
            let list: Vec<Release> = self.json(|| self.octo.get(&route, Some(&query))).await?;
            let done = list.len() < 100;
            found.extend(list.into_iter().filter(|r| r.draft && r.tag_name == tag));
            if done {
                break;
            }
        }
        found.sort_by_key(|r| r.id);
        Ok(found)
    }

    /// Deletes a release (a duplicate draft this run created).
    pub async fn delete_release(&self, id: u64) -> Result<(), ApiError> {
        self.delete(&format!("/{id}")).await
    }

    /// `DELETE` under the releases route; 204 has no body, so no JSON is parsed.
    async fn delete(&self, rest: &str) -> Result<(), ApiError> {
        let route = self.route(rest);
        self.json(|| async {
            let response = self.octo._delete(&route, None::<&()>).await?;
            octocrab::map_github_error(response).await.map(|_| ())
        })
        .await
    }

    /// Renames an asset and sets its label (a replacement staged under a temporary name
    /// and marked as staged, or put in place with the mark cleared: `""`).
    pub async fn update_asset(&self, id: u64, name: &str, label: &str) -> Result<Asset, ApiError> {
        let route = self.route(&format!("/assets/{id}"));
        let body = serde_json::json!({ "name": name, "label": label });
        self.json(|| self.octo.patch(&route, Some(&body))).await
    }

    /// The SHA-256 of an asset's bytes, streamed down and hashed (never held whole): for
    /// assets GitHub reports no `digest` for (older GHES). GitHub answers
    /// `application/octet-stream` with a redirect to storage, which is followed; reqwest
    /// drops the token on a redirect to another host.
    pub async fn asset_sha256(&self, id: u64) -> Result<[u8; 32], ApiError> {
        use sha2::Digest as _;
        let url = format!("{}{}", self.base, self.route(&format!("/assets/{id}")));
        let watch = self.http.watch();
        watch.describe("GET", &url);
        let request = self
            .http
            .client
            .get(&url)
            .bearer_auth(self.token.expose())
            .header("accept", "application/octet-stream")
            .header("x-github-api-version", "2022-11-28");
        watch
            .run(async {
                let mut response = request.send().await?;
                watch.touch();
                watch.answered(response.status());
                let status = response.status().as_u16();
                let headers = response.headers().clone();
                if status != 200 {
                    let text = response.text().await?;
                    return Ok(Err(upload_refused(status, &headers, &text)));
                }
                let mut hasher = sha2::Sha256::new();
                while let Some(chunk) = response.chunk().await? {
                    watch.touch();
                    hasher.update(&chunk);
                }
                Ok::<_, reqwest::Error>(Ok(hasher.finalize().into()))
            })
            .await
            .map_err(|stalled| ApiError::Transport(stalled.to_string()))?
            .map_err(|e| ApiError::Transport(describe(e)))?
    }

    /// Deletes an asset.
    pub async fn delete_asset(&self, id: u64) -> Result<(), ApiError> {
        self.delete(&format!("/assets/{id}")).await
    }

    /// Uploads one asset (with `label`, when given), streaming the file (or the bytes)
    /// with its length. Returns the asset and, for a file, the SHA-256 of the bytes that
    /// were sent.
    pub async fn upload(
        &self,
        release: &Release,
        name: &str,
        label: Option<&str>,
        content_type: &str,
        body: &AssetBody,
    ) -> Result<(Asset, Option<[u8; 32]>), ApiError> {
        let watch = self.http.watch();
        let (request, sent) = self
            .asset_request(&watch, release, (name, label), content_type, body)
            .await?;
        let ((status, headers), text) = watch
            .run(async {
                let response = request.send().await?;
                watch.touch();
                watch.answered(response.status());
                let head = (response.status(), response.headers().clone());
                response.text().await.map(|text| (head, text))
            })
            .await
            .map_err(|stalled| ApiError::Transport(stalled.to_string()))?
            .map_err(|e| ApiError::Transport(describe(e)))?;
        if status.as_u16() == 201 {
            let asset = serde_json::from_str(&text).map_err(|e| ApiError::Decode(e.to_string()))?;
            return Ok((asset, sent.map(|s| s.finish())));
        }
        Err(upload_refused(status.as_u16(), &headers, &text))
    }

    /// The upload request for one asset, its body watched (and, for a file, hashed as it
    /// is sent).
    async fn asset_request(
        &self,
        watch: &Watch,
        release: &Release,
        (name, label): (&str, Option<&str>),
        content_type: &str,
        body: &AssetBody,
    ) -> Result<(reqwest::RequestBuilder, Option<SentDigest>), ApiError> {
        let template = release.upload_url.split('{').next().unwrap_or_default();
        let mut url = reqwest::Url::parse(template)
            .map_err(|e| ApiError::Decode(format!("upload_url `{template}`: {e}")))?;
        url.query_pairs_mut().append_pair("name", name);
        if let Some(label) = label {
            url.query_pairs_mut().append_pair("label", label);
        }
        watch.describe("POST", url.as_str());
        let request = self
            .http
            .client
            .post(url)
            .bearer_auth(self.token.expose())
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28")
            .header("content-type", content_type);
        Ok(match body {
            AssetBody::Bytes(bytes) => (
                request
                    .header("content-length", bytes.len())
                    .body(watch.bytes_body(bytes.clone())),
                None,
            ),
            AssetBody::File { path, len } => {
                let (body, sent) = watch.file_body_hashed(path).await.map_err(|e| {
                    ApiError::Transport(format!("cannot read `{}`: {e}", path.display()))
                })?;
                (
                    request.header("content-length", len.to_string()).body(body),
                    Some(sent),
                )
            }
        })
    }
}

/// The error of an upload GitHub did not accept, with how long to wait before retrying.
fn upload_refused(status: u16, headers: &reqwest::header::HeaderMap, text: &str) -> ApiError {
    let json: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    let first = json.get("errors").and_then(|e| e.get(0));
    let code = first
        .and_then(|e| e.get("code"))
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned);
    ApiError::GitHub {
        status,
        message: json
            .get("message")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("(no message)")
            .to_owned(),
        detail: code.as_ref().map(|c| format!(": {c}")).unwrap_or_default(),
        code,
        retry_after: retry_after(headers),
    }
}

/// `retry-after`, else (primary limit spent) the wait until `x-ratelimit-reset`.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<u64> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
    };
    header("retry-after").or_else(|| {
        (header("x-ratelimit-remaining") == Some(0))
            .then(|| header("x-ratelimit-reset"))
            .flatten()
            .map(|reset| {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                reset.saturating_sub(now).clamp(1, 900)
            })
    })
}

/// What an asset's bytes come from; re-opened for every attempt.
#[derive(Debug, Clone)]
pub enum AssetBody {
    /// A file.
    File {
        /// The file.
        path: PathBuf,
        /// Its size as scanned.
        len: u64,
    },
    /// Generated content (the checksums file).
    Bytes(Bytes),
}
