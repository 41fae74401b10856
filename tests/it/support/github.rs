//! The GitHub REST emulator (tests/support/node/github-emulator.mjs, payloads from
//! `@octokit/fixtures`), started once per test binary; each test uses its own repository.

use std::process::{Child, Command};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::support::spawn_node_server;

/// The running emulator.
pub struct GitHub {
    /// `GITHUB_API_URL`.
    pub url: String,
    _child: Child,
}

static GITHUB: OnceLock<GitHub> = OnceLock::new();
static NEXT_REPO: AtomicU32 = AtomicU32::new(1);

/// The shared emulator.
pub fn github() -> &'static GitHub {
    GITHUB.get_or_init(|| {
        let (child, info) = spawn_node_server("github-emulator.mjs");
        GitHub {
            url: info["url"].as_str().expect("url").to_owned(),
            _child: child,
        }
    })
}

impl GitHub {
    /// A fresh repository name.
    #[allow(clippy::unused_self)]
    pub fn repo(&self) -> String {
        format!(
            "octo/rel-{}-{}",
            std::process::id(),
            NEXT_REPO.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// POSTs a control request.
    pub fn control(&self, path: &str, body: &serde_json::Value) {
        let out = Command::new("curl")
            .args([
                "-sS",
                "--fail",
                "-X",
                "POST",
                "-H",
                "content-type: application/json",
            ])
            .arg("--data-binary")
            .arg(body.to_string())
            .arg(format!("{}/_emulator/{path}", self.url))
            .output()
            .expect("curl");
        assert!(out.status.success(), "{path}: {out:?}");
    }

    /// Releases (with assets and their bytes) and calls of `repo`.
    pub fn state(&self, repo: &str) -> serde_json::Value {
        let out = Command::new("curl")
            .args(["-sS", "--fail"])
            .arg(format!("{}/_emulator/state?repo={repo}", self.url))
            .output()
            .expect("curl");
        assert!(out.status.success(), "state: {out:?}");
        serde_json::from_slice(&out.stdout).expect("json")
    }

    /// The releases of `repo` (with their assets and bytes), in the order it holds them.
    pub fn releases(&self, repo: &str) -> Vec<serde_json::Value> {
        self.state(repo)["releases"]
            .as_array()
            .expect("releases")
            .clone()
    }

    /// Every call `repo` received, as `<route> <status>` (`upload 201`), in order.
    pub fn calls(&self, repo: &str) -> Vec<String> {
        calls_of(&self.state(repo))
    }

    /// Makes run `run_id` of `repo` the results-emulator run of `job`: the REST artifact
    /// endpoints list what was uploaded there, and `token` (`actions: read`) may read them.
    pub fn workflow_run(
        &self,
        repo: &str,
        run_id: u64,
        job: &crate::support::emulator::Job,
        token: &str,
    ) {
        self.control(
            "workflow-run",
            &serde_json::json!({
                "repo": repo,
                "run_id": run_id,
                "results": crate::support::emulator::emulator().url,
                "backend_run": job.run,
                "token": token,
            }),
        );
    }

    /// The environment a run against `repo` needs.
    pub fn env(&self, repo: &str, git_ref: &str) -> Vec<(String, String)> {
        vec![
            ("GITHUB_API_URL".into(), self.url.clone()),
            ("GITHUB_REPOSITORY".into(), repo.to_owned()),
            ("GITHUB_REF".into(), git_ref.to_owned()),
        ]
    }
}

/// The calls of a [`GitHub::state`], as `<route> <status>` (`upload 201`), in order.
pub fn calls_of(state: &serde_json::Value) -> Vec<String> {
    state["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .map(|c| format!("{} {}", c["route"].as_str().expect("route"), c["status"]))
        .collect()
}

/// The bytes the emulator stored for `asset` (one of a release's `assets`).
pub fn asset_bytes(asset: &serde_json::Value) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(asset["content_base64"].as_str().expect("content"))
        .expect("base64")
}

/// The asset `name` of `release` (one of [`GitHub::releases`]); panics when it has none.
pub fn asset<'a>(release: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    release["assets"]
        .as_array()
        .expect("assets")
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("no asset {name}: {release}"))
}
