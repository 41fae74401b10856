//! What everything that talks HTTP (the artifact, S3 and release destinations, the check
//! run) shares: the runtime they
//! run on, the HTTP client settings, how a transport error is described (never with its
//! URL: signed URLs are credentials), backoff jitter, streamed bodies, and the idle deadline every request gets.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt as _;
use sha2::{Digest as _, Sha256};

/// A two-worker tokio runtime: uploads are I/O-bound, and the zip writer and the scan have
/// their own threads.
pub(crate) fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

/// An HTTP client builder with stevedore's user agent and connect timeout.
pub(crate) fn http_client() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .user_agent(concat!("stevedore/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(30))
}

/// A reqwest error with its causes and without its URL.
pub(crate) fn describe(e: reqwest::Error) -> String {
    error_chain(&e.without_url())
}

/// An error with its causes (reqwest's own message is only "error sending request").
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A random number in `[0, 1)` for jitter; 0 if the system has no randomness to give.
pub(crate) fn random_unit() -> f64 {
    let mut bytes = [0u8; 4];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.0;
    }
    f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0)
}

/// The idle deadline when `STEVEDORE_HTTP_TIMEOUT` is not set: the official artifact
/// client's five minutes.
pub(crate) const DEFAULT_IDLE: Duration = Duration::from_mins(5);

/// An HTTP client and the idle deadline every request made with it gets.
#[derive(Debug, Clone)]
pub(crate) struct Http {
    /// The client (connection pool).
    pub(crate) client: reqwest::Client,
    /// How long a request may go without a byte moving.
    pub(crate) idle: Duration,
}

impl Http {
    /// A client with stevedore's settings and `idle` as every request's deadline.
    pub(crate) fn new(idle: Duration) -> Result<Self, String> {
        Self::build(http_client(), idle)
    }

    /// [`Http::new`] from a builder with settings of its own.
    pub(crate) fn build(builder: reqwest::ClientBuilder, idle: Duration) -> Result<Self, String> {
        let client = builder
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Http { client, idle })
    }

    /// A watch for one request attempt, and the attempt's `request` span: on a debug
    /// re-run it is logged, with what [`Watch::describe`] and [`Watch::run`] recorded and
    /// its time, once the attempt and its body are done.
    pub(crate) fn watch(&self) -> Watch {
        use tracing::field::Empty;
        Watch {
            started: Instant::now(),
            last_ms: Arc::new(AtomicU64::new(0)),
            idle: self.idle,
            span: tracing::debug_span!(
                "request",
                method = Empty,
                host = Empty,
                path = Empty,
                outcome = Empty
            ),
        }
    }
}

/// A request that moved no byte, in either direction, for the idle deadline: the server
/// accepted and went quiet, or stopped reading the body. Retryable, as a dropped connection.
#[derive(Debug, Clone, thiserror::Error)]
#[error("no byte moved for {} s, abandoned (the deadline is STEVEDORE_HTTP_TIMEOUT seconds)", .0.as_secs())]
pub(crate) struct Stalled(Duration);

/// Watches one request attempt: bodies made through it mark progress as the transport
/// takes each chunk, and [`Watch::run`] abandons the attempt once nothing moved for the
/// idle deadline. reqwest's own `timeout` bounds the whole request, which would fail a
/// large upload that is merely slow, and its `read_timeout` runs from the start of the
/// request until the response headers, upload included; neither tells slow from stuck.
#[derive(Debug, Clone)]
pub(crate) struct Watch {
    started: Instant,
    /// Milliseconds after `started` when a byte last moved.
    last_ms: Arc<AtomicU64>,
    idle: Duration,
    span: tracing::Span,
}

/// Request bodies are handed to the transport in pieces of this size, so progress is seen
/// while a large in-memory body (an 8 MiB block) is written.
const BODY_PIECE: usize = 256 * 1024;

impl Watch {
    /// Marks progress now.
    pub(crate) fn touch(&self) {
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.fetch_max(now, Ordering::Relaxed);
    }

    fn quiet_for(&self) -> Duration {
        self.started
            .elapsed()
            .saturating_sub(Duration::from_millis(self.last_ms.load(Ordering::Relaxed)))
    }

    /// Runs `work` (send the request, read the answer) until it ends or nothing moved for
    /// the idle deadline. The clock starts when `work` starts, so a server that accepts
    /// and never answers is abandoned after the deadline. `work` runs inside the attempt's
    /// span, which records a stall as its outcome.
    pub(crate) async fn run<T>(&self, work: impl Future<Output = T>) -> Result<T, Stalled> {
        use tracing::Instrument as _;
        let result = self.until_stalled(work).instrument(self.span.clone()).await;
        if let Err(stalled) = &result {
            self.span
                .record("outcome", format!("stalled: {stalled}").as_str());
        }
        result
    }

