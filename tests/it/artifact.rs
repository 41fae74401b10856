//! The artifact destination against the results-service emulator and a real Azurite,
//! checked with the official `@actions/artifact` client: it downloads what stevedore
//! uploaded (verifying the digest) and its own uploads are the reference tree.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use serde_json::json;

use crate::support::emulator::{Job, emulator};
use crate::support::text::redact_known;
use crate::support::{Ctx, Run, owned, random_bytes, read_artifact_tree, read_tree};

/// A tree with text, a multi-block binary (three 8 MiB blocks), an empty file, an
/// executable, a non-ASCII name and a nested directory.
fn build_tree(ctx: &Ctx) {
    ctx.file("dist/readme.txt", "hello artifact\n".repeat(500));
    ctx.file(
        "dist/bin/tool.bin",
        random_bytes(20 * 1024 * 1024 + 123, 0x9E37_79B9_7F4A_7C15),
    );
    ctx.file("dist/empty.log", "");
    let exe = ctx.file("dist/bin/run.sh", "#!/bin/sh\necho hi\n");
    fs::set_permissions(exe, fs::Permissions::from_mode(0o755)).expect("chmod");
    ctx.file("dist/docs/héllo wörld.md", "# unicode\n");
}

fn upload(ctx: &Ctx, job: &Job, inputs: &[(&str, &str)], extra: &[(&str, &str)]) -> Run {
    let mut env = emulator().env(job);
    env.extend(owned(extra));
    let mut all = vec![("destination", "artifact"), ("path", "dist")];
    all.extend_from_slice(inputs);
    ctx.action_env(&all, &env)
}

fn download(job: &Job, id: &str, into: &Path) -> serde_json::Value {
    emulator().official(job, &["download", id, into.to_str().expect("utf-8 path")])
}

