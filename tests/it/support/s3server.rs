//! A real S3 server for the tests: s3s-fs 0.14.1 (an S3 implementation over a directory
//! that verifies `SigV4` signatures and `x-amz-checksum-sha256`), served in-process on a
//! loopback port. Faults are injected in front of it, at the HTTP layer: an answer with a
//! status and an S3 error document, or a connection dropped before any answer.

use std::collections::VecDeque;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use hyper::body::Incoming;
use hyper::service::Service;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::{S3Service, S3ServiceBuilder};

use crate::support::testca::TestCa;
use crate::support::{Ctx, Run, owned};

/// The access key the server accepts.
pub const ACCESS_KEY: &str = "AKIASTEVEDORETEST01";
/// The secret key the server accepts.
pub const SECRET_KEY: &str = "stevedore/test/secret+key/0123456789abcdef";

/// The environment holding [`ACCESS_KEY`] and [`SECRET_KEY`], as `AWS_*` variables.
pub fn credentials() -> Vec<(String, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID".to_owned(), ACCESS_KEY.to_owned()),
        ("AWS_SECRET_ACCESS_KEY".to_owned(), SECRET_KEY.to_owned()),
    ]
}
/// The bucket every server has.
pub const BUCKET: &str = "builds";

/// A fault for the next request that matches.
#[derive(Debug, Clone)]
pub struct Fault {
    /// `PUT`, `POST`, ...
    pub method: &'static str,
    /// A substring of the path and query (`partNumber=2`, a key).
    pub matching: String,
    /// `Some(status)`: answer with it; `None`: drop the connection.
    pub status: Option<u16>,
    /// How many matching requests it affects.
    pub times: usize,
}

/// One request the server saw.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Method.
    pub method: String,
    /// Path and query.
    pub target: String,
}

/// A running server.
pub struct S3Server {
    /// `s3-endpoint`.
    pub endpoint: String,
    /// Where objects are stored: `<root>/<bucket>/<key>`.
    pub root: PathBuf,
    faults: Arc<Mutex<VecDeque<Fault>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
    in_flight: Arc<AtomicUsize>,
    _dir: tempfile::TempDir,
    _runtime: tokio::runtime::Runtime,
}

#[derive(Clone)]
struct Faulty {
    inner: S3Service,
    faults: Arc<Mutex<VecDeque<Fault>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
    in_flight: Arc<AtomicUsize>,
}

/// Counts a request as in flight until its future completes or is dropped.
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn new(count: &Arc<AtomicUsize>) -> InFlight {
        count.fetch_add(1, Ordering::SeqCst);
        InFlight(Arc::clone(count))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl Service<Request<Incoming>> for Faulty {
    type Response = Response<s3s::Body>;
    type Error = s3s::HttpError;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let method = req.method().as_str().to_owned();
        let target = req
            .uri()
            .path_and_query()
            .map(ToString::to_string)
            .unwrap_or_default();
        let fault = {
            let mut faults = self.faults.lock().expect("faults");
            let hit = faults
                .iter()
                .position(|f| f.method == method && target.contains(&f.matching));
            hit.map(|i| {
                let fault = faults[i].clone();
                faults[i].times -= 1;
                if faults[i].times == 0 {
                    faults.remove(i);
                }
                fault
            })
        };
        self.seen
            .lock()
            .expect("seen")
            .push(Seen { method, target });
        let in_flight = InFlight::new(&self.in_flight);
        match fault {
            None => {
                let inner = self.inner.clone();
                Box::pin(async move {
                    let _in_flight = in_flight;
                    Service::call(&inner, req).await
                })
            }
            Some(Fault {
                status: Some(status),
                ..
            }) => Box::pin(async move {
                let _in_flight = in_flight;
                // Read the body first, as a server answering late would.
                let _ = http_body_util::BodyExt::collect(req.into_body()).await;
                let code = if status == 503 {
                    "SlowDown"
                } else {
                    "InternalError"
                };
                let xml = format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>injected {status}</Message></Error>"
                );
                Ok(Response::builder()
                    .status(status)
                    .header("content-type", "application/xml")
                    .body(s3s::Body::from(xml))
                    .expect("response"))
            }),
            Some(Fault { status: None, .. }) => Box::pin(async move {
                let _in_flight = in_flight;
                // An error from the service makes hyper close the connection unanswered.
                Err(s3s::HttpError::new(Box::new(std::io::Error::other(
                    "injected: connection dropped",
                ))))
            }),
        }
    }
}

impl S3Server {
    /// Starts a server with one bucket, [`BUCKET`].
    pub fn start() -> S3Server {
        Self::start_with(None)
    }

