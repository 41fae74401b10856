//! `stevedore download` against the results-service emulator and a real Azurite: what the
//! official `@actions/artifact` client uploads, and what stevedore uploads, comes back byte
//! for byte with its modes; layouts, `merge-multiple` conflicts, raw artifacts and inputs.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use crate::support::emulator::{emulator, official_upload, ship_zip};
use crate::support::text::{annotations, redact_known};
use crate::support::{
    Ctx, build_tree, random_bytes, read_tree, run_download, run_download_env, run_download_into,
    snapshot, staging_left,
};

fn mode(path: &Path) -> u32 {
    fs::metadata(path).expect("meta").permissions().mode() & 0o777
}

#[test]
fn the_official_upload_comes_back_byte_identical_with_its_modes_and_digest() {
    let ctx = Ctx::new();
    let root = build_tree(&ctx, "dist");
    let job = emulator().job();
    let theirs = official_upload(&job, "build", &root);
    let dest = ctx.temp.join("restored");
    let run = run_download_into(&ctx, &job, "build", &dest);
    assert_eq!(run.code, 0, "{}", run.log());
    assert!(read_tree(&root) == read_tree(&dest), "the tree differs");
    assert_eq!(mode(&dest.join("bin/run.sh")), 0o755, "0755 stays 0755");
    assert_eq!(mode(&dest.join("readme.txt")) & 0o111, 0, "no x bit added");
    assert_eq!(run.outputs["download-path"], dest.to_str().expect("utf-8"));
    let listed: serde_json::Value = serde_json::from_str(&run.outputs["artifacts"]).expect("json");
    assert_eq!(listed[0]["name"], "build");
    assert_eq!(listed[0]["id"], theirs["id"]);
    assert_eq!(
        listed[0]["digest"].as_str().expect("digest"),
        theirs["digest"]
            .as_str()
            .map(|d| if d.starts_with("sha256:") {
                d.to_owned()
            } else {
                format!("sha256:{d}")
            })
            .expect("official digest"),
        "the digest of the bytes downloaded is the one the official client uploaded"
    );
    assert_eq!(run.outputs["files"], "5");
    let bytes: u64 = read_tree(&root).values().map(|v| v.len() as u64).sum();
    assert_eq!(run.outputs["bytes"], bytes.to_string());
    // What the user reads: the console and the summary of a download.
    let id = theirs["id"].to_string();
    let digest = listed[0]["digest"].as_str().expect("digest");
    let hex = digest.strip_prefix("sha256:").expect("sha256:<hex>");
    let shown = |text: &str| redact_known(text, &[(&id, "[ID]"), (hex, "[DIGEST]")]);
    insta::assert_snapshot!(shown(&run.log()), @r#"
    ::group::Listing artifacts
    ::endgroup::
    ::group::Downloading 1 artifact (3.0 MiB)
    ::stop-commands::[TOKEN]
    build (id [ID], 3.0 MiB, sha256:[DIGEST])
    ::[TOKEN]::
    build: 5 files (3.0 MiB) in 1 attempt(s), sha256:[DIGEST]
    ::endgroup::
    stevedore download: 1 artifact, 5 files (3.0 MiB) into [TMP]/runner-temp/restored in [TIME]
    "#);
    insta::assert_snapshot!(shown(&run.summary), @r#"
    ## ✅ stevedore download

    1 artifact · 5 files · 3.0 MiB into `[TMP]/runner-temp/restored` in [TIME]

    | Artifact | ID | Files | Size | Downloaded | SHA-256 | Verified |
    |---|---:|---:|---:|---:|---|---|
    | `build` | [ID] | 5 | 3.0 MiB | 3.0 MiB | `[DIGEST]` | ✅ |
    "#);
    assert!(staging_left(&dest).is_empty());
}

#[test]
fn stevedore_upload_then_download_by_id_is_the_same_tree_into_an_existing_path() {
    let ctx = Ctx::new();
    let root = build_tree(&ctx, "dist");
    let job = emulator().job();
    let up = ctx.action_env(
        &[
            ("destination", "artifact"),
            ("path", "dist"),
            ("name", "ours"),
        ],
        &emulator().env(&job),
    );
    assert_eq!(up.code, 0, "{}", up.log());
    let dest = ctx.temp.join("into");
    fs::create_dir_all(dest.join("bin")).expect("mkdir");
    fs::write(dest.join("keep.txt"), "kept").expect("write");
    fs::write(dest.join("readme.txt"), "old").expect("write");
    let run = run_download(
        &ctx,
        &job,
        &[
            ("artifact-ids", &up.outputs["artifact-id"]),
            ("path", dest.to_str().expect("utf-8")),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.log());
    let mut expected = read_tree(&root);
    expected.insert("keep.txt".into(), b"kept".to_vec());
    assert!(
        crate::support::read_artifact_tree(&dest) == expected,
        "same files, an existing one replaced, others kept"
    );
    assert_eq!(mode(&dest.join("bin/run.sh")), 0o755);
    let listed: serde_json::Value = serde_json::from_str(&run.outputs["artifacts"]).expect("json");
    assert_eq!(
        listed[0]["digest"].as_str().expect("digest"),
        format!("sha256:{}", up.outputs["artifact-digest"])
    );
}

#[test]
fn several_artifacts_go_to_named_directories_and_pattern_picks_them() {
    let ctx = Ctx::new();
    let job = emulator().job();
    for (name, text) in [
        ("app-linux", "linux"),
        ("app-macos", "macos"),
        ("docs", "docs"),
    ] {
        ctx.file(&format!("{name}/f.txt"), text);
        official_upload(&job, name, &ctx.ws.join(name));
    }
    let dest = ctx.temp.join("many");
    let run = run_download(
        &ctx,
        &job,
        &[
            ("pattern", "app-*"),
            ("path", dest.to_str().expect("utf-8")),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.log());
    let tree = read_tree(&dest);
    let names: Vec<&str> = tree.keys().map(String::as_str).collect();
    assert_eq!(names, ["app-linux/f.txt", "app-macos/f.txt"]);
    assert_eq!(tree["app-macos/f.txt"], b"macos");
    // No filter: every artifact; one match: straight into `path`.
    let all = ctx.temp.join("all");
    let run = run_download(&ctx, &job, &[("path", all.to_str().expect("utf-8"))]);
    assert_eq!(run.code, 0, "{}", run.log());
    assert_eq!(read_tree(&all).len(), 3);
    let one = ctx.temp.join("one");
    let run = run_download(
        &ctx,
        &job,
        &[("pattern", "do*"), ("path", one.to_str().expect("utf-8"))],
    );
    assert_eq!(run.code, 0, "{}", run.log());
    assert_eq!(read_tree(&one).keys().collect::<Vec<_>>(), ["f.txt"]);
}

#[test]
fn merge_multiple_refuses_two_different_files_naming_both_and_accepts_identical_ones() {
    let ctx = Ctx::new();
    let job = emulator().job();
    ctx.file("x/shared.txt", "same bytes");
    ctx.file("x/conflict.txt", "from x");
    ctx.file("x/only-x.txt", "x");
    ctx.file("y/shared.txt", "same bytes");
    ctx.file("y/conflict.txt", "from y");
    ctx.file("z/shared.txt", "same bytes");
    ctx.file("z/sub/only-z.txt", "z");
    let ids: Vec<String> = ["x", "y", "z"]
        .iter()
        .map(|n| official_upload(&job, &format!("part-{n}"), &ctx.ws.join(n))["id"].to_string())
        .collect();

    let dest = ctx.temp.join("merged");
    fs::create_dir_all(&dest).expect("mkdir");
    fs::write(dest.join("before.txt"), "before").expect("write");
    let before = snapshot(&dest);
    let run = run_download(
        &ctx,
        &job,
        &[
            ("pattern", "part-*"),
            ("merge-multiple", "true"),
            ("path", dest.to_str().expect("utf-8")),
        ],
    );
    assert_eq!(run.code, 4, "{}", run.log());
    // Both artifacts and the file are named, in an error annotation.
    insta::assert_snapshot!(annotations(&run.stdout), @"::error title=stevedore download::artifacts `part-x` and `part-y` both hold `conflict.txt` with different contents; with `merge-multiple: true` a path may come from one artifact only (identical copies are fine): download them without `merge-multiple`, or pick one with `name`/`pattern`; `path` was left as it was");
    assert_eq!(snapshot(&dest), before, "`path` untouched");
    assert!(staging_left(&dest).is_empty());

    let ids_xz = format!("{}, {}", ids[0], ids[2]);
    let run = run_download(
        &ctx,
        &job,
        &[
            ("artifact-ids", &ids_xz),
            ("merge-multiple", "true"),
            ("path", dest.to_str().expect("utf-8")),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.log());
    let tree = read_tree(&dest);
    let names: Vec<&str> = tree.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "before.txt",
            "conflict.txt",
            "only-x.txt",
            "shared.txt",
            "sub/only-z.txt"
        ]
    );
    assert_eq!(tree["conflict.txt"], b"from x");
    assert_eq!(run.outputs["files"], "4", "the shared file counted once");
}

#[test]
fn a_raw_artifact_is_saved_under_its_file_name() {
    let ctx = Ctx::new();
    let job = emulator().job();
    let payload = random_bytes(1024 * 1024 + 5, 7);
    ctx.file("dist/tool-v1.bin", &payload);
    let up = ctx.action_env(
        &[
            ("destination", "artifact"),
            ("path", "dist/tool-v1.bin"),
            ("archive", "false"),
        ],
        &emulator().env(&job),
    );
    assert_eq!(up.code, 0, "{}", up.log());
    let dest = ctx.temp.join("raw");
    let run = run_download_into(&ctx, &job, "tool-v1.bin", &dest);
    assert_eq!(run.code, 0, "{}", run.log());
    assert_eq!(read_tree(&dest).keys().collect::<Vec<_>>(), ["tool-v1.bin"]);
    assert!(fs::read(dest.join("tool-v1.bin")).expect("read") == payload);
    assert_eq!(run.outputs["files"], "1");
}

#[test]
fn bad_inputs_and_unknown_artifacts_exit_2_naming_them() {
    let ctx = Ctx::new();
    let job = emulator().job();
    // Each is exit 2; what each says, in order.
    let mut said = Vec::new();
    let run = run_download(&ctx, &job, &[("name", "a"), ("artifact-ids", "1")]);
    assert_eq!(run.code, 2, "{}", run.log());
    said.push(run.log());
    let run = run_download(&ctx, &job, &[("digest-mismatch", "loud")]);
    assert_eq!(run.code, 2);
    said.push(run.log());
    ctx.file("a/f", "f");
    let present = official_upload(&job, "present", &ctx.ws.join("a"))["id"].to_string();
    // Names what is missing and what exists.
    let run = run_download(&ctx, &job, &[("name", "absent")]);
    assert_eq!(run.code, 2, "{}", run.log());
    said.push(run.log());
    let run = run_download_env(&ctx, &[("name", "x")], &[]);
    assert_eq!(run.code, 2);
    said.push(run.log());
    insta::assert_snapshot!(
        redact_known(&said.concat(), &[(&present, "[ID]")]),
        @r#"
        ::error title=stevedore download::`name` and `artifact-ids` cannot be used together; set only one of them
        ::error title=stevedore download::`digest-mismatch` is `loud`; use ignore, info, warn or error (default error)
        ::group::Listing artifacts
        ::endgroup::
        ::error title=stevedore download::artifact `absent` (input `name`) not found in the workflow run; it has `present (id [ID])`
        ::error title=stevedore download::downloading this run's artifacts needs ACTIONS_RUNTIME_TOKEN, which the runner gives only to actions: use `uses: <owner>/stevedore/download@v1`, which passes it on, or give `github-token`, `repository` and `run-id` to download through the REST API
        "#
    );
}

#[test]
fn another_runs_artifacts_come_through_the_rest_api_and_the_token_stays_secret() {
    use crate::support::github::github;
    const TOKEN: &str = "ghs_download14-reader-0123456789";
    let ctx = Ctx::new();
    let root = build_tree(&ctx, "dist");
    let job = emulator().job();
    official_upload(&job, "rest-build", &root);
    ctx.file("other/x.txt", "x");
    official_upload(&job, "rest-other", &ctx.ws.join("other"));
    let repo = github().repo();
    github().workflow_run(&repo, 4711, &job, TOKEN);
    // No results-service credentials at all: what arrives came through the REST API.
    let env = vec![
        ("GITHUB_API_URL".to_owned(), github().url.clone()),
        ("GITHUB_REPOSITORY".to_owned(), "octo/this-repo".to_owned()),
        ("GITHUB_RUN_ID".to_owned(), "1".to_owned()),
    ];
    let dest = ctx.temp.join("rest");
    let run = run_download_env(
        &ctx,
        &[
            ("github-token", TOKEN),
            ("repository", &repo),
            ("run-id", "4711"),
            ("pattern", "rest-*"),
            ("path", dest.to_str().expect("utf-8")),
        ],
        &env,
    );
    assert_eq!(run.code, 0, "{}", run.log());
    assert!(
        read_tree(&root) == read_tree(&dest.join("rest-build")),
        "byte-identical"
    );
    assert_eq!(read_tree(&dest.join("rest-other"))["x.txt"], b"x");
    assert_eq!(mode(&dest.join("rest-build/bin/run.sh")), 0o755);
    let mask = format!("::add-mask::{TOKEN}\n");
    for text in [
        run.log().replacen(&mask, "", 1),
        run.summary.clone(),
        fs::read_to_string(&ctx.output).expect("outputs"),
    ] {
        assert!(!text.contains(TOKEN), "the token leaked: {text}");
    }
    assert!(
        run.stdout.contains(&format!("::add-mask::{TOKEN}")),
        "masked first"
    );

    let run = run_download_env(
        &ctx,
        &[
            ("github-token", "ghs_not-a-token-anyone-accepts"),
            ("repository", &repo),
            ("run-id", "4711"),
        ],
        &env,
    );
    assert_eq!(run.code, 4, "{}", run.log());
    assert!(
        run.log().contains("`github-token` is not a valid token"),
        "{}",
        run.log()
    );
}

#[test]
fn a_hostile_artifact_is_refused_naming_the_entry_and_nothing_lands_anywhere() {
    use crate::support::zips::{Raw, build};
    let ctx = Ctx::new();
    let job = emulator().job();
    let zip = build(&[
        Raw::file("fine.txt", b"fine", 0o644),
        Raw::file("../escape.txt", b"out", 0o644),
    ]);
    ship_zip(&ctx, &job, "evil.zip", &zip);
    let dest = ctx.temp.join("box/dest");
    fs::create_dir_all(&dest).expect("mkdir");
    fs::write(dest.join("before.txt"), "before").expect("write");
    let parent_before = snapshot(&ctx.temp.join("box"));
    let run = run_download_into(&ctx, &job, "evil.zip", &dest);
    assert_eq!(run.code, 4, "{}", run.log());
    assert!(
        run.log().contains("../escape.txt"),
        "names the entry: {}",
        run.log()
    );
    assert_eq!(
        snapshot(&ctx.temp.join("box")),
        parent_before,
        "nothing written beside or in `path`"
    );
}

#[test]
fn links_and_modes_in_an_artifact_come_back_as_links_and_modes() {
    use crate::support::zips::{Raw, build};
    let ctx = Ctx::new();
    let job = emulator().job();
    let zip = build(&[
        Raw::dir("v1/", 0o755),
        Raw::file("v1/tool", b"#!/bin/sh\n", 0o750),
        Raw::file("v1/data", b"data", 0o600),
        Raw::link("current", "v1"),
    ]);
    ship_zip(&ctx, &job, "linked.zip", &zip);
    let dest = ctx.temp.join("linked");
    let run = run_download_into(&ctx, &job, "linked.zip", &dest);
    assert_eq!(run.code, 0, "{}", run.log());
    assert_eq!(
        fs::read_link(dest.join("current")).expect("a link"),
        Path::new("v1")
    );
    assert_eq!(mode(&dest.join("v1/tool")), 0o750);
    assert_eq!(mode(&dest.join("v1/data")), 0o600);
    assert_eq!(
        fs::read(dest.join("current/data")).expect("through the link"),
        b"data"
    );
}

#[test]
fn a_failed_download_says_so_once_and_claims_nothing() {
    let ctx = Ctx::new();
    // On a terminal, without the runner's token: one `error:` line, nothing else about it.
    let run = ctx.cli(&[
        "download",
        "--name",
        "dist",
        "--path",
        "out",
        "--repository",
        "octo/other",
    ]);
    assert_eq!(run.code, 2, "{}", run.log());
    let log = run.log();
    assert_eq!(
        log.matches("needs ACTIONS_RUNTIME_TOKEN").count(),
        1,
        "{log}"
    );
    assert!(!log.contains("were downloaded"), "{log}");
    // In Actions, a connection refused: one annotation, its cause named once.
    let mut cmd_env = emulator().env(&emulator().job());
    for (k, v) in &mut cmd_env {
        if k == "ACTIONS_RESULTS_URL" {
            *v = "http://127.0.0.1:9/".into();
        }
    }
    let run = run_download_env(&ctx, &[("name", "dist"), ("path", "out")], &cmd_env);
    assert_eq!(run.code, 4, "{}", run.log());
    let log = run.log();
    assert_eq!(
        log.matches("cannot list the run's artifacts").count(),
        1,
        "{log}"
    );
    assert!(
        !log.contains("client error (Connect): client error (Connect)"),
        "{log}"
    );
}
