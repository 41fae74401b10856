//! What everything that talks HTTP (the artifact, S3 and release destinations, the check
//! run) shares: the runtime they run on, the HTTP client settings, the retry loop, how a
//! transport error is described (never with its URL: signed URLs are credentials), backoff
//! jitter, streamed bodies, the idle deadline every request gets, and the Content-Type of a
//! file's body.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt as _;
use sha2::{Digest as _, Sha256};

/// The tokio runtime could not be built (the system refused threads or an I/O driver).
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot start the upload runtime: {0}")]
pub struct RuntimeError(String);

/// The run's one tokio runtime, built on first use and kept for the process: every
/// destination and the check run share it (and its connection pools' threads) instead of
/// each building and tearing down its own. Two workers: uploads are I/O-bound, and the zip
/// writer and the scan have their own threads. A failure to build it is kept too, so every
/// caller gets the same answer.
pub(crate) fn runtime() -> Result<&'static tokio::runtime::Runtime, RuntimeError> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, RuntimeError>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|e| RuntimeError(e.to_string()))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// What one failed attempt means for the loop in [`Retry::run`].
#[derive(Debug)]
pub(crate) enum Verdict<E, R = String> {
    /// Worth another attempt; why this one failed. The last reason is what the caller's
    /// "failed after N attempts" error shows, so it says what went wrong, not that it did.
    Retry(R),
    /// Retrying cannot help (a refusal, a file that cannot be read): stop now.
    Fail(E),
}

impl<E, R> Verdict<E, R> {
    /// The error [`Retry::run`] ends with: a failure as it is, or, once every attempt was
    /// retryable, the caller's "exhausted" error built from the last reason.
    pub(crate) fn give_up(self, exhausted: impl FnOnce(R) -> E) -> E {
        match self {
            Verdict::Retry(last) => exhausted(last),
            Verdict::Fail(e) => e,
        }
    }
}

/// How one call site retries. The loop is shared ([`Retry::run`], as uv's `RetryState`
/// shares its loop); the numbers are each site's own, because each copies an official
/// client (the artifact toolkit, the Azure SDK, the AWS SDKs, octokit) and tests pin them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Retry<R = String> {
    /// Attempts in all, the first included.
    pub(crate) attempts: u32,
    /// The wait before attempt `n` (0-based, so called from 1 on), given why the previous
    /// attempt failed (a `retry-after` the server sent, say).
    pub(crate) delay: fn(u32, &R) -> Duration,
}

impl<R: std::fmt::Debug> Retry<R> {
    /// Makes attempt 0, 1, … (`attempt` gets the number, so an attempt after a failure can
    /// first check what the failure left) until one succeeds, one fails for good, or
    /// [`Retry::attempts`] were made; then `Err(Verdict::Retry(last reason))`.
    pub(crate) async fn run<T, E, Fut>(
        &self,
        attempt: impl Fn(u32) -> Fut,
    ) -> Result<T, Verdict<E, R>>
    where
        Fut: Future<Output = Result<T, Verdict<E, R>>>,
    {
        let mut n = 0;
        loop {
            match attempt(n).await {
                Err(Verdict::Retry(why)) if n + 1 < self.attempts => {
                    n += 1;
                    let delay = (self.delay)(n, &why);
                    tracing::debug!(
                        attempt = n + 1,
                        of = self.attempts,
                        after = %crate::units::duration(delay),
                        reason = ?why,
                        "retrying"
                    );
                    tokio::time::sleep(delay).await;
                }
                done => return done,
            }
        }
    }
}

