//! The v3 artifact protocol: the pipelines service at `ACTIONS_RUNTIME_URL`, as
//! `@actions/artifact` 1.x (upload-artifact v3) speaks it. GitHub Enterprise Server has no
//! results service, so this is the only artifact protocol it serves; act serves it too.
//!
//! An artifact is a file container: `POST …/artifacts` creates it and names its
//! `fileContainerResourceUrl`; every file is `PUT` there under `itemPath=<artifact>/<path>`
//! in ranges (`Content-Range`), gzip-encoded when that is smaller (`Content-Encoding: gzip`
//! and the original length in `x-tfs-filelength`); `PATCH …/artifacts?artifactName=` with
//! the total size finalizes it. Downloads list the run's containers, then a container's
//! items, then `GET` each item's `contentLocation`, which may answer gzip-encoded.
//!
//! Every request carries `api-version=6.0-preview` and the runtime token as a bearer, as the
//! official client's do; the token goes only to `ACTIONS_RUNTIME_URL`'s origin.

use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::net::{Http, Retry, Verdict, describe, random_unit};
use crate::secret::Secret;

/// The API version every request names (`getApiVersion()`).
pub(crate) const API_VERSION: &str = "6.0-preview";

/// Attempts per request: the official client's first try and its 5 retries.
pub(crate) const ATTEMPTS: u32 = 6;

/// Statuses the official client retries (`isRetryableStatusCode`); 429 waits `retry-after`.
const RETRYABLE: &[u16] = &[413, 429, 500, 502, 503, 504];

/// Why a retryable attempt failed, and the wait the server asked for.
#[derive(Debug, Clone)]
pub(crate) struct Again {
    why: String,
    wait: Option<Duration>,
}

impl Again {
    /// A reason to retry with no wait asked for.
    pub(crate) fn new(why: String) -> Self {
        Again { why, wait: None }
    }

    /// Why the attempt failed.
    pub(crate) fn why(&self) -> &str {
        &self.why
    }
}

/// The wait before a retry: `retry-after` when the server sent one (at most a minute),
/// else 0.5 s doubling to 8 s, with up to 25 % jitter. The official client's 3 s × 1.5ⁿ
/// adds half a minute to every transient failure for no gain on a runner's network.
pub(crate) const RETRY: Retry<Again> = Retry {
    attempts: ATTEMPTS,
    delay: |n, again| {
        again.wait.map_or_else(
            || {
                Duration::from_secs_f64(
                    0.5 * f64::from(1u32 << (n - 1).min(4)) * (1.0 + random_unit() * 0.25),
                )
            },
            |wait| wait.min(Duration::from_mins(1)),
        )
    },
};

/// Why a call to the pipelines service failed.
#[derive(Debug, thiserror::Error)]
pub enum PipelinesError {
    /// `ACTIONS_RUNTIME_URL` is not an http(s) URL.
    #[error("ACTIONS_RUNTIME_URL {0}")]
    Url(String),
    /// Nothing answered at the service's address.
    #[error(
        "{what}: cannot connect to the artifact service at {origin} ({message}); check ACTIONS_RUNTIME_URL and the runner's network"
    )]
    Network {
        what: &'static str,
        origin: String,
        message: String,
    },
    /// The service refused, and retrying cannot help.
    #[error("{what}: HTTP {status} {message}")]
    Rejected {
        what: &'static str,
        status: u16,
        message: String,
    },
    /// Every attempt failed for a reason worth retrying.
    #[error("{what} failed after {ATTEMPTS} attempts: {last}")]
    Exhausted { what: &'static str, last: String },
    /// An answer that is not what the protocol describes.
    #[error("{what}: unexpected answer from the artifact service: {detail}")]
    Invalid { what: &'static str, detail: String },
}

impl PipelinesError {
    /// The HTTP status of a refusal.
    #[must_use]
    pub(crate) fn status(&self) -> Option<u16> {
        match self {
            PipelinesError::Rejected { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A container the service created for an artifact.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Container {
    /// Where its files are put.
    pub(crate) file_container_resource_url: String,
    /// Its id (GitHub Enterprise Server names one; act does not).
    #[serde(default, deserialize_with = "loose_id")]
    pub(crate) container_id: Option<u64>,
}

/// One artifact of the run, as listed.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Listed {
    pub(crate) name: String,
    /// Where its items are listed.
    pub(crate) file_container_resource_url: String,
    #[serde(default, deserialize_with = "loose_id")]
    pub(crate) container_id: Option<u64>,
    /// Its size, when the service records one.
    #[serde(default)]
    pub(crate) size: Option<i64>,
}

/// One item of a container.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Item {
    /// `<artifact>/<path>`, with `/` or (from a Windows uploader) `\` separators.
    pub(crate) path: String,
    /// `file` or `folder`.
    #[serde(rename = "itemType")]
    pub(crate) kind: String,
    /// Where its bytes are.
    #[serde(default)]
    pub(crate) content_location: String,
    /// Its length, when listed (act lists none).
    #[serde(default)]
    pub(crate) file_length: Option<u64>,
}

/// `{count, value}` listings; `value` may be `null` (act's empty list).
#[derive(Debug, Deserialize)]
struct Values<T> {
    #[serde(default = "Option::default")]
    value: Option<Vec<T>>,
}

/// An id the service writes as a number or as a string.
fn loose_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.parse().ok(),
        _ => None,
    })
}

