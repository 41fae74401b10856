//! The one client that speaks GitHub's REST API: releases, assets, check runs and another
//! run's artifacts, against `GITHUB_API_URL` (so GHES works). Every call goes through
//! [`Api::call`]: the token as a bearer, the idle deadline of `net` on every byte, one
//! retry policy ([`RETRY`], octokit's numbers) for transport failures, server errors and
//! the rate limits (primary and secondary, waiting what GitHub asks), and mutative calls
//! paced ([`PACE`]) so a burst of deletes and renames stays clear of the secondary limits.
//! Asset uploads go to the uploads host as single streamed attempts: the release
//! destination retries them itself, because a retry must first look at what the failed
//! attempt left.
//!
//! Only the fields stevedore reads are modelled, so payloads from other GitHub versions
//! (GHES, older recordings) still parse. No redirect is followed with the token: the
//! client follows none, and the two calls answered with one (an asset's bytes, an
//! artifact's zip) read the `Location` themselves.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;

use crate::net::{Http, Retry, SentDigest, Verdict, Watch, describe};
use crate::secret::Secret;

/// A release, as far as stevedore needs it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Release {
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
    /// Its notes.
    #[serde(default)]
    pub body: Option<String>,
}

/// What a new draft release is created with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Draft<'a> {
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
    /// The discussion category its publication opens a discussion in.
    pub discussion_category: Option<&'a str>,
}

/// What a release is changed with ([`Api::update_release`]); `None` leaves a field as it is.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ReleaseUpdate<'a> {
    /// `Some(false)` publishes a draft.
    pub draft: Option<bool>,
    /// `make_latest`: `true`, `false` or `legacy`.
    pub make_latest: Option<&'a str>,
    /// New notes.
    pub body: Option<&'a str>,
    /// The discussion category publication opens a discussion in.
    pub discussion_category: Option<&'a str>,
    /// A new tag name (a rolling release's draft takes the rolling tag as it goes out).
    pub tag_name: Option<&'a str>,
}

/// An asset.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Asset {
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
    /// When it last changed (RFC 3339): how long a staged asset has waited to be renamed.
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// Why a call failed: the one reading of GitHub's error body.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// GitHub answered with an error.
    #[error("{status} {message}{detail}")]
    GitHub {
        /// HTTP status.
        status: u16,
        /// GitHub's message.
        message: String,
        /// `: <resource> <code> <field>` of the first validation error (`: <code>` when
        /// it names no field), or empty.
        detail: String,
        /// The validation error code, e.g. `already_exists`.
        code: Option<String>,
        /// Seconds GitHub asked to wait: `retry-after`, else the time until
        /// `x-ratelimit-reset` once `x-ratelimit-remaining` is 0.
        retry_after: Option<u64>,
    },
    /// No answer, or an answer cut short.
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

    /// An error answer: GitHub's JSON body (`message`, `errors[0]`) and its rate-limit
    /// headers. A body that is not JSON keeps its status and says it had no message.
    fn from_answer(status: u16, headers: &HeaderMap, body: &[u8]) -> Self {
        let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let first = json.get("errors").and_then(|e| e.get(0));
        let field = |k: &str| {
            first
                .and_then(|e| e.get(k))
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        };
        let code = field("code");
        let detail = match (field("resource"), &code, field("field")) {
            (Some(r), Some(c), Some(f)) => format!(": {r} {c} {f}"),
            (_, Some(c), _) => format!(": {c}"),
            _ => String::new(),
        };
        ApiError::GitHub {
            status,
            message: json
                .get("message")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("(no message)")
                .to_owned(),
            detail,
            code,
            retry_after: retry_after(headers),
        }
    }

    /// A primary or secondary rate limit: 429, or 403 with a wait or GitHub's wording.
    fn rate_limited(&self) -> bool {
        match self {
            ApiError::GitHub { status: 429, .. } => true,
            ApiError::GitHub {
                status: 403,
                retry_after,
                message,
                ..
            } => retry_after.is_some() || message.contains("rate limit"),
            _ => false,
        }
    }

    /// Worth another attempt under [`RETRY`]: no answer, a server error, a rate limit.
    #[must_use]
    pub fn retryable(&self) -> bool {
        match self {
            ApiError::Transport(_) => true,
            ApiError::GitHub { status, .. } => *status >= 500 || self.rate_limited(),
            ApiError::Decode(_) => false,
        }
    }
}