#[test]
#[allow(clippy::too_many_lines, reason = "two inline snapshots")]
fn the_official_client_downloads_and_verifies_what_stevedore_uploaded() {
    let ctx = Ctx::new();
    build_tree(&ctx);
    let job = emulator().job();
    let run = upload(&ctx, &job, &[("name", "build-output")], &[]);
    assert_eq!(run.code, 0, "{}", run.log());

    let id = &run.outputs["artifact-id"];
    let digest = &run.outputs["artifact-digest"];
    assert_eq!(
        run.outputs["artifact-url"],
        format!("https://github.com/octo/stevedore-tests/actions/runs/4242/artifacts/{id}")
    );
    assert_eq!(digest.len(), 64);

    // What the service recorded: a version-4 zip artifact whose digest is ours.
    let state = emulator().finalized(&job);
    assert_eq!(state.len(), 1);
    assert_eq!(state[0]["name"], "build-output");
    assert_eq!(state[0]["version"], 4);
    assert_eq!(state[0]["mime_type"], serde_json::Value::Null);
    assert_eq!(state[0]["digest"], format!("sha256:{digest}"));

    let into = ctx.temp.join("downloaded");
    let result = download(&job, id, &into);
    assert_eq!(result["digestMismatch"], json!(false), "{result}");
    assert_eq!(
        read_artifact_tree(&into),
        read_tree(&ctx.ws.join("dist")),
        "the download differs from the source"
    );

    // The summary has the artifact section with the link and the digest.
    insta::assert_snapshot!(
        redact_known(&run.summary, &[(digest, "[DIGEST]"), (id, "[ID]")]),
        @r#"
        ## ✅ stevedore

        | Files | Size | Duplicates | Findings | Scan time | Throughput |
        |---:|---:|---:|---:|---:|---:|
        | 5 | 20.0 MiB | 0 in 0 groups | 0 | [TIME] | [RATE] |

        Root `[TMP]/ws/dist` · total time [TIME] · checksums and manifest shipped with the files: [`build-output`](https://github.com/octo/stevedore-tests/actions/runs/4242/artifacts/[ID])

        ### Destinations

        | Destination | Result | Files | Size | Time |
        |---|---|---:|---:|---:|
        | `artifact` | ✅ `artifact build-output (ID [ID])` | 5 + `SHA256SUMS`, `stevedore-manifest.json` | [SIZE] | [TIME] |

        ### Artifacts

        | Artifact | Files | Size | SHA-256 | Upload time | Speed |
        |---|---:|---:|---|---:|---:|
        | [`build-output`](https://github.com/octo/stevedore-tests/actions/runs/4242/artifacts/[ID]) (ID [ID]) | 7 | 20.0 MiB | `[DIGEST]` | [TIME] | [RATE] |

        <details><summary><b>Largest files</b></summary>

        | File | Size | SHA-256 |
        |---|---:|---|
        | `bin/tool.bin` | 20.0 MiB | `0486a5967c57719cd98d87d583449fea16e1bc5ffb1d0c50ead731b730490819` |
        | `readme.txt` | 7.3 KiB | `778d16392a027828f7969d25e9d294fc08bb413d46f447f1ba64cb72adc0eb51` |
        | `bin/run.sh` | 18 B | `299001868fb8c02fd431c336c6d058f5558c5dff5b5af5e6fe04b870a6a9cbba` |
        | `docs/héllo wörld.md` | 10 B | `6413e9ee5f7d9c9aaf1e19a41ff7354d6692db3d67fc64441bd6d9a6860c0121` |
        | `empty.log` | 0 B | `e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855` |

        </details>
        "#
    );

    // The SAS signature is masked before use and never printed otherwise.
    let url = emulator().state(&job)["artifacts"][0]["signed_upload_url"]
        .as_str()
        .expect("url")
        .to_owned();
    let sig = reqwest::Url::parse(&url)
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "sig")
        .expect("sig")
        .1
        .into_owned();
    let mask_line = format!("::add-mask::{sig}");
    for line in run.log().lines() {
        assert!(
            line == mask_line || !line.contains(&sig),
            "signature printed: {line}"
        );
    }
    assert!(
        run.stdout.contains(&mask_line),
        "the signature was not masked"
    );
    // The console of an artifact upload: the signature masked (also as it appears
    // URL-encoded twice) before the upload.
    let query_sig = url
        .split("sig=")
        .nth(1)
        .and_then(|rest| rest.split('&').next())
        .expect("sig in the query");
    let twice = query_sig.replace('%', "%25");
    insta::assert_snapshot!(
        redact_known(
            &run.log(),
            &[
                (&sig, "[SIG]"),
                (&twice, "[SIG, URL-encoded twice]"),
                (digest, "[DIGEST]"),
                (id, "[ID]")
            ]
        ),
        @r#"
        ::group::Selecting files
        ::debug::search path `[TMP]/ws/dist`
        With the provided path, there will be 5 file(s) uploaded from `[TMP]/ws/dist`
        ::stop-commands::[TOKEN]
          bin/run.sh
          bin/tool.bin
          docs/héllo wörld.md
          empty.log
          readme.txt
        ::[TOKEN]::
        ::endgroup::
        ::group::Scanning 5 files
        hashed 5 files, 20.0 MiB in [TIME] ([RATE])
        ::endgroup::
        ::group::Checking policies
        ::endgroup::
        ::group::Uploading
        ::add-mask::[SIG]
        ::add-mask::[SIG, URL-encoded twice]
        Uploading artifact `build-output` (7 file(s)) to blob storage
        Uploaded 20.0 MiB in [TIME] ([RATE]); SHA256 digest of uploaded artifact is [DIGEST]
        Artifact `build-output` finalized: ID [ID], 20.0 MiB, https://github.com/octo/stevedore-tests/actions/runs/4242/artifacts/[ID]
        ::endgroup::
        stevedore: 5 files, 20.0 MiB, 0 duplicate(s), 0 finding(s), scanned in [TIME], total [TIME]
        manifest: [TMP]/runner-temp/stevedore-[RUN]/stevedore-manifest.json
        checksums: [TMP]/runner-temp/stevedore-[RUN]/SHA256SUMS
        artifact: done, 7 files -> artifact build-output (ID [ID])
        "#
    );
}

#[test]
fn the_official_upload_and_stevedores_unzip_to_the_same_tree() {
    let ctx = Ctx::new();
    build_tree(&ctx);
    let root = ctx.ws.join("dist");
    let mut files: Vec<String> = read_tree(&root)
        .keys()
        .map(|rel| root.join(rel).to_string_lossy().into_owned())
        .collect();
    files.sort();

    for level in ["6", "0"] {
        let job = emulator().job();
        let theirs = {
            let mut args = vec!["upload", "theirs", root.to_str().expect("utf-8"), level];
            args.extend(files.iter().map(String::as_str));
            emulator().official(&job, &args)
        };
        // Exactly the selection, as the official client ships it (no documents).
        let ours = upload(
            &ctx,
            &job,
            &[
                ("name", "ours"),
                ("compression-level", level),
                ("artifact-documents", "false"),
            ],
            &[],
        );
        assert_eq!(ours.code, 0, "{}", ours.log());

        let theirs_dir = ctx.temp.join(format!("theirs-{level}"));
        let ours_dir = ctx.temp.join(format!("ours-{level}"));
        download(&job, &theirs["id"].to_string(), &theirs_dir);
        download(&job, &ours.outputs["artifact-id"], &ours_dir);
        let (a, b) = (read_tree(&theirs_dir), read_tree(&ours_dir));
        assert_eq!(
            a.keys().collect::<Vec<_>>(),
            b.keys().collect::<Vec<_>>(),
            "level {level}"
        );
        assert!(a == b, "level {level}: file contents differ");
        if level == "0" {
            // Stored archives: same sizes give the same zip length, entry for entry.
            let sizes: Vec<u64> = emulator()
                .finalized(&job)
                .iter()
                .map(|a| a["size"].as_u64().expect("size"))
                .collect();
            assert_eq!(sizes[0], sizes[1], "stored zips of the same files");
        }
    }
}

#[test]
fn archive_false_uploads_each_file_as_its_own_artifact() {
    let ctx = Ctx::new();
    ctx.file("dist/report.html", "<h1>report</h1>");
    ctx.file("dist/sub/data.json", "{\"a\": 1}");
    ctx.file("dist/tool", vec![7u8; 9 * 1024 * 1024]);
    let job = emulator().job();
    let run = upload(&ctx, &job, &[("archive", "false")], &[]);
    assert_eq!(run.code, 0, "{}", run.log());

    let ids: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&run.outputs["artifact-id"]).expect("JSON map of ids");
    let digests: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&run.outputs["artifact-digest"]).expect("JSON map of digests");
    assert_eq!(
        ids.keys().collect::<Vec<_>>(),
        ["data.json", "report.html", "tool"]
    );
    let recorded = emulator().finalized(&job);
    for (name, source) in [
        ("report.html", "dist/report.html"),
        ("data.json", "dist/sub/data.json"),
        ("tool", "dist/tool"),
    ] {
        let meta = recorded
            .iter()
            .find(|a| a["name"] == name)
            .expect("recorded");
        assert_eq!(meta["version"], 7);
        let into = ctx.temp.join(format!("raw-{name}"));
        let result = download(&job, &ids[name].to_string(), &into);
        assert_eq!(result["digestMismatch"], json!(false));
        let tree = read_tree(&into);
        assert_eq!(tree.len(), 1, "{name}: one file, not unzipped");
        assert_eq!(
            tree.values().next().expect("file"),
            &fs::read(ctx.ws.join(source)).expect("source"),
            "{name}"
        );
        assert_eq!(
            digests[name],
            json!(meta["digest"].as_str().expect("digest")["sha256:".len()..])
        );
    }
    let by_name = |n: &str| recorded.iter().find(|a| a["name"] == n).expect("found");
    assert_eq!(by_name("report.html")["mime_type"], "text/html");
    assert_eq!(by_name("data.json")["mime_type"], "application/json");
    assert_eq!(by_name("tool")["mime_type"], "application/octet-stream");
}

