//! A build matrix shipping one release (`expect-assets`): concurrent stevedore processes
//! as matrix jobs against the GitHub emulator, which records every draft -> published
//! transition with the assets present at that moment.

use std::path::Path;

use serde_json::json;

use crate::support::github::{asset, asset_bytes, calls_of, github};
use crate::support::text::{annotations, redact_known};
use crate::support::{Ctx, Run, sha256sum_check};

const TOKEN: &str = "ghs_stevedoreTestToken000000000000000000";
/// The commit the matrix builds (`GITHUB_SHA`).
const SHA: &str = "5f0c6e1d9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e";
/// An earlier commit: the one a moved tag pointed at, or an earlier run on a branch.
const OLD_SHA: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567";
/// The label stevedore gives every asset it stages (`upload/release/staged.rs`): how a
/// test leaves the leftovers of a killed run.
const STAGED_LABEL: &str = "stevedore: staged copy, not yet in place";
const TARGETS: [&str; 4] = ["linux-x64", "linux-arm64", "macos-arm64", "windows-x64"];
const EXPECT: &str = "app-linux-x64.tar.gz\napp-linux-arm64.tar.gz\napp-macos-*\napp-windows-*.zip";

/// The file each target builds; the macOS one has a space and parentheses, which GitHub
/// (and the emulator) store as `.`.
fn asset_name(target: &str) -> String {
    if target.starts_with("windows") {
        format!("app-{target}.zip")
    } else if target.starts_with("macos") {
        format!("app-{target} (universal).tar.gz")
    } else {
        format!("app-{target}.tar.gz")
    }
}

/// The name GitHub stores `asset_name(target)` under.
fn stored_name(target: &str) -> String {
    asset_name(target).replace([' ', '(', ')'], ".")
}

/// The environment of a run for `tag` built from commit `sha`.
fn env_at(repo: &str, tag: &str, sha: &str) -> Vec<(String, String)> {
    let mut env = github().env(repo, &format!("refs/tags/{tag}"));
    env.push(("GITHUB_SHA".into(), sha.into()));
    env
}

/// One matrix job: its own workspace with its one file (sizes differ per target), run
/// with `expect-assets` against `repo`.
fn job(repo: &str, tag: &str, target: &str, index: usize, extra: &[(&str, &str)]) -> Run {
    job_at(repo, tag, target, index, SHA, extra)
}

/// [`job`] for commit `sha`; another commit builds other bytes.
fn job_at(
    repo: &str,
    tag: &str,
    target: &str,
    index: usize,
    sha: &str,
    extra: &[(&str, &str)],
) -> Run {
    let ctx = Ctx::new();
    let seed = index as u64 + if sha == SHA { 0 } else { 100 };
    ctx.file(
        &format!("dist/{}", asset_name(target)),
        crate::support::random_bytes(20_000 + index * 150_000, seed),
    );
    let mut inputs = vec![
        ("path", "dist"),
        ("destination", "release"),
        ("token", TOKEN),
        ("expect-assets", EXPECT),
    ];
    inputs.extend_from_slice(extra);
    ctx.action_env(&inputs, &env_at(repo, tag, sha))
}

/// A job shipping `ctx`'s `dist` to the release `tag` of `repo` (commit [`SHA`]) that
/// publishes once the release's assets match `expect` (`expect-assets`).
fn ship(ctx: &Ctx, repo: &str, tag: &str, expect: &str) -> Run {
    ctx.action_env(
        &[
            ("path", "dist"),
            ("destination", "release"),
            ("token", TOKEN),
            ("expect-assets", expect),
        ],
        &env_at(repo, tag, SHA),
    )
}

/// The jobs of `targets`, all at once.
fn matrix(repo: &str, tag: &str, targets: &[(usize, &str)], extra: &[(&str, &str)]) -> Vec<Run> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = targets
            .iter()
            .map(|&(i, target)| scope.spawn(move || job(repo, tag, target, i, extra)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("job"))
            .collect()
    })
}

fn transitions(repo: &str) -> Vec<serde_json::Value> {
    github().state(repo)["transitions"]
        .as_array()
        .expect("transitions")
        .clone()
}

fn the_release(repo: &str) -> serde_json::Value {
    let state = github().state(repo);
    let releases = state["releases"].as_array().expect("releases");
    assert_eq!(releases.len(), 1, "one release: {state}");
    releases[0].clone()
}

fn names(list: &serde_json::Value) -> Vec<String> {
    let mut names: Vec<String> = list
        .as_array()
        .expect("list")
        .iter()
        .map(|a| {
            a.as_str().map_or_else(
                || a["name"].as_str().expect("name").to_owned(),
                str::to_owned,
            )
        })
        .collect();
    names.sort();
    names
}

/// A draft release of `tag` on this commit, as matrix jobs that already ran leave it:
/// `assets` are `{"name", "content"[, "label"]}` objects.
fn seed_draft(repo: &str, tag: &str, assets: &serde_json::Value) {
    github().control(
        "release",
        &json!({"repo": repo, "tag": tag, "draft": true, "target_commitish": SHA, "assets": assets}),
    );
}

fn calls(repo: &str, prefix: &str) -> usize {
    github().state(repo)["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .filter(|c| c["route"].as_str().is_some_and(|r| r.starts_with(prefix)))
        .count()
}

/// Downloads every asset under its stored name and runs `sha256sum -c` on the release's
/// checksums asset; returns the document.
fn verify_downloads(release: &serde_json::Value) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    for a in release["assets"].as_array().expect("assets") {
        let bytes = asset_bytes(a);
        std::fs::write(dir.path().join(a["name"].as_str().expect("name")), bytes).expect("write");
    }
    sha256sum_check(dir.path(), Path::new("SHA256SUMS"));
    std::fs::read_to_string(dir.path().join("SHA256SUMS")).expect("checksums")
}

fn expected_names(targets: &[&str]) -> Vec<String> {
    let mut all: Vec<String> = targets.iter().map(|t| stored_name(t)).collect();
    all.push("SHA256SUMS".into());
    all.sort();
    all
}