/// One range of a file to put.
#[derive(Debug, Clone)]
pub(crate) struct Range {
    /// Its bytes (gzip-encoded when `original` is set).
    pub(crate) body: Bytes,
    /// Offset of `body` in the uploaded stream.
    pub(crate) start: u64,
    /// Length of the whole uploaded stream.
    pub(crate) total: u64,
    /// The file's length before gzip, for a gzip-encoded stream.
    pub(crate) original: Option<u64>,
}

/// A client for this run's artifacts at the pipelines service.
#[derive(Debug, Clone)]
pub(crate) struct Pipelines {
    http: Http,
    /// `…_apis/pipelines/workflows/{run}/artifacts?api-version=6.0-preview`.
    artifacts: reqwest::Url,
    /// Where the token may go.
    origin: String,
    token: Secret,
}

impl Pipelines {
    /// `runtime_url` is `ACTIONS_RUNTIME_URL` (ending in `/`, as the runner sets it; one
    /// is added when missing), `run_id` is `GITHUB_RUN_ID`.
    pub(crate) fn new(
        http: Http,
        runtime_url: &str,
        run_id: &str,
        token: Secret,
    ) -> Result<Self, PipelinesError> {
        let mut base = runtime_url.to_owned();
        if !base.ends_with('/') {
            base.push('/');
        }
        let base = reqwest::Url::parse(&base)
            .map_err(|e| PipelinesError::Url(format!("is not a URL ({e})")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(PipelinesError::Url("must be an http(s) URL".into()));
        }
        if run_id.is_empty() || !run_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PipelinesError::Url(format!(
                "needs GITHUB_RUN_ID, the run's number (got `{}`)",
                run_id.escape_debug()
            )));
        }
        let mut artifacts = base
            .join(&format!("_apis/pipelines/workflows/{run_id}/artifacts"))
            .map_err(|e| PipelinesError::Url(format!("is not a base URL ({e})")))?;
        artifacts
            .query_pairs_mut()
            .append_pair("api-version", API_VERSION);
        Ok(Pipelines {
            origin: base.origin().ascii_serialization(),
            http,
            artifacts,
            token,
        })
    }

    /// The HTTP client, for the caller's own streamed requests.
    pub(crate) fn http(&self) -> &Http {
        &self.http
    }

    /// `POST …/artifacts`: a container for artifact `name`.
    pub(crate) async fn create(
        &self,
        name: &str,
        retention_days: Option<u32>,
    ) -> Result<Container, PipelinesError> {
        let mut body = serde_json::json!({ "Type": "actions_storage", "Name": name });
        if let Some(days) = retention_days {
            body["RetentionDays"] = days.into();
        }
        let url = self.artifacts.clone();
        let created: Container = self
            .json("create the artifact container", || {
                self.request(reqwest::Method::POST, &url)
                    .header("content-type", "application/json")
                    .body(body.to_string())
            })
            .await?;
        Ok(created)
    }

    /// `PUT` one range of `item` (`<artifact>/<path>`) into the container.
    pub(crate) async fn put(
        &self,
        container: &str,
        item: &str,
        range: &Range,
    ) -> Result<(), PipelinesError> {
        let mut url = reqwest::Url::parse(container).map_err(|e| PipelinesError::Invalid {
            what: "upload a file",
            detail: format!("the container URL does not parse ({e})"),
        })?;
        url.query_pairs_mut().append_pair("itemPath", item);
        // Inclusive ends; an empty file is `bytes 0--1/0`, as the official client sends it.
        let end = i128::from(range.start) + range.body.len() as i128 - 1;
        let content_range = format!("bytes {}-{end}/{}", range.start, range.total);
        self.call("upload a file", || {
            let mut request = self
                .request(reqwest::Method::PUT, &url)
                .header("content-type", "application/octet-stream")
                .header("content-range", &content_range)
                .header("content-length", range.body.len());
            if let Some(original) = range.original {
                request = request
                    .header("content-encoding", "gzip")
                    .header("x-tfs-filelength", original);
            }
            request.body(range.body.clone())
        })
        .await
        .map(drop)
    }

    /// `PATCH …/artifacts?artifactName=`: the artifact's size, which finalizes it.
    pub(crate) async fn finalize(&self, name: &str, size: u64) -> Result<(), PipelinesError> {
        let mut url = self.artifacts.clone();
        url.query_pairs_mut().append_pair("artifactName", name);
        let body = serde_json::json!({ "Size": size }).to_string();
        self.call("finalize the artifact", || {
            self.request(reqwest::Method::PATCH, &url)
                .header("content-type", "application/json")
                .body(body.clone())
        })
        .await
        .map(drop)
    }

    /// `GET …/artifacts`: the run's artifacts.
    pub(crate) async fn list(&self) -> Result<Vec<Listed>, PipelinesError> {
        let url = self.artifacts.clone();
        let listed: Values<Listed> = self
            .json("list the run's artifacts", || {
                self.request(reqwest::Method::GET, &url)
            })
            .await?;
        Ok(listed.value.unwrap_or_default())
    }

    /// `GET <container>?itemPath=<name>`: the items of artifact `name`.
    pub(crate) async fn items(
        &self,
        container: &str,
        name: &str,
    ) -> Result<Vec<Item>, PipelinesError> {
        let mut url = reqwest::Url::parse(container).map_err(|e| PipelinesError::Invalid {
            what: "list the artifact's files",
            detail: format!("the container URL does not parse ({e})"),
        })?;
        url.query_pairs_mut().append_pair("itemPath", name);
        let items: Values<Item> = self
            .json("list the artifact's files", || {
                self.request(reqwest::Method::GET, &url)
            })
            .await?;
        Ok(items.value.unwrap_or_default())
    }

    /// A `GET` of an item's bytes, gzip accepted, as the official client asks for them.
    pub(crate) fn item_request(&self, url: &reqwest::Url) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::GET, url)
            .header("accept-encoding", "gzip")
            .header(
                "accept",
                format!("application/octet-stream;api-version={API_VERSION}"),
            )
    }

    /// A request with the API version accepted, and the token when `url` is the
    /// service's own origin.
    fn request(&self, method: reqwest::Method, url: &reqwest::Url) -> reqwest::RequestBuilder {
        let request = self.http.client.request(method, url.clone()).header(
            "accept",
            format!("application/json;api-version={API_VERSION}"),
        );
        if url.origin().ascii_serialization() == self.origin {
            request.bearer_auth(self.token.expose())
        } else {
            request
        }
    }

    /// [`Pipelines::call`], the answer parsed as JSON.
    async fn json<T: DeserializeOwned>(
        &self,
        what: &'static str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<T, PipelinesError> {
        let text = self.call(what, build).await?;
        serde_json::from_slice(&text).map_err(|e| PipelinesError::Invalid {
            what,
            detail: e.to_string(),
        })
    }

    /// Sends the request [`RETRY`] allows, and returns the successful answer's body.
    async fn call(
        &self,
        what: &'static str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<Bytes, PipelinesError> {
        RETRY
            .run(|_| self.attempt(what, build()))
            .await
            .map_err(|v| {
                v.give_up(|last| PipelinesError::Exhausted {
                    what,
                    last: last.why,
                })
            })
    }

    async fn attempt(
        &self,
        what: &'static str,
        request: reqwest::RequestBuilder,
    ) -> Result<Bytes, Verdict<PipelinesError, Again>> {
        let watch = self.http.watch();
        let again = |why: String| Verdict::Retry(Again::new(why));
        let answer = watch
            .run(async {
                let response = request.send().await?;
                watch.touch();
                watch.answered(response.status());
                let status = response.status();
                let wait = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                response.bytes().await.map(|body| (status, wait, body))
            })
            .await
            .map_err(|stalled| again(stalled.to_string()))?;
        let (status, wait, body) = answer.map_err(|e| {
            if e.is_connect() {
                Verdict::Fail(PipelinesError::Network {
                    what,
                    origin: self.origin.clone(),
                    message: describe(e),
                })
            } else {
                again(describe(e))
            }
        })?;
        if status.is_success() {
            return Ok(body);
        }
        let message = answer_message(status, &body);
        if RETRYABLE.contains(&status.as_u16()) {
            return Err(Verdict::Retry(Again {
                why: format!("HTTP {} {message}", status.as_u16()),
                wait: wait.filter(|_| status.as_u16() == 429),
            }));
        }
        Err(Verdict::Fail(PipelinesError::Rejected {
            what,
            status: status.as_u16(),
            message,
        }))
    }
}