#[test]
fn archive_false_refuses_two_files_with_one_name_before_uploading() {
    let ctx = Ctx::new();
    ctx.file("dist/linux/tool", "a");
    ctx.file("dist/mac/tool", "b");
    let job = emulator().job();
    let run = upload(&ctx, &job, &[("archive", "false")], &[]);
    assert_eq!(run.code, 2, "{}", run.log());
    assert!(run.stdout.contains("::error"), "{}", run.stdout);
    assert!(
        run.stdout.contains("linux/tool") && run.stdout.contains("mac/tool"),
        "{}",
        run.stdout
    );
    assert!(emulator().calls(&job).is_empty(), "no request was made");
}

#[test]
fn a_taken_name_says_which_and_overwrite_replaces_it() {
    let ctx = Ctx::new();
    ctx.file("dist/a.txt", "first");
    let job = emulator().job();
    let first = upload(&ctx, &job, &[("name", "dup")], &[]);
    assert_eq!(first.code, 0, "{}", first.log());

    ctx.file("dist/a.txt", "second");
    let again = upload(&ctx, &job, &[("name", "dup")], &[]);
    assert_eq!(again.code, 2, "{}", again.log());
    assert!(
        again
            .stdout
            .contains("an artifact named `dup` already exists in this workflow run"),
        "{}",
        again.stdout
    );
    assert!(again.stdout.contains("overwrite: true"));

    let replaced = upload(&ctx, &job, &[("name", "dup"), ("overwrite", "true")], &[]);
    assert_eq!(replaced.code, 0, "{}", replaced.log());
    assert_ne!(
        replaced.outputs["artifact-id"],
        first.outputs["artifact-id"]
    );
    let left = emulator().finalized(&job);
    assert_eq!(left.len(), 1, "the old artifact was deleted");
    let into = ctx.temp.join("dup");
    download(&job, &replaced.outputs["artifact-id"], &into);
    assert_eq!(fs::read(into.join("a.txt")).expect("a.txt"), b"second");
}

