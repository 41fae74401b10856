//! Signed S3 requests with retries. Each attempt re-creates its body (a file is reopened,
//! a part is re-sent from memory) and is signed afresh; throttling (`SlowDown`, 429, 503),
//! server errors and dropped connections are retried with exponential backoff and jitter.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use super::keys::Endpoint;
use super::sign::{Payload, Signer};
use crate::net::{Http, Retry, Verdict, describe, random_unit};

/// Attempts per request.
const MAX_ATTEMPTS: u32 = 5;
/// First backoff; doubled per attempt, with jitter.
const BASE_BACKOFF: Duration = Duration::from_millis(500);
/// [`MAX_ATTEMPTS`], waiting [`backoff`] before each retry.
const RETRY: Retry = Retry {
    attempts: MAX_ATTEMPTS,
    delay: |attempt, _| backoff(attempt),
};

/// A request body that can be produced again for every attempt.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    /// No body.
    Empty,
    /// Bytes in memory (a part, XML).
    Bytes(Bytes),
    /// A whole file, streamed from disk.
    File { path: PathBuf, len: u64 },
}

/// What S3 answered.
#[derive(Debug)]
pub(crate) struct Reply {
    /// HTTP status.
    pub(crate) status: u16,
    /// Response headers.
    pub(crate) headers: reqwest::header::HeaderMap,
    /// Response body.
    pub(crate) body: Bytes,
}

/// Why a request failed for good.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RequestError {
    /// S3 answered with an error that retrying does not fix.
    #[error("{status} {code}{}", if message.is_empty() { String::new() } else { format!(": {message}") })]
    Refused {
        /// HTTP status.
        status: u16,
        /// S3 error code (`SignatureDoesNotMatch`, `NoSuchBucket`, `BadDigest`, ...).
        code: String,
        /// S3's message.
        message: String,
    },
    /// Every attempt failed.
    #[error("failed after {MAX_ATTEMPTS} attempts: {last}")]
    Exhausted { last: String },
    /// The file could not be read.
    #[error("cannot read `{}`: {message}", path.display())]
    Read { path: PathBuf, message: String },
    /// The request could not be signed.
    #[error("{0}")]
    Sign(String),
}

impl RequestError {
    /// The S3 error code, when S3 refused.
    #[must_use]
    pub fn code(&self) -> Option<&str> {
        match self {
            RequestError::Refused { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// A client for one bucket.
#[derive(Debug)]
pub(crate) struct Client {
    pub(crate) http: Http,
    pub(crate) signer: Signer,
    pub(crate) endpoint: Endpoint,
    pub(crate) bucket: String,
}

impl Client {
    /// The URL of `key` with an optional query (already encoded).
    #[must_use]
    pub(crate) fn url(&self, key: &str, query: &str) -> String {
        let base = self.endpoint.object_url(&self.bucket, key);
        if query.is_empty() {
            base
        } else {
            format!("{base}?{query}")
        }
    }

    /// Sends a signed request, retrying as described in the module docs. `headers` are sent
    /// and signed.
    pub(crate) async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        headers: &[(&str, String)],
        body: &Body,
        payload: Payload<'_>,
    ) -> Result<Reply, RequestError> {
        RETRY
            .run(|_| self.attempt(method.clone(), url, headers, body, payload))
            .await
            .map_err(|verdict| verdict.give_up(|last| RequestError::Exhausted { last }))
    }

    async fn attempt(
        &self,
        method: reqwest::Method,
        url: &str,
        headers: &[(&str, String)],
        body: &Body,
        payload: Payload<'_>,
    ) -> Result<Reply, Verdict<RequestError>> {
        let to_sign: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let signed = self
            .signer
            .sign(method.as_str(), url, &to_sign, payload, SystemTime::now())
            .map_err(|e| Verdict::Fail(RequestError::Sign(e)))?;
        let watch = self.http.watch();
        watch.describe(method.as_str(), url);
        let mut request = self.http.client.request(method, url);
        for (k, v) in headers.iter().map(|(k, v)| (*k, v.as_str())) {
            request = request.header(k, v);
        }
        for (k, v) in &signed {
            request = request.header(*k, v.as_str());
        }
        request = match body {
            Body::Empty => request.header("content-length", "0"),
            Body::Bytes(bytes) => request
                .header("content-length", bytes.len())
                .body(watch.bytes_body(bytes.clone())),
            Body::File { path, len } => {
                let body = watch.file_body(path).await.map_err(|e| {
                    Verdict::Fail(RequestError::Read {
                        path: path.clone(),
                        message: e.to_string(),
                    })
                })?;
                request.header("content-length", len.to_string()).body(body)
            }
        };
        let answer = watch
            .run(async {
                let response = request.send().await?;
                watch.touch();
                watch.answered(response.status());
                let status = response.status().as_u16();
                let headers = response.headers().clone();
                response.bytes().await.map(|body| (status, headers, body))
            })
            .await
            .map_err(|stalled| Verdict::Retry(stalled.to_string()))?;
        let (status, headers, body) = answer.map_err(|e| Verdict::Retry(describe(e)))?;
        read_reply(status, headers, body)
    }
}

/// What S3's answer means: success, throttling or a server error (retried), or a refusal.
fn read_reply(
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Bytes,
) -> Result<Reply, Verdict<RequestError>> {
    // CompleteMultipartUpload can answer 200 with an error document.
    let embedded_error = status == 200 && body.starts_with(b"<?xml") && has_error(&body);
    if (200..300).contains(&status) && !embedded_error {
        return Ok(Reply {
            status,
            headers,
            body,
        });
    }
    let code = xml_text(&body, "Code").unwrap_or_default();
    let message = xml_text(&body, "Message").unwrap_or_default();
    let retryable = matches!(status, 429 | 500 | 502 | 503 | 504)
        || embedded_error
        || matches!(
            code.as_str(),
            "SlowDown" | "RequestTimeout" | "InternalError" | "ServiceUnavailable"
        );
    if retryable {
        Err(Verdict::Retry(
            format!("{status} {code} {message}").trim().to_owned(),
        ))
    } else {
        Err(Verdict::Fail(RequestError::Refused {
            status,
            code,
            message,
        }))
    }
}

fn backoff(attempt: u32) -> Duration {
    let base = BASE_BACKOFF.saturating_mul(1 << attempt.min(6).saturating_sub(1));
    // Full jitter in the upper half keeps retries of many objects from moving in step.
    base.mul_f64(0.5 + 0.5 * random_unit())
}

fn has_error(body: &[u8]) -> bool {
    memchr::memmem::find(body, b"<Error>").is_some()
}

/// The text of the first `<tag>…</tag>` in an XML document (S3's documents are flat and
/// never nest a tag in itself), with the five predefined entities decoded.
#[must_use]
pub(crate) fn xml_text(body: &[u8], tag: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = text.find(&open)? + open.len();
    let end = start + text[start..].find(&close)?;
    Some(
        text[start..end]
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_fields() {
        let body = b"<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code><Message>a &amp; b</Message></Error>";
        assert_eq!(
            xml_text(body, "Code").as_deref(),
            Some("SignatureDoesNotMatch")
        );
        assert_eq!(xml_text(body, "Message").as_deref(), Some("a & b"));
        assert_eq!(xml_text(body, "UploadId"), None);
    }

    #[test]
    fn backoff_grows() {
        assert!(backoff(1) >= Duration::from_millis(250) && backoff(1) <= BASE_BACKOFF);
        assert!(backoff(4) >= Duration::from_secs(2));
    }
}