/// What a refusal says: the service's `message` when its body is JSON with one, else its
/// status's reason (bodies of proxies and load balancers are HTML, not worth showing).
fn answer_message(status: reqwest::StatusCode, body: &[u8]) -> String {
    let reason = status.canonical_reason().unwrap_or("Unknown").to_owned();
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|json| {
            json.get("message")
                .and_then(serde_json::Value::as_str)
                .map(|m| format!("{reason}: {}", crate::secret::signatures(m.into())))
        })
        .unwrap_or(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(url: &str, run: &str) -> Result<Pipelines, PipelinesError> {
        let http = Http::new(Duration::from_secs(5)).expect("http");
        Pipelines::new(http, url, run, Secret::new("t".into()))
    }

    #[test]
    fn the_artifacts_url_is_the_official_clients() {
        let p = client("https://ghes.example/_services/pipelines/abc/", "42").expect("client");
        assert_eq!(
            p.artifacts.as_str(),
            "https://ghes.example/_services/pipelines/abc/_apis/pipelines/workflows/42/artifacts?api-version=6.0-preview"
        );
        // The runner's URL ends in `/`; one without keeps its last segment.
        let p = client("http://127.0.0.1:3000", "7").expect("client");
        assert_eq!(
            p.artifacts.as_str(),
            "http://127.0.0.1:3000/_apis/pipelines/workflows/7/artifacts?api-version=6.0-preview"
        );
    }

    #[tokio::test]
    async fn ranges_are_named_as_the_official_client_names_them() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let mut seen = Vec::new();
            for _ in 0..2 {
                let (mut socket, _) = listener.accept().await.expect("accept");
                let mut buf = vec![0u8; 4096];
                let n = socket.read(&mut buf).await.expect("read");
                let head = String::from_utf8_lossy(&buf[..n]).to_lowercase();
                seen.push(
                    head.lines()
                        .find_map(|l| l.strip_prefix("content-range: ").map(str::to_owned))
                        .unwrap_or_default(),
                );
                socket
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}",
                    )
                    .await
                    .expect("write");
            }
            seen
        });
        let p = client(&format!("http://{addr}/"), "1").expect("client");
        let container = format!("http://{addr}/upload/1");
        for (body, start, total) in [(&b""[..], 0, 0), (&b"xyz"[..], 8, 11)] {
            let range = Range {
                body: Bytes::from_static(body),
                start,
                total,
                original: None,
            };
            p.put(&container, "a/f", &range).await.expect("put");
        }
        assert_eq!(
            server.await.expect("server"),
            ["bytes 0--1/0", "bytes 8-10/11"]
        );
    }

    #[test]
    fn unusable_settings_are_named() {
        let e = client("ftp://x/", "1").expect_err("scheme");
        assert!(
            e.to_string()
                .contains("ACTIONS_RUNTIME_URL must be an http(s) URL"),
            "{e}"
        );
        let e = client("https://x/", "").expect_err("run");
        assert!(e.to_string().contains("GITHUB_RUN_ID"), "{e}");
    }

    #[test]
    fn listings_read_what_ghes_and_act_send() {
        let ghes: Values<Listed> = serde_json::from_str(
            r#"{"count":1,"value":[{"containerId":"17","size":12,"signedContent":null,"fileContainerResourceUrl":"https://h/c/17","type":"actions_storage","name":"a","url":"https://h/a"}]}"#,
        )
        .expect("ghes");
        let listed = ghes.value.expect("value");
        assert_eq!(listed[0].container_id, Some(17));
        assert_eq!(listed[0].size, Some(12));
        let act: Values<Listed> = serde_json::from_str(r#"{"count":0,"value":null}"#).expect("act");
        assert!(act.value.is_none());
    }
}