#[test]
fn transient_faults_are_retried_and_the_upload_is_byte_exact() {
    let ctx = Ctx::new();
    build_tree(&ctx);
    let job = emulator().job();
    emulator().faults(
        &job,
        &json!([
            {"target": "CreateArtifact", "kind": "status", "status": 503},
            {"target": "CreateArtifact", "kind": "drop"},
            {"target": "block", "kind": "status", "status": 503},
            {"target": "block", "kind": "drop"},
            {"target": "block", "kind": "stall"},
            {"target": "blocklist", "kind": "status", "status": 500},
            {"target": "FinalizeArtifact", "kind": "html", "status": 502},
            {"target": "FinalizeArtifact", "kind": "status", "status": 429},
        ]),
    );
    let run = upload(
        &ctx,
        &job,
        &[],
        &[("ACTIONS_ARTIFACT_UPLOAD_TIMEOUT_MS", "2000")],
    );
    assert_eq!(run.code, 0, "{}", run.log());
    assert!(
        emulator().state(&job)["pendingFaults"]
            .as_array()
            .expect("faults")
            .is_empty(),
        "every fault was hit"
    );
    let calls = emulator().calls(&job);
    let statuses = |m: &str| -> Vec<i64> {
        calls
            .iter()
            .filter(|(method, _)| method == m)
            .map(|c| c.1)
            .collect()
    };
    // A dropped connection is recorded with status 0.
    assert_eq!(statuses("CreateArtifact"), [503, 0, 200]);
    assert_eq!(statuses("FinalizeArtifact"), [502, 429, 200]);
    assert_eq!(statuses("blocklist"), [500, 201]);

    let into = ctx.temp.join("after-faults");
    let result = download(&job, &run.outputs["artifact-id"], &into);
    assert_eq!(result["digestMismatch"], json!(false));
    assert!(read_artifact_tree(&into) == read_tree(&ctx.ws.join("dist")));
}

