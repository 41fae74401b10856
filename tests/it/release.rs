//! The release destination against the GitHub REST emulator (recorded payloads).

use serde_json::json;

use crate::support::github::{asset, asset_bytes, calls_of, github};
use crate::support::text::{annotations, redact, redact_known};
use crate::support::{Ctx, Run};

const TOKEN: &str = "ghs_stevedoreTestToken000000000000000000";

fn release(ctx: &Ctx, repo: &str, git_ref: &str, inputs: &[(&str, &str)]) -> Run {
    let mut all = vec![
        ("path", "dist"),
        ("destination", "release"),
        ("token", TOKEN),
    ];
    all.extend_from_slice(inputs);
    ctx.action_env(&all, &github().env(repo, git_ref))
}

#[test]
#[allow(clippy::too_many_lines, reason = "two inline snapshots")]
fn a_new_release_is_created_as_a_draft_and_published_after_every_asset() {
    let ctx = Ctx::new();
    ctx.file("dist/app-linux.tar.gz", vec![1u8; 300_000]);
    ctx.file("dist/docs/README.md", "# readme\n");
    let repo = github().repo();
    let run = release(&ctx, &repo, "refs/tags/v1.0.0", &[]);
    assert_eq!(run.code, 0, "{}", run.log());

    let all = github().releases(&repo);
    assert_eq!(all.len(), 1);
    let rel = &all[0];
    assert_eq!(rel["tag_name"], "v1.0.0");
    assert_eq!(rel["draft"], false, "published");
    let names: Vec<&str> = rel["assets"]
        .as_array()
        .expect("assets")
        .iter()
        .map(|a| a["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    for a in rel["assets"].as_array().expect("assets") {
        let bytes = asset_bytes(a);
        match a["name"].as_str().expect("name") {
            "app-linux.tar.gz" => assert_eq!(bytes, vec![1u8; 300_000]),
            "README.md" => assert_eq!(bytes, b"# readme\n"),
            "SHA256SUMS" => {
                let text = String::from_utf8(bytes).expect("utf-8");
                assert!(
                    text.contains("  app-linux.tar.gz\n") && text.contains("  README.md\n"),
                    "{text}"
                );
            }
            other => panic!("unexpected asset {other}"),
        }
        assert_eq!(a["state"], "uploaded");
    }
    // Created as a draft, published last, no re-GET of the release per asset.
    let calls = github().calls(&repo);
    let create = calls
        .iter()
        .position(|c| c == "create 201")
        .expect("created");
    let publish = calls
        .iter()
        .position(|c| c == "update 200")
        .expect("published");
    let uploads: Vec<usize> = calls
        .iter()
        .enumerate()
        .filter(|(_, c)| c.starts_with("upload"))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(uploads.len(), 3, "{calls:?}");
    assert!(
        uploads.iter().all(|&u| create < u && u < publish),
        "{calls:?}"
    );
    assert!(!calls.iter().any(|c| c.starts_with("get ")), "{calls:?}");

    assert_eq!(run.outputs["release-id"], rel["id"].to_string());
    assert_eq!(
        run.outputs["release-url"],
        rel["html_url"].as_str().expect("url")
    );
    let assets: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&run.outputs["assets"]).expect("assets JSON");
    assert_eq!(assets.len(), 3);
    assert!(
        assets["README.md"]
            .as_str()
            .expect("url")
            .ends_with("/README.md")
    );
    // What the user reads: the console and the summary of a release published.
    let id = format!("(id {})", rel["id"]);
    let shown = |text: &str| {
        redact_known(
            text,
            &[
                (&repo, "octo/[REPO]"),
                (&github().url, "[GITHUB]"),
                (&id, "(id [ID])"),
            ],
        )
    };
    insta::assert_snapshot!(shown(&run.log()), @r#"
    ::add-mask::ghs_stevedoreTestToken000000000000000000
    ::group::Selecting files
    ::debug::search path `[TMP]/ws/dist`
    With the provided path, there will be 2 file(s) uploaded from `[TMP]/ws/dist`
    ::stop-commands::[TOKEN]
      app-linux.tar.gz
      docs/README.md
    ::[TOKEN]::
    ::endgroup::
    ::group::Scanning 2 files
    hashed 2 files, 293.0 KiB in [TIME] ([RATE])
    ::endgroup::
    ::group::Checking policies
    ::endgroup::
    ::group::Uploading
    Created draft release `v1.0.0` (id [ID])
    Release `v1.0.0`: 3 asset(s) uploaded, published
    ::endgroup::
    stevedore: 2 files, 293.0 KiB, 0 duplicate(s), 0 finding(s), scanned in [TIME], total [TIME]
    manifest: [TMP]/runner-temp/stevedore-[RUN]/stevedore-manifest.json
    checksums: [TMP]/runner-temp/stevedore-[RUN]/SHA256SUMS
    release: done, 3 files -> [GITHUB]/octo/[REPO]/releases/tag/v1.0.0
    "#);
    insta::assert_snapshot!(shown(&run.summary), @r#"
    ## ✅ stevedore

    | Files | Size | Duplicates | Findings | Scan time | Throughput |
    |---:|---:|---:|---:|---:|---:|
    | 2 | 293.0 KiB | 0 in 0 groups | 0 | [TIME] | [RATE] |

    Root `[TMP]/ws/dist` · total time [TIME] · checksums and manifest shipped with the files: [release `v1.0.0`]([GITHUB]/octo/[REPO]/releases/tag/v1.0.0) (the checksums file)

    ### Destinations

    | Destination | Result | Files | Size | Time |
    |---|---|---:|---:|---:|
    | `release` | ✅ `[GITHUB]/octo/[REPO]/releases/tag/v1.0.0` | 2 + `SHA256SUMS` | 293.1 KiB | [TIME] |

    ### Release [`v1.0.0`]([GITHUB]/octo/[REPO]/releases/tag/v1.0.0): published

    | Asset | Result |
    |---|---|
    | `app-linux.tar.gz` | ✅ uploaded |
    | `README.md` | ✅ uploaded |
    | `SHA256SUMS` | ✅ uploaded |

    <details><summary><b>Largest files</b></summary>

    | File | Size | SHA-256 |
    |---|---:|---|
    | `app-linux.tar.gz` | 293.0 KiB | `f0a1c470ca104347cd08ab760cb2db9d3f9c6ccc7497c21b5a713646d7ec3c41` |
    | `docs/README.md` | 9 B | `4b2b418bbeeb44157535c731f489f6e1dc506a2acd39171ca9afef9f5d17aa7d` |

    </details>
    "#);
    // A re-run with the same files is idempotent: every asset is there byte for byte, so
    // nothing is uploaded again and nothing clashes.
    let rerun = release(&ctx, &repo, "refs/tags/v1.0.0", &[]);
    assert_eq!(rerun.code, 0, "{}", rerun.log());
    assert_eq!(
        github()
            .calls(&repo)
            .iter()
            .filter(|c| c.starts_with("upload"))
            .count(),
        3
    );
    // (The asset rows of a re-run come in the order the checks finished: not snapshotted.)
    assert!(
        rerun.summary.contains("`README.md` | ✅ uploaded"),
        "{}",
        rerun.summary
    );
}

#[test]
fn an_existing_asset_stops_the_run_unless_overwrite() {
    let ctx = Ctx::new();
    ctx.file("dist/a.txt", "new bytes");
    let repo = github().repo();
    github().control(
        "release",
        &json!({"repo": repo, "tag": "v2", "assets": [{"name": "a.txt", "content": "old"}]}),
    );
    let run = release(&ctx, &repo, "refs/tags/v2", &[]);
    assert_eq!(run.code, 2, "{}", run.log());
    insta::assert_snapshot!(annotations(&run.stdout), @"::error title=stevedore::release `v2` already has asset(s) named `a.txt`; set `overwrite: true` to replace them, or rename the files");
    assert!(
        !github()
            .calls(&repo)
            .iter()
            .any(|c| c.starts_with("upload")),
        "nothing uploaded"
    );

    let again = release(&ctx, &repo, "refs/tags/v2", &[("overwrite", "true")]);
    assert_eq!(again.code, 0, "{}", again.log());
    let rel = &github().releases(&repo)[0];
    let a = asset(rel, "a.txt").clone();
    assert_eq!(asset_bytes(&a), b"new bytes");
}

#[test]
fn rate_limits_half_created_assets_and_a_create_race_are_survived() {
    let ctx = Ctx::new();
    for i in 0..6 {
        ctx.file(&format!("dist/f{i}.bin"), vec![i as u8; 50_000 + i]);
    }
    let repo = github().repo();
    github().control(
        "faults",
        &json!({"repo": repo, "faults": [
            {"route": "create", "kind": "secondary", "retryAfter": 1},
            {"route": "create", "kind": "race"},
            {"route": "upload", "kind": "secondary", "retryAfter": 1},
            {"route": "upload", "kind": "starter502"},
            {"route": "upload", "kind": "drop-after-store"},
            {"route": "upload", "kind": "exists422"},
        ]}),
    );
    let run = release(&ctx, &repo, "refs/tags/v3", &[]);
    assert_eq!(run.code, 0, "{}", run.log());
    let state = github().state(&repo);
    assert!(
        state["pendingFaults"]
            .as_array()
            .expect("faults")
            .is_empty()
    );
    let all = github().releases(&repo);
    assert_eq!(all.len(), 1, "the racing release was reused");
    let assets = all[0]["assets"].as_array().expect("assets");
    assert_eq!(assets.len(), 7);
    for a in assets {
        assert_eq!(a["state"], "uploaded", "no starter asset left: {a}");
    }
    let calls = github().calls(&repo);
    assert!(calls.contains(&"create 422".to_owned()), "{calls:?}");
    assert!(calls.contains(&"upload 403".to_owned()), "{calls:?}");
    assert!(calls.contains(&"upload 502".to_owned()), "{calls:?}");
    assert!(
        calls.contains(&"delete-asset 204".to_owned()),
        "the starter asset was deleted: {calls:?}"
    );
    // The JSON call hit a secondary limit too (octocrab's handler waited `retry-after`).
    assert!(calls.contains(&"create 403".to_owned()), "{calls:?}");
    // Assets that landed unannounced (dropped answer, 422 already_exists) were accepted,
    // not deleted: one delete only, for the starter.
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.starts_with("delete-asset"))
            .count(),
        1,
        "{calls:?}"
    );
    for a in assets {
        let name = a["name"].as_str().expect("name");
        if let Some(i) = name.strip_prefix('f').and_then(|n| n.strip_suffix(".bin")) {
            let i: usize = i.parse().expect("index");
            assert_eq!(asset_bytes(a), vec![i as u8; 50_000 + i], "{name}");
        }
    }
}

