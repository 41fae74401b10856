//! The directory destination: byte-exact copies, checksums that verify there, and the
//! refusals that keep a user's files safe.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::support::text::{annotations, redact};
use crate::support::{Ctx, read_tree, sha256sum_check};

#[test]
fn copies_byte_for_byte_with_checksums_and_manifest() {
    let ctx = Ctx::new();
    let big: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    ctx.file("dist/big.bin", &big);
    ctx.file("dist/nested/deep/x.txt", "x");
    ctx.file("dist/ünïcødé.txt", "u");
    let tool = ctx.file("dist/tool.sh", "#!/bin/sh\n");
    fs::set_permissions(&tool, fs::Permissions::from_mode(0o755)).expect("chmod");

    let run = ctx.action(&[("path", "dist"), ("destination", "./published")]);
    assert_eq!(run.code, 0, "{}", run.log());
    let published = ctx.ws.join("published");
    let mut copied = read_tree(&published);
    let sums = copied.remove("SHA256SUMS").expect("checksums file");
    let manifest = copied.remove("stevedore-manifest.json").expect("manifest");
    assert_eq!(
        copied,
        read_tree(&ctx.ws.join("dist")),
        "the copy equals the source byte for byte"
    );
    assert_eq!(
        sums,
        fs::read(&run.outputs["checksums"]).expect("checksums output")
    );
    assert_eq!(
        manifest,
        fs::read(&run.outputs["manifest"]).expect("manifest output")
    );
    let mode = fs::metadata(published.join("tool.sh"))
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755, "modes survive");
    sha256sum_check(&published, Path::new("SHA256SUMS"));
    assert!(
        run.summary.contains("### Destinations") && run.summary.contains("✅"),
        "{}",
        run.summary
    );
    let leftovers: Vec<_> = fs::read_dir(&ctx.ws)
        .expect("ws")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains("stevedore-"))
        .collect();
    assert!(leftovers.is_empty(), "no staging directory left behind");
}

#[test]
fn refuses_non_empty_target_unless_overwrite() {
    let ctx = Ctx::new();
    ctx.file("dist/a.txt", "new");
    ctx.file("published/old.txt", "old");
    let run = ctx.action(&[("path", "dist"), ("destination", "./published")]);
    assert_eq!(run.code, 2, "{}", run.log());
    assert!(
        run.stdout.contains("is not empty; set `overwrite: true`"),
        "{}",
        run.stdout
    );
    assert_eq!(
        fs::read_to_string(ctx.ws.join("published/old.txt")).expect("old kept"),
        "old"
    );

    let run = ctx.action(&[
        ("path", "dist"),
        ("destination", "./published"),
        ("overwrite", "true"),
    ]);
    assert_eq!(run.code, 0, "{}", run.log());
    // A file stevedore did not write is kept (before issue 26 it was removed).
    assert_eq!(
        fs::read_to_string(ctx.ws.join("published/old.txt")).expect("kept"),
        "old"
    );
    assert_eq!(
        fs::read_to_string(ctx.ws.join("published/a.txt")).expect("new"),
        "new"
    );
}

#[test]
fn refuses_a_target_that_contains_the_sources() {
    let ctx = Ctx::new();
    ctx.file("dist/a.txt", "a");
    for dest in [".", "./dist", "dist/.."] {
        let run = ctx.action(&[
            ("path", "dist"),
            ("destination", dest),
            ("overwrite", "true"),
        ]);
        assert_eq!(run.code, 2, "{dest}: {}", run.log());
        assert!(
            run.stdout.contains("contains the selected files"),
            "{dest}: {}",
            run.stdout
        );
        assert!(ctx.ws.join("dist/a.txt").exists(), "{dest}: sources intact");
    }
}