/// Each permanent fault: exit 4, a message that says what failed, nothing finalized.
#[test]
fn permanent_faults_exit_4_with_nothing_finalized() {
    let cases = [
        (
            json!([{"target": "block", "kind": "status", "status": 503, "times": -1}]),
            "Put Block failed after 4 tries: 503",
        ),
        (
            json!([{"target": "FinalizeArtifact", "kind": "intermediary"}]),
            "(403) Forbidden: Error from intermediary",
        ),
        (
            json!([{"target": "CreateArtifact", "kind": "usage"}]),
            "artifact storage quota has been hit",
        ),
        (
            json!([{"target": "CreateArtifact", "kind": "notok"}]),
            "CreateArtifact: response from backend was not ok",
        ),
        (
            json!([{"target": "blocklist", "kind": "status", "status": 403}]),
            "Put Block List answered 403",
        ),
    ];
    std::thread::scope(|scope| {
        for (faults, message) in cases {
            scope.spawn(move || {
                let ctx = Ctx::new();
                ctx.file("dist/a.txt", "some bytes");
                ctx.file("dist/b.bin", vec![1u8; 100_000]);
                let job = emulator().job();
                emulator().faults(&job, &faults);
                let run = upload(&ctx, &job, &[("name", "doomed")], &[]);
                assert_eq!(run.code, 4, "{message}: {}", run.log());
                assert!(run.stdout.contains(message), "{message}: {}", run.stdout);
                assert!(run.stdout.contains("::error"), "{}", run.stdout);
                assert!(
                    emulator().finalized(&job).is_empty(),
                    "{message}: finalized"
                );
                let finalize_called = emulator()
                    .calls(&job)
                    .iter()
                    .any(|(method, _)| method == "FinalizeArtifact");
                assert_eq!(
                    finalize_called,
                    message.contains("intermediary"),
                    "{message}: Finalize is called only once every byte is committed"
                );
                assert!(!run.outputs.contains_key("artifact-id"));
                assert!(run.summary.contains("❌"), "{}", run.summary);
            });
        }
    });
}

#[test]
fn an_unreachable_service_fails_fast_and_missing_credentials_are_named() {
    let ctx = Ctx::new();
    ctx.file("dist/a.txt", "x");
    let job = emulator().job();
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let mut env = emulator().env(&job);
    env.retain(|(k, _)| k != "ACTIONS_RESULTS_URL");
    env.push((
        "ACTIONS_RESULTS_URL".into(),
        format!("http://127.0.0.1:{port}/"),
    ));
    let started = std::time::Instant::now();
    let run = ctx.action_env(&[("destination", "artifact"), ("path", "dist")], &env);
    assert_eq!(run.code, 4, "{}", run.log());
    assert!(run.stdout.contains("cannot connect to the results service"));
    assert!(started.elapsed().as_secs() < 10, "no retries on refusal");

    let bare = ctx.action(&[("destination", "artifact"), ("path", "dist")]);
    assert_eq!(bare.code, 2, "{}", bare.log());
    assert!(bare.stdout.contains("::error"));
    assert!(
        bare.stdout.contains("ACTIONS_RUNTIME_TOKEN"),
        "{}",
        bare.stdout
    );
}

#[test]
fn retention_is_clamped_to_the_repository_maximum() {
    let ctx = Ctx::new();
    ctx.file("dist/a.txt", "x");
    let job = emulator().job();
    let run = upload(
        &ctx,
        &job,
        &[("retention-days", "30")],
        &[("GITHUB_RETENTION_DAYS", "7")],
    );
    assert_eq!(run.code, 0, "{}", run.log());
    assert!(run.stdout.contains("::warning"), "{}", run.stdout);
    assert!(run.stdout.contains("kept for 7 days"));
    let expires = emulator().state(&job)["artifacts"][0]["expires_at"]
        .as_str()
        .expect("expires_at")
        .to_owned();
    // GNU date as the independent oracle for "today + 7 days" (UTC).
    let date = std::process::Command::new("date")
        .args(["-u", "-d", "+7 days", "+%Y-%m-%d"])
        .output()
        .expect("date");
    let date = String::from_utf8(date.stdout).expect("utf-8");
    assert!(expires.starts_with(date.trim()), "{expires} vs {date}");
}