#[test]
fn a_matrix_publishes_once_with_the_complete_set_and_one_checksums_asset() {
    let repo = github().repo();
    let tag = "v10.0.0";
    // Staggered finishes: the first two uploads are slow; windows fails for good.
    github().control(
        "faults",
        &json!({"repo": repo, "faults": [
            {"route": "upload", "kind": "slow", "ms": 600, "asset": "app-linux-x64.tar.gz"},
            {"route": "upload", "kind": "slow", "ms": 1200, "asset": "app-linux-arm64.tar.gz"},
            {"route": "upload", "kind": "status", "status": 500, "times": 4, "asset": "app-windows-x64.zip"},
        ]}),
    );
    let jobs: Vec<(usize, &str)> = TARGETS.iter().copied().enumerate().collect();
    let runs = matrix(&repo, tag, &jobs, &[]);
    for (run, target) in runs.iter().zip(TARGETS) {
        if target == "windows-x64" {
            assert_eq!(run.code, 4, "{}", run.log());
            assert!(run.stdout.contains("left unpublished"), "{}", run.stdout);
            assert_eq!(run.outputs["release-published"], "false");
        } else {
            assert_eq!(run.code, 0, "{target}: {}", run.log());
            if target.starts_with("macos") {
                // One annotation before the upload, with both names.
                let warning = run
                    .stdout
                    .lines()
                    .filter(|l| l.starts_with("::warning") && l.contains("GitHub stores"))
                    .collect::<Vec<_>>();
                assert_eq!(warning.len(), 1, "{}", run.stdout);
                assert!(
                    warning[0].contains(&asset_name(target))
                        && warning[0].contains(&stored_name(target)),
                    "{}",
                    warning[0]
                );
                let assets: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_str(&run.outputs["assets"]).expect("assets");
                assert!(assets.contains_key(&stored_name(target)), "{assets:?}");
            }
            assert_eq!(run.outputs["release-published"], "false", "{target}");
            assert!(
                run.summary.contains("draft, waiting for the other jobs")
                    && run.summary.contains("no asset matches yet: ")
                    && run.summary.contains("`app-windows-"),
                "{}",
                run.summary
            );
        }
    }
    assert!(transitions(&repo).is_empty(), "published incomplete");
    let rel = the_release(&repo);
    assert_eq!(rel["draft"], true);
    assert!(
        !names(&rel["assets"]).contains(&"SHA256SUMS".to_owned()),
        "no per-job checksums asset: {:?}",
        names(&rel["assets"])
    );

    // The failed job re-run completes the set: checksums written, then published.
    let rerun = job(&repo, tag, "windows-x64", 3, &[]);
    assert_eq!(rerun.code, 0, "{}", rerun.log());
    assert_eq!(rerun.outputs["release-published"], "true");
    assert!(rerun.summary.contains(": published"), "{}", rerun.summary);
    let assets: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&rerun.outputs["assets"]).expect("assets");
    assert!(assets.contains_key("SHA256SUMS"), "{assets:?}");

    let all = transitions(&repo);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(names(&all[0]["assets"]), expected_names(&TARGETS));
    let rel = the_release(&repo);
    assert_eq!(rel["draft"], false);
    let sums = verify_downloads(&rel);
    assert_eq!(sums.lines().count(), 4, "{sums}");

    // A re-run after publication: identical assets (recognised under their stored
    // names), nothing uploaded.
    let uploads = calls(&repo, "upload");
    let again = job(&repo, tag, "macos-arm64", 2, &[]);
    assert_eq!(again.code, 0, "{}", again.log());
    assert_eq!(again.outputs["release-published"], "true");
    assert_eq!(calls(&repo, "upload"), uploads, "nothing uploaded again");
    assert!(!again.stdout.contains("unpublished"), "{}", again.stdout);

    // A late job with a new asset: added, and the checksums asset swapped to cover it.
    let late = job(&repo, tag, "freebsd-x64", 5, &[]);
    assert_eq!(late.code, 0, "{}", late.log());
    assert_eq!(late.outputs["release-published"], "true");
    let rel = the_release(&repo);
    let mut with_late = TARGETS.to_vec();
    with_late.push("freebsd-x64");
    assert_eq!(names(&rel["assets"]), expected_names(&with_late));
    let sums = verify_downloads(&rel);
    assert!(sums.contains("  app-freebsd-x64.tar.gz\n"), "{sums}");
    assert_eq!(transitions(&repo).len(), 1, "published once");

    // Immutable after publication: a clear exit 2.
    github().control("immutable", &json!({"repo": repo}));
    let frozen = job(&repo, tag, "linux-x64", 0, &[]);
    assert_eq!(frozen.code, 2, "{}", frozen.log());
    assert!(frozen.stdout.contains("immutable"), "{}", frozen.stdout);
}

#[test]
fn jobs_completing_the_set_at_once_publish_once_with_identical_checksums() {
    let repo = github().repo();
    let tag = "v11.0.0";
    let jobs: Vec<(usize, &str)> = TARGETS.iter().copied().enumerate().collect();
    let runs = matrix(&repo, tag, &jobs, &[]);
    for run in &runs {
        assert_eq!(run.code, 0, "{}", run.log());
        assert!(!run.stdout.contains("unpublished"), "{}", run.stdout);
    }
    // At least the last job to list found the set complete.
    assert!(
        runs.iter()
            .any(|r| r.outputs["release-published"] == "true"),
        "{:?}",
        runs.iter().map(|r| &r.outputs).collect::<Vec<_>>()
    );
    let all = transitions(&repo);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(names(&all[0]["assets"]), expected_names(&TARGETS));
    let rel = the_release(&repo);
    verify_downloads(&rel);
}

#[test]
fn a_final_job_with_an_empty_path_verifies_and_publishes() {
    let repo = github().repo();
    let tag = "v12.0.0";
    // The matrix keeps the draft; the final job (`needs:` the matrix) publishes.
    let jobs: Vec<(usize, &str)> = TARGETS.iter().copied().enumerate().collect();
    for run in matrix(&repo, tag, &jobs, &[("draft", "true")]) {
        assert_eq!(run.code, 0, "{}", run.log());
        assert_eq!(run.outputs["release-published"], "false");
    }
    assert!(transitions(&repo).is_empty());
    let ctx = Ctx::new();
    let run = ctx.action_env(
        &[
            ("path", ""),
            ("destination", "release"),
            ("token", TOKEN),
            ("expect-assets", EXPECT),
        ],
        &env_at(&repo, tag, SHA),
    );
    assert_eq!(run.code, 0, "{}", run.log());
    assert!(
        !run.stdout.contains("::warning"),
        "a final job has nothing to warn about: {}",
        run.stdout
    );
    assert_eq!(run.outputs["release-published"], "true");
    let all = transitions(&repo);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(names(&all[0]["assets"]), expected_names(&TARGETS));
    verify_downloads(&the_release(&repo));
}

#[test]
fn assets_without_a_digest_are_downloaded_and_hashed() {
    let repo = github().repo();
    github().control("nodigest", &json!({"repo": repo}));
    let ctx = Ctx::new();
    ctx.file("dist/app-linux-x64.tar.gz", vec![7u8; 70_000]);
    let run = ship(&ctx, &repo, "v13", "app-*");
    assert_eq!(run.code, 0, "{}", run.log());
    assert_eq!(run.outputs["release-published"], "true");
    assert!(calls(&repo, "download-asset") >= 1);
    let sums = verify_downloads(&the_release(&repo));
    assert!(sums.contains("  app-linux-x64.tar.gz\n"), "{sums}");
}