/// An HTTP client builder with stevedore's user agent and connect timeout. Build it with
/// [`Http::build`], which adds the CA certificates the environment names ([`trust`]).
///
/// Proxies are reqwest's "system" proxy, left on (nothing calls `no_proxy()` or `proxy()`,
/// which would turn it off): `HTTPS_PROXY`/`https_proxy`, `HTTP_PROXY`/`http_proxy`,
/// `ALL_PROXY`/`all_proxy` and `NO_PROXY`/`no_proxy` (hyper-util's matcher, curl's rules),
/// read when the client is built. Trust is reqwest's too: the bundled Mozilla roots
/// (webpki-roots) and the system store (rustls-native-certs, which reads `SSL_CERT_FILE` and
/// `SSL_CERT_DIR` instead of the system store when either is set), plus [`trust`]'s.
///
/// One correction: hyper-util matches `NO_PROXY`'s `*` against host names only, so a URL
/// whose host is an IP address (`http://127.0.0.1:9000`, a private S3) still went through
/// the proxy; curl bypasses the proxy for every host, and so does stevedore.
pub(crate) fn http_client() -> reqwest::ClientBuilder {
    let builder = reqwest::Client::builder()
        .user_agent(concat!("stevedore/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(30));
    log_proxies();
    // The variable hyper-util reads: the first of the two that is set (and Unicode).
    let no_proxy = first_named(["NO_PROXY", "no_proxy"]).map(|(_, value)| value);
    if bypasses_every_host(no_proxy.as_deref()) {
        builder.no_proxy()
    } else {
        builder
    }
}

/// The first of `names` that is set (and Unicode), with its name: the order hyper-util
/// reads a proxy variable's two cases in.
fn first_named<const N: usize>(names: [&'static str; N]) -> Option<(&'static str, String)> {
    names
        .into_iter()
        .find_map(|name| std::env::var(name).ok().map(|value| (name, value)))
}

/// On a debug re-run, says once which proxy each scheme uses and what bypasses it, the
/// proxies' credentials hidden: a request that went (or did not go) through a proxy is
/// then explained by the log. A value hyper-util cannot read is ignored by it silently:
/// said too, without the value (it may hold a password).
fn log_proxies() {
    static LOGGED: OnceLock<()> = OnceLock::new();
    LOGGED.get_or_init(|| {
        for names in [
            ["HTTPS_PROXY", "https_proxy"],
            ["HTTP_PROXY", "http_proxy"],
            ["ALL_PROXY", "all_proxy"],
        ] {
            if let Some((name, value)) = first_named(names) {
                let shown = shown_proxy(&value);
                tracing::debug!(variable = name, proxy = shown.as_str(), "proxy");
            }
        }
        if let Some((name, value)) = first_named(["NO_PROXY", "no_proxy"]) {
            tracing::debug!(variable = name, hosts = value.as_str(), "no proxy");
        }
    });
}

/// A proxy variable's value as the log may show it: its URL (`http://` when it names no
/// scheme, as hyper-util reads it) with any user and password replaced by `***`.
fn shown_proxy(value: &str) -> String {
    let value = value.trim();
    let with_scheme = if value.contains("://") {
        value.to_owned()
    } else {
        format!("http://{value}")
    };
    match reqwest::Url::parse(&with_scheme) {
        Ok(mut url) if url.has_host() => {
            if !url.username().is_empty() || url.password().is_some() {
                let _ = url.set_password(None);
                let _ = url.set_username("***");
            }
            url.to_string()
        }
        _ => "(not a URL: ignored)".to_owned(),
    }
}

/// Whether a `NO_PROXY` value has the entry `*` (entries are comma-separated, blanks
/// around them ignored), which curl reads as "no proxy for any host".
fn bypasses_every_host(no_proxy: Option<&str>) -> bool {
    no_proxy.is_some_and(|list| list.split(',').any(|entry| entry.trim() == "*"))
}

/// The CA certificates the environment asks stevedore to trust cannot be used. Fatal for
/// any HTTP destination: the variables are explicit configuration, and a run that needs
/// them (a TLS-inspecting proxy, a private S3 or GitHub Enterprise host) would otherwise
/// fail at its first request with an unknown-issuer error that names neither the variable
/// nor the file. (Node warns and goes on; its warning is easy to miss in a long log.)
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TrustError {
    /// `NODE_EXTRA_CA_CERTS` names a file that cannot be read.
    #[error(
        "NODE_EXTRA_CA_CERTS names `{path}`, which cannot be read ({reason}); point it at a PEM file of CA certificates, or unset it"
    )]
    ExtraUnreadable { path: String, reason: String },
    /// `NODE_EXTRA_CA_CERTS` names a file with no usable certificate.
    #[error(
        "NODE_EXTRA_CA_CERTS names `{path}`, which {problem}; point it at a PEM file of CA certificates (`-----BEGIN CERTIFICATE-----`), or unset it"
    )]
    ExtraUnusable { path: String, problem: String },
    /// `SSL_CERT_FILE` or `SSL_CERT_DIR` names something that cannot be read or holds no
    /// certificate. They replace the system store when set, so a mistake there would
    /// silently leave only the bundled roots.
    #[error(
        "{var} is `{value}`, which {problem}; it replaces the system's certificate store when set: point it at {what}, or unset it"
    )]
    SystemPath {
        var: &'static str,
        value: String,
        problem: String,
        what: &'static str,
    },
}

