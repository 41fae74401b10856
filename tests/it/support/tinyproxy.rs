//! A real forward proxy, Debian's `tinyproxy` (installed by `scripts/test`), on a free
//! loopback port with its own configuration and log in a temporary directory: the proxy
//! tests read from its log which requests went through it. Killed when dropped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running tinyproxy.
pub struct Tinyproxy {
    /// `http://127.0.0.1:<port>`, for `HTTP_PROXY` / `HTTPS_PROXY`.
    pub url: String,
    log: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Tinyproxy {
    /// Starts tinyproxy in the foreground (`-d`) and waits until it accepts connections.
    /// No `ConnectPort` line: CONNECT is allowed to any port (the test servers' are not 443).
    pub fn start() -> Tinyproxy {
        assert!(
            Command::new("tinyproxy").arg("-v").output().is_ok(),
            "tinyproxy is not installed: run `scripts/apt-need tinyproxy=tinyproxy` (scripts/test does)"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("tinyproxy.log");
        let port = crate::support::free_port();
        let config = dir.path().join("tinyproxy.conf");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 120\nLogFile \"{}\"\nLogLevel Connect\n\
                 MaxClients 200\nAllow 127.0.0.1\nDisableViaHeader Yes\n",
                log.display()
            ),
        )
        .expect("write the config");
        let child = Command::new("tinyproxy")
            .arg("-d")
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tinyproxy");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "tinyproxy did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Tinyproxy {
            url: format!("http://127.0.0.1:{port}"),
            log,
            child,
            _dir: dir,
        }
    }

    /// The requests the proxy took, in order, as its log says them: `METHOD URL` for a
    /// request it forwarded (`PUT http://127.0.0.1:1234/builds/a?x=1`), `CONNECT host:port`
    /// for a tunnel.
    pub fn requests(&self) -> Vec<String> {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        log.lines()
            .filter_map(|line| {
                line.split_once("]: Request (file descriptor ")
                    .map(|(_, r)| r)
            })
            .filter_map(|rest| rest.split_once("): ").map(|(_, r)| r))
            .map(|request| request.trim_end_matches(" HTTP/1.1").to_owned())
            .collect()
    }
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
