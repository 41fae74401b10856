//! Shared test helpers: a temporary workspace, running the real binary the way the
//! runner does, and reading `$GITHUB_OUTPUT` the way the runner does.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A temporary workspace with runner files.
pub struct Ctx {
    _dir: tempfile::TempDir,
    /// `GITHUB_WORKSPACE`, the working directory.
    pub ws: PathBuf,
    /// `RUNNER_TEMP`.
    pub temp: PathBuf,
    /// `HOME`.
    pub home: PathBuf,
    /// `GITHUB_OUTPUT`.
    pub output: PathBuf,
    /// `GITHUB_STEP_SUMMARY`.
    pub summary: PathBuf,
}

/// What a run left behind.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub outputs: BTreeMap<String, String>,
    pub summary: String,
}

impl Run {
    /// stdout and stderr together.
    pub fn log(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// A stevedore process running in the background. Dropping it kills (SIGKILL) and reaps
/// it, so a test that fails half-way leaves no process behind (stevedore starts none of
/// its own).
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Ctx {
    pub fn new() -> Ctx {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = fs::canonicalize(dir.path()).expect("canonical tempdir");
        let ws = root.join("ws");
        let temp = root.join("runner-temp");
        let home = root.join("home");
        for d in [&ws, &temp, &home] {
            fs::create_dir_all(d).expect("mkdir");
        }
        let output = root.join("github_output");
        let summary = root.join("step_summary");
        fs::write(&output, "").expect("touch output");
        fs::write(&summary, "").expect("touch summary");
        Ctx {
            _dir: dir,
            ws,
            temp,
            home,
            output,
            summary,
        }
    }

    /// Writes a file under the workspace, creating parents.
    pub fn file(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.ws.join(rel);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(&path, contents).expect("write");
        path
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_stevedore"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("RUNNER_TEMP", &self.temp)
            .env("GITHUB_WORKSPACE", &self.ws)
            .env("GITHUB_OUTPUT", &self.output)
            .env("GITHUB_STEP_SUMMARY", &self.summary)
            .current_dir(&self.ws);
        cmd
    }

    /// Runs as the action does: `GITHUB_ACTIONS=true`, inputs in `INPUT_*`, no arguments.
    pub fn action(&self, inputs: &[(&str, &str)]) -> Run {
        self.action_env(inputs, &[])
    }

    /// [`Ctx::action`] with extra environment variables.
    pub fn action_env(&self, inputs: &[(&str, &str)], env: &[(String, String)]) -> Run {
        let cmd = self.action_command(inputs, env);
        self.finish(cmd)
    }

    /// [`Ctx::action_env`], killed once it has run for `limit`: a run that hangs fails its
    /// test instead of hanging the suite. A killed run has code -1 and says so in `stderr`.
    pub fn action_env_within(
        &self,
        inputs: &[(&str, &str)],
        env: &[(String, String)],
        limit: std::time::Duration,
    ) -> Run {
        let mut cmd = self.action_command(inputs, env);
        cmd.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        fs::write(&self.output, "").expect("reset output");
        fs::write(&self.summary, "").expect("reset summary");
        let started = std::time::Instant::now();
        let mut child = cmd.spawn().expect("run stevedore");
        let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                let _ = pipe.read_to_end(&mut bytes);
                String::from_utf8_lossy(&bytes).into_owned()
            })
        };
        let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
        let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break Some(status);
            }
            if started.elapsed() >= limit {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        let mut stderr = stderr.join().expect("stderr");
        if status.is_none() {
            stderr = format!("{stderr}\n[test] killed: still running after {limit:?}\n");
        }
        Run {
            code: status.and_then(|s| s.code()).unwrap_or(-1),
            stdout: stdout.join().expect("stdout"),
            stderr,
            outputs: parse_outputs(&fs::read_to_string(&self.output).expect("read outputs")),
            summary: fs::read_to_string(&self.summary).expect("read summary"),
        }
    }

    fn action_command(&self, inputs: &[(&str, &str)], env: &[(String, String)]) -> Command {
        let mut cmd = self.command();
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        cmd.env("GITHUB_ACTIONS", "true");
        for (name, value) in inputs {
            cmd.env(
                format!("INPUT_{}", name.to_uppercase().replace('-', "_")),
                value,
            );
        }
        cmd
    }

    /// [`Ctx::action`], started by `bash -c '<setup>; exec stevedore'`: for limits
    /// (`ulimit`) and signal dispositions that only a parent process can set.
    pub fn action_in_shell(&self, setup: &str, inputs: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new("bash");
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("RUNNER_TEMP", &self.temp)
            .env("GITHUB_WORKSPACE", &self.ws)
            .env("GITHUB_OUTPUT", &self.output)
            .env("GITHUB_STEP_SUMMARY", &self.summary)
            .env("GITHUB_ACTIONS", "true")
            .current_dir(&self.ws)
            .arg("-c")
            .arg(format!("{setup}; exec \"$0\""))
            .arg(env!("CARGO_BIN_EXE_stevedore"));
        for (name, value) in inputs {
            cmd.env(
                format!("INPUT_{}", name.to_uppercase().replace('-', "_")),
                value,
            );
        }
        self.finish(cmd)
    }

    /// Starts the binary as [`Ctx::action_env`] runs it, without waiting for it (its
    /// console output is discarded): for tests that kill it mid-way.
    pub fn spawn_action_env(&self, inputs: &[(&str, &str)], env: &[(String, String)]) -> Running {
        let mut cmd = self.action_command(inputs, env);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        Running(cmd.spawn().expect("start stevedore"))
    }

    /// Runs as a CLI with arguments.
    pub fn cli(&self, args: &[&str]) -> Run {
        let mut cmd = self.command();
        cmd.args(args);
        self.finish(cmd)
    }

    fn finish(&self, mut cmd: Command) -> Run {
        fs::write(&self.output, "").expect("reset output");
        fs::write(&self.summary, "").expect("reset summary");
        let out = cmd.output().expect("run stevedore");
        let outputs_text = fs::read_to_string(&self.output).expect("read outputs");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            outputs: parse_outputs(&outputs_text),
            summary: fs::read_to_string(&self.summary).expect("read summary"),
        }
    }
}