    /// [`S3Server::start`] behind TLS: its endpoint is `https://127.0.0.1:<port>`, with the
    /// server certificate `ca` signed (which no system trusts).
    pub fn start_tls(ca: &TestCa) -> S3Server {
        use tokio_rustls::rustls;
        use tokio_rustls::rustls::pki_types::pem::PemObject as _;
        use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs = CertificateDer::pem_file_iter(&ca.cert)
            .expect("server certificate")
            .collect::<Result<Vec<_>, _>>()
            .expect("server certificate");
        let key = PrivateKeyDer::from_pem_file(&ca.key).expect("server key");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server certificate and key");
        Self::start_with(Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))))
    }

    fn start_with(tls: Option<tokio_rustls::TlsAcceptor>) -> S3Server {
        let tls_on = tls.is_some();
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("s3");
        std::fs::create_dir_all(root.join(BUCKET)).expect("bucket");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let faults = Arc::new(Mutex::new(VecDeque::new()));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let service = {
            let fs = s3s_fs::FileSystem::new(&root).expect("s3s-fs");
            let mut builder = S3ServiceBuilder::new(fs);
            builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
            Faulty {
                inner: builder.build(),
                faults: Arc::clone(&faults),
                seen: Arc::clone(&seen),
                in_flight: Arc::clone(&in_flight),
            }
        };
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        runtime.spawn(async move {
            let http = ConnBuilder::new(TokioExecutor::new());
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let (http, service, tls) = (http.clone(), service.clone(), tls.clone());
                // The handshake runs on the connection's task, so a client that fails it
                // (an unknown issuer) holds up no other.
                tokio::spawn(async move {
                    match tls {
                        None => {
                            let _ = http.serve_connection(TokioIo::new(socket), service).await;
                        }
                        Some(tls) => {
                            if let Ok(stream) = tls.accept(socket).await {
                                let _ = http.serve_connection(TokioIo::new(stream), service).await;
                            }
                        }
                    }
                });
            }
        });
        let scheme = if tls_on { "https" } else { "http" };
        S3Server {
            endpoint: format!("{scheme}://{addr}"),
            root,
            faults,
            seen,
            in_flight,
            _dir: dir,
            _runtime: runtime,
        }
    }

    /// Queues a fault.
    pub fn fault(&self, fault: Fault) {
        self.faults.lock().expect("faults").push_back(fault);
    }

    /// Requests seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("seen").clone()
    }

    /// Waits until no request is being served and none has arrived for 50 ms: what a
    /// killed client had sent has then had its effect.
    pub fn wait_idle(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let mut quiet_since = std::time::Instant::now();
        let mut seen = self.seen().len();
        loop {
            let now_seen = self.seen().len();
            if now_seen != seen || self.in_flight.load(Ordering::SeqCst) > 0 {
                seen = now_seen;
                quiet_since = std::time::Instant::now();
            } else if quiet_since.elapsed() >= std::time::Duration::from_millis(50) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the server never went idle"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// Faults not consumed yet.
    pub fn pending_faults(&self) -> usize {
        self.faults.lock().expect("faults").len()
    }

    /// The stored object `key` of [`BUCKET`], read from the server's directory.
    pub fn object_path(&self, key: &str) -> PathBuf {
        self.root.join(BUCKET).join(key)
    }

    /// Multipart uploads created and neither completed nor aborted: s3s-fs keeps one
    /// `.upload-<id>.json` per upload in its root until then. (s3s-fs 0.14.1 does not
    /// implement `ListMultipartUploads`, so its storage is where they are seen.)
    pub fn open_multipart_uploads(&self) -> Vec<String> {
        let mut out: Vec<String> = std::fs::read_dir(&self.root)
            .expect("server root")
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_prefix(".upload-")
                    .and_then(|rest| rest.strip_suffix(".json"))
                    .map(str::to_owned)
            })
            .collect();
        out.sort();
        out
    }

    /// Every stored object under [`BUCKET`] (s3s-fs keeps its own bookkeeping in dot-files).
    pub fn objects(&self) -> Vec<String> {
        crate::support::tree::walk_lenient(&self.root.join(BUCKET))
            .into_iter()
            .filter(|f| !f.is_dir() && !f.name().starts_with('.'))
            .map(|f| f.rel.replace('\\', "/"))
            .collect()
    }
}

/// Runs as the action does against `server`, with `secret` and `extra` environment.
pub fn upload(
    ctx: &Ctx,
    server: &S3Server,
    prefix: &str,
    secret: &str,
    extra: &[(&str, &str)],
) -> Run {
    upload_with(ctx, server, prefix, secret, extra, &[])
}

/// [`upload`] with more inputs.
pub fn upload_with(
    ctx: &Ctx,
    server: &S3Server,
    prefix: &str,
    secret: &str,
    extra: &[(&str, &str)],
    inputs: &[(&str, &str)],
) -> Run {
    let mut env = owned(&[
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", secret),
    ]);
    env.extend(owned(extra));
    let destination = format!("s3://{BUCKET}/{prefix}");
    let mut all = vec![
        ("path", "dist"),
        ("destination", destination.as_str()),
        ("s3-endpoint", server.endpoint.as_str()),
        ("s3-path-style", "true"),
        ("s3-region", "eu-west-1"),
    ];
    all.extend_from_slice(inputs);
    ctx.action_env(&all, &env)
}