#[test]
fn a_single_job_names_assets_as_github_stores_them_and_recognises_them_on_a_rerun() {
    let repo = github().repo();
    let ctx = Ctx::new();
    ctx.file("dist/My App~1.0 (x64).zip", vec![3u8; 5_000]);
    ctx.file("dist/.config", "k=v\n");
    let run_it = || {
        ctx.action_env(
            &[
                ("path", "dist"),
                ("destination", "release"),
                ("token", TOKEN),
                ("include-hidden-files", "true"),
            ],
            &github().env(&repo, "refs/tags/v14"),
        )
    };
    let run = run_it();
    assert_eq!(run.code, 0, "{}", run.log());
    assert_eq!(run.outputs["release-published"], "true");
    assert_eq!(
        run.stdout
            .lines()
            .filter(|l| l.starts_with("::warning") && l.contains("GitHub stores"))
            .count(),
        2,
        "{}",
        run.stdout
    );
    // One warning per renamed asset, before the upload, with both names.
    insta::assert_snapshot!(annotations(&run.stdout), @r#"
    ::warning title=stevedore::GitHub stores release asset `.config` as `default.config` (it replaces spaces and other special characters with `.`); the checksums asset, the `assets` output and `expect-assets` use `default.config`
    ::warning title=stevedore::GitHub stores release asset `My App~1.0 (x64).zip` as `My.App.1.0..x64..zip` (it replaces spaces and other special characters with `.`); the checksums asset, the `assets` output and `expect-assets` use `My.App.1.0..x64..zip`
    "#);
    let rel = the_release(&repo);
    assert_eq!(
        names(&rel["assets"]),
        ["My.App.1.0..x64..zip", "SHA256SUMS", "default.config"]
    );
    let assets: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&run.outputs["assets"]).expect("assets");
    assert!(assets.contains_key("My.App.1.0..x64..zip"), "{assets:?}");
    assert!(
        run.summary.contains("My.App.1.0..x64..zip"),
        "{}",
        run.summary
    );
    verify_downloads(&rel);
    let uploads = calls(&repo, "upload");
    let again = run_it();
    assert_eq!(again.code, 0, "{}", again.log());
    assert_eq!(
        calls(&repo, "upload"),
        uploads,
        "recognised, not uploaded again"
    );
}

#[test]
fn a_failed_job_on_a_published_release_does_not_call_it_unpublished() {
    let repo = github().repo();
    github().control(
        "release",
        &json!({"repo": repo, "tag": "v15", "assets": [{"name": "app-linux-x64.tar.gz", "content": "linux"}]}),
    );
    github().control(
        "faults",
        &json!({"repo": repo, "faults": [
            {"route": "upload", "kind": "status", "status": 500, "times": 4, "asset": "app-windows-x64.zip"}
        ]}),
    );
    let run = job(&repo, "v15", "windows-x64", 3, &[]);
    assert_eq!(run.code, 4, "{}", run.log());
    assert!(!run.log().contains("unpublished"), "{}", run.log());
    assert!(!run.summary.contains("unpublished"), "{}", run.summary);
    assert!(
        run.stdout.contains("the release is published"),
        "{}",
        run.stdout
    );
    assert!(
        run.summary
            .contains("already published, this job's assets missing"),
        "{}",
        run.summary
    );
    assert_eq!(run.outputs["release-published"], "true");
}

#[test]
fn a_checksums_asset_another_job_wrote_first_is_compared_not_replaced() {
    let repo = github().repo();
    // The checksums upload lands but answers 422 already_exists, as when another job
    // completing the set at the same moment won the race with the same document.
    github().control(
        "faults",
        &json!({"repo": repo, "faults": [
            {"route": "upload", "kind": "exists422", "asset": "SHA256SUMS"}
        ]}),
    );
    let ctx = Ctx::new();
    ctx.file("dist/app-linux-x64.tar.gz", vec![9u8; 9_000]);
    let run = ship(&ctx, &repo, "v16", "app-linux-x64.tar.gz");
    assert_eq!(run.code, 0, "{}", run.log());
    assert_eq!(run.outputs["release-published"], "true");
    assert_eq!(calls(&repo, "delete-asset"), 0, "nothing replaced");
    let state = github().state(&repo);
    let statuses = calls_of(&state);
    assert_eq!(
        statuses.iter().filter(|c| *c == "upload 422").count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(transitions(&repo).len(), 1);
    verify_downloads(&the_release(&repo));
}

#[test]
fn a_staged_checksums_asset_a_killed_swap_left_is_removed() {
    let repo = github().repo();
    github().control(
        "release",
        &json!({"repo": repo, "tag": "v17", "assets": [
            {"name": "app-linux-x64.tar.gz", "content": "linux"},
            {"name": "SHA256SUMS", "content": "stale\n"},
            {"name": "stevedore-0123abcd-SHA256SUMS", "content": "half-swapped\n", "label": STAGED_LABEL},
            {"name": "stevedore-4567cdef-SHA256SUMS", "content": "moved aside\n", "label": STAGED_LABEL},
        ]}),
    );
    let ctx = Ctx::new();
    ctx.file("dist/app-macos-arm64.tar.gz", "macos");
    let run = ship(&ctx, &repo, "v17", "app-linux-*\napp-macos-*");
    assert_eq!(run.code, 0, "{}", run.log());
    let rel = the_release(&repo);
    assert_eq!(
        names(&rel["assets"]),
        [
            "SHA256SUMS",
            "app-linux-x64.tar.gz",
            "app-macos-arm64.tar.gz"
        ]
    );
    let sums = verify_downloads(&rel);
    assert_eq!(sums.lines().count(), 2, "{sums}");
}

/// Every release of `repo`, oldest first.
fn all_releases(repo: &str) -> Vec<serde_json::Value> {
    let mut all = github().releases(repo);
    all.sort_by_key(|r| r["id"].as_u64());
    all
}

/// Uploads an asset to release `id` as another client would (a job of the matrix in the
/// middle of its uploads), straight to the emulator's uploads host.
fn upload_as_another_job(repo: &str, id: u64, name: &str, content: &str) {
    let out = std::process::Command::new("curl")
        .args(["-sS", "--fail", "-X", "POST"])
        .args(["-H", "content-type: application/octet-stream"])
        .arg("--data-binary")
        .arg(content)
        .arg(format!(
            "{}/uploads/repos/{repo}/releases/{id}/assets?name={name}",
            github().url
        ))
        .output()
        .expect("curl");
    assert!(out.status.success(), "upload: {out:?}");
}

/// Issue 19, finding 6: a draft another commit's jobs left (a tag that moved, or an earlier
/// run on a branch with a fixed `tag`) is not joined: its assets never count toward this
/// commit's set, nor reach its checksums asset or its publication.
#[test]
fn a_draft_another_commit_left_is_not_joined() {
    let repo = github().repo();
    let tag = "v30.0.0";
    // The earlier commit: two of four jobs ran, then the tag moved.
    let r = repo.as_str();
    for run in std::thread::scope(|scope| {
        [(1, "linux-arm64"), (2, "macos-arm64")]
            .map(|(i, t)| scope.spawn(move || job_at(r, tag, t, i, OLD_SHA, &[])))
            .map(|h| h.join().expect("job"))
    }) {
        assert_eq!(run.code, 0, "{}", run.log());
        assert_eq!(run.outputs["release-published"], "false");
    }
    let old = all_releases(&repo);
    assert_eq!(old.len(), 1, "{old:?}");

    // This commit's other two jobs: with the old draft's assets the lines would all match.
    let jobs = [(0, "linux-x64"), (3, "windows-x64")];
    let runs = matrix(&repo, tag, &jobs, &[]);
    for run in &runs {
        assert_eq!(run.code, 0, "{}", run.log());
    }
    assert!(transitions(&repo).is_empty(), "published with stale assets");
    for run in &runs {
        assert_eq!(run.outputs["release-published"], "false", "{}", run.log());
        assert!(
            run.stdout.lines().any(|l| l.starts_with("::warning")
                && l.contains(&format!("id {}", old[0]["id"]))
                && l.contains(OLD_SHA)),
            "{}",
            run.stdout
        );
    }
    let both = all_releases(&repo);
    assert_eq!(both.len(), 2, "a new draft for this commit: {both:?}");
    assert_eq!(
        old[0]["target_commitish"], OLD_SHA,
        "each draft records its commit"
    );
    assert_eq!(both[0], old[0], "the old draft is left as it was");
    assert_eq!(both[1]["draft"], true);
    assert_eq!(both[1]["target_commitish"], SHA);
    assert_eq!(
        names(&both[1]["assets"]),
        [stored_name("linux-x64"), stored_name("windows-x64")]
    );

    // The rest of this commit's matrix completes its own set.
    let jobs = [(1, "linux-arm64"), (2, "macos-arm64")];
    for run in matrix(&repo, tag, &jobs, &[]) {
        assert_eq!(run.code, 0, "{}", run.log());
    }
    let all = transitions(&repo);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0]["release"], both[1]["id"]);
    let last = all_releases(&repo);
    assert_eq!(last[0], old[0], "the old draft is still as it was");
    let published = &last[1];
    assert_eq!(published["draft"], false);
    assert_eq!(names(&published["assets"]), expected_names(&TARGETS));
    // This commit's bytes, each vouched for: not one of the old draft's assets.
    let sums = verify_downloads(published);
    for stale in old[0]["assets"].as_array().expect("assets") {
        let digest = stale["digest"].as_str().expect("digest");
        assert!(
            !sums.contains(digest.trim_start_matches("sha256:")),
            "{sums}"
        );
    }
}

