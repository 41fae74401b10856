//! The results service's Twirp JSON client, with the official client's retry policy
//! (reference/artifact-protocol.md section 2.5): five attempts, 3 s then
//! `[3 s·1.5^a, 3 s·1.5^(a+1))`; a body that is not JSON is retried whatever the status
//! (load balancers answer with HTML pages); JSON errors are retried only for 429 and 5xx;
//! `insufficient usage` is never retried. A connection that cannot be made fails at once,
//! as in the official client (nothing was sent; the URL or the network is wrong); unlike
//! it, connections dropped mid-call and timeouts are retried.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::net::{Http, Retry, Verdict, describe, random_unit};
use crate::secret::Secret;

/// Path prefix of every method.
const SERVICE: &str = "/twirp/github.actions.results.api.v1.ArtifactService/";
/// Attempts per call.
const MAX_ATTEMPTS: u32 = 5;
/// First retry delay.
const BASE_DELAY: Duration = Duration::from_secs(3);
/// The official client's policy: [`MAX_ATTEMPTS`], waiting [`retry_delay`] after each.
const RETRY: Retry = Retry {
    attempts: MAX_ATTEMPTS,
    delay: |attempt, _| retry_delay(attempt - 1, random_unit()),
};
/// Statuses retried when the body is JSON.
const RETRYABLE: [u16; 5] = [429, 500, 502, 503, 504];

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum TwirpError {
    /// A status that is not worth retrying (4xx other than 429).
    #[error(
        "Failed to {method}: Received non-retryable error: Failed request: ({status}) {message}"
    )]
    Rejected {
        method: &'static str,
        /// HTTP status.
        status: u16,
        /// Status text and the service's `msg`.
        message: String,
        /// The Twirp error code, e.g. `already_exists`.
        code: String,
    },
    /// The storage quota is used up.
    #[error(
        "Failed to {method}: artifact storage quota has been hit ({message}); delete old artifacts or wait for the quota to recalculate"
    )]
    Usage {
        method: &'static str,
        message: String,
    },
    /// Every attempt failed with a retryable error.
    #[error("Failed to {method}: Failed to make request after {MAX_ATTEMPTS} attempts: {last}")]
    Exhausted { method: &'static str, last: String },
    /// The service could not be reached at all.
    #[error(
        "Failed to {method}: cannot connect to the results service at {origin} ({message}); check ACTIONS_RESULTS_URL and the runner's network"
    )]
    Network {
        method: &'static str,
        origin: String,
        message: String,
    },
    /// A 2xx answer that says `ok: false` or does not parse.
    #[error("Failed to {method}: response from backend was not ok{detail}")]
    InvalidResponse {
        method: &'static str,
        /// What was wrong, with a leading separator, or empty.
        detail: String,
    },
}

