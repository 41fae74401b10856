//! Azure block-blob uploads through a signed (SAS) URL, as `@azure/storage-blob`'s
//! `uploadStream` does them for `@actions/artifact` (reference/artifact-protocol.md
//! section 4): Put Block per 8 MiB block, then Put Block List in upload order; only 201
//! counts as success. Retries follow the SDK: four tries, waiting 0 s, 4 s, 12 s, on 500,
//! 503 and network errors. Each attempt has a deadline (the stall timeout), so a block that
//! stops moving is retried instead of hanging the job.
//!
//! The URL's `sig` is a credential: errors are rendered without URLs.

use std::fmt::Write as _;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;

use crate::net::{Http, Retry, Verdict, Watch};

/// Size of every block but the last.
pub(crate) const BLOCK_SIZE: usize = 8 * 1024 * 1024;
/// Storage API version sent (the newest Azurite 3.35 knows; the real service accepts it).
const X_MS_VERSION: &str = "2025-11-05";
/// Tries per request.
const MAX_TRIES: u32 = 4;
/// The SDK's policy: [`MAX_TRIES`], waiting [`retry_delay`] before each (attempt `n` is
/// try `n + 1`).
const RETRY: Retry = Retry {
    attempts: MAX_TRIES,
    delay: |attempt, _| retry_delay(attempt + 1),
};

/// Why a blob request failed for good.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BlobError {
    /// The store answered with a status other than 201.
    #[error("{operation} answered {status}{code}")]
    Status {
        /// Put Block or Put Block List.
        operation: &'static str,
        /// HTTP status.
        status: u16,
        /// `: <x-ms-error-code>` or empty.
        code: String,
    },
    /// Every try failed.
    #[error("{operation} failed after {MAX_TRIES} tries: {last}")]
    Exhausted {
        /// Put Block or Put Block List.
        operation: &'static str,
        last: String,
    },
}

/// One blob, addressed by its signed URL.
#[derive(Debug, Clone)]
pub(crate) struct BlobTarget {
    http: Http,
    url: reqwest::Url,
    stall: Duration,
}

impl BlobTarget {
    /// A target for `signed_url`; each request attempt may take at most `stall`.
    pub(crate) fn new(http: Http, signed_url: &str, stall: Duration) -> Result<Self, String> {
        let url = reqwest::Url::parse(signed_url)
            .map_err(|e| format!("the service returned an invalid upload URL ({e})"))?;
        Ok(BlobTarget { http, url, stall })
    }

    fn with_query(&self, pairs: &[(&str, &str)]) -> reqwest::Url {
        let mut url = self.url.clone();
        {
            let mut query = url.query_pairs_mut();
            for (k, v) in pairs {
                query.append_pair(k, v);
            }
        }
        url
    }

    /// Put Block.
    pub(crate) async fn put_block(&self, id: &str, data: Bytes) -> Result<(), BlobError> {
        let url = self.with_query(&[("comp", "block"), ("blockid", id)]);
        self.send("Put Block", |watch| {
            self.http
                .client
                .put(url.clone())
                .header("content-type", "application/octet-stream")
                .header("x-ms-version", X_MS_VERSION)
                .header("content-length", data.len())
                .body(watch.bytes_body(data.clone()))
        })
        .await
    }

    /// Put Block List: commits `ids` in order, with the blob's content type.
    pub(crate) async fn put_block_list(
        &self,
        ids: &[String],
        content_type: &str,
    ) -> Result<(), BlobError> {
        let url = self.with_query(&[("comp", "blocklist")]);
        let body = Bytes::from(block_list_xml(ids));
        self.send("Put Block List", |_| {
            self.http
                .client
                .put(url.clone())
                .header("content-type", "application/xml")
                .header("x-ms-version", X_MS_VERSION)
                .header("x-ms-blob-content-type", content_type)
                .body(body.clone())
        })
        .await
    }

    async fn send(
        &self,
        operation: &'static str,
        request: impl Fn(&Watch) -> reqwest::RequestBuilder,
    ) -> Result<(), BlobError> {
        RETRY
            .run(|_| self.attempt(operation, &request))
            .await
            .map_err(|verdict| verdict.give_up(|last| BlobError::Exhausted { operation, last }))
    }