/// Issue 19, finding 6: a release published for another commit gets no asset of this one
/// (it would be vouched for beside the other commit's), and says what to do.
#[test]
fn a_release_published_for_another_commit_is_refused() {
    let repo = github().repo();
    github().control(
        "release",
        &json!({"repo": repo, "tag": "v31", "target_commitish": OLD_SHA,
                "assets": [{"name": "app-linux-x64.tar.gz", "content": "old linux"}]}),
    );
    let before = all_releases(&repo);
    let run = job(&repo, "v31", "windows-x64", 3, &[]);
    assert_eq!(run.code, 4, "{}", run.log());
    // The error names the tag, both commits and the way out.
    insta::assert_snapshot!(
        redact_known(&annotations(&run.stdout), &[(&repo, "octo/[REPO]")]),
        @"::error title=stevedore::release `v31` was made for commit 0a1b2c3d4e5f60718293a4b5c6d7e8f901234567, not for 5f0c6e1d9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e, the commit this release set is built from; stevedore adds no asset of one commit to another commit's release: ship this commit under a new tag, or delete release `v31` (and move its tag) to rebuild it from this commit"
    );
    assert_eq!(calls(&repo, "upload"), 0, "nothing uploaded");
    assert_eq!(all_releases(&repo), before, "the release is as it was");
    assert!(
        !run.outputs.contains_key("release-published"),
        "another commit's release is not this commit's: {:?}",
        run.outputs
    );
}

/// Issue 19, finding 6: a set needs one commit to belong to: a branch as `target-commitish`
/// (its head moves while the matrix runs), or no commit at all, is exit 2 before any call.
#[test]
fn a_set_without_a_commit_to_belong_to_is_refused() {
    let repo = github().repo();
    let ctx = Ctx::new();
    ctx.file("dist/app-linux-x64.tar.gz", "linux");
    let inputs = [
        ("path", "dist"),
        ("destination", "release"),
        ("token", TOKEN),
        ("expect-assets", "app-*"),
    ];
    let mut branch = inputs.to_vec();
    branch.push(("target-commitish", "main"));
    let run = ctx.action_env(&branch, &env_at(&repo, "v32", SHA));
    assert_eq!(run.code, 2, "{}", run.log());
    insta::assert_snapshot!(annotations(&run.stdout), @"::error title=stevedore::input `target-commitish`: `main` is not a full commit SHA; with `expect-assets` the release set belongs to one commit, so give its full SHA (e.g. `${{ github.sha }}`), or leave `target-commitish` unset to use GITHUB_SHA");
    let run = ctx.action_env(&inputs, &github().env(&repo, "refs/tags/v32"));
    assert_eq!(run.code, 2, "{}", run.log());
    insta::assert_snapshot!(annotations(&run.stdout), @"::error title=stevedore::`expect-assets` needs the commit the release set is built from: GITHUB_SHA (the runner sets it), or `target-commitish` with a full commit SHA (e.g. the output of `git rev-parse HEAD`)");
    assert!(all_releases(&repo).is_empty());
    // A full SHA given as `target-commitish` is the set's commit (a run building another
    // commit than the one it was triggered for).
    let mut pinned = inputs.to_vec();
    pinned.push(("target-commitish", OLD_SHA));
    let run = ctx.action_env(&pinned, &github().env(&repo, "refs/tags/v32"));
    assert_eq!(run.code, 0, "{}", run.log());
    assert_eq!(all_releases(&repo)[0]["target_commitish"], OLD_SHA);
}