#[test]
fn archive_false_names_cannot_form_workflow_commands() {
    // Artifact names forbid `\ / : " < > | * ?` and line breaks, not `##[`, `;` or `]`.
    let ctx = Ctx::new();
    ctx.file("dist/R##[set-output name=release-url;]INJECTED.txt", "a");
    ctx.file("dist/##[stop-commands]INJECTEDSTOP", "b");
    let job = emulator().job();
    let run = upload(&ctx, &job, &[("archive", "false")], &[]);
    assert_eq!(run.code, 0, "{}", run.log());
    assert!(run.stdout.contains("Uploading artifact"), "{}", run.stdout);
    crate::support::commands::assert_only_intended_commands(&run.stdout);
    assert!(!run.outputs.contains_key("release-url"));
    assert_eq!(emulator().finalized(&job).len(), 2);
}

#[test]
fn a_backslash_in_a_name_is_a_separator_in_the_zip_as_upload_artifact_writes_it() {
    let ctx = Ctx::new();
    ctx.file("dist/back\\slash.txt", "b");
    ctx.file("dist/plain.txt", "p");
    let root = ctx.ws.join("dist");
    let job = emulator().job();
    let theirs = emulator().official(
        &job,
        &[
            "upload",
            "theirs",
            root.to_str().expect("utf-8"),
            "6",
            root.join("back\\slash.txt").to_str().expect("utf-8"),
            root.join("plain.txt").to_str().expect("utf-8"),
        ],
    );
    let ours = upload(&ctx, &job, &[("name", "ours")], &[]);
    assert_eq!(ours.code, 0, "{}", ours.log());
    let (theirs_dir, ours_dir) = (ctx.temp.join("theirs"), ctx.temp.join("ours"));
    download(&job, &theirs["id"].to_string(), &theirs_dir);
    download(&job, &ours.outputs["artifact-id"], &ours_dir);
    let (a, b) = (read_tree(&theirs_dir), read_tree(&ours_dir));
    assert!(
        !b.contains_key("SHA256SUMS"),
        "no documents where a name changed on the way into the zip"
    );
    assert!(
        ours.log().contains("holds no checksums file"),
        "{}",
        ours.log()
    );
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    // The entry names themselves, as every unzipper sees them (the official extractor
    // would turn a `\\` into a directory anyway; Info-ZIP `unzip` would not).
    let entries = |name: &str| {
        let zip = ctx.temp.join(format!("{name}.zip"));
        fs::write(&zip, emulator().stored(&job, name)).expect("write zip");
        let out = std::process::Command::new("unzip")
            .arg("-Z1")
            .arg(&zip)
            .output()
            .expect("unzip");
        let mut names: Vec<String> = String::from_utf8(out.stdout)
            .expect("utf-8")
            .lines()
            .map(str::to_owned)
            .collect();
        // The official client's entry order depends on which file stream opens first.
        names.sort();
        names
    };
    assert_eq!(entries("ours"), entries("theirs"));
    assert_eq!(entries("ours"), ["back/slash.txt", "plain.txt"]);

    // A second file that becomes the same entry is refused before any request.
    ctx.file("dist/back/slash.txt", "other");
    let job = emulator().job();
    let run = upload(&ctx, &job, &[], &[]);
    assert_eq!(run.code, 2, "{}", run.log());
    assert!(
        run.stdout
            .contains("would both be the zip entry `back/slash.txt`"),
        "{}",
        run.stdout
    );
    assert!(
        emulator().state(&job)["artifacts"]
            .as_array()
            .is_none_or(Vec::is_empty)
    );
}

