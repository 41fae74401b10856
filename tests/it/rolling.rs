//! Rolling releases (`rolling: true`, issue 21 item 2) against the GitHub emulator with its
//! git references: a tag that follows the newest commit, a release that holds exactly the
//! newest run's files, and the previous release left as it was by any run that fails.

use std::collections::BTreeMap;

use serde_json::json;

use crate::support::github::{asset_bytes, github};
use crate::support::{Ctx, Run, sha256sum_check};

const TOKEN: &str = "ghs_stevedoreTestToken000000000000000000";
const OLD: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567";
const NEW: &str = "5f0c6e1d9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e";

/// A rolling run of `nightly` on a branch push for commit `sha`, shipping `files` (name,
/// content), with `extra` inputs.
fn roll(repo: &str, sha: &str, files: &[(&str, &str)], extra: &[(&str, &str)]) -> Run {
    let ctx = Ctx::new();
    for (name, content) in files {
        ctx.file(&format!("dist/{name}"), *content);
    }
    let title = format!("Nightly {}", &sha[..7]);
    let body = format!("Built from {sha}.");
    let mut inputs = vec![
        ("path", "dist"),
        ("destination", "release"),
        ("token", TOKEN),
        ("tag", "nightly"),
        ("rolling", "true"),
        ("release-name", title.as_str()),
        ("body", body.as_str()),
    ];
    inputs.extend_from_slice(extra);
    let mut env = github().env(repo, "refs/heads/main");
    env.push(("GITHUB_SHA".into(), sha.into()));
    ctx.action_env(&inputs, &env)
}

/// Every release of `repo`, and the commit `nightly` points at.
fn state(repo: &str) -> (Vec<serde_json::Value>, Option<String>) {
    let state = github().state(repo);
    let releases = state["releases"].as_array().expect("releases").clone();
    let tag = state["refs"]["refs/tags/nightly"]
        .as_str()
        .map(str::to_owned);
    (releases, tag)
}

/// The published release's assets: name -> bytes.
fn assets(release: &serde_json::Value) -> BTreeMap<String, Vec<u8>> {
    release["assets"]
        .as_array()
        .expect("assets")
        .iter()
        .map(|a| (a["name"].as_str().expect("name").to_owned(), asset_bytes(a)))
        .collect()
}

/// The release as people see it: published, with its tag, title, notes and assets.
fn published(releases: &[serde_json::Value]) -> &serde_json::Value {
    let out: Vec<&serde_json::Value> = releases.iter().filter(|r| r["draft"] == false).collect();
    assert_eq!(out.len(), 1, "one published release: {releases:?}");
    out[0]
}

/// Writes the release's assets to a directory and runs `sha256sum -c` on its checksums.
fn check_sums(release: &serde_json::Value) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, bytes) in assets(release) {
        std::fs::write(dir.path().join(&name), bytes).expect("write");
    }
    sha256sum_check(dir.path(), std::path::Path::new("SHA256SUMS"));
    std::fs::read_to_string(dir.path().join("SHA256SUMS")).expect("sums")
}