/// Issue 19, finding 11: only assets stevedore staged (its name pattern and its label) are
/// staged: a user's asset named like one is covered by the checksums asset and never
/// deleted as a leftover.
#[test]
fn a_user_asset_named_like_a_staged_copy_is_vouched_for_and_kept() {
    let repo = github().repo();
    github().control(
        "release",
        &json!({"repo": repo, "tag": "v33", "assets": [
            {"name": "app-linux-x64.tar.gz", "content": "linux"},
            // Named as a staged replacement of the job's asset would be.
            {"name": "stevedore-0123abcd-app-macos-arm64.tar.gz", "content": "a user's file"},
        ]}),
    );
    let ctx = Ctx::new();
    ctx.file("dist/app-macos-arm64.tar.gz", "macos");
    ctx.file("dist/stevedore-89abcdef-notes.txt", "the job's own file");
    let run = ship(&ctx, &repo, "v33", "app-linux-*\napp-macos-*");
    assert_eq!(run.code, 0, "{}", run.log());
    let rel = the_release(&repo);
    assert_eq!(
        names(&rel["assets"]),
        [
            "SHA256SUMS",
            "app-linux-x64.tar.gz",
            "app-macos-arm64.tar.gz",
            "stevedore-0123abcd-app-macos-arm64.tar.gz",
            "stevedore-89abcdef-notes.txt",
        ]
    );
    let sums = verify_downloads(&rel);
    assert_eq!(sums.lines().count(), 4, "{sums}");
}