#[test]
fn the_artifact_carries_its_checksums_and_manifest_and_verifies_after_download() {
    let ctx = Ctx::new();
    build_tree(&ctx);
    let job = emulator().job();
    let run = upload(&ctx, &job, &[("name", "with-docs")], &[]);
    assert_eq!(run.code, 0, "{}", run.log());
    let dest = ctx.temp.join("back");
    let down = crate::support::run_download_into(&ctx, &job, "with-docs", &dest);
    assert_eq!(down.code, 0, "{}", down.log());
    assert_eq!(
        fs::read(dest.join("SHA256SUMS")).expect("checksums in the artifact"),
        fs::read(&run.outputs["checksums"]).expect("the run's checksums")
    );
    assert_eq!(
        fs::read(dest.join("stevedore-manifest.json")).expect("manifest in the artifact"),
        fs::read(&run.outputs["manifest"]).expect("the run's manifest")
    );
    let verify = ctx.cli(&["verify", dest.to_str().expect("utf-8")]);
    assert_eq!(verify.code, 0, "{}", verify.log());
    // Left out on request, and refused where a selected file takes a document's name.
    let run = upload(
        &ctx,
        &job,
        &[("name", "bare"), ("artifact-documents", "false")],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.log());
    let bare = ctx.temp.join("bare");
    download(&job, &run.outputs["artifact-id"], &bare);
    assert!(!bare.join("SHA256SUMS").exists());
    ctx.file("dist/SHA256SUMS", "mine");
    let run = upload(&ctx, &job, &[("name", "clash")], &[]);
    assert_eq!(run.code, 2, "{}", run.log());
    assert!(
        run.log().contains("the name of the checksums file"),
        "{}",
        run.log()
    );
}

/// Issue 25: the zip is compressed from the scan's reads and held on this machine until
/// the policies pass. A leaked credential stops the run with nothing sent: no artifact is
/// created, and the spool (here every compressed byte: `STEVEDORE_SPOOL_MEMORY=0`) leaves
/// nothing under `RUNNER_TEMP` but the documents.
#[test]
fn a_failed_gate_sends_nothing_and_leaves_no_spool() {
    let ctx = Ctx::new();
    ctx.file("dist/readme.txt", "hello artifact\n".repeat(5000));
    ctx.file("dist/blob.bin", random_bytes(3 << 20, 7));
    let leaked = format!(
        "token = {}{}\n",
        "ghp_", "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG5"
    );
    ctx.file("dist/config.env", leaked);
    let job = emulator().job();
    let run = upload(
        &ctx,
        &job,
        &[("name", "gated")],
        &[("STEVEDORE_SPOOL_MEMORY", "0")],
    );
    assert_eq!(run.code, 3, "{}", run.log());
    assert!(
        emulator().calls(&job).is_empty(),
        "{:?}",
        emulator().calls(&job)
    );
    assert!(emulator().finalized(&job).is_empty());
    // What RUNNER_TEMP holds: the run's documents and reports, nothing else.
    for path in walk(&ctx.temp) {
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        assert!(
            path.is_dir() && name.starts_with("stevedore-")
                || REPORT_FILES.contains(&name.as_str()),
            "RUNNER_TEMP holds more than the documents: {}",
            path.display()
        );
    }
}

/// `STEVEDORE_SPOOL_MEMORY` bounds the memory a run holds the zip in. A value that is
/// not a size was silently replaced by the default; it is refused before anything is
/// selected (exit 2, the variable named, no request), and a size with a unit is taken.
#[test]
fn an_unusable_spool_memory_is_refused_and_a_size_with_a_unit_is_taken() {
    let ctx = Ctx::new();
    ctx.file("dist/readme.txt", "hello artifact\n".repeat(5000));
    let job = emulator().job();
    for bad in ["lots", "-1", "64M", "1.5"] {
        let run = upload(
            &ctx,
            &job,
            &[("name", "bounded")],
            &[("STEVEDORE_SPOOL_MEMORY", bad)],
        );
        assert_eq!(run.code, 2, "{bad}: {}", run.log());
        assert!(
            run.stdout.contains("::error")
                && run.stdout.contains("STEVEDORE_SPOOL_MEMORY")
                && run.stdout.contains(&format!("`{bad}`")),
            "{bad}: {}",
            run.log()
        );
        assert!(
            emulator().calls(&job).is_empty(),
            "{bad}: a request was sent"
        );
    }
    let run = upload(
        &ctx,
        &job,
        &[("name", "bounded")],
        &[("STEVEDORE_SPOOL_MEMORY", "16KiB")],
    );
    assert_eq!(run.code, 0, "{}", run.log());
    // Held partly in memory, partly spooled: the official client reads it back whole.
    let into = ctx.temp.join("downloaded");
    let result = download(&job, &run.outputs["artifact-id"], &into);
    assert_eq!(result["digestMismatch"], json!(false), "{result}");
    assert_eq!(
        read_artifact_tree(&into),
        read_tree(&ctx.ws.join("dist")),
        "the artifact holds the tree"
    );
}

