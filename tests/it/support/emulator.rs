//! The results-service emulator (tests/support/node/results-emulator.mjs) in front of a
//! real Azurite, started once per test binary and shared: every test gets its own workflow
//! run (backend IDs in its own token), so tests neither see each other's artifacts nor
//! consume each other's faults. The emulator exits when this process does (its stdin
//! closes), stopping Azurite with it.

use std::path::Path;
use std::process::{Child, Command};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use base64::Engine as _;

use crate::support::{Ctx, node_peers, read_tree, spawn_node_server};

/// The running emulator.
pub struct Emulator {
    /// `ACTIONS_RESULTS_URL`.
    pub url: String,
    /// Azurite's blob endpoint, `http://127.0.0.1:<port>` (where upload URLs point).
    pub azurite: String,
    _child: Child,
}

/// One workflow job as the service knows it.
pub struct Job {
    /// Run backend ID.
    pub run: String,
    /// `ACTIONS_RUNTIME_TOKEN`: an unsigned JWT with the `Actions.Results` scope.
    pub token: String,
    /// The job's backend ID.
    pub backend_id: String,
}

static EMULATOR: OnceLock<Emulator> = OnceLock::new();
static NEXT_RUN: AtomicU32 = AtomicU32::new(1);

/// The shared emulator, started on first use.
pub fn emulator() -> &'static Emulator {
    EMULATOR.get_or_init(|| {
        let dir = node_peers();
        assert!(
            dir.join("node_modules/azurite").is_dir(),
            "Azurite is not installed: run `npm ci --prefix tests/support/node` (scripts/test does)"
        );
        let (child, info) = spawn_node_server("results-emulator.mjs");
        Emulator {
            url: info["url"].as_str().expect("url").to_owned(),
            azurite: info["azurite"].as_str().expect("azurite").to_owned(),
            _child: child,
        }
    })
}

impl Emulator {
    /// A fresh run and job (a method, so a test cannot make one without the emulator).
    #[allow(clippy::unused_self)]
    pub fn job(&self) -> Job {
        let n = NEXT_RUN.fetch_add(1, Ordering::Relaxed);
        let run = format!("run-{}-{n}", std::process::id());
        Self::job_of(run, &format!("job-{n}"))
    }

    /// Another job of `job`'s workflow run (a job re-run, if the service gives it a new
    /// job ID in the same run: the reference leaves open which).
    #[allow(clippy::unused_self)]
    pub fn other_job(&self, job: &Job) -> Job {
        let n = NEXT_RUN.fetch_add(1, Ordering::Relaxed);
        Self::job_of(job.run.clone(), &format!("job-{n}"))
    }

    fn job_of(run: String, job: &str) -> Job {
        let b64 = |v: serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let token = format!(
            "{}.{}.signature",
            b64(serde_json::json!({"alg": "none", "typ": "JWT"})),
            b64(serde_json::json!({
                "scp": format!("Actions.GenericRead:00000000 Actions.UploadArtifacts:a:b Actions.Results:{run}:{job}"),
            }))
        );
        Job {
            run,
            token,
            backend_id: job.to_owned(),
        }
    }

    fn post(&self, path: &str, body: &serde_json::Value) -> serde_json::Value {
        let out = Command::new("curl")
            .args(["-sS", "--fail-with-body", "-X", "POST", "-H"])
            .arg("content-type: application/json")
            .arg("--data-binary")
            .arg(body.to_string())
            .arg(format!("{}{path}", self.url))
            .output()
            .expect("curl");
        assert!(out.status.success(), "{path}: {out:?}");
        serde_json::from_slice(&out.stdout).expect("json")
    }

    /// Queues faults for `job`'s run (see the emulator's header for their shape).
    pub fn faults(&self, job: &Job, faults: &serde_json::Value) {
        self.post(
            "_emulator/faults",
            &serde_json::json!({"run": job.run, "faults": faults}),
        );
    }

    /// Makes the signed upload URLs of `job`'s run point at `base` (a proxy in front of
    /// [`Emulator::azurite`]) instead of Azurite.
    pub fn upload_base(&self, job: &Job, base: &str) {
        self.post(
            "_emulator/upload-base",
            &serde_json::json!({"run": job.run, "base": base}),
        );
    }

    /// Makes the signed download URLs of `job`'s run point at `base` (a proxy in front of
    /// [`Emulator::azurite`]) instead of Azurite.
    pub fn download_base(&self, job: &Job, base: &str) {
        self.post(
            "_emulator/download-base",
            &serde_json::json!({"run": job.run, "base": base}),
        );
    }

    /// The artifacts and calls of `job`'s run.
    pub fn state(&self, job: &Job) -> serde_json::Value {
        let out = Command::new("curl")
            .args(["-sS", "--fail"])
            .arg(format!("{}_emulator/state?run={}", self.url, job.run))
            .output()
            .expect("curl");
        assert!(out.status.success(), "state: {out:?}");
        serde_json::from_slice(&out.stdout).expect("json")
    }