/// Parses a `$GITHUB_OUTPUT` file with the runner's rules (`FileCommandManager.cs`):
/// per non-empty line, `NAME=VALUE`, or `NAME<<DELIM` followed by lines up to one that
/// equals `DELIM`. Panics on malformed input, as the runner fails the step.
pub fn parse_outputs(text: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    let mut lines = text.split('\n').peekable();
    while let Some(line) = lines.next() {
        if line.is_empty() {
            continue;
        }
        let eq = line.find('=');
        let heredoc = line.find("<<");
        match (eq, heredoc) {
            (Some(e), h) if h.is_none_or(|h| e < h) => {
                map.insert(line[..e].to_owned(), line[e + 1..].to_owned());
            }
            (_, Some(h)) => {
                let name = &line[..h];
                let delim = &line[h + 2..];
                let mut value = Vec::new();
                loop {
                    let next = lines
                        .next()
                        .unwrap_or_else(|| panic!("Matching delimiter not found '{delim}'"));
                    if next == delim {
                        break;
                    }
                    value.push(next);
                }
                assert!(lines.peek().is_some(), "EOF marker missing new line");
                map.insert(name.to_owned(), value.join("\n"));
            }
            _ => panic!("Invalid format '{line}'"),
        }
    }
    map
}

/// Every file under `dir` with its bytes, keyed by `/`-separated relative path.
pub fn read_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).expect("read_dir") {
            let entry = entry.expect("entry");
            let path = entry.path();
            if entry.file_type().expect("type").is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(dir)
                    .expect("under dir")
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, fs::read(&path).expect("read"));
            }
        }
    }
    out
}

/// A downloaded artifact stevedore uploaded: its files, without the `SHA256SUMS` and
/// `stevedore-manifest.json` it carries at the top (`artifact-documents`), after checking
/// both are there and that `sha256sum -c` accepts the tree.
pub fn read_artifact_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut tree = read_tree(dir);
    assert!(
        tree.remove("stevedore-manifest.json").is_some(),
        "the artifact holds its manifest"
    );
    assert!(
        tree.contains_key("SHA256SUMS"),
        "the artifact holds its checksums"
    );
    sha256sum_check(dir, Path::new("SHA256SUMS"));
    tree.remove("SHA256SUMS");
    tree
}

/// Directory of the npm peers (`tests/support/node`), failing clearly when `npm ci`
/// has not been run: these tests compare with the real implementations and must not
/// silently pass without them.
pub fn node_peers() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/node");
    assert!(
        dir.join("node_modules/@actions/glob").is_dir(),
        "the official @actions packages are not installed: run `npm ci --prefix tests/support/node` (scripts/test does)"
    );
    dir
}

/// Runs the real `sha256sum -c --strict` on `checksums` (a path) from `dir`; panics with
/// its report unless every line verifies. Returns the report.
pub fn sha256sum_check(dir: &Path, checksums: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg("-c")
        .arg("--strict")
        .arg(checksums)
        .current_dir(dir)
        .output()
        .expect("sha256sum runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "sha256sum -c failed:\n{report}");
    report
}

/// Runs the pipeline in-process, rewriting `rewrite.0` with `rewrite.1` right after the
/// scan (as a build still writing would): the window between scan and upload that a test
/// of the binary cannot hit reliably.
pub fn upload_after_rewrite(
    ctx: &Ctx,
    inputs: &[(&'static str, &str)],
    env: &stevedore::github::RunnerEnv,
    rewrite: (&str, &str),
) -> (
    Vec<stevedore::upload::DestinationReport>,
    Option<stevedore::upload::UploadError>,
) {
    use stevedore::config::RawInputs;
    use stevedore::events::MemoryReporter;
    use stevedore::run::{Hooks, Invocation, pipeline};

    let mut raw = RawInputs::default();
    for (name, value) in inputs {
        raw.set(name, (*value).to_owned());
    }
    let mut env = env.clone();
    env.runner_temp = Some(ctx.temp.clone());
    let invocation = Invocation {
        env,
        inputs: raw,
        cwd: ctx.ws.clone(),
    };
    let rewrite_now = |_: &stevedore::scan::Manifest| {
        fs::write(ctx.ws.join(rewrite.0), rewrite.1).expect("rewrite");
    };
    let hooks = Hooks {
        after_scan: Some(&rewrite_now),
    };
    let (reached, result) = pipeline(&invocation, &MemoryReporter::default(), &hooks);
    let error = match result {
        Ok(()) => None,
        Err(stevedore::Error::Upload(e)) => Some(e),
        Err(other) => panic!("the run stopped before the upload: {other}"),
    };
    (reached.destinations, error)
}

/// Deterministic incompressible bytes (xorshift64), the same for every run.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Starts a Node test server from `tests/support/node` that prints one JSON line (its
/// address) and exits when its stdin closes, i.e. with this test process.
pub fn spawn_node_server(script: &str) -> (std::process::Child, serde_json::Value) {
    use std::io::BufRead as _;
    let dir = node_peers();
    let mut child = Command::new("node")
        .arg(dir.join(script))
        .current_dir(&dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("start {script} (node): {e}"));
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read the server's address");
    let info =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{script} said {line:?}: {e}"));
    (child, info)
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