/// `retry-after`, else (primary limit spent) the wait until `x-ratelimit-reset`, at
/// least 1 s and at most 15 minutes.
fn retry_after(headers: &HeaderMap) -> Option<u64> {
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

/// Attempts per call, and per asset upload (the release destination's own loop): 4, as
/// octokit's retry plugin (3 retries). The wait is what GitHub asked for; a rate limit
/// that names no wait gets the minute GitHub's documentation asks for ("wait at least
/// one minute"); anything else 0.5 s, 1 s, 2 s.
pub(crate) const RETRY: Retry<ApiError> = Retry {
    attempts: 4,
    delay: |attempt, last| match last {
        ApiError::GitHub {
            retry_after: Some(s),
            ..
        } => Duration::from_secs(*s),
        e if e.rate_limited() => Duration::from_mins(1),
        _ => Duration::from_millis(500 << (attempt - 1).min(4)),
    },
};

/// Redirects followed within the API's origin, as HTTP clients bound them.
const MAX_REDIRECTS: usize = 5;

/// Least time between two mutative calls (POST, PATCH, PUT, DELETE) to the API host.
pub(crate) const PACE: Duration = Duration::from_millis(100);

/// An answer GitHub gave with a success (or redirect) status, its body read whole.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

/// One repository's REST API.
#[derive(Debug, Clone)]
pub(crate) struct Api {
    base: String,
    http: Http,
    token: Secret,
    repo: String,
    /// When the last mutative call was sent, shared by every clone.
    pacer: Arc<Mutex<Option<Instant>>>,
}

impl Api {
    /// A client for `repo` (`owner/name`) at `api_url`, every request under the `idle`
    /// deadline.
    pub(crate) fn new(
        api_url: &str,
        token: &Secret,
        repo: &str,
        idle: Duration,
    ) -> Result<Self, String> {
        reqwest::Url::parse(api_url)
            .map_err(|e| format!("GITHUB_API_URL `{api_url}` is not usable: {e}"))?;
        let http = Http::build(
            crate::net::http_client().redirect(reqwest::redirect::Policy::none()),
            idle,
        )?;
        Ok(Api {
            base: api_url.trim_end_matches('/').to_owned(),
            http,
            token: token.clone(),
            repo: repo.to_owned(),
            pacer: Arc::new(Mutex::new(None)),
        })
    }

    /// The URL of `rest` under the repository (`/releases/1`), as messages show it.
    #[must_use]
    pub(crate) fn repo_url(&self, rest: &str) -> String {
        format!("{}/repos/{}{rest}", self.base, self.repo)
    }

    /// Waits until [`PACE`] has passed since the previous mutative call.
    async fn pace(&self) {
        let mut last = self.pacer.lock().await;
        if let Some(previous) = *last {
            let next = previous + PACE;
            let now = Instant::now();
            if next > now {
                tokio::time::sleep(next - now).await;
            }
        }
        *last = Some(Instant::now());
    }

    /// One request under [`RETRY`]: a failure whose answer says to retry (or that had no
    /// answer, or whose answer was cut inside its body) is made again; an error answer is
    /// returned as [`ApiError::GitHub`], a redirect as it came. A create whose answer was
    /// lost may run twice; the release flow converges on the oldest draft for exactly that
    /// case.
    async fn request(
        &self,
        method: Method,
        url: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
    ) -> Result<Answer, ApiError> {
        let body = body.map(|b| Bytes::from(b.to_string()));
        let mutative = method != Method::GET && method != Method::HEAD;
        let body = &body;
        let method = &method;
        RETRY
            .run(|_| async move {
                if mutative {
                    self.pace().await;
                }
                match self.attempt(method.clone(), url, query, body.clone()).await {
                    Err(e) if e.retryable() => Err(Verdict::Retry(e)),
                    other => other.map_err(Verdict::Fail),
                }
            })
            .await
            .map_err(|verdict| {
                verdict.give_up(|last| match last {
                    ApiError::Transport(why) => ApiError::Transport(format!(
                        "{why} (`{method} {}`, {} attempts)",
                        url.split('?').next().unwrap_or(url),
                        RETRY.attempts
                    )),
                    other => other,
                })
            })
    }

    /// One attempt: sent, and its answer read whole, under the idle deadline.
    async fn attempt(
        &self,
        method: Method,
        url: &str,
        query: &[(&str, String)],
        body: Option<Bytes>,
    ) -> Result<Answer, ApiError> {
        let watch = self.http.watch();
        watch.describe(method.as_str(), url);
        let mut request = self
            .http
            .client
            .request(method, url)
            .query(query)
            .bearer_auth(self.token.expose())
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28");
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .header("content-length", body.len())
                .body(watch.bytes_body(body));
        }
        let (status, headers, body) = watch
            .run(async {
                let mut response = request.send().await?;
                watch.touch();
                watch.answered(response.status());
                let status = response.status().as_u16();
                let headers = response.headers().clone();
                let mut body = Vec::new();
                while let Some(chunk) = response.chunk().await? {
                    watch.touch();
                    body.extend_from_slice(&chunk);
                }
                Ok::<_, reqwest::Error>((status, headers, Bytes::from(body)))
            })
            .await
            .map_err(|stalled| ApiError::Transport(stalled.to_string()))?
            .map_err(|e| ApiError::Transport(describe(e)))?;
        if status >= 400 {
            return Err(ApiError::from_answer(status, &headers, &body));
        }
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// A call that must succeed: redirects within the API's origin are followed (GitHub
    /// answers a renamed or transferred repository's URLs with 301 on `GET` and 307
    /// otherwise), with the token, the method and the body kept for 307 and 308 (`GET`
    /// without a body after 301, 302 and 303, as HTTP clients do); a redirect elsewhere,
    /// or any other answer than a success, is an error that says its status.
    async fn call(
        &self,
        method: Method,
        url: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
    ) -> Result<Answer, ApiError> {
        let mut answer = self.request(method.clone(), url, query, body).await?;
        let mut at = url.to_owned();
        let mut method = method;
        let mut body = body;
        for _ in 0..MAX_REDIRECTS {
            if !(300..400).contains(&answer.status) {
                break;
            }
            let Some(next) = redirect_target(&at, &answer)
                .ok()
                .filter(|next| self.same_origin(next))
            else {
                break;
            };
            if !matches!(answer.status, 307 | 308) && method != Method::HEAD {
                method = Method::GET;
                body = None;
            }
            answer = self.request(method.clone(), &next, &[], body).await?;
            at = next;
        }
        if (200..300).contains(&answer.status) {
            Ok(answer)
        } else {
            Err(ApiError::from_answer(
                answer.status,
                &answer.headers,
                &answer.body,
            ))
        }
    }

    /// Whether `url` is on the API's scheme, host and port (where the token may go).
    fn same_origin(&self, url: &str) -> bool {
        let origin = |u: &str| {
            reqwest::Url::parse(u).ok().map(|u| {
                (
                    u.scheme().to_owned(),
                    u.host_str().map(str::to_owned),
                    u.port_or_known_default(),
                )
            })
        };
        origin(url).is_some_and(|o| Some(o) == origin(&self.base))
    }

    /// A call whose answer is JSON of type `T`.
    async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        url: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
    ) -> Result<T, ApiError> {
        let answer = self.call(method, url, query, body).await?;
        serde_json::from_slice(&answer.body).map_err(|e| ApiError::Decode(e.to_string()))
    }

    fn route(&self, rest: &str) -> String {
        self.repo_url(&format!("/releases{rest}"))
    }

    /// The published release of `tag` (drafts are invisible here), or `None`.
    pub(crate) async fn release_by_tag(&self, tag: &str) -> Result<Option<Release>, ApiError> {
        let tag = crate::net::percent_encode(tag).replace('/', "%2F");
        let url = self.route(&format!("/tags/{tag}"));
        match self.json(Method::GET, &url, &[], None).await {
            Ok(r) => Ok(Some(r)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A release by id.
    pub(crate) async fn release(&self, id: u64) -> Result<Release, ApiError> {
        self.json(Method::GET, &self.route(&format!("/{id}")), &[], None)
            .await
    }

    /// Creates a draft release.
    pub(crate) async fn create_draft(&self, draft: &Draft<'_>) -> Result<Release, ApiError> {
        let mut body = serde_json::json!({
            "tag_name": draft.tag, "name": draft.name, "draft": true, "prerelease": draft.prerelease,
        });
        if let Some(notes) = draft.body {
            body["body"] = notes.into();
        }
        if let Some(target) = draft.target_commitish {
            body["target_commitish"] = target.into();
        }
        if let Some(category) = draft.discussion_category {
            body["discussion_category_name"] = category.into();
        }
        self.json(Method::POST, &self.route(""), &[], Some(&body))
            .await
    }

    /// GitHub's generated release notes for `tag` (the body it would write), from the
    /// generate-notes endpoint.
    pub(crate) async fn generate_notes(
        &self,
        tag: &str,
        target_commitish: Option<&str>,
        previous_tag: Option<&str>,
    ) -> Result<String, ApiError> {
        let mut body = serde_json::json!({ "tag_name": tag });
        if let Some(target) = target_commitish {
            body["target_commitish"] = target.into();
        }
        if let Some(previous) = previous_tag {
            body["previous_tag_name"] = previous.into();
        }
        let url = self.route("/generate-notes");
        let notes: serde_json::Value = self.json(Method::POST, &url, &[], Some(&body)).await?;
        notes["body"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| ApiError::Decode("generated notes without a body".into()))
    }

    /// Changes a release: publishes a draft (`draft: Some(false)`), rewrites its notes.
    pub(crate) async fn update_release(
        &self,
        id: u64,
        update: &ReleaseUpdate<'_>,
    ) -> Result<Release, ApiError> {
        let mut body = serde_json::json!({});
        if let Some(draft) = update.draft {
            body["draft"] = draft.into();
        }
        if let Some(latest) = update.make_latest {
            body["make_latest"] = latest.into();
        }
        if let Some(notes) = update.body {
            body["body"] = notes.into();
        }
        if let Some(category) = update.discussion_category {
            body["discussion_category_name"] = category.into();
        }
        if let Some(tag) = update.tag_name {
            body["tag_name"] = tag.into();
        }
        let url = self.route(&format!("/{id}"));
        self.json(Method::PATCH, &url, &[], Some(&body)).await
    }

    /// Creates a check run (`body` as the REST API takes it); returns its id and page.
    pub(crate) async fn create_check_run(
        &self,
        body: &serde_json::Value,
    ) -> Result<(u64, String), ApiError> {
        let url = self.repo_url("/check-runs");
        let run: serde_json::Value = self.json(Method::POST, &url, &[], Some(body)).await?;
        let id = run["id"]
            .as_u64()
            .ok_or_else(|| ApiError::Decode("check run without an id".into()))?;
        Ok((id, run["html_url"].as_str().unwrap_or_default().to_owned()))
    }

    /// Updates a check run (more annotations).
    pub(crate) async fn update_check_run(
        &self,
        id: u64,
        body: &serde_json::Value,
    ) -> Result<(), ApiError> {
        let url = self.repo_url(&format!("/check-runs/{id}"));
        self.call(Method::PATCH, &url, &[], Some(body))
            .await
            .map(|_| ())
    }

    /// Every item of a paged list, 100 a page, at most `pages` pages; `items` picks a
    /// page's items out of its JSON.
    async fn paged<T>(
        &self,
        url: &str,
        pages: u32,
        items: impl Fn(serde_json::Value) -> Result<(Vec<T>, Option<u64>), String>,
    ) -> Result<Vec<T>, ApiError> {
        let mut all = Vec::new();
        for page in 1..=pages {
            let query = [("per_page", "100".to_owned()), ("page", page.to_string())];
            let json = self.json(Method::GET, url, &query, None).await?;
            let (list, total) = items(json).map_err(ApiError::Decode)?;
            let done = list.len() < 100;
            all.extend(list);
            if done || total.is_some_and(|t| all.len() as u64 >= t) {
                break;
            }
        }
        Ok(all)
    }

    /// Every asset of a release.
    pub(crate) async fn assets(&self, id: u64) -> Result<Vec<Asset>, ApiError> {
        self.paged(&self.route(&format!("/{id}/assets")), 20, |json| {
            serde_json::from_value(json)
                .map(|list| (list, None))
                .map_err(|e| e.to_string())
        })
        .await
    }

    /// Every draft with this tag, oldest (lowest id) first.
    pub(crate) async fn drafts_with_tag(&self, tag: &str) -> Result<Vec<Release>, ApiError> {
        let all: Vec<Release> = self
            .paged(&self.route(""), 10, |json| {
                serde_json::from_value(json)
                    .map(|list| (list, None))
                    .map_err(|e| e.to_string())
            })
            .await?;
        let mut found: Vec<Release> = all
            .into_iter()
            .filter(|r| r.draft && r.tag_name == tag)
            .collect();
        found.sort_by_key(|r| r.id);
        Ok(found)
    }

    /// Where tag `tag` points (`GET git/ref/tags/{tag}`), or `None` when there is no such
    /// tag.
    pub(crate) async fn tag_commit(&self, tag: &str) -> Result<Option<String>, ApiError> {
        let url = self.repo_url(&format!(
            "/git/ref/tags/{}",
            crate::net::percent_encode(tag)
        ));
        match self
            .json::<serde_json::Value>(Method::GET, &url, &[], None)
            .await
        {
            Ok(found) => Ok(found["object"]["sha"].as_str().map(str::to_owned)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Points tag `tag` at `sha`: moved (`force`) when `exists`, created otherwise. Another
    /// job may create or delete the tag in between (jobs completing a rolling set at
    /// once): a create refused with 422 (it exists now) moves it, a move refused with 422
    /// (it is gone) creates it.
    pub(crate) async fn set_tag(&self, tag: &str, sha: &str, exists: bool) -> Result<(), ApiError> {
        let first = if exists {
            self.move_tag(tag, sha).await
        } else {
            self.create_tag(tag, sha).await
        };
        match first {
            Err(e) if e.status() == Some(422) && exists => self.create_tag(tag, sha).await,
            Err(e) if e.status() == Some(422) => self.move_tag(tag, sha).await,
            other => other,
        }
    }

    async fn move_tag(&self, tag: &str, sha: &str) -> Result<(), ApiError> {
        let url = self.repo_url(&format!(
            "/git/refs/tags/{}",
            crate::net::percent_encode(tag)
        ));
        let body = serde_json::json!({ "sha": sha, "force": true });
        self.call(Method::PATCH, &url, &[], Some(&body))
            .await
            .map(drop)
    }

    async fn create_tag(&self, tag: &str, sha: &str) -> Result<(), ApiError> {
        let url = self.repo_url("/git/refs");
        let body = serde_json::json!({ "ref": format!("refs/tags/{tag}"), "sha": sha });
        self.call(Method::POST, &url, &[], Some(&body))
            .await
            .map(drop)
    }

    /// Deletes a release (a duplicate draft this run created).
    pub(crate) async fn delete_release(&self, id: u64) -> Result<(), ApiError> {
        self.call(Method::DELETE, &self.route(&format!("/{id}")), &[], None)
            .await
            .map(|_| ())
    }

    /// Renames an asset and sets its label (a replacement staged under a temporary name
    /// and marked as staged, or put in place with the mark cleared: `""`).
    pub(crate) async fn update_asset(
        &self,
        id: u64,
        name: &str,
        label: &str,
    ) -> Result<Asset, ApiError> {
        let url = self.route(&format!("/assets/{id}"));
        let body = serde_json::json!({ "name": name, "label": label });
        self.json(Method::PATCH, &url, &[], Some(&body)).await
    }

    /// Deletes an asset.
    pub(crate) async fn delete_asset(&self, id: u64) -> Result<(), ApiError> {
        let url = self.route(&format!("/assets/{id}"));
        self.call(Method::DELETE, &url, &[], None).await.map(|_| ())
    }

    /// A run's artifacts (`GET /repos/{repo}/actions/runs/{run}/artifacts`), at most
    /// `pages` pages of 100.
    pub(crate) async fn run_artifacts(
        &self,
        run_id: u64,
        pages: u32,
    ) -> Result<Vec<RunArtifact>, ApiError> {
        let url = self.repo_url(&format!("/actions/runs/{run_id}/artifacts"));
        self.paged(&url, pages, |json| {
            let list: RunArtifacts = serde_json::from_value(json)
                .map_err(|e| format!("JSON that is not an artifact list: {e}"))?;
            Ok((list.artifacts, Some(list.total_count)))
        })
        .await
    }

    /// Where an artifact's zip is (`GET /repos/{repo}/actions/artifacts/{id}/zip` answers
    /// `302` with a signed storage URL, read here and not followed with the token).
    pub(crate) async fn artifact_zip_url(&self, id: u64) -> Result<String, ApiError> {
        let mut url = self.repo_url(&format!("/actions/artifacts/{id}/zip"));
        // Followed only within the API (a renamed repository): the redirect out of it names
        // the blob, which is read without the token.
        for _ in 0..MAX_REDIRECTS {
            let answer = self.request(Method::GET, &url, &[], None).await?;
            let target = redirect_target(&url, &answer)?;
            if !self.same_origin(&target) {
                return Ok(target);
            }
            url = target;
        }
        Err(ApiError::Decode(format!(
            "`GET {url}` redirected more than {MAX_REDIRECTS} times"
        )))
    }

    /// The SHA-256 of an asset's bytes, streamed down and hashed (never held whole): for
    /// assets GitHub reports no `digest` for (older GHES). GitHub answers
    /// `application/octet-stream` with a redirect to storage, which is followed without
    /// the token (the storage URL is signed, and its host is not GitHub's); redirects
    /// within the API's origin keep it.
    pub(crate) async fn asset_sha256(&self, id: u64) -> Result<[u8; 32], ApiError> {
        let mut url = self.route(&format!("/assets/{id}"));
        for _ in 0..MAX_REDIRECTS {
            let mut request = self.http.client.get(&url);
            // The token goes to the API's origin only; storage URLs are signed.
            if self.same_origin(&url) {
                request = request
                    .bearer_auth(self.token.expose())
                    .header("accept", "application/octet-stream")
                    .header("x-github-api-version", "2022-11-28");
            }
            match self.hash_answer(request, &url).await? {
                Hashed::Done(sha256) => return Ok(sha256),
                Hashed::Moved(answer) => url = redirect_target(&url, &answer)?,
            }
        }
        Err(ApiError::Decode(format!(
            "the asset's URL redirected more than {MAX_REDIRECTS} times"
        )))
    }

    /// Sends `request` once and hashes a `200` answer's body as it arrives.
    async fn hash_answer(
        &self,
        request: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<Hashed, ApiError> {
        use sha2::Digest as _;
        let watch = self.http.watch();
        watch.describe("GET", url);
        watch
            .run(async {
                let mut response = request.send().await?;
                watch.touch();
                watch.answered(response.status());
                let status = response.status().as_u16();
                let headers = response.headers().clone();
                if (300..400).contains(&status) {
                    return Ok(Ok(Hashed::Moved(Answer {
                        status,
                        headers,
                        body: Bytes::new(),
                    })));
                }
                if status != 200 {
                    let body = response.bytes().await?;
                    return Ok(Err(ApiError::from_answer(status, &headers, &body)));
                }
                let mut hasher = sha2::Sha256::new();
                while let Some(chunk) = response.chunk().await? {
                    watch.touch();
                    hasher.update(&chunk);
                }
                Ok::<_, reqwest::Error>(Ok(Hashed::Done(hasher.finalize().into())))
            })
            .await
            .map_err(|stalled| ApiError::Transport(stalled.to_string()))?
            .map_err(|e| ApiError::Transport(describe(e)))?
    }

    /// Uploads one asset (with `label`, when given), streaming the file (or the bytes)
    /// with its length: one attempt (see the module's doc). Returns the asset and, for a
    /// file, the SHA-256 of the bytes that were sent.
    pub(crate) async fn upload(
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
                response.bytes().await.map(|text| (head, text))
            })
            .await
            .map_err(|stalled| ApiError::Transport(stalled.to_string()))?
            .map_err(|e| ApiError::Transport(describe(e)))?;
        if status.as_u16() == 201 {
            let asset =
                serde_json::from_slice(&text).map_err(|e| ApiError::Decode(e.to_string()))?;
            return Ok((asset, sent.map(|s| s.finish())));
        }
        Err(ApiError::from_answer(status.as_u16(), &headers, &text))
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

/// What [`Api::hash_answer`] got: the hash, or a redirect to follow.
enum Hashed {
    Done([u8; 32]),
    Moved(Answer),
}

/// The `Location` of a redirect answer, resolved against the URL that was asked.
fn redirect_target(url: &str, answer: &Answer) -> Result<String, ApiError> {
    if !(300..400).contains(&answer.status) {
        return Err(ApiError::Decode(format!(
            "`GET {url}` answered {} where a redirect to the bytes was expected",
            answer.status
        )));
    }
    let location = answer
        .headers
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::Decode(format!(
                "`GET {url}` answered {} without a Location",
                answer.status
            ))
        })?;
    let base = reqwest::Url::parse(url).map_err(|e| ApiError::Decode(e.to_string()))?;
    base.join(location).map(String::from).map_err(|e| {
        ApiError::Decode(format!(
            "`GET {url}` redirected to an unusable Location ({e})"
        ))
    })
}

/// `GET /repos/{owner}/{repo}/actions/runs/{run_id}/artifacts`, the fields used.
#[derive(Debug, Deserialize)]
struct RunArtifacts {
    #[serde(default)]
    total_count: u64,
    #[serde(default)]
    artifacts: Vec<RunArtifact>,
}

/// One artifact of another run, as the REST API lists it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RunArtifact {
    /// Its id.
    pub id: u64,
    /// Its name.
    pub name: String,
    /// Stored bytes.
    #[serde(default)]
    pub size_in_bytes: u64,
    /// `sha256:<hex>`, when GitHub records one.
    #[serde(default)]
    pub digest: Option<String>,
}

/// What an asset's bytes come from; re-opened for every attempt.
#[derive(Debug, Clone)]
pub(crate) enum AssetBody {
    /// A file.
    File { path: PathBuf, len: u64 },
    /// Generated content (the checksums file).
    Bytes(Bytes),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_artifact_list_reads_githubs_fields() {
        // A trimmed artifact object as GET /repos/{owner}/{repo}/actions/runs/{run_id}/artifacts
        // documents it (docs.github.com, "List workflow run artifacts").
        let body: RunArtifacts = serde_json::from_str(
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

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().expect("header value"));
        }
        map
    }

    /// GitHub's documented error bodies (docs.github.com, "Troubleshooting the REST API"
    /// and "Rate limits for the REST API") read into one error, and the retry policy's
    /// verdict and wait for each.
    #[test]
    fn error_answers_are_read_once_and_retried_as_github_asks() {
        let validation = ApiError::from_answer(
            422,
            &HeaderMap::new(),
            br#"{"message":"Validation Failed","errors":[{"resource":"Release","code":"already_exists","field":"tag_name"}],"documentation_url":"https://docs.github.com/rest"}"#,
        );
        assert_eq!(
            validation.to_string(),
            "422 Validation Failed: Release already_exists tag_name"
        );
        assert_eq!(validation.code(), Some("already_exists"));
        assert!(!validation.retryable());

        let secondary = ApiError::from_answer(
            403,
            &headers(&[("retry-after", "7")]),
            br#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}"#,
        );
        assert!(secondary.retryable());
        assert_eq!((RETRY.delay)(1, &secondary), Duration::from_secs(7));

        let unnamed_wait = ApiError::from_answer(
            403,
            &HeaderMap::new(),
            br#"{"message":"API rate limit exceeded for user ID 1."}"#,
        );
        assert!(unnamed_wait.retryable());
        assert_eq!((RETRY.delay)(1, &unnamed_wait), Duration::from_mins(1));

        let forbidden = ApiError::from_answer(
            403,
            &headers(&[("x-ratelimit-remaining", "4999")]),
            br#"{"message":"Resource not accessible by integration"}"#,
        );
        assert!(!forbidden.retryable(), "a permission problem is final");

        let reset = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs()
            + 30;
        let spent = ApiError::from_answer(
            403,
            &headers(&[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", &reset.to_string()),
            ]),
            b"not json",
        );
        assert!(spent.retryable());
        assert!(spent.to_string().starts_with("403 (no message)"));
        let wait = (RETRY.delay)(1, &spent);
        assert!(
            (Duration::from_secs(28)..=Duration::from_secs(30)).contains(&wait),
            "{wait:?}"
        );

        let server = ApiError::from_answer(502, &HeaderMap::new(), b"");
        assert!(server.retryable());
        assert_eq!((RETRY.delay)(1, &server), Duration::from_millis(500));
        assert_eq!((RETRY.delay)(3, &server), Duration::from_secs(2));
        assert_eq!(RETRY.attempts, 4);
    }

    /// A loopback server standing in for GitHub after a repository was renamed
    /// (docs.github.com, "Best practices for using the REST API": follow redirects):
    /// `/repos/old/name/...` answers 301 on `GET` and 307 otherwise, pointing at
    /// `/repositories/1/...`, which answers; `/elsewhere` redirects to another origin.
    /// Records each request's method, path and whether it carried the token.
    fn renamed_repository() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
        use std::io::{BufRead as _, BufReader, Read as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = std::sync::Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming().take(64) {
                let Ok(stream) = stream else { return };
                let mut reader = BufReader::new(&stream);
                let mut first = String::new();
                let _ = reader.read_line(&mut first);
                let (mut token, mut length) = (false, 0usize);
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    let lower = line.to_ascii_lowercase();
                    token |= lower.starts_with("authorization: bearer secret");
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    line.clear();
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let mut parts = first.split_whitespace();
                let method = parts.next().unwrap_or_default().to_owned();
                let path = parts.next().unwrap_or_default().to_owned();
                log.lock()
                    .expect("log")
                    .push(format!("{method} {path} token={token}"));
                let (status, location, text) = if let Some(rest) =
                    path.strip_prefix("/repos/old/name")
                {
                    let code = if method == "GET" {
                        "301 Moved Permanently"
                    } else {
                        "307 Temporary Redirect"
                    };
                    (
                        code,
                        format!("http://{addr}/repositories/1{rest}"),
                        r#"{"message":"Moved Permanently"}"#.to_owned(),
                    )
                } else if path.starts_with("/elsewhere") {
                    (
                        "307 Temporary Redirect",
                        "http://127.0.0.2:9/x".to_owned(),
                        String::new(),
                    )
                } else if method == "DELETE" {
                    ("204 No Content", String::new(), String::new())
                } else {
                    (
                        "200 OK",
                        String::new(),
                        format!(
                            r#"{{"id":5,"tag_name":"v1","draft":false,"upload_url":"http://{addr}/u{{?name}}","html_url":"http://{addr}/r","sent":{}}}"#,
                            String::from_utf8_lossy(&body).len()
                        ),
                    )
                };
                let location = if location.is_empty() {
                    String::new()
                } else {
                    format!("location: {location}\r\n")
                };
                let mut stream = &stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\n{location}content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                    text.len()
                );
            }
        });
        (format!("http://{addr}"), seen)
    }

    fn block_on<T>(work: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(work)
    }

    #[test]
    fn a_renamed_repository_is_followed_within_the_api_with_the_token() {
        let (base, seen) = renamed_repository();
        let token = Secret::new("secret".into());
        let api = Api::new(&base, &token, "old/name", Duration::from_secs(5)).expect("api");
        let found = block_on(api.release_by_tag("v1")).expect("followed");
        assert_eq!(found.map(|r| r.id), Some(5));
        block_on(api.delete_asset(9)).expect("the 307 was followed with DELETE");
        let seen = seen.lock().expect("log").clone();
        assert_eq!(
            seen,
            [
                "GET /repos/old/name/releases/tags/v1 token=true",
                "GET /repositories/1/releases/tags/v1 token=true",
                "DELETE /repos/old/name/releases/assets/9 token=true",
                "DELETE /repositories/1/releases/assets/9 token=true",
            ]
        );
    }

    #[test]
    fn a_redirect_out_of_the_api_is_an_error_never_a_success() {
        let (base, seen) = renamed_repository();
        let token = Secret::new("secret".into());
        let api = Api::new(
            &format!("{base}/elsewhere"),
            &token,
            "o/r",
            Duration::from_secs(5),
        )
        .expect("api");
        let deleted = block_on(api.delete_asset(9));
        assert_eq!(
            deleted.as_ref().err().and_then(ApiError::status),
            Some(307),
            "{deleted:?}"
        );
        let listed = block_on(api.run_artifacts(7, 10));
        assert_eq!(
            listed.as_ref().err().and_then(ApiError::status),
            Some(307),
            "{listed:?}"
        );
        assert_eq!(
            seen.lock().expect("log").len(),
            2,
            "nothing sent to the other origin"
        );
    }
}