/// The extra roots `NODE_EXTRA_CA_CERTS` names, after `SSL_CERT_FILE` and `SSL_CERT_DIR`
/// were checked; read once per process (every client gets the same answer). Read here,
/// not in `github::env`, because the proxy and `SSL_CERT_*` variables are read by the HTTP
/// stack itself when a client is built: all of a client's network settings come from the
/// process environment at the same place.
pub(crate) fn trust() -> Result<&'static [reqwest::Certificate], TrustError> {
    static TRUST: OnceLock<Result<Vec<reqwest::Certificate>, TrustError>> = OnceLock::new();
    TRUST
        .get_or_init(|| {
            check_cert_paths(
                std::env::var_os("SSL_CERT_FILE").as_deref(),
                std::env::var_os("SSL_CERT_DIR").as_deref(),
            )?;
            // Empty is unset, as Node reads it.
            match std::env::var_os("NODE_EXTRA_CA_CERTS").filter(|v| !v.is_empty()) {
                Some(path) => extra_roots(Path::new(&path)),
                None => Ok(Vec::new()),
            }
        })
        .as_ref()
        .map(Vec::as_slice)
        .map_err(Clone::clone)
}

/// Refuses an `SSL_CERT_FILE`, or a directory of `SSL_CERT_DIR` (the platform's path
/// list), that is set but cannot be read, and the two when together they yield no
/// certificate: rustls-native-certs records such errors and reqwest drops them, leaving
/// the client with the bundled roots only, the private CA the variable was set for
/// silently missing. A directory entry that is not a certificate is fine (rehashed
/// directories hold CRLs and links), and so is an empty file or directory beside one that
/// holds the certificates.
fn check_cert_paths(
    file: Option<&std::ffi::OsStr>,
    dirs: Option<&std::ffi::OsStr>,
) -> Result<(), TrustError> {
    const A_FILE: &str = "a PEM file of CA certificates";
    const DIRECTORIES: &str = "directories of PEM CA certificates";
    let refuse = |var, value: &std::ffi::OsStr, problem: String, what| TrustError::SystemPath {
        var,
        value: Path::new(value).display().to_string(),
        problem,
        what,
    };
    let mut certs = 0;
    if let Some(file) = file {
        let loaded = rustls_native_certs::load_certs_from_paths(Some(Path::new(file)), None);
        if let Some(error) = loaded.errors.first() {
            // An I/O error's own text names the path again: say only the cause.
            let reason = match &error.kind {
                rustls_native_certs::ErrorKind::Io { inner, .. } => inner.to_string(),
                _ => error_chain(error),
            };
            let problem = format!("cannot be read ({reason})");
            return Err(refuse("SSL_CERT_FILE", file, problem, A_FILE));
        }
        certs += loaded.certs.len();
    }
    // An empty entry names nothing; a variable of empty entries only is as if unset (as
    // rustls-native-certs reads it).
    let listed: Vec<_> = dirs
        .map(|value| {
            std::env::split_paths(value)
                .filter(|d| !d.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default();
    for dir in &listed {
        if let Err(e) = std::fs::read_dir(dir) {
            let problem = if listed.len() == 1 {
                format!("cannot be read ({e})")
            } else {
                format!("names `{}`, which cannot be read ({e})", dir.display())
            };
            let value = dirs.unwrap_or_default();
            return Err(refuse("SSL_CERT_DIR", value, problem, DIRECTORIES));
        }
        certs += rustls_native_certs::load_certs_from_paths(None, Some(dir))
            .certs
            .len();
    }
    let problem = "holds no PEM certificate".to_owned();
    match (file, dirs) {
        _ if certs > 0 => Ok(()),
        (Some(file), _) => Err(refuse("SSL_CERT_FILE", file, problem, A_FILE)),
        (None, Some(value)) if !listed.is_empty() => {
            Err(refuse("SSL_CERT_DIR", value, problem, DIRECTORIES))
        }
        _ => Ok(()),
    }
}

/// The CA certificates in the PEM file `NODE_EXTRA_CA_CERTS` names, each checked to be
/// usable as a root: trusted beside the bundled and system roots, as Node adds them to
/// its own.
fn extra_roots(path: &Path) -> Result<Vec<reqwest::Certificate>, TrustError> {
    let shown = path.display().to_string();
    let unusable = |problem: String| TrustError::ExtraUnusable {
        path: shown.clone(),
        problem,
    };
    let pem = std::fs::read(path).map_err(|e| TrustError::ExtraUnreadable {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| unusable(format!("is not a valid PEM bundle ({})", error_chain(&e))))?;
    if certs.is_empty() {
        return Err(unusable("holds no PEM certificate".to_owned()));
    }
    // reqwest parses a root only when a client is built: build one with these roots
    // alone, so a malformed certificate is named here rather than failing every client.
    certs
        .iter()
        .fold(
            reqwest::Client::builder().tls_built_in_root_certs(false),
            |builder, cert| builder.add_root_certificate(cert.clone()),
        )
        .build()
        .map_err(|e| {
            unusable(format!(
                "holds a certificate that cannot be a root ({})",
                error_chain(&e)
            ))
        })?;
    Ok(certs)
}

/// A reqwest error with its causes and without its URL; a certificate the client does
/// not trust says how to trust a private CA (rustls's own text names only the reason).
pub(crate) fn describe(e: reqwest::Error) -> String {
    let text = error_chain(&e.without_url());
    if text.contains("invalid peer certificate") {
        format!(
            "{text} (to trust a private CA, name its PEM file in NODE_EXTRA_CA_CERTS or SSL_CERT_FILE)"
        )
    } else {
        text
    }
}

/// An error with its causes (reqwest's own message is only "error sending request"); a
/// cause whose text is already there (hyper's errors repeat their source's) is said once.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let said = cause.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
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
        let roots = trust().map_err(|e| e.to_string())?;
        let client = roots
            .iter()
            .fold(builder, |builder, root| {
                builder.add_root_certificate(root.clone())
            })
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

/// The Content-Type of a file's body, from its extension: the official artifact client's
/// map (`lib/internal/upload/types.js`), which the S3 and release destinations use too so
/// one file gets one type wherever it goes.
#[must_use]
pub(crate) fn mime_type(name: &str) -> &'static str {
    let ext = name
        .rfind('.')
        .filter(|&i| i > 0)
        .map(|i| name[i..].to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        ".txt" => "text/plain",
        ".html" | ".htm" => "text/html",
        ".css" => "text/css",
        ".csv" => "text/csv",
        ".xml" => "text/xml",
        ".md" => "text/markdown",
        ".js" | ".mjs" => "application/javascript",
        ".json" => "application/json",
        ".png" => "image/png",
        ".jpg" | ".jpeg" => "image/jpeg",
        ".gif" => "image/gif",
        ".svg" => "image/svg+xml",
        ".webp" => "image/webp",
        ".ico" => "image/x-icon",
        ".bmp" => "image/bmp",
        ".tiff" | ".tif" => "image/tiff",
        ".mp3" => "audio/mpeg",
        ".wav" => "audio/wav",
        ".ogg" => "audio/ogg",
        ".flac" => "audio/flac",
        ".mp4" => "video/mp4",
        ".webm" => "video/webm",
        ".avi" => "video/x-msvideo",
        ".mov" => "video/quicktime",
        ".pdf" => "application/pdf",
        ".doc" => "application/msword",
        ".docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ".xls" => "application/vnd.ms-excel",
        ".xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ".ppt" => "application/vnd.ms-powerpoint",
        ".pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ".zip" => "application/zip",
        ".tar" => "application/x-tar",
        ".gz" => "application/gzip",
        ".rar" => "application/vnd.rar",
        ".7z" => "application/x-7z-compressed",
        ".wasm" => "application/wasm",
        ".yaml" | ".yml" => "application/x-yaml",
        ".woff" => "font/woff",
        ".woff2" => "font/woff2",
        ".ttf" => "font/ttf",
        ".otf" => "font/otf",
        ".eot" => "application/vnd.ms-fontobject",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mime_types_follow_the_official_map() {
        assert_eq!(mime_type("report.HTML"), "text/html");
        assert_eq!(mime_type("a.tar.gz"), "application/gzip");
        assert_eq!(mime_type("tool"), "application/octet-stream");
        assert_eq!(mime_type(".txt"), "application/octet-stream");
    }

    /// An error whose text already says its source's, as hyper's `client error (Connect)`.
    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|l| l as _)
        }
    }

    #[test]
    fn a_cause_already_in_the_text_is_said_once() {
        let e = Layer(
            "error sending request",
            Some(Box::new(Layer(
                "client error (Connect)",
                Some(Box::new(Layer(
                    "client error (Connect)",
                    Some(Box::new(Layer("Connection refused (os error 111)", None))),
                ))),
            ))),
        );
        assert_eq!(
            error_chain(&e),
            "error sending request: client error (Connect): Connection refused (os error 111)"
        );
    }

    fn block_on<T>(work: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime")
            .block_on(work)
    }

    /// Records the waits asked for; the waits themselves are zero.
    const RECORDED: Retry<(u32, String)> = Retry {
        attempts: 4,
        delay: |_, _| Duration::ZERO,
    };

    #[test]
    fn every_attempt_failing_ends_with_the_last_reason() {
        let made = std::cell::Cell::new(0);
        let result: Result<(), Verdict<String, (u32, String)>> = block_on(RECORDED.run(|n| {
            made.set(made.get() + 1);
            async move { Err(Verdict::Retry((n, format!("503 on attempt {n}")))) }
        }));
        assert_eq!(made.get(), 4);
        let error = result
            .expect_err("exhausted")
            .give_up(|(n, why)| format!("failed after {} attempts: {why}", n + 1));
        assert_eq!(error, "failed after 4 attempts: 503 on attempt 3");
    }

    #[test]
    fn a_failure_stops_and_a_success_ends_the_loop() {
        let made = std::cell::Cell::new(0);
        let failed: Result<(), Verdict<&str, (u32, String)>> = block_on(RECORDED.run(|n| {
            made.set(made.get() + 1);
            async move {
                if n == 0 {
                    Err(Verdict::Retry((n, "reset".into())))
                } else {
                    Err(Verdict::Fail("403"))
                }
            }
        }));
        assert_eq!(made.get(), 2);
        assert!(matches!(failed, Err(Verdict::Fail("403"))));
        let landed: Result<u32, Verdict<(), (u32, String)>> =
            block_on(RECORDED.run(|n| async move {
                if n < 2 {
                    Err(Verdict::Retry((n, "stalled".into())))
                } else {
                    Ok(n)
                }
            }));
        assert!(matches!(landed, Ok(2)));
    }

    #[test]
    fn the_delay_is_asked_before_each_retry_with_the_previous_reason() {
        static ASKED: std::sync::Mutex<Vec<(u32, u64)>> = std::sync::Mutex::new(Vec::new());
        let policy: Retry<u64> = Retry {
            attempts: 3,
            delay: |n, retry_after| {
                ASKED.lock().expect("lock").push((n, *retry_after));
                Duration::ZERO
            },
        };
        let result: Result<(), Verdict<(), u64>> =
            block_on(policy.run(|n| async move { Err(Verdict::Retry(u64::from(n) * 10)) }));
        assert!(matches!(result, Err(Verdict::Retry(20))));
        assert_eq!(*ASKED.lock().expect("lock"), [(1, 0), (2, 10)]);
    }

    #[test]
    fn node_extra_ca_certs_that_cannot_be_used_is_named_with_its_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("missing.pem");
        assert!(matches!(
            extra_roots(&missing),
            Err(TrustError::ExtraUnreadable { path, .. }) if path == missing.display().to_string()
        ));
        let problem = |text: &str| {
            let file = dir.path().join("bundle.pem");
            std::fs::write(&file, text).expect("write");
            match extra_roots(&file) {
                Err(TrustError::ExtraUnusable { problem, .. }) => problem,
                other => panic!("{text:?} gave {other:?}"),
            }
        };
        assert_eq!(problem("just text\n"), "holds no PEM certificate");
        let file = dir.path().join("root.pem");
        std::fs::write(&file, format!("a comment\n{ROOT}")).expect("write");
        assert_eq!(extra_roots(&file).map(|roots| roots.len()), Ok(1));
        assert!(
            problem("-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n")
                .starts_with("is not a valid PEM bundle"),
        );
        // Base64 of bytes that are no certificate: parsed only as a root.
        assert!(
            problem("-----BEGIN CERTIFICATE-----\nAAECAwQF\n-----END CERTIFICATE-----\n")
                .starts_with("holds a certificate that cannot be a root"),
        );
    }

    /// A self-signed CA certificate, for what parses; never trusted by a client here.
    const ROOT: &str = "-----BEGIN CERTIFICATE-----
MIIBnTCCAUOgAwIBAgIUWdC6NjJ+piCESWsWmhlXFJE4OqwwCgYIKoZIzj0EAwIw
IzEhMB8GA1UEAwwYc3RldmVkb3JlIHVuaXQtdGVzdCByb290MCAXDTI2MTIwNTE3
NDE0MVoYDzIxMjYxMTExMTc0MTQxWjAjMSEwHwYDVQQDDBhzdGV2ZWRvcmUgdW5p
dC10ZXN0IHJvb3QwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQZdUGWxr2QJM2x
zkxSHRmW2UGBKX1w8E8/lmb1neyamEoN4/FH33an1uCGaY0/PLmwg0nA42st3fx/
VC0B/wZfo1MwUTAdBgNVHQ4EFgQU3dHDTEpGiXVgunvlsjL+IfoXf4EwHwYDVR0j
BBgwFoAU3dHDTEpGiXVgunvlsjL+IfoXf4EwDwYDVR0TAQH/BAUwAwEB/zAKBggq
hkjOPQQDAgNIADBFAiAZLJD+HPIfTEcOUeVyiPVSZusGTPetViM2T1+r8GzXOwIh
APHb+34OavgcTAQm9zyDrqqQWPWCRGx8rRiX3DgAHzeR
-----END CERTIFICATE-----
";

    #[test]
    fn ssl_cert_file_and_dir_that_name_nothing_usable_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let var = |e: Result<(), TrustError>| match e {
            Err(TrustError::SystemPath { var, problem, .. }) => format!("{var}: {problem}"),
            other => panic!("{other:?}"),
        };
        let missing = dir.path().join("missing.pem");
        assert!(
            var(check_cert_paths(Some(missing.as_os_str()), None))
                .starts_with("SSL_CERT_FILE: cannot be read (")
        );
        let text = dir.path().join("text.pem");
        std::fs::write(&text, "no certificate\n").expect("write");
        assert_eq!(
            var(check_cert_paths(Some(text.as_os_str()), None)),
            "SSL_CERT_FILE: holds no PEM certificate"
        );
        assert_eq!(
            var(check_cert_paths(None, Some(dir.path().as_os_str()))),
            "SSL_CERT_DIR: holds no PEM certificate"
        );
        assert!(
            var(check_cert_paths(None, Some(missing.as_os_str())))
                .starts_with("SSL_CERT_DIR: cannot be read (")
        );
        let two = std::env::join_paths([dir.path(), &missing]).expect("a path list");
        assert!(
            var(check_cert_paths(None, Some(&two))).starts_with(&format!(
                "SSL_CERT_DIR: names `{}`, which",
                missing.display()
            ))
        );
        // An empty file or directory beside one that holds a certificate is fine.
        let root = dir.path().join("root.pem");
        std::fs::write(&root, ROOT).expect("write");
        let certs = dir.path().join("certs");
        std::fs::create_dir(&certs).expect("mkdir");
        assert_eq!(
            check_cert_paths(Some(root.as_os_str()), Some(certs.as_os_str())),
            Ok(())
        );
        std::fs::copy(&root, certs.join("root.pem")).expect("copy");
        assert_eq!(
            check_cert_paths(Some(text.as_os_str()), Some(certs.as_os_str())),
            Ok(())
        );
        // Unset, or empty entries only: the system store, as rustls-native-certs reads it.
        assert_eq!(check_cert_paths(None, None), Ok(()));
        assert_eq!(
            check_cert_paths(None, Some(std::ffi::OsStr::new(""))),
            Ok(())
        );
    }

    #[test]
    fn a_proxy_is_shown_without_its_credentials() {
        assert_eq!(
            shown_proxy("http://builder:pa55@proxy.corp:3128"),
            "http://***@proxy.corp:3128/"
        );
        assert_eq!(shown_proxy("proxy.corp:3128"), "http://proxy.corp:3128/");
        assert_eq!(shown_proxy("user@proxy.corp"), "http://***@proxy.corp/");
        assert_eq!(shown_proxy("http://"), "(not a URL: ignored)");
    }

    #[test]
    fn a_no_proxy_star_entry_bypasses_every_host() {
        assert!(bypasses_every_host(Some("*")));
        assert!(bypasses_every_host(Some("example.com, * ,10.0.0.0/8")));
        assert!(!bypasses_every_host(Some("*.example.com,127.0.0.1")));
        assert!(!bypasses_every_host(Some("")));
        assert!(!bypasses_every_host(None));
    }

    #[test]
    fn the_runtime_is_built_once() {
        let first = runtime().expect("runtime");
        let second = runtime().expect("runtime");
        assert!(std::ptr::eq(first, second));
    }
}