impl TwirpError {
    /// The Twirp code of a rejected call.
    #[must_use]
    pub fn code(&self) -> Option<&str> {
        match self {
            TwirpError::Rejected { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The HTTP status of a rejected call.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            TwirpError::Rejected { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A client for one results service and token.
#[derive(Debug, Clone)]
pub(crate) struct TwirpClient {
    http: Http,
    origin: String,
    token: Secret,
}

impl TwirpClient {
    /// `results_url` is `ACTIONS_RESULTS_URL`; only its origin is used, as the official
    /// client uses only `new URL(v).origin`.
    pub(crate) fn new(http: Http, results_url: &str, token: Secret) -> Result<Self, String> {
        Ok(TwirpClient {
            http,
            origin: origin(results_url)?,
            token,
        })
    }

    /// Calls `method` with `request`, retrying as described in the module docs.
    pub(crate) async fn call<Q: Serialize, R: DeserializeOwned>(
        &self,
        method: &'static str,
        request: &Q,
    ) -> Result<R, TwirpError> {
        let body = serde_json::to_vec(request).map_err(|e| TwirpError::InvalidResponse {
            method,
            detail: format!(": cannot encode the request: {e}"),
        })?;
        let url = format!("{}{SERVICE}{method}", self.origin);
        RETRY
            .run(|_| self.attempt(method, &url, &body))
            .await
            .map_err(|verdict| verdict.give_up(|last| TwirpError::Exhausted { method, last }))
    }

    async fn attempt<R: DeserializeOwned>(
        &self,
        method: &'static str,
        url: &str,
        body: &[u8],
    ) -> Result<R, Verdict<TwirpError>> {
        let watch = self.http.watch();
        watch.describe("POST", url);
        let request = self
            .http
            .client
            .post(url)
            .header("content-type", "application/json")
            .bearer_auth(self.token.expose())
            .body(body.to_vec());
        let answer = watch
            .run(async {
                let response = request.send().await?;
                watch.touch();
                watch.answered(response.status());
                let status = response.status();
                response.text().await.map(|text| (status, text))
            })
            .await
            .map_err(|stalled| Verdict::Retry(stalled.to_string()))?;
        let (status, text) = answer.map_err(|e| {
            if e.is_connect() {
                Verdict::Fail(TwirpError::Network {
                    method,
                    origin: self.origin.clone(),
                    message: describe(e),
                })
            } else {
                Verdict::Retry(describe(e))
            }
        })?;
        read_answer(method, status, &text)
    }
}

/// What an answer means: the value, a reason to retry, or a failure. The body is parsed
/// before the status is looked at, as the official client does.
fn read_answer<R: DeserializeOwned>(
    method: &'static str,
    status: reqwest::StatusCode,
    text: &str,
) -> Result<R, Verdict<TwirpError>> {
    let Ok(json) = serde_json::from_str::<serde_json::Value>(text) else {
        return Err(Verdict::Retry(format!(
            "({}) the response is not JSON",
            status.as_u16()
        )));
    };
    let message = json
        .get("msg")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if message.contains("insufficient usage") {
        return Err(Verdict::Fail(TwirpError::Usage { method, message }));
    }
    if status.is_success() {
        return serde_json::from_value(json).map_err(|e| {
            Verdict::Fail(TwirpError::InvalidResponse {
                method,
                detail: format!(": {e}"),
            })
        });
    }
    let described = format!(
        "{}: {message}",
        status.canonical_reason().unwrap_or("Unknown")
    );
    if RETRYABLE.contains(&status.as_u16()) {
        return Err(Verdict::Retry(format!("({}) {described}", status.as_u16())));
    }
    let code = json
        .get("code")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Err(Verdict::Fail(TwirpError::Rejected {
        method,
        status: status.as_u16(),
        message: described,
        code,
    }))
}

/// The origin of `ACTIONS_RESULTS_URL`, or why it is unusable.
pub(crate) fn origin(results_url: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(results_url)
        .map_err(|e| format!("ACTIONS_RESULTS_URL is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("ACTIONS_RESULTS_URL must be an http(s) URL".into());
    }
    Ok(url.origin().ascii_serialization())
}

/// The delay after failed attempt `attempt` (0-based): exactly the base delay after the
/// first, then uniform in `[base·1.5^a, base·1.5^(a+1))`; `unit` is in `[0, 1)`.
#[must_use]
pub(crate) fn retry_delay(attempt: u32, unit: f64) -> Duration {
    if attempt == 0 {
        return BASE_DELAY;
    }
    let low = BASE_DELAY.as_secs_f64() * 1.5_f64.powi(i32::try_from(attempt).unwrap_or(30));
    Duration::from_secs_f64(low + unit.clamp(0.0, 1.0) * low * 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_follow_the_official_schedule() {
        assert_eq!(retry_delay(0, 0.9), Duration::from_secs(3));
        assert_eq!(retry_delay(1, 0.0), Duration::from_millis(4500));
        assert!(retry_delay(1, 0.999) < Duration::from_millis(6750));
        assert_eq!(
            retry_delay(3, 0.0),
            Duration::from_secs_f64(3.0 * 1.5 * 1.5 * 1.5)
        );
    }

    #[test]
    fn only_the_origin_of_the_results_url_is_used() {
        let client = TwirpClient::new(
            Http::new(std::time::Duration::from_secs(1)).expect("client"),
            "https://results.example/some/path?x=1",
            Secret::new("t".into()),
        )
        .expect("valid");
        assert_eq!(client.origin, "https://results.example");
        assert!(
            TwirpClient::new(
                Http::new(std::time::Duration::from_secs(1)).expect("client"),
                "not a url",
                Secret::new("t".into())
            )
            .is_err()
        );
    }
}
