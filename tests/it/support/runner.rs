//! The runner context: a temporary workspace with the runner's files, and the one place
//! that builds the environment a step's process gets (`GITHUB_*`, `RUNNER_*`, `INPUT_*`,
//! the output and summary files). Every way a test starts stevedore as a step goes through
//! [`Ctx::runner_command`] and [`Ctx::step_command`].

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::emulator::{Job, emulator};

/// The binary under test.
pub const STEVEDORE: &str = env!("CARGO_BIN_EXE_stevedore");

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

/// The environment variable the runner sets for the action input `name`.
pub fn input_var(name: &str) -> String {
    format!("INPUT_{}", name.to_uppercase().replace('-', "_"))
}

/// Owned `(name, value)` pairs, as [`Ctx::action_env`] takes them.
pub fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

impl Ctx {
    pub fn new() -> Ctx {
        Ctx::in_dir(tempfile::tempdir().expect("tempdir"))
    }

    /// A context whose files live under `parent` (the wine chroot's `/w`, where the Windows
    /// binary sees them: `support::wine`).
    pub fn new_in(parent: &Path) -> Ctx {
        Ctx::in_dir(tempfile::tempdir_in(parent).expect("tempdir"))
    }

    fn in_dir(dir: tempfile::TempDir) -> Ctx {
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

    /// `program` with the runner's files and nothing else inherited but `PATH`: `HOME`,
    /// `RUNNER_TEMP`, `GITHUB_WORKSPACE` (also the working directory), `GITHUB_OUTPUT` and
    /// `GITHUB_STEP_SUMMARY`. The one place this environment is written.
    pub fn runner_command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(self.runner_env(|path| path.as_os_str().to_owned()))
            .current_dir(&self.ws);
        cmd
    }

    /// The runner's files as a step's environment names them, each path as `name` spells
    /// it for the binary (itself natively; a `D:\...` path under wine): `HOME`,
    /// `RUNNER_TEMP`, `GITHUB_WORKSPACE`, `GITHUB_OUTPUT`, `GITHUB_STEP_SUMMARY`.
    pub fn runner_env(
        &self,
        name: impl Fn(&Path) -> std::ffi::OsString,
    ) -> Vec<(&'static str, std::ffi::OsString)> {
        vec![
            ("HOME", name(&self.home)),
            ("RUNNER_TEMP", name(&self.temp)),
            ("GITHUB_WORKSPACE", name(&self.ws)),
            ("GITHUB_OUTPUT", name(&self.output)),
            ("GITHUB_STEP_SUMMARY", name(&self.summary)),
        ]
    }

    /// [`Ctx::runner_command`] as a step of an action: `env` (the step's `env:`), then
    /// `GITHUB_ACTIONS=true` and the inputs as `INPUT_*`.
    pub fn step_command(
        &self,
        program: impl AsRef<OsStr>,
        inputs: &[(&str, &str)],
        env: &[(String, String)],
    ) -> Command {
        Ctx::as_step(self.runner_command(program), inputs, env)
    }

    /// `cmd` (a runner's command, [`Ctx::runner_command`] or the wine one of
    /// `support::wine`) as a step of an action: `env`, `GITHUB_ACTIONS=true`, `INPUT_*`.
    pub fn as_step(mut cmd: Command, inputs: &[(&str, &str)], env: &[(String, String)]) -> Command {
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        cmd.env("GITHUB_ACTIONS", "true");
        for (name, value) in inputs {
            cmd.env(input_var(name), value);
        }
        cmd
    }

    /// Runs as the action does: `GITHUB_ACTIONS=true`, inputs in `INPUT_*`, no arguments.
    pub fn action(&self, inputs: &[(&str, &str)]) -> Run {
        self.action_env(inputs, &[])
    }

    /// [`Ctx::action`] with extra environment variables.
    pub fn action_env(&self, inputs: &[(&str, &str)], env: &[(String, String)]) -> Run {
        self.finish(self.step_command(STEVEDORE, inputs, env))
    }