    /// One try: only 201 is success; 500, 503, a stall and network errors are retried.
    async fn attempt(
        &self,
        operation: &'static str,
        request: &impl Fn(&Watch) -> reqwest::RequestBuilder,
    ) -> Result<(), Verdict<BlobError>> {
        let watch = self.http.watch();
        watch.describe("PUT", self.url.as_str());
        let sent = watch
            .run(request(&watch).timeout(self.stall).send())
            .await
            .map_err(|stalled| Verdict::Retry(stalled.to_string()))?;
        if let Ok(response) = &sent {
            watch.answered(response.status());
        }
        match sent {
            Ok(response) if response.status().as_u16() == 201 => Ok(()),
            Ok(response) => {
                let status = response.status().as_u16();
                let code = response
                    .headers()
                    .get("x-ms-error-code")
                    .and_then(|v| v.to_str().ok())
                    .map(|c| format!(": {c}"))
                    .unwrap_or_default();
                if status != 500 && status != 503 {
                    return Err(Verdict::Fail(BlobError::Status {
                        operation,
                        status,
                        code,
                    }));
                }
                Err(Verdict::Retry(format!("{status}{code}")))
            }
            Err(e) if e.is_timeout() => Err(Verdict::Retry(format!(
                "did not finish within {} s (ACTIONS_ARTIFACT_UPLOAD_TIMEOUT_MS)",
                self.stall.as_secs()
            ))),
            Err(e) => Err(Verdict::Retry(crate::net::describe(e))),
        }
    }
}

/// The SDK's wait before try `attempt` (1-based): `min((2^(attempt-1) - 1) · 4 s, 120 s)`
/// from the second try on (0 s, 4 s, 12 s).
#[must_use]
pub(crate) fn retry_delay(attempt: u32) -> Duration {
    if attempt <= 1 {
        return Duration::ZERO;
    }
    let factor = (1u64 << (attempt - 2).min(20)) - 1;
    Duration::from_millis((factor * 4000).min(120_000))
}

/// Block ID `index` of an upload: base64 of a per-upload UUID and the index padded to
/// 12 digits, so every ID has the same length, as Azure requires.
#[must_use]
pub(crate) fn block_id(uuid: &str, index: usize) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{uuid}{index:012}"))
}

/// A random version-4 UUID in its textual form.
#[must_use]
pub(crate) fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    // Without randomness the IDs only need to be unique within the upload, which the
    // index already makes them.
    let _ = getrandom::fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// The Put Block List body, exactly as the SDK writes it.
#[must_use]
pub(crate) fn block_list_xml(ids: &[String]) -> String {
    let mut xml = String::from(r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"#);
    if ids.is_empty() {
        xml.push_str("<BlockList/>");
        return xml;
    }
    xml.push_str("<BlockList>");
    for id in ids {
        let _ = write!(xml, "<Latest>{id}</Latest>");
    }
    xml.push_str("</BlockList>");
    xml
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_ids_as_the_sdk_makes_them() {
        // Reference section 4's example.
        assert_eq!(
            block_id("8f8b9310-d029-4131-a536-e9248718105d", 0),
            "OGY4YjkzMTAtZDAyOS00MTMxLWE1MzYtZTkyNDg3MTgxMDVkMDAwMDAwMDAwMDAw"
        );
        let uuid = uuid_v4();
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4");
        assert_eq!(block_id(&uuid, 7).len(), block_id(&uuid, 123_456).len());
    }

    #[test]
    fn block_list_bodies() {
        assert_eq!(
            block_list_xml(&[]),
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><BlockList/>"#
        );
        assert_eq!(
            block_list_xml(&["QQ==".into(), "Qg==".into()]),
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><BlockList><Latest>QQ==</Latest><Latest>Qg==</Latest></BlockList>"#
        );
    }

    #[test]
    fn sdk_retry_delays() {
        let delays: Vec<u64> = (1..=4).map(|a| retry_delay(a).as_secs()).collect();
        assert_eq!(delays, [0, 0, 4, 12]);
    }
}