#[test]
fn a_failed_asset_leaves_the_release_unpublished() {
    let ctx = Ctx::new();
    ctx.file("dist/a.txt", "a");
    ctx.file("dist/b.txt", "b");
    let repo = github().repo();
    github().control(
        "faults",
        &json!({"repo": repo, "faults": [{"route": "upload", "kind": "status", "status": 500, "times": 100}]}),
    );
    let run = release(&ctx, &repo, "refs/tags/v4", &[]);
    assert_eq!(run.code, 4, "{}", run.log());
    assert!(run.stdout.contains("left unpublished"), "{}", run.stdout);
    insta::assert_snapshot!(annotations(&run.stdout), @"::error title=stevedore::3 asset(s) failed (`a.txt`: 500 Server Error); 0 landed; the release was left unpublished (draft) so nobody sees it incomplete");
    let all = github().releases(&repo);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["draft"], true, "never published incomplete");
    assert!(run.summary.contains("❌"));
    assert!(run.summary.contains("left unpublished"), "{}", run.summary);
    assert!(run.summary.contains("`a.txt` | ❌"), "{}", run.summary);
    assert_eq!(run.outputs["release-id"], all[0]["id"].to_string());
}

#[test]
fn drafts_are_found_through_the_list_and_immutable_releases_are_refused() {
    let ctx = Ctx::new();
    ctx.file("dist/a.txt", "a");
    let repo = github().repo();
    github().control(
        "release",
        &json!({"repo": repo, "tag": "v5", "draft": true}),
    );
    let run = release(&ctx, &repo, "refs/tags/v5", &[]);
    assert_eq!(run.code, 0, "{}", run.log());
    let all = github().releases(&repo);
    assert_eq!(all.len(), 1, "the existing draft was used");
    assert_eq!(all[0]["draft"], false);
    assert!(
        !github()
            .calls(&repo)
            .iter()
            .any(|c| c.starts_with("create"))
    );

    let frozen = github().repo();
    github().control("release", &json!({"repo": frozen, "tag": "v6"}));
    github().control("immutable", &json!({"repo": frozen}));
    let refused = release(&ctx, &frozen, "refs/tags/v6", &[]);
    assert_eq!(refused.code, 2, "{}", refused.log());
    insta::assert_snapshot!(
        redact_known(&annotations(&refused.stdout), &[(&frozen, "octo/[REPO]")]),
        @"::error title=stevedore::release `v6` is published and immutable: GitHub refuses new assets; publish a new tag, or let stevedore create the release (it uploads to a draft and publishes last)"
    );
}

