//! Small servers a test starts for itself: a static file host standing in for the release
//! host ([`serve`]), and a peer that never answers ([`BlackHole`]). The big ones have their
//! own modules: `emulator` (results service and Azurite), `github` (REST), `s3server`
//! (s3s-fs), `faultproxy` (network faults in front of any of them).

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// A loopback HTTP/1.1 server of the files under a directory, standing in for the release
/// host; it records the path of every request it receives.
pub struct Server {
    /// `http://<host>:<port>`, without a trailing `/`.
    pub url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// The request paths received so far.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("lock").clone()
    }
}

/// Serves `root` on a free port of 127.0.0.1.
pub fn serve(root: PathBuf) -> Server {
    serve_on("127.0.0.1", root)
}

/// Serves `root` on a free port of `ip` (`127.0.0.1`, `127.0.0.2`, `::1`).
pub fn serve_on(ip: &str, root: PathBuf) -> Server {
    let listener = TcpListener::bind((ip, 0)).expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&requests);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let root = root.clone();
            let seen = Arc::clone(&seen);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(&stream);
                let mut request = String::new();
                if reader.read_line(&mut request).is_err() {
                    return;
                }
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let path = request
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("/")
                    .trim_start_matches('/')
                    .to_owned();
                seen.lock().expect("lock").push(path.clone());
                let mut stream = &stream;
                match fs::read(root.join(&path)) {
                    Ok(body) if !path.contains("..") => {
                        let _ = write!(
                            stream,
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = stream.write_all(&body);
                    }
                    _ => {
                        let _ = write!(
                            stream,
                            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        );
                    }
                }
            });
        }
    });
    let host = if ip.contains(':') {
        format!("[{ip}]")
    } else {
        ip.to_owned()
    };
    Server {
        url: format!("http://{host}:{port}"),
        requests,
    }
}

/// A server that accepts connections, reads what is sent and never answers: the stalled
/// peer an idle deadline must abandon. It stops accepting when dropped.
pub struct BlackHole {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl BlackHole {
    pub fn start() -> BlackHole {
        use std::io::Read as _;
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        // Drain what arrives on its own thread, answer nothing; keep it open.
                        let _ = conn.set_nonblocking(false);
                        let reader = conn.try_clone().expect("clone");
                        held.push(conn.try_clone().expect("clone"));
                        std::thread::spawn(move || {
                            let mut reader = reader;
                            let mut sink = [0u8; 16 * 1024];
                            while matches!(reader.read(&mut sink), Ok(n) if n > 0) {}
                        });
                    }
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
                }
            }
            for conn in held {
                let _ = conn.shutdown(std::net::Shutdown::Both);
            }
        });
        BlackHole { url, stop }
    }
}

impl Drop for BlackHole {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}