    /// [`Ctx::action_env`], killed once it has run for `limit`: a run that hangs fails its
    /// test instead of hanging the suite. A killed run has code -1 and says so in `stderr`.
    pub fn action_env_within(
        &self,
        inputs: &[(&str, &str)],
        env: &[(String, String)],
        limit: Duration,
    ) -> Run {
        let mut cmd = self.step_command(STEVEDORE, inputs, env);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        self.reset_files();
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
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut stderr = stderr.join().expect("stderr");
        if status.is_none() {
            stderr = format!("{stderr}\n[test] killed: still running after {limit:?}\n");
        }
        self.collect(
            status.and_then(|s| s.code()).unwrap_or(-1),
            stdout.join().expect("stdout"),
            stderr,
        )
    }

    /// [`Ctx::action`], started by `bash -c '<setup>; exec stevedore'`: for limits
    /// (`ulimit`) and signal dispositions that only a parent process can set.
    pub fn action_in_shell(&self, setup: &str, inputs: &[(&str, &str)]) -> Run {
        let mut cmd = self.step_command("bash", inputs, &[]);
        cmd.arg("-c")
            .arg(format!("{setup}; exec \"$0\""))
            .arg(STEVEDORE);
        self.finish(cmd)
    }

    /// Starts the binary as [`Ctx::action_env`] runs it, without waiting for it (its
    /// console output is discarded): for tests that kill it mid-way.
    pub fn spawn_action_env(&self, inputs: &[(&str, &str)], env: &[(String, String)]) -> Running {
        let mut cmd = self.step_command(STEVEDORE, inputs, env);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        Running(cmd.spawn().expect("start stevedore"))
    }

    /// Runs as a CLI with arguments.
    pub fn cli(&self, args: &[&str]) -> Run {
        let mut cmd = self.runner_command(STEVEDORE);
        cmd.args(args);
        self.finish(cmd)
    }

    /// Runs `cmd` (built by [`Ctx::runner_command`] or [`Ctx::step_command`]) to its end
    /// with empty output and summary files, and reads what it left.
    pub fn finish(&self, mut cmd: Command) -> Run {
        self.reset_files();
        let out = cmd.output().expect("run stevedore");
        self.collect(
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn reset_files(&self) {
        fs::write(&self.output, "").expect("reset output");
        fs::write(&self.summary, "").expect("reset summary");
    }

    fn collect(&self, code: i32, stdout: String, stderr: String) -> Run {
        Run {
            code,
            stdout,
            stderr,
            outputs: parse_outputs(&fs::read_to_string(&self.output).expect("read outputs")),
            summary: fs::read_to_string(&self.summary).expect("read summary"),
        }
    }
}

/// Runs `stevedore download` as `download/action.yml` does: `INPUT_*`, no flags.
pub fn run_download(ctx: &Ctx, job: &Job, inputs: &[(&str, &str)]) -> Run {
    run_download_env(ctx, inputs, &emulator().env(job))
}

/// [`run_download`] of the artifact `name` into `path`.
pub fn run_download_into(ctx: &Ctx, job: &Job, name: &str, path: &Path) -> Run {
    run_download(
        ctx,
        job,
        &[("name", name), ("path", path.to_str().expect("utf-8"))],
    )
}

/// [`run_download`] with an environment of the caller's.
pub fn run_download_env(ctx: &Ctx, inputs: &[(&str, &str)], env: &[(String, String)]) -> Run {
    run_download_as(ctx, inputs, env, None)
}

/// [`run_download_env`] as the Unix user `uid` (and its group of the same number), when given.
pub fn run_download_as(
    ctx: &Ctx,
    inputs: &[(&str, &str)],
    env: &[(String, String)],
    uid: Option<u32>,
) -> Run {
    let mut cmd = ctx.step_command(STEVEDORE, inputs, env);
    cmd.arg("download");
    if let Some(uid) = uid {
        std::os::unix::process::CommandExt::uid(&mut cmd, uid);
        std::os::unix::process::CommandExt::gid(&mut cmd, uid);
    }
    ctx.finish(cmd)
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