/// Issue 19, finding 11: the set is published only once a listing after the checksums
/// asset was written found it covering every asset: an asset that lands while the
/// document is being written is in the document people first see.
#[test]
fn a_set_is_published_only_after_its_checksums_cover_every_asset() {
    let repo = github().repo();
    seed_draft(
        &repo,
        "v34",
        &json!([{"name": "app-linux-x64.tar.gz", "content": "linux"}]),
    );
    // The checksums upload is slow: another job's asset lands meanwhile.
    github().control(
        "faults",
        &json!({"repo": repo, "faults": [
            {"route": "upload", "kind": "slow", "ms": 2000, "asset": "SHA256SUMS"}
        ]}),
    );
    let ctx = Ctx::new();
    ctx.file("dist/app-macos-arm64.tar.gz", "macos");
    let run = std::thread::scope(|scope| {
        let job = scope.spawn(|| ship(&ctx, &repo, "v34", "app-linux-*\napp-macos-*"));
        let started = std::time::Instant::now();
        let id = loop {
            let rel = the_release(&repo);
            let writing = rel["assets"]
                .as_array()
                .expect("assets")
                .iter()
                .any(|a| a["name"] == "SHA256SUMS" && a["state"] == "starter");
            if writing {
                break rel["id"].as_u64().expect("id");
            }
            assert!(
                started.elapsed() < std::time::Duration::from_mins(1) && !job.is_finished(),
                "the checksums asset was never being written"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        upload_as_another_job(&repo, id, "app-extra.bin", "another job's asset");
        job.join().expect("job")
    });
    assert_eq!(run.code, 0, "{}", run.log());
    let rel = the_release(&repo);
    let sums = verify_downloads(&rel);
    assert!(sums.contains("  app-extra.bin\n"), "{sums}");
    let all = transitions(&repo);
    assert_eq!(all.len(), 1, "{all:?}");
    let final_sums = asset(&rel, "SHA256SUMS")["digest"].clone();
    assert_eq!(
        all[0]["digests"]["SHA256SUMS"], final_sums,
        "published with a checksums asset that did not cover every asset: {all:?}"
    );
}

/// Issue 19, finding 11: the checksums swap never leaves a published release without its
/// checksums asset: the old one is moved aside (not deleted) until the new one is in
/// place, and put back when the new one cannot take the name.
#[test]
fn a_failed_checksums_swap_puts_the_old_document_back() {
    let repo = github().repo();
    let linux = "linux";
    let old_sums = format!(
        "{}  app-linux-x64.tar.gz\n",
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(linux))
    );
    github().control(
        "release",
        &json!({"repo": repo, "tag": "v35", "assets": [
            {"name": "app-linux-x64.tar.gz", "content": linux},
            {"name": "SHA256SUMS", "content": old_sums},
        ]}),
    );
    // The request that renames the new document into place fails, each of its 4 attempts
    // (a 500 is retried as a failed transport).
    github().control(
        "faults",
        &json!({"repo": repo, "faults": [
            {"route": "rename-asset", "kind": "status", "status": 500, "times": 4, "asset": "SHA256SUMS"}
        ]}),
    );
    let ctx = Ctx::new();
    ctx.file("dist/app-macos-arm64.tar.gz", "macos");
    let run = ship(&ctx, &repo, "v35", "app-linux-*\napp-macos-*");
    assert_eq!(run.code, 4, "{}", run.log());
    assert!(run.stdout.contains("`SHA256SUMS`"), "{}", run.stdout);
    let rel = the_release(&repo);
    assert_eq!(
        names(&rel["assets"]),
        [
            "SHA256SUMS",
            "app-linux-x64.tar.gz",
            "app-macos-arm64.tar.gz"
        ],
        "no staged leftover, the old document in place"
    );
    let sums = asset(&rel, "SHA256SUMS");
    let bytes = asset_bytes(sums);
    assert_eq!(String::from_utf8(bytes).expect("utf-8"), old_sums);
    assert_eq!(sums["label"], "", "no stevedore mark left on it");
    // The next run completes the swap.
    let again = ship(&ctx, &repo, "v35", "app-linux-*\napp-macos-*");
    assert_eq!(again.code, 0, "{}", again.log());
    let sums = verify_downloads(&the_release(&repo));
    assert_eq!(sums.lines().count(), 2, "{sums}");
}

/// What the slow-job matrix builds for `name`: text, so a test can seed a release with the
/// very bytes a job ships (a re-run finds them done).
fn built(name: &str) -> String {
    format!("{name} built from {SHA}\n").repeat(2_000)
}

/// A job of the slow-job matrix: `a1.bin` and `a2.bin` (the second slow to upload where a
/// test says so), or `b1.bin` alone; `expect-assets` has one glob line per job.
fn ship_files(repo: &str, tag: &str, files: &[&str]) -> Run {
    let ctx = Ctx::new();
    for name in files {
        ctx.file(&format!("dist/{name}"), built(name));
    }
    ship(&ctx, repo, tag, "a*\nb*")
}

/// Issue 21, item 1: job A ships `a1.bin` and `a2.bin` (the second upload slow), job B
/// `b1.bin`; B finishes first. Before, B found `a1.bin` matching `a*` and published without
/// `a2.bin`. A job's assets now count only once the whole job's set is in: published once,
/// by A, with all three.
#[test]
fn a_job_still_uploading_does_not_let_another_job_publish() {
    let repo = github().repo();
    let tag = "v40.0.0";
    github().control(
        "faults",
        &json!({"repo": repo, "faults": [
            {"route": "upload", "kind": "slow", "ms": 4000, "asset": "a2.bin"},
        ]}),
    );
    let r = repo.as_str();
    let (a, b) = std::thread::scope(|scope| {
        let a = scope.spawn(move || ship_files(r, tag, &["a1.bin", "a2.bin"]));
        // B starts once A's fast upload has landed (a second is plenty on loopback).
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let b = scope.spawn(move || ship_files(r, tag, &["b1.bin"]));
        (a.join().expect("job a"), b.join().expect("job b"))
    });
    assert_eq!(a.code, 0, "{}", a.log());
    assert_eq!(b.code, 0, "{}", b.log());
    assert_eq!(b.outputs["release-published"], "false", "{}", b.stdout);
    assert!(
        b.stdout.contains("still staged (`a1.bin`, `a2.bin`)")
            || b.stdout.contains("still wait (`a*`)"),
        "{}",
        b.stdout
    );
    assert_eq!(a.outputs["release-published"], "true", "{}", a.stdout);
    let all = transitions(&repo);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(
        names(&all[0]["assets"]),
        ["SHA256SUMS", "a1.bin", "a2.bin", "b1.bin"]
    );
    let rel = the_release(&repo);
    let sums = verify_downloads(&rel);
    assert_eq!(sums.lines().count(), 3, "{sums}");
    // Staged copies were renamed into place, not copied: nothing is left under a
    // temporary name, and no asset carries the staged label.
    assert!(
        rel["assets"]
            .as_array()
            .expect("assets")
            .iter()
            .all(|a| a["label"] != STAGED_LABEL),
        "{rel}"
    );
}

/// Issue 21, item 1: a job killed after its uploads and before its renames leaves staged
/// copies; while they are young they hold the set back (the job may still be renaming),
/// its re-run removes them and completes the set.
#[test]
fn a_killed_jobs_staged_leftovers_hold_the_set_until_its_rerun_removes_them() {
    let repo = github().repo();
    let tag = "v41.0.0";
    seed_draft(
        &repo,
        tag,
        &json!([
            {"name": "a1.bin", "content": built("a1.bin")},
            {"name": "stevedore-0123abcd-a2.bin", "content": "staged", "label": STAGED_LABEL},
        ]),
    );
    let b = ship_files(&repo, tag, &["b1.bin"]);
    assert_eq!(b.code, 0, "{}", b.log());
    assert_eq!(b.outputs["release-published"], "false", "{}", b.stdout);
    assert!(b.stdout.contains("still staged (`a2.bin`)"), "{}", b.stdout);
    assert!(transitions(&repo).is_empty());

    // The re-run: `a1.bin` is there with its bytes (done), the staged `a2.bin` is removed
    // and uploaded again, and the set completes.
    let rerun = ship_files(&repo, tag, &["a1.bin", "a2.bin"]);
    assert_eq!(rerun.code, 0, "{}", rerun.log());
    assert_eq!(
        rerun.outputs["release-published"], "true",
        "{}",
        rerun.stdout
    );
    let rel = the_release(&repo);
    assert_eq!(
        names(&rel["assets"]),
        ["SHA256SUMS", "a1.bin", "a2.bin", "b1.bin"]
    );
    let sums = verify_downloads(&rel);
    assert!(sums.contains("  a2.bin\n"), "{sums}");
    let all = transitions(&repo);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(
        names(&all[0]["assets"]),
        ["SHA256SUMS", "a1.bin", "a2.bin", "b1.bin"]
    );
}

/// Issue 21, item 1: a staged copy nobody renamed for more than 6 hours is a killed job's
/// and ages out: it no longer holds the set back, and the job completing the set removes
/// it; a young one still holds it.
#[test]
fn staged_leftovers_older_than_six_hours_age_out() {
    let repo = github().repo();
    let tag = "v42.0.0";
    seed_draft(
        &repo,
        tag,
        &json!([
            {"name": "a1.bin", "content": built("a1.bin")},
            {"name": "stevedore-89abcdef-a9.bin", "content": "left by a killed job",
             "label": STAGED_LABEL, "updated_at": "2026-01-01T00:00:00Z"},
        ]),
    );
    let b = ship_files(&repo, tag, &["b1.bin"]);
    assert_eq!(b.code, 0, "{}", b.log());
    assert_eq!(b.outputs["release-published"], "true", "{}", b.stdout);
    assert!(
        b.stdout.contains("Removed `stevedore-89abcdef-a9.bin`"),
        "{}",
        b.stdout
    );
    let rel = the_release(&repo);
    assert_eq!(names(&rel["assets"]), ["SHA256SUMS", "a1.bin", "b1.bin"]);
    let all = transitions(&repo);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(
        names(&all[0]["assets"]),
        ["SHA256SUMS", "a1.bin", "b1.bin"],
        "the leftover was gone before publication"
    );
}

/// Issue 21, item 3: `checksums-in-body` in a release set: the job that completes the set
/// writes the table of every asset into the notes as it publishes; a late job's assets
/// rewrite the table (one table, every asset).
#[test]
fn a_sets_checksums_table_covers_every_asset_and_is_rewritten_by_a_late_job() {
    let repo = github().repo();
    let tag = "v43.0.0";
    let with_table = |files: &[&str]| {
        let ctx = Ctx::new();
        for name in files {
            ctx.file(&format!("dist/{name}"), built(name));
        }
        ctx.action_env(
            &[
                ("path", "dist"),
                ("destination", "release"),
                ("token", TOKEN),
                ("expect-assets", "a*\nb*"),
                ("checksums-in-body", "true"),
                ("body", "Notes."),
            ],
            &env_at(&repo, tag, SHA),
        )
    };
    let rows = |rel: &serde_json::Value| -> Vec<String> {
        let body = rel["body"].as_str().expect("body");
        assert_eq!(
            body.matches("<!-- stevedore:checksums -->").count(),
            1,
            "{body}"
        );
        assert!(body.starts_with("Notes.\n\n"), "{body}");
        let sums = verify_downloads(rel);
        sums.lines()
            .map(|l| {
                let (hex, name) = l.split_once("  ").expect("line");
                assert!(body.contains(&format!("| `{name}` | `{hex}` |")), "{body}");
                name.to_owned()
            })
            .collect()
    };
    let a = with_table(&["a1.bin"]);
    assert_eq!(a.code, 0, "{}", a.log());
    let b = with_table(&["b1.bin"]);
    assert_eq!(b.code, 0, "{}", b.log());
    assert_eq!(b.outputs["release-published"], "true");
    assert_eq!(rows(&the_release(&repo)), ["a1.bin", "b1.bin"]);
    let late = with_table(&["a2.bin"]);
    assert_eq!(late.code, 0, "{}", late.log());
    assert_eq!(rows(&the_release(&repo)), ["a1.bin", "a2.bin", "b1.bin"]);
}

/// Review 21: two jobs of a set shipping the same file (same name, same bytes: a shared
/// `LICENSE` or install script) both succeed and the set is published with it, as before
/// every upload of a set job was staged. Job A's `a1.bin` is slow; job B starts while A's
/// staged `LICENSE` waits for its rename, takes it for a leftover of its own, and puts its
/// identical copy in place first.
#[test]
fn jobs_shipping_an_identical_shared_file_both_succeed() {
    let repo = github().repo();
    let tag = "v60.0.0";
    github().control(
        "faults",
        &json!({"repo": repo, "faults": [
            {"route": "upload", "kind": "slow", "ms": 4000, "asset": "a1.bin"},
        ]}),
    );
    let r = repo.as_str();
    let with_license = move |files: &[&str]| {
        let ctx = Ctx::new();
        for name in files {
            ctx.file(&format!("dist/{name}"), built(name));
        }
        ctx.file("dist/LICENSE", built("LICENSE"));
        ship(&ctx, r, tag, "a*\nb*")
    };
    let (a, b) = std::thread::scope(|scope| {
        let a = scope.spawn(move || with_license(&["a1.bin"]));
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let b = scope.spawn(move || with_license(&["b1.bin"]));
        (a.join().expect("job a"), b.join().expect("job b"))
    });
    assert_eq!(b.code, 0, "{}", b.log());
    assert_eq!(a.code, 0, "{}", a.log());
    let all = transitions(&repo);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(
        names(&all[0]["assets"]),
        ["LICENSE", "SHA256SUMS", "a1.bin", "b1.bin"]
    );
    verify_downloads(&the_release(&repo));
}

/// Review 21: no job publishes a set while another job's staged assets are there, and that
/// holds for the listing after the checksums asset was written too. Job B completes the set
/// (its checksums upload slow); job C stages `a2.bin` while B writes; B's listing after the
/// write shows C's staged copy, and B must leave the publication to C.
#[test]
fn a_job_staging_while_the_checksums_are_written_holds_publication() {
    let repo = github().repo();
    let tag = "v61.0.0";
    seed_draft(
        &repo,
        tag,
        &json!([{"name": "a1.bin", "content": built("a1.bin")}]),
    );
    github().control(
        "faults",
        &json!({"repo": repo, "faults": [
            {"route": "upload", "kind": "slow", "ms": 3000, "asset": "SHA256SUMS"},
            {"route": "upload", "kind": "slow", "ms": 5000, "asset": "a2.bin"},
        ]}),
    );
    let r = repo.as_str();
    let (b, c) = std::thread::scope(|scope| {
        let b = scope.spawn(move || ship_files(r, tag, &["b1.bin"]));
        std::thread::sleep(std::time::Duration::from_millis(1200));
        let c = scope.spawn(move || ship_files(r, tag, &["a2.bin"]));
        (b.join().expect("job b"), c.join().expect("job c"))
    });
    assert_eq!(b.code, 0, "{}", b.log());
    assert_eq!(c.code, 0, "{}", c.log());
    let all = transitions(&repo);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(
        names(&all[0]["assets"]),
        ["SHA256SUMS", "a1.bin", "a2.bin", "b1.bin"],
        "published while `a2.bin` was still staged"
    );
    let sums = verify_downloads(&the_release(&repo));
    assert_eq!(sums.lines().count(), 3, "{sums}");
}

/// Review 21: a killed job's staged copies are removed by its re-run only when the re-run
/// builds the same names. A job whose file names change between attempts (a build time or
/// attempt number in the name) left young staged copies its re-run did not recognise:
/// they held the complete set back for 6 hours, after every job had finished. A staged
/// copy's label now names its run and attempt, and a later attempt of the same run knows
/// the earlier attempt's copies are a finished job's.
#[test]
fn a_rerun_building_other_names_than_its_killed_attempt_still_completes_the_set() {
    let repo = github().repo();
    let tag = "v62.0.0";
    seed_draft(
        &repo,
        tag,
        &json!([
            {"name": "b1.bin", "content": built("b1.bin")},
            {"name": "stevedore-0123abcd-a-attempt1.bin", "content": "killed after upload",
             "label": format!("{STAGED_LABEL} (run 8800, attempt 1)")},
            // Another run of the same commit (a second workflow) may still be at work: held.
            {"name": "stevedore-4567cdef-c1.bin", "content": "another run's upload",
             "label": format!("{STAGED_LABEL} (run 9900, attempt 1)")},
        ]),
    );
    let ctx = Ctx::new();
    ctx.file("dist/a-attempt2.bin", built("a-attempt2.bin"));
    let mut env = env_at(&repo, tag, SHA);
    env.push(("GITHUB_RUN_ID".into(), "8800".into()));
    env.push(("GITHUB_RUN_ATTEMPT".into(), "2".into()));
    let inputs = [
        ("path", "dist"),
        ("destination", "release"),
        ("token", TOKEN),
        ("expect-assets", "a*\nb*"),
    ];
    let held = ctx.action_env(&inputs, &env);
    assert_eq!(held.code, 0, "{}", held.log());
    assert_eq!(
        held.outputs["release-published"], "false",
        "{}",
        held.stdout
    );
    assert!(
        held.stdout.contains("still staged (`c1.bin`)"),
        "{}",
        held.stdout
    );

    // Once the other run's copy is gone (it was renamed, or removed), the set completes,
    // and the earlier attempt's copy is removed.
    let rel = the_release(&repo);
    let other = rel["assets"]
        .as_array()
        .expect("assets")
        .iter()
        .find(|a| a["name"] == "stevedore-4567cdef-c1.bin")
        .expect("the other run's copy")["id"]
        .as_u64()
        .expect("id");
    let out = std::process::Command::new("curl")
        .args(["-sS", "--fail", "-X", "DELETE"])
        .arg(format!(
            "{}/repos/{repo}/releases/assets/{other}",
            github().url
        ))
        .output()
        .expect("curl");
    assert!(out.status.success(), "{out:?}");
    let rerun = ctx.action_env(&inputs, &env);
    assert_eq!(rerun.code, 0, "{}", rerun.log());
    assert_eq!(
        rerun.outputs["release-published"], "true",
        "every job has finished, yet the set waits: {}",
        rerun.stdout
    );
    assert!(
        rerun
            .stdout
            .contains("Removed `stevedore-0123abcd-a-attempt1.bin`"),
        "{}",
        rerun.stdout
    );
    assert_eq!(
        names(&the_release(&repo)["assets"]),
        ["SHA256SUMS", "a-attempt2.bin", "b1.bin"]
    );
}

/// Review 21: a set job's failed rename takes its new assets back out, but a replacement it
/// already swapped in (`overwrite: true`) stays, and the job stops before the checksums
/// asset is rewritten: the published release serves `a1.bin` with bytes its `SHA256SUMS`
/// does not vouch for. Before every upload was staged, no step could fail after a swap.
#[test]
fn a_failed_rename_after_a_replacement_leaves_the_checksums_vouching_for_the_release() {
    let repo = github().repo();
    let tag = "v63.0.0";
    let old_a1 = "a1.bin as first shipped\n";
    let hex = |s: &str| hex::encode(<sha2::Sha256 as sha2::Digest>::digest(s.as_bytes()));
    let sums = format!(
        "{}  a1.bin\n{}  b1.bin\n",
        hex(old_a1),
        hex(&built("b1.bin"))
    );
    github().control(
        "release",
        &json!({"repo": repo, "tag": tag, "target_commitish": SHA, "assets": [
            {"name": "a1.bin", "content": old_a1},
            {"name": "b1.bin", "content": built("b1.bin")},
            {"name": "SHA256SUMS", "content": sums},
        ]}),
    );
    verify_downloads(&the_release(&repo));
    github().control(
        "faults",
        &json!({"repo": repo, "faults": [
            {"route": "rename-asset", "kind": "status", "status": 422, "asset": "a3.bin"},
        ]}),
    );
    let ctx = Ctx::new();
    for name in ["a1.bin", "a3.bin"] {
        ctx.file(&format!("dist/{name}"), built(name));
    }
    let run = ctx.action_env(
        &[
            ("path", "dist"),
            ("destination", "release"),
            ("token", TOKEN),
            ("expect-assets", "a*\nb*"),
            ("overwrite", "true"),
        ],
        &env_at(&repo, tag, SHA),
    );
    assert_eq!(run.code, 4, "{}", run.log());
    // Whatever failed, the published release's checksums asset verifies what it serves.
    verify_downloads(&the_release(&repo));
}

/// Review 21: a job that opened the release as a draft, and finds it published by another
/// job by the time its own assets are in place, is a late job: while a third job's assets
/// are staged it must not say the release is unpublished (`release-published`), nor leave
/// its own asset outside the published release's checksums asset on the strength of a
/// draft that is gone. Job B opens the draft (its asset listing slow); job P completes and
/// publishes the set; job C starts a slow upload; B's `a2.bin` lands on the published
/// release while C's copy is staged.
#[test]
fn a_job_that_opened_a_draft_published_meanwhile_reports_it_published() {
    let repo = github().repo();
    let tag = "v64.0.0";
    seed_draft(
        &repo,
        tag,
        &json!([{"name": "a1.bin", "content": built("a1.bin")}]),
    );
    github().control(
        "faults",
        &json!({"repo": repo, "faults": [
            {"route": "list-assets", "kind": "slow", "ms": 2500},
            {"route": "upload", "kind": "slow", "ms": 5000, "asset": "a4.bin"},
        ]}),
    );
    let r = repo.as_str();
    let one = move |name: &'static str| {
        let ctx = Ctx::new();
        ctx.file(&format!("dist/{name}"), built(name));
        ship(&ctx, r, tag, "a*")
    };
    let (b, p, c) = std::thread::scope(|scope| {
        let b = scope.spawn(move || one("a2.bin"));
        std::thread::sleep(std::time::Duration::from_millis(500));
        let p = scope.spawn(move || one("a3.bin"));
        std::thread::sleep(std::time::Duration::from_secs(1));
        let c = scope.spawn(move || one("a4.bin"));
        (
            b.join().expect("job b"),
            p.join().expect("job p"),
            c.join().expect("job c"),
        )
    });
    assert_eq!(p.code, 0, "{}", p.log());
    assert_eq!(p.outputs["release-published"], "true", "{}", p.stdout);
    assert_eq!(c.code, 0, "{}", c.log());
    assert_eq!(b.code, 0, "{}", b.log());
    assert_eq!(
        b.outputs["release-published"], "true",
        "the release was published before B finished: {}",
        b.stdout
    );
    let sums = verify_downloads(&the_release(&repo));
    assert_eq!(sums.lines().count(), 4, "{sums}");
}