#[test]
fn a_rolling_release_moves_to_each_new_commit_with_exactly_its_files() {
    let repo = github().repo();
    let old = roll(&repo, OLD, &[("a.bin", "a old"), ("b.bin", "b old")], &[]);
    assert_eq!(old.code, 0, "{}", old.log());
    assert_eq!(old.outputs["release-published"], "true", "{}", old.stdout);
    let (releases, tag) = state(&repo);
    assert_eq!(tag.as_deref(), Some(OLD));
    let first = published(&releases);
    assert_eq!(first["tag_name"], "nightly");
    assert_eq!(
        assets(first).keys().collect::<Vec<_>>(),
        ["SHA256SUMS", "a.bin", "b.bin"]
    );

    // The next commit builds other files: `a.bin` is no longer made, `b.bin` changed.
    let new = roll(&repo, NEW, &[("b.bin", "b new"), ("c.bin", "c new")], &[]);
    assert_eq!(new.code, 0, "{}", new.log());
    assert_eq!(new.outputs["release-published"], "true", "{}", new.stdout);
    let (releases, tag) = state(&repo);
    assert_eq!(
        releases.len(),
        1,
        "the previous release is gone: {releases:?}"
    );
    assert_eq!(tag.as_deref(), Some(NEW), "the tag moved");
    let rel = published(&releases);
    assert_eq!(rel["tag_name"], "nightly");
    assert_eq!(rel["name"], format!("Nightly {}", &NEW[..7]));
    assert_eq!(rel["body"], format!("Built from {NEW}."));
    let files = assets(rel);
    assert_eq!(
        files.keys().collect::<Vec<_>>(),
        ["SHA256SUMS", "b.bin", "c.bin"]
    );
    assert_eq!(files["b.bin"], b"b new");
    let sums = check_sums(rel);
    assert_eq!(sums.lines().count(), 2, "{sums}");
    assert_eq!(
        new.outputs["release-url"],
        rel["html_url"].as_str().expect("url")
    );
    // The `assets` output gives the addresses people download from, under the tag.
    let urls: BTreeMap<String, String> =
        serde_json::from_str(&new.outputs["assets"]).expect("assets output");
    assert_eq!(urls.len(), 3, "{urls:?}");
    for (name, url) in &urls {
        assert!(
            url.ends_with(&format!("/releases/download/nightly/{name}")),
            "{url}"
        );
    }

    // What people saw: the old release went out once and came back never; the new one
    // went out once, complete.
    let transitions = github().state(&repo)["transitions"].clone();
    let published_new: Vec<&serde_json::Value> = transitions
        .as_array()
        .expect("transitions")
        .iter()
        .filter(|t| t["release"] == rel["id"] && t["unpublished"].is_null())
        .collect();
    assert_eq!(published_new.len(), 1, "{transitions}");
    let mut seen = published_new[0]["assets"]
        .as_array()
        .expect("assets")
        .iter()
        .map(|a| a.as_str().expect("name"))
        .collect::<Vec<_>>();
    seen.sort_unstable();
    assert_eq!(seen, ["SHA256SUMS", "b.bin", "c.bin"]);

    // A re-run of the same commit finds its release out and uploads nothing.
    let uploads = |repo: &str| {
        github()
            .calls(repo)
            .iter()
            .filter(|c| c.starts_with("upload"))
            .count()
    };
    let before = uploads(&repo);
    let again = roll(&repo, NEW, &[("b.bin", "b new"), ("c.bin", "c new")], &[]);
    assert_eq!(again.code, 0, "{}", again.log());
    assert_eq!(uploads(&repo), before);
    assert_eq!(state(&repo).0.len(), 1);
}

#[test]
fn a_rolling_run_that_fails_leaves_the_previous_release_as_it_was() {
    let repo = github().repo();
    let old = roll(&repo, OLD, &[("a.bin", "a old")], &[]);
    assert_eq!(old.code, 0, "{}", old.log());
    let (before, _) = state(&repo);
    let before = published(&before).clone();

    // An upload that fails for good.
    github().control(
        "faults",
        &json!({"repo": repo, "faults": [
            {"route": "upload", "kind": "status", "status": 500, "times": 10, "asset": "c.bin"},
        ]}),
    );
    let failed = roll(&repo, NEW, &[("b.bin", "b new"), ("c.bin", "c new")], &[]);
    assert_eq!(failed.code, 4, "{}", failed.log());
    let (releases, tag) = state(&repo);
    assert_eq!(tag.as_deref(), Some(OLD));
    let now = published(&releases);
    assert_eq!(now["id"], before["id"]);
    assert_eq!(now["name"], before["name"]);
    assert_eq!(now["body"], before["body"]);
    assert_eq!(assets(now), assets(&before), "byte for byte");

    // The tag cannot move: the previous release is put back.
    github().control(
        "faults",
        &json!({"repo": repo, "replace": true, "faults": [
            {"route": "update-ref", "kind": "status", "status": 422, "times": 10},
        ]}),
    );
    let unmoved = roll(&repo, NEW, &[("b.bin", "b new"), ("c.bin", "c new")], &[]);
    assert_eq!(unmoved.code, 4, "{}", unmoved.log());
    assert!(
        unmoved.stdout.contains("moving tag `nightly`"),
        "{}",
        unmoved.stdout
    );
    let (releases, tag) = state(&repo);
    assert_eq!(tag.as_deref(), Some(OLD));
    let now = published(&releases);
    assert_eq!(now["id"], before["id"]);
    assert_eq!(assets(now), assets(&before), "byte for byte");

    // The re-run joins the complete draft and rolls out.
    github().control(
        "faults",
        &json!({"repo": repo, "replace": true, "faults": []}),
    );
    let rerun = roll(&repo, NEW, &[("b.bin", "b new"), ("c.bin", "c new")], &[]);
    assert_eq!(rerun.code, 0, "{}", rerun.log());
    let (releases, tag) = state(&repo);
    assert_eq!(tag.as_deref(), Some(NEW));
    assert_eq!(releases.len(), 1, "{releases:?}");
    assert_eq!(
        assets(published(&releases)).keys().collect::<Vec<_>>(),
        ["SHA256SUMS", "b.bin", "c.bin"]
    );
}

