//! act's own artifact server (`nektos/act` 0.2.89, `pkg/artifacts`), which serves both
//! artifact protocols: the v3 pipelines API (what GitHub Enterprise Server serves) and the v4
//! results service (a port of Gitea's). act starts it only for the length of a workflow run,
//! so [`ActServer::start`] runs a one-step workflow that says the server's address, the run
//! id and the runtime token act made, then waits until the server is dropped. The tests run
//! stevedore and the official clients outside act against that address.

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const WORKFLOW: &str = r#"name: artifact-server
on: push
jobs:
  serve:
    runs-on: ubuntu-latest
    steps:
      - run: |
          printf '%s\n%s\n%s\n' "$ACTIONS_RUNTIME_URL" "$GITHUB_RUN_ID" "$ACTIONS_RUNTIME_TOKEN" > "$READY.tmp"
          mv "$READY.tmp" "$READY"
          while [ ! -e "$STOP" ]; do sleep 0.1; done
"#;

/// act running with its artifact server up.
pub struct ActServer {
    child: Child,
    dir: tempfile::TempDir,
    /// `ACTIONS_RUNTIME_URL` (also act's `ACTIONS_RESULTS_URL`).
    pub url: String,
    /// `GITHUB_RUN_ID` of the run act made.
    pub run_id: String,
    /// `ACTIONS_RUNTIME_TOKEN` act made (a JWT naming the run and job for v4).
    pub token: String,
}

/// act's binary, installed by scripts/test from tests/support/python/requirements.txt.
pub fn act() -> PathBuf {
    let act = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-test/bin/act");
    assert!(
        act.exists(),
        "act is not installed: run scripts/test (it installs tests/support/python/requirements.txt)"
    );
    act
}

impl ActServer {
    /// Starts act and waits (at most a minute) for its artifact server.
    pub fn start() -> ActServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = dir.path().join("repo");
        fs::create_dir_all(repo.join(".github/workflows")).expect("mkdir");
        fs::write(repo.join(".github/workflows/serve.yml"), WORKFLOW).expect("workflow");
        let git = |args: &[&str]| {
            let ok = Command::new("git")
                .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
                .args(args)
                .current_dir(&repo)
                .stdout(Stdio::null())
                .status()
                .expect("git")
                .success();
            assert!(ok, "git {args:?}");
        };
        git(&["init", "-q"]);
        git(&["add", "-A"]);
        git(&["commit", "-qm", "serve"]);
        let home = dir.path().join("home");
        fs::create_dir_all(&home).expect("home");
        let ready = dir.path().join("ready");
        let stop = dir.path().join("stop");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let log = fs::File::create(dir.path().join("act.log")).expect("log");
        let child = Command::new(act())
            .args([
                "push",
                "-W",
                ".github/workflows/serve.yml",
                "-P",
                "ubuntu-latest=-self-hosted",
                "--action-offline-mode",
                "--artifact-server-addr",
                "127.0.0.1",
                "--artifact-server-port",
                &port.to_string(),
            ])
            .arg("--artifact-server-path")
            .arg(dir.path().join("artifacts"))
            .arg("--env")
            .arg(format!("READY={}", ready.display()))
            .arg("--env")
            .arg(format!("STOP={}", stop.display()))
            .current_dir(&repo)
            .env("HOME", &home)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start act");
        let mut server = ActServer {
            child,
            dir,
            url: String::new(),
            run_id: String::new(),
            token: String::new(),
        };
        let started = Instant::now();
        while !ready.exists() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!(
                    "act stopped ({status}) before its artifact server was up:\n{}",
                    server.log()
                );
            }
            assert!(
                started.elapsed() < Duration::from_mins(1),
                "act's artifact server is not up after a minute:\n{}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let said = fs::read_to_string(&ready).expect("ready");
        let mut lines = said.lines().map(str::to_owned);
        server.url = lines.next().expect("url");
        server.run_id = lines.next().expect("run id");
        server.token = lines.next().expect("token");
        assert!(server.url.starts_with("http://127.0.0.1:"), "{said}");
        server
    }

    /// What act logged so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("act.log")).unwrap_or_default()
    }

    /// Where act keeps the artifacts (`<run>/<name>/…`).
    pub fn store(&self) -> PathBuf {
        self.dir.path().join("artifacts").join(&self.run_id)
    }

    /// A v3 step's environment, as GitHub Enterprise Server gives it: no results service.
    pub fn v3_env(&self) -> Vec<(String, String)> {
        vec![
            ("ACTIONS_RUNTIME_URL".into(), self.url.clone()),
            ("ACTIONS_RUNTIME_TOKEN".into(), self.token.clone()),
            ("GITHUB_RUN_ID".into(), self.run_id.clone()),
        ]
    }

    /// A v4 step's environment, as act gives it (the results URL is the same server).
    pub fn v4_env(&self) -> Vec<(String, String)> {
        let mut env = self.v3_env();
        env.push(("ACTIONS_RESULTS_URL".into(), self.url.clone()));
        env.push(("GITHUB_SERVER_URL".into(), "https://github.com".into()));
        env
    }
}

impl Drop for ActServer {
    fn drop(&mut self) {
        let _ = fs::write(self.dir.path().join("stop"), "");
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the official v3 client (tests/support/node/artifact-v1-client.mjs) with `env` and
/// returns its JSON result.
pub fn v1_client(args: &[&str], env: &[(String, String)]) -> serde_json::Value {
    let dir = super::node_peers();
    let result = tempfile::NamedTempFile::new().expect("temp");
    let out = Command::new("node")
        .arg(dir.join("artifact-v1-client.mjs"))
        .args(args)
        .current_dir(&dir)
        .env_remove("ACTIONS_RESULTS_URL")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("STEVEDORE_RESULT", result.path())
        .output()
        .expect("run the official v3 client");
    assert!(
        out.status.success(),
        "official v3 client {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&fs::read(result.path()).expect("result")).expect("json")
}