    /// Methods called in `job`'s run, in order, with their statuses.
    pub fn calls(&self, job: &Job) -> Vec<(String, i64)> {
        self.state(job)["calls"]
            .as_array()
            .expect("calls")
            .iter()
            .map(|c| {
                (
                    c["method"].as_str().expect("method").to_owned(),
                    c["status"].as_i64().expect("status"),
                )
            })
            .collect()
    }

    /// The bytes of artifact `name` as stored (the zip itself), fetched as any client would:
    /// `GetSignedArtifactURL`, then the signed URL.
    pub fn stored(&self, job: &Job, name: &str) -> Vec<u8> {
        let out = Command::new("curl")
            .args(["-sS", "--fail-with-body", "-X", "POST", "-H"])
            .arg("content-type: application/json")
            .arg("-H")
            .arg(format!("authorization: Bearer {}", job.token))
            .arg("--data-binary")
            .arg(
                serde_json::json!({
                    "workflow_run_backend_id": job.run,
                    "workflow_job_run_backend_id": job.backend_id,
                    "name": name,
                })
                .to_string(),
            )
            .arg(format!(
                "{}twirp/github.actions.results.api.v1.ArtifactService/GetSignedArtifactURL",
                self.url
            ))
            .output()
            .expect("curl");
        assert!(out.status.success(), "signed URL: {out:?}");
        let reply: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        let url = reply["signed_url"].as_str().expect("signed_url");
        let out = Command::new("curl")
            .args(["-sS", "--fail", url])
            .output()
            .expect("curl");
        assert!(out.status.success(), "blob: {:?}", out.stderr);
        out.stdout
    }

    /// The environment stevedore (or the official client) needs for `job`.
    pub fn env(&self, job: &Job) -> Vec<(String, String)> {
        vec![
            ("ACTIONS_RUNTIME_TOKEN".into(), job.token.clone()),
            ("ACTIONS_RESULTS_URL".into(), self.url.clone()),
            ("GITHUB_SERVER_URL".into(), "https://github.com".into()),
            ("GITHUB_REPOSITORY".into(), "octo/stevedore-tests".into()),
            ("GITHUB_RUN_ID".into(), "4242".into()),
        ]
    }

    /// The artifacts of `job` the service finalized.
    pub fn finalized(&self, job: &Job) -> Vec<serde_json::Value> {
        self.state(job)["artifacts"]
            .as_array()
            .expect("artifacts")
            .iter()
            .filter(|a| a["finalized"] == serde_json::json!(true))
            .cloned()
            .collect()
    }

    /// Runs the official `@actions/artifact` client (tests/support/node/artifact-client.mjs)
    /// for `job` and returns its JSON result.
    pub fn official(&self, job: &Job, args: &[&str]) -> serde_json::Value {
        artifact_client(args, |cmd| {
            cmd.envs(self.env(job));
        })
    }
}

/// Runs the official `@actions/artifact` client (tests/support/node/artifact-client.mjs)
/// with `args`, its environment set by `environment`, and returns its JSON result.
pub fn artifact_client(args: &[&str], environment: impl FnOnce(&mut Command)) -> serde_json::Value {
    let dir = node_peers();
    let result = tempfile::NamedTempFile::new().expect("temp");
    let mut cmd = Command::new("node");
    cmd.arg(dir.join("artifact-client.mjs"))
        .args(args)
        .current_dir(&dir);
    environment(&mut cmd);
    let out = cmd
        .env("STEVEDORE_RESULT", result.path())
        .output()
        .expect("run the official client");
    assert!(
        out.status.success(),
        "official client {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&std::fs::read(result.path()).expect("result")).expect("json")
}

/// Uploads every file under `root` with the official client as artifact `name`.
pub fn official_upload(job: &Job, name: &str, root: &Path) -> serde_json::Value {
    let mut files: Vec<String> = read_tree(root)
        .keys()
        .map(|rel| root.join(rel).to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut args = vec!["upload", name, root.to_str().expect("utf-8"), "6"];
    args.extend(files.iter().map(String::as_str));
    emulator().official(job, &args)
}

/// Ships `zip` as a raw artifact named `name` (stevedore `archive: false`): the service
/// stores it as `application/zip` under a `.zip` path, so a download extracts it.
pub fn ship_zip(ctx: &Ctx, job: &Job, name: &str, zip: &[u8]) {
    ctx.file(name, zip);
    let up = ctx.action_env(
        &[
            ("destination", "artifact"),
            ("path", name),
            ("archive", "false"),
        ],
        &emulator().env(job),
    );
    assert_eq!(up.code, 0, "{}", up.log());
}
