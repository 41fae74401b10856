//! What the topic modules share, so that none imports from another:
//!
//! - `runner`: the runner context ([`Ctx`]): a workspace with the runner's files, and the
//!   one place the environment of a step (`GITHUB_*`, `RUNNER_*`, `INPUT_*`) is built;
//!   running stevedore as the action, the CLI, `stevedore download`, and reading what a
//!   run left ([`Run`]: code, console, outputs, summary).
//! - `tree`: the one tree walker and the views of a tree the tests compare.
//! - `text`: user-facing text made deterministic for inline snapshots (temporary paths,
//!   times, rates, run ids, fence tokens), and the annotations of a log.
//! - `commands`: the runner's reading of workflow commands in a log.
//! - `data`: deterministic bytes, tokens and sample trees.
//! - `zips`: zips written byte by byte, hostile or honest, and `download::extract` of one.
//! - `install`: the release binaries, the release assets and pinned installer of a
//!   release commit, and the install step's environment.
//! - `wine`: the build under test, natively ([`wine::Exe::Linux`]) or the Windows `.exe`
//!   under wine in a trixie chroot ([`wine::Exe::Windows`]), and paths as each spells them.
//! - the servers a test talks to: `emulator` (results service and Azurite), `github`
//!   (REST), `s3server` (s3s-fs, plain or behind TLS), `faultproxy` (network faults),
//!   `servers` (a static release host, a peer that never answers), `tinyproxy` (a real
//!   forward proxy and its log); and the Node peers below.
//! - `testca`: a CA of the test's own and a server certificate it signed (`openssl`).

use std::path::{Path, PathBuf};
use std::process::Command;

pub mod actserver;
pub mod commands;
pub mod data;
pub mod emulator;
pub mod faultproxy;
pub mod github;
pub mod install;
pub mod moto;
pub mod pipelines;
pub mod runner;
pub mod s3server;
pub mod servers;
pub mod testca;
pub mod text;
pub mod tinyproxy;
pub mod tree;
pub mod wine;
pub mod zips;

pub use data::{alnum, build_tree, random_bytes};
pub use runner::{
    Ctx, Run, Running, STEVEDORE, owned, parse_outputs, run_download, run_download_as,
    run_download_env, run_download_into,
};
pub use tree::{read_artifact_tree, read_tree, snapshot, staging_left, tree, walk};

/// A loopback port free now (bound, read, released), for a server that binds it itself
/// right after, or for a peer that must refuse connections.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Runs `job` on every item at once, as a matrix's jobs run, and returns what each gave,
/// in the items' order.
pub fn all_at_once<T: Sync, R: Send>(items: &[T], job: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let job = &job;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .iter()
            .map(|item| scope.spawn(move || job(item)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a job panicked"))
            .collect()
    })
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