#[test]
fn two_jobs_racing_to_create_the_same_release_end_with_one() {
    let repo = github().repo();
    let runs: Vec<Run> = std::thread::scope(|scope| {
        let handles: Vec<_> = ["linux", "macos"]
            .into_iter()
            .map(|os| {
                let repo = repo.clone();
                scope.spawn(move || {
                    let ctx = Ctx::new();
                    ctx.file(&format!("dist/app-{os}"), os);
                    let sums = format!("SHA256SUMS-{os}");
                    release(&ctx, &repo, "refs/tags/v7", &[("checksums", sums.as_str())])
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("run"))
            .collect()
    });
    for run in &runs {
        assert_eq!(run.code, 0, "{}", run.log());
    }
    let all = github().releases(&repo);
    assert_eq!(all.len(), 1, "one release: {all:?}");
    let names: Vec<&str> = all[0]["assets"]
        .as_array()
        .expect("assets")
        .iter()
        .map(|a| a["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
    assert_eq!(all[0]["draft"], false);
}

#[test]
fn check_run_carries_the_summary_and_every_annotation_in_batches_of_50() {
    let ctx = Ctx::new();
    for i in 0..120 {
        // A GitHub token pattern in each file: one finding per file.
        ctx.file(
            &format!("dist/f{i:03}.txt"),
            format!("line one\ntoken=ghp_{}\n", format!("{i:03}").repeat(12)),
        );
    }
    let repo = github().repo();
    let mut env = github().env(&repo, "refs/heads/main");
    env.push((
        "GITHUB_SHA".into(),
        "0123456789abcdef0123456789abcdef01234567".into(),
    ));
    let run = ctx.action_env(
        &[
            ("path", "dist"),
            ("destination", "none"),
            ("secrets", "warn"),
            ("check-run", "true"),
            ("token", TOKEN),
        ],
        &env,
    );
    assert_eq!(run.code, 0, "{}", run.log());
    let state = github().state(&repo);
    let runs = state["checkRuns"].as_array().expect("check runs");
    assert_eq!(runs.len(), 1, "{state}");
    let check = &runs[0];
    assert_eq!(check["name"], "stevedore");
    assert_eq!(
        check["head_sha"],
        "0123456789abcdef0123456789abcdef01234567"
    );
    assert_eq!(check["conclusion"], "success");
    let annotations = check["annotations"].as_array().expect("annotations");
    assert_eq!(
        annotations.len(),
        120,
        "every finding, not just the first 10"
    );
    assert!(
        annotations
            .iter()
            .all(|a| a["start_line"] == 2 && a["annotation_level"] == "warning")
    );
    assert!(
        check["output"]["summary"]
            .as_str()
            .expect("summary")
            .contains("stevedore")
    );
    // 120 annotations: one create and two updates, none over the API's 50.
    let calls = calls_of(&state);
    assert_eq!(
        calls,
        [
            "create-check-run 201",
            "update-check-run 200",
            "update-check-run 200"
        ]
    );
    // The token pattern itself never reached the check run.
    assert!(
        !state.to_string().contains("ghp_000000"),
        "a secret reached the check run"
    );
}

#[test]
fn a_failed_overwrite_keeps_the_assets_it_would_have_replaced() {
    let ctx = Ctx::new();
    ctx.file("dist/a.txt", "new a");
    ctx.file("dist/b.txt", "new b");
    let repo = github().repo();
    github().control(
        "release",
        &json!({"repo": repo, "tag": "v8", "assets": [{"name": "a.txt", "content": "old a"}]}),
    );
    github().control(
        "faults",
        &json!({"repo": repo, "faults": [
            {"route": "upload", "kind": "status", "status": 500, "times": 4, "asset": "b.txt"}
        ]}),
    );
    let run = release(&ctx, &repo, "refs/tags/v8", &[("overwrite", "true")]);
    assert_eq!(run.code, 4, "{}", run.log());
    let assets = github().releases(&repo)[0]["assets"]
        .as_array()
        .expect("assets")
        .clone();
    let names: Vec<&str> = assets
        .iter()
        .map(|a| a["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        names,
        ["a.txt"],
        "the old asset stays and no staged copy is left"
    );
    assert_eq!(asset_bytes(&assets[0]), b"old a");
    assert!(
        github().state(&repo)["pendingFaults"]
            .as_array()
            .expect("faults")
            .is_empty(),
        "b.txt failed all 4 attempts"
    );

    // Without the fault the replacement lands under a temporary name and is swapped in.
    let again = release(&ctx, &repo, "refs/tags/v8", &[("overwrite", "true")]);
    assert_eq!(again.code, 0, "{}", again.log());
    let assets = github().releases(&repo)[0]["assets"]
        .as_array()
        .expect("assets")
        .clone();
    let a = assets.iter().find(|x| x["name"] == "a.txt").expect("a.txt");
    assert_eq!(asset_bytes(a), b"new a");
    assert!(
        assets
            .iter()
            .all(|x| !x["name"].as_str().expect("name").starts_with("stevedore-"))
    );
    let urls: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&again.outputs["assets"]).expect("assets");
    assert!(urls["a.txt"].as_str().expect("url").ends_with("/a.txt"));
}

#[test]
fn a_file_changed_after_the_scan_is_removed_and_the_release_stays_a_draft() {
    // The rewrite keeps the length, so only a check of the bytes themselves can see it.
    let ctx = Ctx::new();
    ctx.file("dist/a.txt", "scanned bytes");
    ctx.file("dist/b.txt", "unchanged");
    let repo = github().repo();
    let env = stevedore::github::RunnerEnv::from_vars(github().env(&repo, "refs/tags/v9.0.0"));
    let (reports, error) = crate::support::runner::upload_after_rewrite(
        &ctx,
        &[
            ("path", "dist"),
            ("destination", "release"),
            ("token", TOKEN),
        ],
        &env,
        ("dist/a.txt", "SCANNED BYTES"),
    );
    let error = error.expect("the rewritten file must fail the upload");
    assert_eq!(error.exit_code(), stevedore::ExitCode::UploadFailed);
    let text = error.to_string();
    assert!(
        text.contains("`a.txt` changed after it was scanned") && text.contains("was removed"),
        "{text}"
    );
    assert!(!text.contains("SCANNED"), "{text}");
    let all = github().releases(&repo);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["draft"], true, "never published with a wrong asset");
    let names: Vec<&str> = all[0]["assets"]
        .as_array()
        .expect("assets")
        .iter()
        .map(|a| a["name"].as_str().expect("name"))
        .collect();
    assert!(
        !names.contains(&"a.txt"),
        "the wrong bytes are gone: {names:?}"
    );
    let stevedore::upload::DestinationReport::Release(_, report) = &reports[0] else {
        panic!("a release report: {reports:?}");
    };
    assert!(!report.published);
    assert!(
        report.failed.iter().any(|(name, _)| name == "a.txt"),
        "{report:?}"
    );
}

#[test]
fn an_api_that_never_answers_is_abandoned_after_the_idle_deadline() {
    let ctx = Ctx::new();
    ctx.file("dist/a.txt", "a");
    let hole = crate::support::servers::BlackHole::start();
    let started = std::time::Instant::now();
    let run = ctx.action_env(
        &[
            ("path", "dist"),
            ("destination", "release"),
            ("token", TOKEN),
            ("tag", "v1"),
        ],
        &[
            ("GITHUB_API_URL".into(), hole.url.clone()),
            ("GITHUB_REPOSITORY".into(), "o/r".into()),
            ("STEVEDORE_HTTP_TIMEOUT".into(), "1".into()),
        ],
    );
    assert_eq!(run.code, 4, "{}", run.log());
    assert!(run.stdout.contains("::error"), "{}", run.log());
    assert!(started.elapsed() < std::time::Duration::from_mins(1));
}

#[test]
fn a_credential_in_a_file_name_reaches_no_summary_check_run_or_hashes_output() {
    // A token in a *name*: markdown escaping (`ghp\_`) used to hide it from the redactor.
    let secret = format!("ghp_{}", "Ab1".repeat(12));
    let ctx = Ctx::new();
    ctx.file(&format!("dist/{secret}.txt"), "token file\n");
    ctx.file("dist/plain.txt", "plain\n");
    let repo = github().repo();
    let mut env = github().env(&repo, "refs/heads/main");
    env.push((
        "GITHUB_SHA".into(),
        "89abcdef0123456789abcdef0123456789abcdef".into(),
    ));
    let run = ctx.action_env(
        &[
            ("path", "dist"),
            ("destination", "./out"),
            ("secrets", "warn"),
            ("check-run", "true"),
            ("token", TOKEN),
        ],
        &env,
    );
    assert_eq!(run.code, 0, "{}", run.log());
    let state = github().state(&repo).to_string();
    for (what, text) in [
        ("log", run.log()),
        ("summary", run.summary.clone()),
        ("check run", state),
        ("outputs", format!("{:?}", run.outputs)),
    ] {
        assert!(
            !text.contains(&secret),
            "the name reached the {what}: {text}"
        );
        assert!(
            !text.contains(&secret.replace('_', "\\_")),
            "the escaped name reached the {what}: {text}"
        );
    }
    assert!(run.summary.contains("\\*\\*\\*") || run.summary.contains("***"));
    // The checksums file itself ships the name (it is the file's name); its base64 does not
    // leave as an output.
    assert_eq!(run.outputs.get("hashes").map_or("", String::as_str), "");
    assert!(
        run.stdout.contains("the `hashes` output is left empty"),
        "{}",
        run.stdout
    );
}

#[test]
fn notes_target_and_repository_come_from_the_inputs() {
    let ctx = Ctx::new();
    ctx.file("dist/a.txt", "a");
    ctx.file("notes.md", "## Highlights\n\nFaster.\n");
    let current = github().repo();
    let other = github().repo();
    let run = release(
        &ctx,
        &current,
        "refs/tags/v20",
        &[
            ("repository", other.as_str()),
            ("body", "ignored: body-path wins"),
            ("body-path", "notes.md"),
            ("generate-release-notes", "true"),
            ("target-commitish", "release/2.x"),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.log());
    assert!(
        github().releases(&current).is_empty(),
        "nothing in GITHUB_REPOSITORY"
    );
    let rel = &github().releases(&other)[0];
    assert_eq!(rel["draft"], false);
    assert_eq!(rel["target_commitish"], "release/2.x");
    let body = rel["body"].as_str().expect("body");
    assert!(body.starts_with("## Highlights\n\nFaster.\n\n"), "{body}");
    assert!(
        body.contains("Release v20"),
        "generated notes follow: {body}"
    );
    assert!(
        github()
            .calls(&other)
            .contains(&"generate-notes 200".to_owned())
    );

    let missing = release(&ctx, &other, "refs/tags/v21", &[("body-path", "nope.md")]);
    assert_eq!(missing.code, 2, "{}", missing.log());
    insta::assert_snapshot!(redact(&annotations(&missing.stdout)), @"::error title=stevedore::input `body-path`: cannot read `[TMP]/ws/nope.md`: No such file or directory (os error 2)");
}

#[test]
fn a_path_line_matching_nothing_fails_with_fail_on_unmatched_files() {
    let ctx = Ctx::new();
    ctx.file("dist/a.txt", "a");
    let repo = github().repo();
    let inputs = [("path", "dist/*.txt\ndist/*.exe\n!dist/none")];
    let run = ctx.action_env(
        &[
            inputs[0],
            ("destination", "release"),
            ("token", TOKEN),
            ("fail-on-unmatched-files", "true"),
        ],
        &github().env(&repo, "refs/tags/v22"),
    );
    assert_eq!(run.code, 3, "{}", run.log());
    assert!(!run.stdout.contains("`dist/*.txt`"), "{}", run.stdout);
    insta::assert_snapshot!(annotations(&run.stdout), @"::error title=stevedore::`path` line(s) `dist/*.exe` matched no file and `fail-on-unmatched-files` is true: nothing was uploaded");
    assert!(github().releases(&repo).is_empty(), "nothing uploaded");
    let lenient = ctx.action_env(
        &[inputs[0], ("destination", "release"), ("token", TOKEN)],
        &github().env(&repo, "refs/tags/v22"),
    );
    assert_eq!(lenient.code, 0, "{}", lenient.log());
}

/// Issue 19, finding 11: a user's asset named like a staged replacement is not one (it
/// lacks stevedore's label): an overwrite keeps it, and the replacement swapped in carries
/// no label of stevedore's (GitHub shows a label in place of the name).
#[test]
fn an_overwrite_keeps_a_user_asset_named_like_a_staged_copy() {
    let ctx = Ctx::new();
    ctx.file("dist/a.txt", "new bytes");
    let repo = github().repo();
    github().control(
        "release",
        &json!({"repo": repo, "tag": "v23", "assets": [
            {"name": "a.txt", "content": "old"},
            {"name": "stevedore-0123abcd-a.txt", "content": "a user's file"},
        ]}),
    );
    let run = release(&ctx, &repo, "refs/tags/v23", &[("overwrite", "true")]);
    assert_eq!(run.code, 0, "{}", run.log());
    let rel = &github().releases(&repo)[0];
    let assets = rel["assets"].as_array().expect("assets");
    let mut names: Vec<&str> = assets
        .iter()
        .map(|a| a["name"].as_str().expect("name"))
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["SHA256SUMS", "a.txt", "stevedore-0123abcd-a.txt"],
        "{rel}"
    );
    let a = assets.iter().find(|a| a["name"] == "a.txt").expect("a.txt");
    assert_eq!(asset_bytes(a), b"new bytes");
    assert_eq!(a["label"], "", "{a}");
    let kept = assets
        .iter()
        .find(|a| a["name"] == "stevedore-0123abcd-a.txt")
        .expect("kept");
    assert_eq!(asset_bytes(kept), b"a user's file");
}

/// Issue 21, item 3: `asset-label` labels each file's asset verbatim (`{name}` is the name
/// as selected, which GitHub's renaming does not touch); the checksums asset has none. In a
/// release set the label replaces the staged marker when the job's assets are renamed into
/// place.
#[test]
fn asset_labels_are_kept_verbatim_in_a_single_job_and_in_a_set() {
    let ctx = Ctx::new();
    ctx.file("dist/My App (x64).zip", "app");
    ctx.file("dist/b.txt", "b");
    for (repo, extra) in [
        (github().repo(), None),
        (github().repo(), Some(("expect-assets", "My.App*\nb.txt"))),
    ] {
        let mut inputs = vec![("asset-label", "Download {name} — v1")];
        let mut env_sha = None;
        if let Some(line) = extra {
            inputs.push(line);
            env_sha = Some("5f0c6e1d9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e");
        }
        let mut all = vec![
            ("path", "dist"),
            ("destination", "release"),
            ("token", TOKEN),
        ];
        all.extend_from_slice(&inputs);
        let mut env = github().env(&repo, "refs/tags/v1.0.0");
        if let Some(sha) = env_sha {
            env.push(("GITHUB_SHA".into(), sha.into()));
        }
        let run = ctx.action_env(&all, &env);
        assert_eq!(run.code, 0, "{}", run.log());
        assert_eq!(run.outputs["release-published"], "true", "{}", run.stdout);
        let rel = &github().releases(&repo)[0];
        let labels: std::collections::BTreeMap<&str, &str> = rel["assets"]
            .as_array()
            .expect("assets")
            .iter()
            .map(|a| {
                (
                    a["name"].as_str().expect("name"),
                    a["label"].as_str().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(
            labels,
            std::collections::BTreeMap::from([
                ("My.App..x64..zip", "Download My App (x64).zip — v1"),
                ("SHA256SUMS", ""),
                ("b.txt", "Download b.txt — v1"),
            ]),
            "{extra:?}"
        );
    }
}

/// Issue 21, item 3: `previous-tag` is the start of the generated notes' range,
/// `discussion-category` opens a discussion on publication, and `checksums-in-body` ends
/// the notes with a table of every asset's SHA-256 (the checksums asset's lines).
#[test]
fn previous_tag_discussion_and_checksums_table_reach_the_release() {
    let ctx = Ctx::new();
    ctx.file("dist/app.tar.gz", "app".repeat(100));
    ctx.file("dist/tool.zip", "tool".repeat(100));
    let repo = github().repo();
    let run = release(
        &ctx,
        &repo,
        "refs/tags/v2.0.0",
        &[
            ("body", "Hand-written notes."),
            ("generate-release-notes", "true"),
            ("previous-tag", "v1.4.0"),
            ("discussion-category", "Announcements"),
            ("checksums-in-body", "true"),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.log());
    let rel = &github().releases(&repo)[0];
    assert_eq!(rel["draft"], false);
    let body = rel["body"].as_str().expect("body");
    assert!(body.starts_with("Hand-written notes.\n\n"), "{body}");
    assert!(body.contains("/compare/v1.4.0...v2.0.0"), "{body}");
    let sums = String::from_utf8(asset_bytes(asset(rel, "SHA256SUMS"))).expect("utf-8");
    let mut rows = 0;
    for line in sums.lines() {
        let (hex, name) = line.split_once("  ").expect("line");
        assert!(body.contains(&format!("| `{name}` | `{hex}` |")), "{body}");
        rows += 1;
    }
    assert_eq!(rows, 2);
    assert_eq!(
        body.lines().filter(|l| l.starts_with("| `")).count(),
        2,
        "{body}"
    );
    assert_eq!(rel["discussion_category_name"], "Announcements");
    assert!(
        rel["discussion_url"]
            .as_str()
            .is_some_and(|u| u.contains("/discussions/")),
        "{rel}"
    );
}

#[test]
fn release_options_that_cannot_apply_are_refused_before_anything_is_uploaded() {
    let ctx = Ctx::new();
    ctx.file("dist/a.txt", "a");
    let repo = github().repo();
    for (inputs, input, says) in [
        (
            vec![("previous-tag", "v1.0.0")],
            "previous-tag",
            "generate-release-notes: true",
        ),
        (
            vec![("asset-label", "{name} for {os}")],
            "asset-label",
            "`{name}`",
        ),
    ] {
        let run = release(&ctx, &repo, "refs/tags/v1.0.0", &inputs);
        assert_eq!(run.code, 2, "{}", run.log());
        let error = run
            .stdout
            .lines()
            .find(|l| l.starts_with("::error"))
            .unwrap_or_else(|| panic!("{}", run.stdout));
        assert!(error.contains(input) && error.contains(says), "{error}");
    }
    assert!(github().releases(&repo).is_empty());
}

/// Review 21: `checksums-in-body` rides on the publishing request, so notes that fit
/// GitHub's limit (125000 characters) on their own but not with the table make GitHub
/// refuse the publication itself: every asset landed, the release stays a draft, exit 4.
/// The table is an extra; it must not cost the release.
#[test]
fn a_checksums_table_that_does_not_fit_the_notes_does_not_stop_publication() {
    let ctx = Ctx::new();
    ctx.file("dist/app.tar.gz", "app".repeat(100));
    let repo = github().repo();
    let notes = "Long generated changelog line.\n".repeat(4_030);
    assert!(notes.len() < 125_000 && notes.len() > 124_000);
    let run = release(
        &ctx,
        &repo,
        "refs/tags/v2.0.0",
        &[("body", notes.as_str()), ("checksums-in-body", "true")],
    );
    assert_eq!(run.code, 0, "{}", run.log());
    let rel = &github().releases(&repo)[0];
    assert_eq!(rel["draft"], false, "{}", run.log());
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with("::warning") && l.contains("checksums-in-body")),
        "the table left out is said: {}",
        run.stdout
    );
}
