//! What the network destinations (artifact, S3, release, check run) share: the runtime they
//! run on, the HTTP client settings, how a transport error is described (never with its
//! URL: signed URLs are credentials), backoff jitter, and streamed file bodies.

use std::path::Path;
use std::time::Duration;

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

/// A file streamed as a request body (opened anew for every attempt, never read whole).
pub(crate) async fn file_body(path: &Path) -> std::io::Result<reqwest::Body> {
    let file = tokio::fs::File::open(path).await?;
    Ok(reqwest::Body::wrap_stream(
        tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024),
    ))
}