#[test]
fn rolling_across_a_three_job_matrix_goes_out_once_complete() {
    let repo = github().repo();
    let old = roll(&repo, OLD, &[("app-linux", "linux old")], &[]);
    assert_eq!(old.code, 0, "{}", old.log());
    let expect = "app-linux\napp-macos\napp-windows.exe";
    let r = repo.as_str();
    let runs: Vec<Run> = std::thread::scope(|scope| {
        [
            ("app-linux", "linux new"),
            ("app-macos", "macos new"),
            ("app-windows.exe", "windows new"),
        ]
        .map(|file| scope.spawn(move || roll(r, NEW, &[file], &[("expect-assets", expect)])))
        .map(|h| h.join().expect("job"))
        .into_iter()
        .collect()
    });
    for run in &runs {
        assert_eq!(run.code, 0, "{}", run.log());
    }
    assert_eq!(
        runs.iter()
            .filter(|r| r.outputs["release-published"] == "true")
            .count(),
        1,
        "one job completes the set"
    );
    let (releases, tag) = state(&repo);
    assert_eq!(tag.as_deref(), Some(NEW));
    assert_eq!(releases.len(), 1, "{releases:?}");
    let rel = published(&releases);
    assert_eq!(
        assets(rel).keys().collect::<Vec<_>>(),
        ["SHA256SUMS", "app-linux", "app-macos", "app-windows.exe"]
    );
    let sums = check_sums(rel);
    assert_eq!(sums.lines().count(), 3, "{sums}");
}

#[test]
fn an_immutable_release_cannot_roll() {
    let repo = github().repo();
    let old = roll(&repo, OLD, &[("a.bin", "a old")], &[]);
    assert_eq!(old.code, 0, "{}", old.log());
    github().control("immutable", &json!({"repo": repo}));
    let calls = github().calls(&repo).len();
    let new = roll(&repo, NEW, &[("a.bin", "a new")], &[]);
    assert_eq!(new.code, 2, "{}", new.log());
    let error = new
        .stdout
        .lines()
        .find(|l| l.starts_with("::error"))
        .unwrap_or_else(|| panic!("{}", new.stdout));
    assert!(error.contains("immutable, so it cannot roll"), "{error}");
    let after = github().calls(&repo);
    assert!(
        after[calls..].iter().all(|c| c.starts_with("get")),
        "nothing but lookups: {:?}",
        &after[calls..]
    );
    assert_eq!(state(&repo).1.as_deref(), Some(OLD));
}

#[test]
fn rolling_without_a_commit_or_with_a_release_id_is_refused() {
    let ctx = Ctx::new();
    ctx.file("dist/a.bin", "a");
    let repo = github().repo();
    let run = ctx.action_env(
        &[
            ("path", "dist"),
            ("destination", "release"),
            ("token", TOKEN),
            ("rolling", "true"),
            ("release-id", "5"),
        ],
        &github().env(&repo, "refs/heads/main"),
    );
    assert_eq!(run.code, 2, "{}", run.log());
    assert!(run.stdout.contains("`release-id`"), "{}", run.stdout);
}

/// Found by `bench/matrix`: two jobs completing a rolling set at the same moment both read
/// the tag as missing and both create it; the second create is refused (422 "Reference
/// already exists") and must move the tag instead of failing the job. Reproduced here by
/// a lookup that answers 404 for a tag that exists.
#[test]
fn a_tag_created_by_another_job_meanwhile_is_moved_not_a_failure() {
    let repo = github().repo();
    let old = roll(&repo, OLD, &[("a.bin", "a old")], &[]);
    assert_eq!(old.code, 0, "{}", old.log());
    github().control(
        "faults",
        &json!({"repo": repo, "faults": [
            {"route": "get-ref", "kind": "status", "status": 404, "times": 1},
        ]}),
    );
    let new = roll(&repo, NEW, &[("a.bin", "a new")], &[]);
    assert_eq!(new.code, 0, "{}", new.log());
    let calls = github().calls(&repo);
    assert!(calls.contains(&"create-ref 422".to_owned()), "{calls:?}");
    let (releases, tag) = state(&repo);
    assert_eq!(tag.as_deref(), Some(NEW));
    assert_eq!(assets(published(&releases))["a.bin"], b"a new");
}