/// What a run writes under `RUNNER_TEMP`, in its own directory.
const REPORT_FILES: [&str; 3] = [
    "SHA256SUMS",
    "stevedore-manifest.json",
    "subject-checksums.txt",
];

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).expect("ls") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}

/// A file rewritten after the scan read it (same length, new bytes) is refused before
/// the first request, as it was when the upload read the files again: exit 4, no
/// artifact created.
#[test]
fn a_file_rewritten_after_its_read_is_refused_before_anything_is_created() {
    let ctx = Ctx::new();
    ctx.file("dist/a.txt", "scanned bytes\n".repeat(100));
    ctx.file("dist/b.bin", random_bytes(2 << 20, 3));
    let job = emulator().job();
    let env = stevedore::github::RunnerEnv::from_vars(
        emulator()
            .env(&job)
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );
    let (reports, error) = crate::support::runner::upload_after_rewrite(
        &ctx,
        &[
            ("path", "dist"),
            ("destination", "artifact"),
            ("name", "rewritten"),
        ],
        &env,
        ("dist/a.txt", &"SCANNED BYTES\n".repeat(100)),
    );
    let error = error.expect("the rewrite is refused");
    assert_eq!(error.exit_code() as i32, 4, "{error}");
    let message = error.to_string();
    assert!(
        message.contains("a.txt") && message.contains("changed after it was scanned"),
        "{message}"
    );
    assert!(reports.is_empty(), "{reports:?}");
    assert!(
        emulator().calls(&job).is_empty(),
        "{:?}",
        emulator().calls(&job)
    );
}

/// The spool on a full disk: `RUNNER_TEMP` is a 1 MiB tmpfs (mounted in a private mount
/// namespace) and the compressed archive does not fit. The run says where and why, exits
/// 4 with nothing created, and the file system is empty again afterwards.
#[test]
fn a_spool_on_a_full_disk_fails_cleanly_before_anything_is_sent() {
    let ctx = Ctx::new();
    ctx.file("dist/readme.txt", "hello artifact\n".repeat(5000));
    // Random hex digits: deflated to about half, 2 MiB in the spool. (An incompressible
    // file is stored and read again from the tree, never spooled.)
    ctx.file("dist/blob.txt", hex::encode(random_bytes(2 << 20, 11)));
    let job = emulator().job();
    let small = ctx.home.join("small-temp");
    fs::create_dir_all(&small).expect("mkdir");
    let left = ctx.home.join("left.txt");
    let mut env = emulator().env(&job);
    env.push(("RUNNER_TEMP".into(), small.display().to_string()));
    env.push(("STEVEDORE_SPOOL_MEMORY".into(), "0".into()));
    let mut cmd = ctx.step_command(
        "unshare",
        &[
            ("destination", "artifact"),
            ("path", "dist"),
            ("name", "full"),
        ],
        &env,
    );
    // The tmpfs lives as long as the namespace: list it before leaving.
    cmd.args(["--mount", "sh", "-c"]).arg(
        r#"mount -t tmpfs -o size=1m tmpfs "$RUNNER_TEMP" || exit 99
"$0"; code=$?
find "$RUNNER_TEMP" -type f > "$1"
exit $code"#,
    );
    cmd.arg(crate::support::runner::STEVEDORE).arg(&left);
    let run = ctx.finish(cmd);
    assert_eq!(run.code, 4, "{}", run.log());
    assert!(
        run.stdout.contains("::error")
            && run.stdout.contains("cannot hold the compressed archive in")
            && run.stdout.contains("No space left on device"),
        "{}",
        run.stdout
    );
    assert!(
        emulator().calls(&job).is_empty(),
        "{:?}",
        emulator().calls(&job)
    );
    let files = fs::read_to_string(&left).expect("listing");
    assert!(
        files
            .lines()
            .all(|f| REPORT_FILES.iter().any(|r| f.ends_with(&format!("/{r}")))),
        "left on the full file system: {files}"
    );
}