    /// Names the request this attempt sends in its span: method, host and path, never the
    /// query (where a signed URL keeps its signature) nor any user information.
    #[cfg_attr(
        not(test),
        expect(
            dead_code,
            reason = "the destinations' request sites call it once the shared retry loop lands (issue 10)"
        )
    )]
    pub(crate) fn describe(&self, method: &str, url: &str) {
        if self.span.is_disabled() {
            return;
        }
        let Ok(url) = reqwest::Url::parse(url) else {
            return;
        };
        let host = url.host_str().unwrap_or_default();
        let host = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        self.span.record("method", method);
        self.span.record("host", host.as_str());
        self.span.record("path", url.path());
    }

    /// Records the status the server answered this attempt with, as its outcome.
    #[cfg_attr(
        not(test),
        expect(
            dead_code,
            reason = "the destinations' request sites call it once the shared retry loop lands (issue 10)"
        )
    )]
    pub(crate) fn answered(&self, status: reqwest::StatusCode) {
        let reason = status.canonical_reason().unwrap_or_default();
        self.span.record(
            "outcome",
            format!("{} {reason}", status.as_u16()).trim_end(),
        );
    }

    async fn until_stalled<T>(&self, work: impl Future<Output = T>) -> Result<T, Stalled> {
        self.touch();
        let mut work = std::pin::pin!(work);
        loop {
            let left = self.idle.saturating_sub(self.quiet_for());
            if left.is_zero() {
                return Err(Stalled(self.idle));
            }
            tokio::select! {
                out = &mut work => return Ok(out),
                () = tokio::time::sleep(left) => {}
            }
        }
    }

    /// `bytes` as a body handed over in pieces, each marking progress. The caller sets
    /// `content-length` (a streamed body has none of its own).
    pub(crate) fn bytes_body(&self, bytes: Bytes) -> reqwest::Body {
        let watch = self.clone();
        let pieces = (0..bytes.len().div_ceil(BODY_PIECE)).map(move |i| {
            watch.touch();
            let start = i * BODY_PIECE;
            Ok::<_, std::io::Error>(bytes.slice(start..bytes.len().min(start + BODY_PIECE)))
        });
        reqwest::Body::wrap_stream(futures_util::stream::iter(pieces))
    }

    /// A file streamed as a request body (opened anew for every attempt, never read
    /// whole), each piece marking progress. The caller sets `content-length`.
    pub(crate) async fn file_body(&self, path: &Path) -> std::io::Result<reqwest::Body> {
        self.file_body_inner(path, None).await
    }

    /// [`Watch::file_body`], hashing the bytes as they are handed to the transport: the
    /// SHA-256 of exactly what was sent, for a destination that cannot check it against
    /// the scan itself.
    pub(crate) async fn file_body_hashed(
        &self,
        path: &Path,
    ) -> std::io::Result<(reqwest::Body, SentDigest)> {
        let digest = SentDigest::default();
        let body = self.file_body_inner(path, Some(digest.clone())).await?;
        Ok((body, digest))
    }

    async fn file_body_inner(
        &self,
        path: &Path,
        digest: Option<SentDigest>,
    ) -> std::io::Result<reqwest::Body> {
        let file = tokio::fs::File::open(path).await?;
        let watch = self.clone();
        let stream =
            tokio_util::io::ReaderStream::with_capacity(file, BODY_PIECE).inspect(move |piece| {
                watch.touch();
                if let (Some(digest), Ok(bytes)) = (&digest, piece) {
                    digest.update(bytes);
                }
            });
        Ok(reqwest::Body::wrap_stream(stream))
    }
}

/// The running SHA-256 of a streamed body.
#[derive(Debug, Clone, Default)]
pub(crate) struct SentDigest(Arc<std::sync::Mutex<Sha256>>);

impl SentDigest {
    fn update(&self, bytes: &[u8]) {
        if let Ok(mut hasher) = self.0.lock() {
            hasher.update(bytes);
        }
    }

    /// The SHA-256 of everything sent so far.
    pub(crate) fn finish(&self) -> [u8; 32] {
        self.0
            .lock()
            .map(|hasher| hasher.clone().finalize().into())
            .unwrap_or_default()
    }
}

/// The idle deadline from `STEVEDORE_HTTP_TIMEOUT` (whole seconds, at least 1).
pub(crate) fn idle_deadline(raw: Option<&str>) -> Result<Duration, String> {
    match raw.map(str::trim) {
        None | Some("") => Ok(DEFAULT_IDLE),
        Some(text) => text
            .parse::<u64>()
            .ok()
            .filter(|&s| (1..=86_400).contains(&s))
            .map(Duration::from_secs)
            .ok_or_else(|| {
                format!(
                    "STEVEDORE_HTTP_TIMEOUT is `{text}`; set it to a whole number of seconds from 1 to 86400 (default 300), or unset it"
                )
            }),
    }
}

/// Percent-encodes text for a URL path: unreserved characters and `/` stay (an S3 key, a
/// release tag once its `/` are encoded too).
#[must_use]
pub(crate) fn percent_encode(text: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}