/// Review 21: a set job's new asset that cannot be renamed into place is no replacement:
/// the error says what failed (putting the new `a3.bin` in place), not that a replacement
/// of an asset the release never had failed.
#[test]
fn a_failed_rename_of_a_new_asset_is_not_called_a_replacement() {
    let repo = github().repo();
    let tag = "v65.0.0";
    github().control(
        "faults",
        &json!({"repo": repo, "faults": [
            {"route": "rename-asset", "kind": "status", "status": 422, "asset": "a3.bin"},
        ]}),
    );
    let run = ship_files(&repo, tag, &["a1.bin", "a3.bin"]);
    assert_eq!(run.code, 4, "{}", run.log());
    let error = run
        .stdout
        .lines()
        .find(|l| l.starts_with("::error"))
        .unwrap_or_else(|| panic!("{}", run.stdout));
    assert!(error.contains("`a3.bin`"), "{error}");
    assert!(!error.contains("replacement"), "{error}");
    // The job's half is taken back out: nothing of it counts toward the set.
    let rel = the_release(&repo);
    assert!(
        rel["assets"].as_array().expect("assets").is_empty(),
        "{rel}"
    );
}

/// Review 21: with `overwrite: true` a set job moves the asset it replaces aside under a
/// staged name and deletes it once the new one is in place; when that delete fails (the
/// job says the next run removes it), the job's own leftover must not hold the set it
/// completes: every line matches, no other job is at work, yet the draft waits for "another
/// job" that is this one.
#[test]
fn a_set_jobs_own_leftover_from_a_replacement_does_not_hold_its_set() {
    let repo = github().repo();
    let tag = "v66.0.0";
    seed_draft(
        &repo,
        tag,
        &json!([
            {"name": "a1.bin", "content": "a1.bin from a build since replaced\n"},
            {"name": "b1.bin", "content": built("b1.bin")},
        ]),
    );
    github().control(
        "faults",
        &json!({"repo": repo, "faults": [
            {"route": "delete-asset", "kind": "status", "status": 403, "asset": "a1.bin"},
        ]}),
    );
    let ctx = Ctx::new();
    ctx.file("dist/a1.bin", built("a1.bin"));
    let run = ctx.action_env(
        &[
            ("path", "dist"),
            ("destination", "release"),
            ("token", TOKEN),
            ("expect-assets", "a*\nb*"),
            ("overwrite", "true"),
        ],
        &env_at(&repo, tag, SHA),
    );
    assert_eq!(run.code, 0, "{}", run.log());
    assert!(
        run.stdout
            .contains("could not remove the replaced `a1.bin`"),
        "{}",
        run.stdout
    );
    assert_eq!(
        run.outputs["release-published"], "true",
        "the job waits for itself: {}",
        run.stdout
    );
}
