//! A scripted pipelines service (the v3 artifact protocol) for the third review's hostile
//! cases: every request is recorded (method, target, headers, body) and answered by the
//! test's own handler, so a test can play a compromised GitHub Enterprise Server, a second
//! origin that must never see the runtime token, or a server that changes things mid-run.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    /// The value of header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the handler answers.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(value: &serde_json::Value) -> Reply {
        Reply {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: value.to_string().into_bytes(),
        }
    }

    pub fn bytes(body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status: 200,
            headers: vec![],
            body: body.into(),
        }
    }

    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: vec![],
            body: vec![],
        }
    }

    pub fn with(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }
}

type Handler = dyn Fn(&Seen, &str) -> Reply + Send + Sync;

/// A loopback server answering with a handler given `(request, own base URL)`.
pub struct Scripted {
    /// `http://<ip>:<port>`, without a trailing `/`.
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Scripted {
    /// Serves on a free port of `ip` (`127.0.0.1`, `127.0.0.2`).
    pub fn start(ip: &str, handler: impl Fn(&Seen, &str) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind((ip, 0)).expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let (log, base) = (Arc::clone(&seen), url.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (log, handler, base) = (Arc::clone(&log), Arc::clone(&handler), base.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(&stream);
                    let mut line = String::new();
                    if reader.read_line(&mut line).is_err() {
                        return;
                    }
                    let mut parts = line.split_whitespace();
                    let method = parts.next().unwrap_or_default().to_owned();
                    let target = parts.next().unwrap_or_default().to_owned();
                    let mut headers = Vec::new();
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).map_or(true, |n| n == 0) || h.trim().is_empty()
                        {
                            break;
                        }
                        if let Some((k, v)) = h.split_once(':') {
                            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
                        }
                    }
                    let length = headers
                        .iter()
                        .find(|(k, _)| k == "content-length")
                        .and_then(|(_, v)| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    let request = Seen {
                        method,
                        target,
                        headers,
                        body,
                    };
                    log.lock().expect("lock").push(request.clone());
                    let reply = handler(&request, &base);
                    let mut out = &stream;
                    let mut head = format!("HTTP/1.1 {} X\r\n", reply.status);
                    for (k, v) in &reply.headers {
                        head += &[k.as_str(), ": ", v, "\r\n"].concat();
                    }
                    head += &["content-length: ", &reply.body.len().to_string()].concat();
                    head += "\r\nconnection: close\r\n\r\n";
                    let _ = out.write_all(head.as_bytes());
                    let _ = out.write_all(&reply.body);
                });
            }
        });
        Scripted { url, seen }
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }
}

/// The environment of a step on a v3 runner whose pipelines service is `url`.
pub fn v3_env(url: &str, token: &str) -> Vec<(String, String)> {
    vec![
        ("ACTIONS_RUNTIME_URL".into(), format!("{url}/")),
        ("ACTIONS_RUNTIME_TOKEN".into(), token.into()),
        ("GITHUB_RUN_ID".into(), "42".into()),
    ]
}
