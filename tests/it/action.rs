//! The binary run as the action runs it: inputs from `INPUT_*`, outputs read back with
//! the runner's parser, the summary snapshotted, the checksums checked by `sha256sum -c`.

use std::fs;
use std::path::Path;
use std::process::Command;

use base64::Engine as _;

use crate::support::text::{annotations, redact};
use crate::support::{Ctx, sha256sum_check};

fn sample(ctx: &Ctx) {
    ctx.file("dist/app.tar.gz", vec![7u8; 3000]);
    ctx.file("dist/app.sha-copy.tar.gz", vec![7u8; 3000]);
    ctx.file("dist/readme.txt", "read me\n");
    ctx.file("dist/bin/tool", b"#!/bin/sh\necho hi\n");
    ctx.file("dist/empty.txt", "");
    ctx.file("dist/weird name, with: comma.txt", "w");
    ctx.file("dist/.env", "SECRET=1\n");
    ctx.file("dist/notes.d", "dropped\n");
}

#[test]
fn a_run_gives_its_outputs_a_console_log_a_summary_and_checksums_sha256sum_accepts() {
    let ctx = Ctx::new();
    sample(&ctx);
    let run = ctx.action(&[("path", "dist\n!dist/*.d"), ("destination", "none")]);
    assert_eq!(run.code, 0, "{}", run.log());

    let o = &run.outputs;
    assert_eq!(
        o["files"], "6",
        "hidden .env and the excluded .d are not selected"
    );
    assert_eq!(o["bytes"], (3000 + 3000 + 8 + 18 + 1).to_string());
    assert_eq!(o["duplicates"], "1");
    assert_eq!(o["findings"], "0");

    // The checksums file verifies with the real sha256sum from the root directory.
    let checksums_path = &o["checksums"];
    assert!(checksums_path.ends_with("/SHA256SUMS"));
    let report = sha256sum_check(&ctx.ws.join("dist"), Path::new(checksums_path));
    assert_eq!(report.matches(": OK").count(), 6);

    // `hashes` is base64 of exactly that file.
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&o["hashes"])
        .expect("base64");
    assert_eq!(decoded, fs::read(checksums_path).expect("checksums"));

    // The manifest validates against the published schema and agrees with the outputs.
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(&o["manifest"]).expect("manifest")).expect("json");
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../docs/manifest.schema.json")).expect("schema json");
    let validator = jsonschema::validator_for(&schema).expect("valid schema");
    let errors: Vec<String> = validator
        .iter_errors(&manifest)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(manifest["totals"]["files"], 6);
    assert_eq!(manifest["files"][1]["path"], "app.tar.gz");
    assert_eq!(
        manifest["duplicates"][0]["paths"],
        serde_json::json!(["app.sha-copy.tar.gz", "app.tar.gz"])
    );

    // The console: groups, the selection fenced off from command processing, the report.
    insta::assert_snapshot!(redact(&run.log()), @r#"
    ::group::Selecting files
    ::debug::search path `[TMP]/ws/dist`
    With the provided path, there will be 6 file(s) uploaded from `[TMP]/ws/dist`
    ::stop-commands::[TOKEN]
      app.sha-copy.tar.gz
      app.tar.gz
      bin/tool
      empty.txt
      readme.txt
      weird name, with: comma.txt
    ::[TOKEN]::
    ::endgroup::
    ::group::Scanning 6 files
    hashed 6 files, 5.9 KiB in [TIME] ([RATE])
    ::endgroup::
    ::group::Checking policies
    ::endgroup::
    stevedore: 6 files, 5.9 KiB, 1 duplicate(s), 0 finding(s), scanned in [TIME], total [TIME]
    nothing was shipped: the destination is `none` (a dry run)
    manifest: [TMP]/runner-temp/stevedore-[RUN]/stevedore-manifest.json
    checksums: [TMP]/runner-temp/stevedore-[RUN]/SHA256SUMS
    ::warning title=Duplicate files,file=dist/app.sha-copy.tar.gz::2 files have identical content (2.9 KiB each): app.sha-copy.tar.gz, app.tar.gz
    "#);
    insta::assert_snapshot!(redact(&run.summary), @r#"
    ## ✅ stevedore

    | Files | Size | Duplicates | Findings | Scan time | Throughput |
    |---:|---:|---:|---:|---:|---:|
    | 6 | 5.9 KiB | 1 in 1 group | 0 | [TIME] | [RATE] |

    Root `[TMP]/ws/dist` · total time [TIME] · checksums and manifest: step outputs `checksums` and `manifest` (the runner's temporary directory, emptied after the job)

    No destination: files were scanned, nothing was uploaded.

    ### Policy

    - ⚠️ **Duplicate files**: 2 files have identical content \(2\.9 KiB each\): app\.sha\-copy\.tar\.gz, app\.tar\.gz

    <details><summary><b>Duplicate groups</b>: 1 group, 1 redundant file, 2.9 KiB reclaimable</summary>

    | Size | SHA-256 | Files |
    |---:|---|---|
    | 2.9 KiB | `48c187767ddd…` | `app.sha-copy.tar.gz`<br>`app.tar.gz` |

    </details>

    <details><summary><b>Largest files</b></summary>

    | File | Size | SHA-256 |
    |---|---:|---|
    | `app.sha-copy.tar.gz` | 2.9 KiB | `48c187767dddb44e5b7af78dabdec2b14f0f983e86e1fe695c65bc6a2a3cb42f` |
    | `app.tar.gz` | 2.9 KiB | `48c187767dddb44e5b7af78dabdec2b14f0f983e86e1fe695c65bc6a2a3cb42f` |
    | `bin/tool` | 18 B | `299001868fb8c02fd431c336c6d058f5558c5dff5b5af5e6fe04b870a6a9cbba` |
    | `readme.txt` | 8 B | `65ce01fcc3e22e78b63419ef0f4493b0950daac7cee97329b428f5cafd395cda` |
    | `weird name, with: comma.txt` | 1 B | `50e721e49c013f00c62cf59f2163542a9d8df02464efeb615d31051b0fddc326` |
    | `empty.txt` | 0 B | `e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855` |

    </details>
    "#);
}

#[test]
fn the_summary_of_a_run_that_shipped_credentials_under_warn_is_not_a_green_tick() {
    let ctx = Ctx::new();
    // A token-shaped value built at run time (no literal credential in the source).
    let token = format!("{}{}", "ghp_", crate::support::alnum(99, 36));
    ctx.file("dist/config.env", format!("TOKEN={token}\n"));
    ctx.file("dist/app.bin", vec![1u8; 1000]);
    let run = ctx.action(&[
        ("path", "dist"),
        ("destination", "./published"),
        ("secrets", "warn"),
    ]);
    assert_eq!(run.code, 0, "{}", run.log());
    assert!(!run.summary.contains(&token), "never the value");
    insta::assert_snapshot!(redact(&run.summary), @r#"
    ## ⚠️ stevedore: 1 credential finding shipped

    | Files | Size | Duplicates | Findings | Scan time | Throughput |
    |---:|---:|---:|---:|---:|---:|
    | 2 | 1.0 KiB | 0 in 0 groups | 1 | [TIME] | [RATE] |

    Root `[TMP]/ws/dist` · total time [TIME] · checksums and manifest shipped with the files: `[TMP]/ws/published`

    ### Destinations

    | Destination | Result | Files | Size | Time |
    |---|---|---:|---:|---:|
    | `./published` | ✅ `[TMP]/ws/published` | 2 + `SHA256SUMS`, `stevedore-manifest.json` | [SIZE] | [TIME] |

    ### Credential findings (1)

    Values are never shown; the fingerprint is the start of the SHA-256 of the value.

    | Rule | File | Line | Fingerprint | Status |
    |---|---|---:|---|---|
    | `github-pat` | `config.env` | 1 | `8adb46562160` | open |

    <details><summary><b>Largest files</b></summary>

    | File | Size | SHA-256 |
    |---|---:|---|
    | `app.bin` | 1000 B | `353c38352a855c80f4ecb0793a76493228541b5fab5ef7af26effac91e77ec46` |
    | `config.env` | 47 B | `075d0c9b85aedd4ddcb24d4356fc67e9453d1e5d86bbc46dd9773b826549eece` |

    </details>
    "#);
    // The finding is a warning annotation naming the file and the rule, never the value.
    insta::assert_snapshot!(annotations(&run.stdout), @"::warning title=Credential found,file=dist/config.env,line=1::GitHub personal access token in `config.env`:1 [rule github-pat, fingerprint 8adb46562160]; remove it from the build output, exclude the file in `path`, or accept it with `secrets-allow`");
}

#[test]
fn several_bad_inputs_are_one_caution_block_listing_each() {
    let ctx = Ctx::new();
    sample(&ctx);
    let run = ctx.action(&[
        ("path", "dist"),
        ("destination", "none"),
        ("if-no-files-found", "maybe"),
        ("compression-level", "11"),
    ]);
    assert_eq!(run.code, 2, "{}", run.log());
    let block: Vec<&str> = run
        .summary
        .lines()
        .skip_while(|l| *l != "> [!CAUTION]")
        .take_while(|l| l.starts_with('>'))
        .collect();
    let listed = block.iter().filter(|l| l.starts_with("> - ")).count();
    assert_eq!(listed, 2, "one list item per error: {}", run.summary);
    assert!(
        block.iter().any(|l| l.contains("if\\-no\\-files\\-found")),
        "{}",
        run.summary
    );
}

#[test]
fn summary_switch_and_cli_mode() {
    let ctx = Ctx::new();
    sample(&ctx);
    let run = ctx.action(&[
        ("path", "dist"),
        ("destination", "none"),
        ("summary", "false"),
    ]);
    assert_eq!(run.code, 0, "{}", run.log());
    assert!(run.summary.is_empty(), "summary: false writes no summary");

    // As a CLI the same run logs to stderr and writes no workflow commands.
    let run = ctx.cli(&["--path", "dist", "--destination", "none"]);
    assert_eq!(run.code, 0, "{}", run.log());
    assert!(run.stderr.contains("7 files"), "{}", run.stderr);
    assert!(
        !run.log().lines().any(|l| l.starts_with("::")),
        "{}",
        run.log()
    );
}

#[test]
fn no_files_found() {
    let ctx = Ctx::new();
    let run = ctx.action(&[("path", "missing/*"), ("destination", "none")]);
    assert_eq!(run.code, 0);
    insta::assert_snapshot!(annotations(&run.stdout), @"::warning title=No files found::No files were found with the provided path: missing/*. Nothing will be uploaded; check `path` (hidden files need `include-hidden-files: true`).");
    assert_eq!(run.outputs["files"], "0");

    let run = ctx.action(&[
        ("path", "missing/*"),
        ("destination", "./out"),
        ("if-no-files-found", "error"),
    ]);
    assert_eq!(run.code, 3);
    insta::assert_snapshot!(annotations(&run.stdout), @"::error title=No files found::No files were found with the provided path: missing/*. Nothing will be uploaded; check `path` (hidden files need `include-hidden-files: true`).");
    assert!(!ctx.ws.join("out").exists());

    let run = ctx.action(&[
        ("path", "missing/*"),
        ("destination", "none"),
        ("if-no-files-found", "ignore"),
    ]);
    assert_eq!(run.code, 0);
    assert!(!run.stdout.contains("::warning"), "{}", run.stdout);
    insta::assert_snapshot!(annotations(&run.stdout), @"");
}

#[test]
fn policies_stop_before_upload() {
    let ctx = Ctx::new();
    sample(&ctx);
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("max-file-size", "2KB")],
            "::error title=File too large,file=dist/app.sha-copy.tar.gz::",
        ),
        (
            &[("max-total-size", "5KiB")],
            "::error title=Selection too large::",
        ),
        (
            &[("duplicates", "error")],
            "::error title=Duplicate files,file=dist/app.sha-copy.tar.gz::",
        ),
    ];
    // What each policy says, in order.
    let mut said = Vec::new();
    for (extra, expected) in cases {
        let mut inputs = vec![("path", "dist"), ("destination", "./out")];
        inputs.extend_from_slice(extra);
        let run = ctx.action(&inputs);
        assert_eq!(run.code, 3, "{extra:?}: {}", run.log());
        assert!(
            run.stdout.contains(expected),
            "{extra:?}: expected {expected} in\n{}",
            run.stdout
        );
        said.push(annotations(&run.stdout));
        assert!(
            !ctx.ws.join("out").exists(),
            "{extra:?}: nothing may be written"
        );
        assert_eq!(
            run.outputs["files"], "7",
            "outputs are still written on failure"
        );
    }
    insta::assert_snapshot!(said.join("\n"), @r#"
    ::error title=File too large,file=dist/app.sha-copy.tar.gz::`app.sha-copy.tar.gz` is 2.9 KiB (3000 bytes), over `max-file-size` 2.0 KiB (2000 bytes); exclude it in `path` or raise the limit
    ::error title=File too large,file=dist/app.tar.gz::`app.tar.gz` is 2.9 KiB (3000 bytes), over `max-file-size` 2.0 KiB (2000 bytes); exclude it in `path` or raise the limit
    ::warning title=Duplicate files,file=dist/app.sha-copy.tar.gz::2 files have identical content (2.9 KiB each): app.sha-copy.tar.gz, app.tar.gz
    ::error title=Selection too large::the selection is 5.9 KiB (6035 bytes), over `max-total-size` 5.0 KiB (5120 bytes); narrow `path` or raise the limit
    ::warning title=Duplicate files,file=dist/app.sha-copy.tar.gz::2 files have identical content (2.9 KiB each): app.sha-copy.tar.gz, app.tar.gz
    ::error title=Duplicate files,file=dist/app.sha-copy.tar.gz::2 files have identical content (2.9 KiB each): app.sha-copy.tar.gz, app.tar.gz
    "#);
    // Within limits the same run passes.
    let run = ctx.action(&[
        ("path", "dist"),
        ("destination", "./out"),
        ("max-file-size", "3000B"),
        ("max-total-size", "10KB"),
    ]);
    assert_eq!(run.code, 0, "{}", run.log());
}

#[test]
fn file_names_cannot_inject_workflow_commands() {
    let ctx = Ctx::new();
    ctx.file("dist/x\n::error::injected\n.txt", "a");
    ctx.file("dist/::warning::also.txt", "b");
    ctx.file("dist/%0A::notice::encoded.txt", "c");
    ctx.file("dist/dup1", "same content");
    ctx.file("dist/dup2", "same content");
    let run = ctx.action(&[("path", "dist"), ("destination", "none")]);
    assert_eq!(run.code, 0, "{}", run.log());
    let mut stopped: Option<String> = None;
    for line in run.stdout.lines() {
        if let Some(token) = &stopped {
            if line == format!("::{token}::") {
                stopped = None;
            }
            continue;
        }
        if let Some(token) = line.strip_prefix("::stop-commands::") {
            stopped = Some(token.to_owned());
            continue;
        }
        assert!(
            !line.contains("::error::injected")
                && !line.starts_with("::notice::encoded")
                && !line.starts_with("::warning::also"),
            "injected command: {line:?}"
        );
        if let Some(command) = line.strip_prefix("::") {
            let name = command.split([' ', ':']).next().unwrap_or_default();
            assert!(
                ["group", "endgroup", "warning", "error", "debug", "add-mask"].contains(&name),
                "unexpected command {line:?}"
            );
        }
    }
    assert!(stopped.is_none(), "stop-commands must be resumed");
    // The duplicate warning names the files, escaped into one line.
    assert!(
        run.stdout.contains(
            "::warning title=Duplicate files,file=dist/dup1::2 files have identical content"
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn checksums_escape_odd_names_for_sha256sum() {
    let ctx = Ctx::new();
    ctx.file("d/back\\slash.txt", "1");
    ctx.file("d/new\nline.txt", "2");
    ctx.file("d/plain.txt", "3");
    let run = ctx.cli(&["--path", "d", "--checksums", "SUMS.txt"]);
    assert_eq!(run.code, 0, "{}", run.log());
    let sums = fs::read_to_string(
        ctx.temp
            .read_dir()
            .expect("temp")
            .next()
            .expect("work dir")
            .expect("entry")
            .path()
            .join("SUMS.txt"),
    )
    .expect("sums");
    assert!(sums.contains('\\') && sums.lines().count() == 3, "{sums}");
    let sums_path = ctx.temp.join("SUMS.txt");
    fs::write(&sums_path, &sums).expect("write");
    sha256sum_check(&ctx.ws.join("d"), &sums_path);
}

#[test]
fn large_runs_stay_within_github_limits() {
    // 2,500 pairs of identical files: 2,500 duplicate groups, 5,000 files, and a checksums
    // file whose base64 is over the `hashes` budget.
    let ctx = Ctx::new();
    for i in 0..2500 {
        let body = format!("content {i}\n");
        ctx.file(&format!("many/{i:04}-duplicate-a.txt"), &body);
        ctx.file(&format!("many/{i:04}-duplicate-b.txt"), &body);
    }
    ctx.file("many/Case.txt", "x");
    ctx.file("many/case.txt", "y");
    let run = ctx.action(&[("path", "many"), ("destination", "none")]);
    assert_eq!(run.code, 0, "{}", run.log());
    assert_eq!(run.outputs["files"], "5002");
    assert_eq!(run.outputs["duplicates"], "2500");

    // The summary lists 100 groups and says how many more there are, well under 1 MiB.
    assert!(
        run.summary.len() < 1024 * 1024,
        "summary is {} bytes",
        run.summary.len()
    );
    assert!(
        run.summary.contains("…and 2,400 more groups."),
        "{}",
        &run.summary[..2000.min(run.summary.len())]
    );
    assert!(run.summary.contains("…and 2,400 more policy results."));

    // At most 10 warning annotations, the last one counting the rest.
    let warnings: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("::warning"))
        .collect();
    assert_eq!(warnings.len(), 10, "{warnings:#?}");
    insta::assert_snapshot!(annotations(&run.stdout), @r#"
    ::warning title=Duplicate files,file=many/0000-duplicate-a.txt::2 files have identical content (10 B each): 0000-duplicate-a.txt, 0000-duplicate-b.txt
    ::warning title=Duplicate files,file=many/0001-duplicate-a.txt::2 files have identical content (10 B each): 0001-duplicate-a.txt, 0001-duplicate-b.txt
    ::warning title=Duplicate files,file=many/0002-duplicate-a.txt::2 files have identical content (10 B each): 0002-duplicate-a.txt, 0002-duplicate-b.txt
    ::warning title=Duplicate files,file=many/0003-duplicate-a.txt::2 files have identical content (10 B each): 0003-duplicate-a.txt, 0003-duplicate-b.txt
    ::warning title=Duplicate files,file=many/0004-duplicate-a.txt::2 files have identical content (10 B each): 0004-duplicate-a.txt, 0004-duplicate-b.txt
    ::warning title=Duplicate files,file=many/0005-duplicate-a.txt::2 files have identical content (10 B each): 0005-duplicate-a.txt, 0005-duplicate-b.txt
    ::warning title=Duplicate files,file=many/0006-duplicate-a.txt::2 files have identical content (10 B each): 0006-duplicate-a.txt, 0006-duplicate-b.txt
    ::warning title=Duplicate files,file=many/0007-duplicate-a.txt::2 files have identical content (10 B each): 0007-duplicate-a.txt, 0007-duplicate-b.txt
    ::warning title=Duplicate files,file=many/0008-duplicate-a.txt::2 files have identical content (10 B each): 0008-duplicate-a.txt, 0008-duplicate-b.txt
    ::warning title=stevedore::…and 2492 more warnings; the job summary and the manifest list them all
    "#);

    // `hashes` is left out (base64 of ~400 KB of checksums is over budget), with a warning
    // in the log; `checksums` still points at the full file.
    assert!(!run.outputs.contains_key("hashes"));
    assert!(
        run.stdout.contains("the `hashes` output is left empty"),
        "{}",
        run.stdout
    );
    let sums = fs::read_to_string(&run.outputs["checksums"]).expect("checksums");
    assert_eq!(sums.lines().count(), 5002);

    // Stages are grouped in the log, and the case collision is noted.
    for group in [
        "::group::Selecting files",
        "::group::Scanning 5,002 files",
        "::group::Checking policies",
    ] {
        assert!(run.stdout.contains(group), "missing {group}");
    }
    assert_eq!(
        run.stdout.matches("::group::").count(),
        run.stdout.matches("::endgroup::").count()
    );
    assert!(
        run.stdout
            .contains("`case.txt` differs from `Case.txt` only in case"),
        "{}",
        run.stdout
    );
}

#[test]
fn readme_main_command_passes_on_this_repository() {
    // README set-up command 1 scans this repository's sources with the default policies;
    // a credential-shaped fixture added to src/ must fail here, not on a new user's machine.
    let out = tempfile::tempdir().expect("tempdir");
    let target = out.path().join("stevedore-out");
    let run = Command::new(env!("CARGO_BIN_EXE_stevedore"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("GITHUB_ACTIONS")
        .env("TMPDIR", out.path())
        .args(["--path", "src/**/*.rs", "--destination"])
        .arg(&target)
        .args(["--overwrite", "true"])
        .output()
        .expect("run");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    sha256sum_check(&target, Path::new("SHA256SUMS"));
}

/// Names a file system accepts and the runner would read as commands, in both syntaxes.
const HOSTILE: [&str; 9] = [
    "R##[set-output name=release-url;]INJECTED.txt",
    "##[stop-commands]INJECTEDSTOP",
    "::error::INJECTED.txt",
    " ::warning::INJECTED",
    "x\n::error::INJECTED.txt",
    "y\r##[add-mask]INJECTED",
    "100%0A::error::INJECTED.txt",
    "back\\slash##[group]INJECTED",
    "ghp_Ab1Ab1Ab1Ab1Ab1Ab1Ab1Ab1Ab1Ab1Ab1Ab1##[debug]INJECTED",
];

#[test]
fn a_hostile_tree_sends_no_command_the_run_did_not_mean() {
    use std::os::unix::ffi::{OsStrExt as _, OsStringExt as _};
    let ctx = Ctx::new();
    for (i, name) in HOSTILE.iter().enumerate() {
        ctx.file(&format!("dist/{name}"), format!("file {i}\n"));
        // The same bytes under a second hostile name: the duplicate warning names both.
        ctx.file(&format!("dist/dup/{name}"), format!("file {i}\n"));
    }
    // Names that differ only in case (the case-collision notice quotes both).
    ctx.file("dist/Case##[error]INJECTED.txt", "1");
    ctx.file("dist/case##[error]injected.txt", "2");
    // A FIFO, a link pointing to itself and a name that is not UTF-8: each skipped with a
    // warning that quotes it.
    let fifo = ctx.ws.join("dist/fifo##[set-env name=X;]INJECTED");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo")
            .success()
    );
    let looped = ctx.ws.join("dist/loop##[error]INJECTED");
    std::os::unix::fs::symlink(&looped, &looped).expect("symlink");
    let mut raw = ctx.ws.join("dist").into_os_string().into_vec();
    raw.extend_from_slice(b"/bad\xff##[error]INJECTED");
    fs::write(std::ffi::OsStr::from_bytes(&raw), "x").expect("non-UTF-8 name");

    for (pattern, destination) in [("dist", "./out"), ("dist/*INJECTED*", "none")] {
        let run = ctx.action(&[
            ("path", pattern),
            ("destination", destination),
            ("secrets", "warn"),
            ("overwrite", "true"),
            ("duplicates", "warn"),
        ]);
        assert_eq!(run.code, 0, "{}", run.log());
        crate::support::commands::assert_only_intended_commands(&run.stdout);
        crate::support::commands::assert_only_intended_commands(&run.stderr);
        for name in run.outputs.keys() {
            assert!(
                [
                    "files",
                    "bytes",
                    "duplicates",
                    "findings",
                    "manifest",
                    "checksums",
                    "hashes",
                    "subject-checksums"
                ]
                .contains(&name.as_str()),
                "unexpected output {name}"
            );
        }
        // The log did quote the hostile names (so the check above saw them).
        assert!(run.stdout.contains("INJECTED"), "{}", run.stdout);
    }
}

#[test]
fn a_full_disk_leaves_no_truncated_checksums_file() {
    // `ulimit -f` stands in for a full RUNNER_TEMP: writes past 8 KiB fail (EFBIG once the
    // signal it would raise is ignored, as a full disk's ENOSPC fails them).
    let ctx = Ctx::new();
    for i in 0..300 {
        ctx.file(
            &format!("dist/a-rather-long-file-name-{i:04}.txt"),
            format!("{i}"),
        );
    }
    let run = ctx.action_in_shell(
        "trap '' XFSZ; ulimit -f 8",
        &[("path", "dist"), ("destination", "none")],
    );
    assert_ne!(run.code, 0, "{}", run.log());
    assert!(
        run.stdout.contains("::error") && run.stdout.contains("cannot write"),
        "{}",
        run.stdout
    );
    let left: Vec<String> = crate::support::walk(&ctx.temp)
        .into_iter()
        .map(|f| f.path.display().to_string())
        .collect();
    assert!(
        left.iter().all(|p| !p.ends_with("SHA256SUMS")
            && !p.ends_with("stevedore-manifest.json")
            && !p.ends_with(".partial")),
        "a partial document was left behind: {left:?}"
    );
    assert!(!run.outputs.contains_key("checksums"), "{:?}", run.outputs);
}

#[test]
fn terminal_escapes_and_bidi_overrides_in_names_are_shown_escaped() {
    let ctx = Ctx::new();
    ctx.file("dist/red\u{1b}]0;owned\u{7}\u{1b}[31m.txt", "a");
    ctx.file("dist/invoice\u{202e}fdp.exe", "b");
    for run in [
        ctx.action(&[("path", "dist"), ("destination", "none")]),
        ctx.cli(&["dist"]),
    ] {
        assert_eq!(run.code, 0, "{}", run.log());
        let all = format!("{}{}", run.log(), run.summary);
        for raw in ['\u{1b}', '\u{7}', '\u{202e}'] {
            assert!(!all.contains(raw), "{raw:?} reached the log: {all:?}");
        }
        assert!(all.contains("\\u{1b}]0;owned"), "{all}");
        assert!(all.contains("invoice\\u{202e}fdp.exe"), "{all}");
    }
}