#[test]
fn a_failed_write_is_exit_4_and_leaves_nothing() {
    let ctx = Ctx::new();
    ctx.file("dist/a.txt", "a");
    // The target's parent is a regular file: the staging directory cannot be created.
    ctx.file("blocker", "not a directory");
    let run = ctx.action(&[("path", "dist"), ("destination", "./blocker/out")]);
    assert_eq!(run.code, 4, "{}", run.log());
    insta::assert_snapshot!(annotations(&run.stdout), @"::error title=stevedore::cannot write `[TMP]/ws/blocker`: File exists (os error 17)");
    assert_eq!(
        fs::read_to_string(ctx.ws.join("blocker")).expect("untouched"),
        "not a directory"
    );
    insta::assert_snapshot!(redact(&run.summary), @r#"
    ## ❌ stevedore

    > [!CAUTION]
    > cannot write \`[TMP]/ws/blocker\`: File exists \(os error 17\)
    >
    > Exit code 4.

    | Files | Size | Duplicates | Findings | Scan time | Throughput |
    |---:|---:|---:|---:|---:|---:|
    | 1 | 1 B | 0 in 0 groups | 0 | [TIME] | [RATE] |

    Root `[TMP]/ws/dist` · total time [TIME] · checksums and manifest: step outputs `checksums` and `manifest` (the runner's temporary directory, emptied after the job)

    ### Destinations

    | Destination | Result | Files | Size | Time |
    |---|---|---:|---:|---:|
    | `./blocker/out` | ❌ cannot write \`[TMP]/ws/blocker\`: File exists \(os error 17\) | 1 + `SHA256SUMS`, `stevedore-manifest.json` | [SIZE] | [TIME] |

    <details><summary><b>Largest files</b></summary>

    | File | Size | SHA-256 |
    |---|---:|---|
    | `a.txt` | 1 B | `ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb` |

    </details>
    "#);
}

#[test]
fn a_file_changed_after_the_scan_is_not_published() {
    use stevedore::upload::UploadError;

    let ctx = Ctx::new();
    ctx.file("dist/a.txt", "original");
    ctx.file("dist/b.txt", "stays");
    // The build writes to a.txt after the scan (same size, different bytes).
    let (reports, error) = crate::support::runner::upload_after_rewrite(
        &ctx,
        &[("path", "dist"), ("destination", "./out")],
        &stevedore::github::RunnerEnv::default(),
        ("dist/a.txt", "ORIGINAL"),
    );
    assert!(
        matches!(error, Some(UploadError::Changed { ref path }) if path.ends_with("a.txt")),
        "{error:?}"
    );
    assert!(reports[0].shipped().result.is_err());
    assert!(!ctx.ws.join("out").exists(), "nothing published");
    let leftovers: Vec<_> = fs::read_dir(&ctx.ws)
        .expect("ws")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains("stevedore-"))
        .collect();
    assert!(leftovers.is_empty(), "staging removed: {leftovers:?}");
}

/// Relative paths of everything below `dir` (files and links; directories by their files).
fn names(dir: &Path) -> Vec<String> {
    read_tree(dir).into_keys().collect()
}

#[test]
fn overwrite_replaces_what_stevedore_wrote_and_keeps_what_it_did_not() {
    let ctx = Ctx::new();
    ctx.file("dist/a.txt", "a v1");
    ctx.file("dist/sub/b.txt", "b v1");
    let run = ctx.action(&[("path", "dist"), ("destination", "./out")]);
    assert_eq!(run.code, 0, "{}", run.log());
    // The user adds notes beside the copy; the next build no longer makes `sub/b.txt`.
    ctx.file("out/NOTES", "mine");
    ctx.file("out/sub/mine.txt", "mine too");
    fs::remove_file(ctx.ws.join("dist/sub/b.txt")).expect("rm");
    ctx.file("dist/a.txt", "a v2");
    let run = ctx.action(&[
        ("path", "dist"),
        ("destination", "./out"),
        ("overwrite", "true"),
    ]);
    assert_eq!(run.code, 0, "{}", run.log());
    let out = ctx.ws.join("out");
    assert_eq!(
        names(&out),
        [
            "NOTES",
            "SHA256SUMS",
            "a.txt",
            "stevedore-manifest.json",
            "sub/mine.txt"
        ]
    );
    assert_eq!(fs::read(out.join("a.txt")).expect("a"), b"a v2");
    assert_eq!(fs::read(out.join("NOTES")).expect("kept"), b"mine");
    // The log says what was removed, kept and replaced, by name.
    insta::assert_snapshot!(redact(&run.log()), @r#"
    ::group::Selecting files
    ::debug::search path `[TMP]/ws/dist`
    With the provided path, there will be 1 file(s) uploaded from `[TMP]/ws/dist`
    ::stop-commands::[TOKEN]
      a.txt
    ::[TOKEN]::
    ::endgroup::
    ::group::Scanning 1 file
    hashed 1 file, 4 B in [TIME] ([RATE])
    ::endgroup::
    ::group::Checking policies
    ::endgroup::
    ::group::Uploading
    `[TMP]/ws/out`: replaced 3 file(s) of the same name: `SHA256SUMS`, `a.txt`, `stevedore-manifest.json`
    `[TMP]/ws/out`: removed 1 file(s) an earlier run wrote and this one does not ship: `sub/b.txt`
    `[TMP]/ws/out`: kept 2 entr(ies) stevedore did not write (not in the checksums file): `NOTES`, `sub/mine.txt`
    copied 3 files to `[TMP]/ws/out`
    ::endgroup::
    stevedore: 1 file, 4 B, 0 duplicate(s), 0 finding(s), scanned in [TIME], total [TIME]
    manifest: [TMP]/runner-temp/stevedore-[RUN]/stevedore-manifest.json
    checksums: [TMP]/runner-temp/stevedore-[RUN]/SHA256SUMS
    ./out: done, 3 files -> [TMP]/ws/out
    "#);
}

#[test]
fn overwrite_into_a_directory_stevedore_did_not_write_replaces_only_same_named_files() {
    let ctx = Ctx::new();
    ctx.file("dist/main.c", "new main");
    ctx.file("dist/bin/tool", "tool");
    ctx.file("project/main.c", "old main");
    ctx.file("project/NOTES", "notes");
    ctx.file("project/src/lib.c", "lib");
    let run = ctx.action(&[
        ("path", "dist"),
        ("destination", "./project"),
        ("overwrite", "true"),
    ]);
    assert_eq!(run.code, 0, "{}", run.log());
    let project = ctx.ws.join("project");
    assert_eq!(fs::read(project.join("main.c")).expect("main"), b"new main");
    assert_eq!(fs::read(project.join("NOTES")).expect("kept"), b"notes");
    assert_eq!(fs::read(project.join("src/lib.c")).expect("kept"), b"lib");
    assert_eq!(fs::read(project.join("bin/tool")).expect("new"), b"tool");
}

#[test]
fn overwrite_refuses_the_working_directory_home_root_and_their_parents() {
    let ctx = Ctx::new();
    let other = tempfile::tempdir().expect("tmp");
    let elsewhere = other.path();
    fs::create_dir_all(elsewhere.join("dist")).expect("mkdir");
    fs::write(elsewhere.join("dist/app"), "app").expect("write");
    ctx.file("main.c", "int main;");
    fs::create_dir_all(ctx.home.join(".ssh")).expect("mkdir");
    fs::write(ctx.home.join(".ssh/id_ed25519"), "key").expect("write");
    let dist = elsewhere.join("dist");
    let parent_of_home = ctx
        .home
        .parent()
        .expect("parent")
        .to_str()
        .expect("utf-8")
        .to_owned();
    for (destination, what) in [
        (".", "is the working directory"),
        ("~", "is the home directory"),
        (
            parent_of_home.as_str(),
            "is a parent of the working directory",
        ),
        ("/", "contains the selected files"),
    ] {
        let run = ctx.cli(&[
            dist.to_str().expect("utf-8"),
            "--destination",
            destination,
            "--overwrite",
        ]);
        assert_eq!(run.code, 2, "{destination}: {}", run.log());
        assert!(run.log().contains(what), "{destination}: {}", run.log());
        if destination != "/" {
            // On the command line the message names the flag, not the action's input.
            assert!(
                run.log().contains("error: `--destination`"),
                "{}",
                run.log()
            );
        }
    }
    assert_eq!(fs::read(ctx.ws.join("main.c")).expect("kept"), b"int main;");
    assert_eq!(
        fs::read(ctx.home.join(".ssh/id_ed25519")).expect("kept"),
        b"key"
    );
}

#[test]
fn a_destination_inside_the_selection_is_left_out_of_it() {
    let ctx = Ctx::new();
    ctx.file("site/index.html", "<p>hi</p>");
    for round in 0..2 {
        let run = ctx.cli(&["site", "--destination", "./site/out", "--overwrite"]);
        assert_eq!(run.code, 0, "round {round}: {}", run.log());
        if round == 1 {
            assert!(
                run.log().contains("lies inside what `path` selects")
                    && run.log().contains("left out"),
                "{}",
                run.log()
            );
        }
    }
    assert_eq!(
        names(&ctx.ws.join("site/out")),
        ["SHA256SUMS", "index.html", "stevedore-manifest.json"],
        "no out/out"
    );
}

/// Every copy is created readable by its owner only (`0600`), and gets its mode once
/// written: no other user of the runner opens a half-written file. Seen in the system
/// calls themselves (`strace`), since the window cannot be hit from outside.
#[test]
fn copies_are_created_private_before_their_mode_is_set() {
    let ctx = Ctx::new();
    ctx.file("dist/a.txt", "a");
    let tool = ctx.file("dist/bin/tool", "#!/bin/sh\n");
    fs::set_permissions(&tool, fs::Permissions::from_mode(0o755)).expect("chmod");
    let trace = ctx.temp.join("strace.log");
    let out = std::process::Command::new("strace")
        .args(["-f", "-e", "trace=openat", "-o"])
        .arg(&trace)
        .arg(env!("CARGO_BIN_EXE_stevedore"))
        .args(["dist", "--destination", "./out"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &ctx.home)
        .env("RUNNER_TEMP", &ctx.temp)
        .current_dir(&ctx.ws)
        .output()
        .expect("strace (scripts/test installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = fs::read_to_string(&trace).expect("trace");
    let creates: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("stevedore-partial-") && l.contains("O_CREAT"))
        .filter(|l| l.contains("/a.txt\"") || l.contains("/bin/tool\""))
        .collect();
    assert_eq!(creates.len(), 2, "{log}");
    for line in creates {
        // The mode is the call's last argument; with several threads strace may end the
        // line there (`0600 <unfinished ...>`) and print the rest when the call returns.
        assert!(
            line.contains(", 0600)") || line.contains(", 0600 <unfinished ...>"),
            "created private: {line}"
        );
    }
    let mode = fs::metadata(ctx.ws.join("out/bin/tool"))
        .expect("meta")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755, "then given its own mode");
}
