//! The command line as people type it: boolean switches, positional paths, shell
//! completions, and `stevedore verify` on trees a real run wrote (and on lists the real
//! `sha256sum` wrote), changed, emptied and added to.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use crate::support::text::redact;
use crate::support::{Ctx, Run, read_tree};

/// A workspace with `dist/` to ship: a tarball, an executable, a nested and a hidden file.
fn dist() -> Ctx {
    let ctx = Ctx::new();
    ctx.file("dist/app.tar.gz", crate::support::random_bytes(70_000, 14));
    let tool = ctx.file("dist/bin/tool", "#!/bin/sh\necho tool\n");
    fs::set_permissions(&tool, fs::Permissions::from_mode(0o755)).expect("chmod");
    ctx.file("dist/notes.txt", "release notes\n");
    ctx
}

/// A destination directory an earlier run wrote (its manifest lists `old.txt`): shipping
/// into it needs overwrite, which removes `old.txt` (a file stevedore did not write would
/// be kept).
fn occupied(ctx: &Ctx) {
    ctx.file("out/old.txt", "old");
    ctx.file(
        "out/stevedore-manifest.json",
        r#"{"files": [{"path": "old.txt", "size": 3, "sha256": "", "mode": "0644"}]}"#,
    );
}

#[test]
fn overwrite_alone_is_a_switch() {
    let ctx = dist();
    occupied(&ctx);
    let run = ctx.cli(&["--path", "dist", "--destination", "./out"]);
    assert_eq!(run.code, 2, "without the switch: refused\n{}", run.log());
    assert!(run.stderr.contains("is not empty"), "{}", run.log());

    let run = ctx.cli(&["--path", "dist", "--destination", "./out", "--overwrite"]);
    assert_eq!(run.code, 0, "{}", run.log());
    assert!(!ctx.ws.join("out/old.txt").exists(), "replaced as a whole");
    assert_eq!(
        fs::read(ctx.ws.join("out/notes.txt")).expect("shipped"),
        b"release notes\n"
    );
}

#[test]
fn a_switch_still_takes_a_boolean_value() {
    let ctx = dist();
    occupied(&ctx);
    for args in [
        &[
            "--path",
            "dist",
            "--destination",
            "./out",
            "--overwrite",
            "false",
        ][..],
        &[
            "--path",
            "dist",
            "--destination",
            "./out",
            "--overwrite=false",
        ][..],
        &[
            "--overwrite",
            "FALSE",
            "--path",
            "dist",
            "--destination",
            "./out",
        ][..],
    ] {
        let run = ctx.cli(args);
        assert_eq!(run.code, 2, "{args:?} means overwrite=false\n{}", run.log());
        assert!(
            run.stderr.contains("is not empty"),
            "{args:?}: {}",
            run.log()
        );
        assert_eq!(fs::read(ctx.ws.join("out/old.txt")).expect("kept"), b"old");
    }
    let run = ctx.cli(&[
        "--path",
        "dist",
        "--destination",
        "./out",
        "--overwrite",
        "True",
    ]);
    assert_eq!(run.code, 0, "{}", run.log());
    assert!(!ctx.ws.join("out/old.txt").exists());
}

#[test]
fn a_bare_stevedore_prints_a_way_in_and_help_is_help() {
    let ctx = dist();
    let run = ctx.cli(&[]);
    assert_eq!(run.code, 2, "{}", run.log());
    assert!(!run.log().contains("is required"), "{}", run.log());
    insta::assert_snapshot!(redact(&run.stderr), @r#"
    stevedore [VERSION]: select build outputs by glob, scan them (SHA-256, duplicates, credentials, size) and ship them.

    Usage: stevedore [OPTIONS] [PATH]...

    Examples:
      stevedore 'dist/*'                             scan and list; nothing is shipped (a dry run)
      stevedore 'dist/*' --destination ./out         copy with SHA256SUMS and a manifest
      stevedore dist --destination s3://bucket/path  upload (credentials from AWS_* variables)
      stevedore verify ./out                         check a tree against its SHA256SUMS
      stevedore download --name dist --path out      fetch an artifact (in a workflow run)

    Every input of the action is a flag: stevedore --help lists them; stevedore help verify.
    "#);
    let run = ctx.cli(&["help"]);
    assert_eq!(run.code, 0, "{}", run.log());
    assert!(
        run.stdout.contains("Usage: stevedore [OPTIONS] [PATH]..."),
        "{}",
        run.log()
    );
    assert!(
        !run.log().contains("no files"),
        "help is not a glob: {}",
        run.log()
    );
    let run = ctx.cli(&["help", "verify"]);
    assert_eq!(run.code, 0, "{}", run.log());
    assert!(run.stdout.contains("stevedore verify"), "{}", run.log());
}

#[test]
fn every_command_explains_each_of_its_flags_in_its_help() {
    let ctx = Ctx::new();
    let run = ctx.cli(&["download", "--help"]);
    assert_eq!(run.code, 0, "{}", run.log());
    insta::assert_snapshot!(redact(&run.stdout), @r#"
    Download workflow artifacts exactly: digest verified, modes restored, merged safely

    Usage: stevedore download [OPTIONS]

    Options:
          --name <VALUE>             Artifact to download; empty downloads every artifact of the run (or those `pattern` matches)
          --artifact-ids <VALUE>     Comma-separated artifact ids to download (not together with `name`)
          --pattern <VALUE>          Glob over artifact names; ignored when `name` is set
          --path <VALUE>             Directory to download into (`~` is the home directory) [default: GITHUB_WORKSPACE, else the working directory]
          --merge-multiple[=<BOOL>]  Several artifacts go into `path` itself instead of `path/<name>`; two different files with one path are an error [default: false]
          --github-token <VALUE>     Token with `actions: read` for artifacts of another run or repository (REST API)
          --repository <VALUE>       owner/name holding the run, with `github-token` [default: GITHUB_REPOSITORY]
          --run-id <VALUE>           Workflow run holding the artifacts, with `github-token` [default: GITHUB_RUN_ID]
          --digest-mismatch <VALUE>  When an artifact's SHA-256 differs from the listed digest: ignore, info, warn or error [default: error]
      -h, --help                     Print help

    Without flags, inputs are read from INPUT_<NAME> variables (download/action.yml).
    Exit codes: 0 success, 1 internal error, 2 bad input, 4 download failed (`path` untouched).
    "#);
    let run = ctx.cli(&["verify", "--help"]);
    assert_eq!(run.code, 0, "{}", run.log());
    insta::assert_snapshot!(redact(&run.stdout), @r#"
    Check that a directory holds exactly the files its lists name: sha256sum-style checksums files (`<hex>  name`, ` *name`, GNU `\` escapes, `SHA256 (name) = <hex>`) or stevedore manifests (size, SHA-256, mode and links kept with `symlinks: preserve`). Files are hashed in parallel. Every missing, extra (present but not listed, hidden files included) and changed file is named. Without --checksums or --manifest, DIR/stevedore-manifest.json is used, else the manifests of a job-key layout (DIR/stevedore-manifest-<key>.json), else DIR/SHA256SUMS, else DIR/SHA256SUMS-<key>. The lists and the documents written with them are not counted as extra.

    Usage: stevedore verify [OPTIONS] <DIR>

    Arguments:
      <DIR>
              The directory to check

    Options:
          --checksums <FILE>
              A checksums file in sha256sum format (repeat for several, checked together)

          --manifest <FILE>
              A stevedore manifest (stevedore-manifest.json); also checks sizes, modes and links (repeat for several)

          --ignore-missing
              Listed files that are absent are no failure (as sha256sum -c --ignore-missing)

          --no-modes
              Do not compare Unix modes (they do not survive S3, HTTP or cp under umask 077)

      -h, --help
              Print help (see a summary with '-h')

    Symbolic links are not followed: a listed link is changed (unless a manifest records that link), an unlisted one extra.
    Listed paths that leave DIR (absolute, `..`) are refused.
    Exit codes: 0 intact, 3 missing, extra or changed files, 2 bad arguments or an unreadable list.
    "#);
}

#[test]
fn a_word_after_a_switch_naming_no_file_is_exit_2_with_the_value_meant() {
    let ctx = dist();
    let run = ctx.cli(&["dist", "--overwrite", "yes", "--destination", "./out"]);
    assert_eq!(run.code, 2, "{}", run.log());
    insta::assert_snapshot!(redact(&run.stderr), @r#"
    error: `--overwrite` is a switch and takes only true or false; `yes` after it would be a path to ship, and no file `yes` exists. Did you mean `--overwrite=true`? (A path of that name is written `./yes`.)

    Usage: stevedore [OPTIONS] [PATH]...
           stevedore verify [OPTIONS] <DIR>
           stevedore download [OPTIONS]
           stevedore completions <SHELL>

    For more information, try '--help'.
    "#);
    assert!(!ctx.ws.join("out").exists(), "nothing shipped");
    // The same word naming a file is a path, as before.
    ctx.file("yes/file.txt", "a file under yes/");
    let run = ctx.cli(&["--overwrite", "yes", "--destination", "./out"]);
    assert_eq!(run.code, 0, "{}", run.log());
    assert!(ctx.ws.join("out/file.txt").exists());
}

#[test]
fn a_laptop_run_says_it_was_a_dry_run_and_leaves_nothing_in_the_temp_directory() {
    let ctx = dist();
    let tmpdir = ctx.temp.join("system-tmp");
    fs::create_dir_all(&tmpdir).expect("mkdir");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_stevedore"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &ctx.home)
            .env("TMPDIR", &tmpdir)
            .current_dir(&ctx.ws)
            .args(args)
            .output()
            .expect("run");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    for _ in 0..3 {
        let (code, log) = run(&["dist"]);
        assert_eq!(code, Some(0), "{log}");
        assert!(log.contains("dry run: nothing was shipped"), "{log}");
        let last = ctx.home.join(".cache/stevedore/last-run");
        assert!(
            log.contains(&format!("checksums: {}", last.join("SHA256SUMS").display())),
            "{log}"
        );
        assert_eq!(
            fs::read_to_string(last.join("SHA256SUMS"))
                .expect("kept")
                .lines()
                .count(),
            3
        );
    }
    let left: Vec<_> = fs::read_dir(&tmpdir).expect("ls").collect();
    assert!(
        left.is_empty(),
        "nothing piles up in the temp directory: {left:?}"
    );
}

#[test]
fn every_setup_problem_is_said_at_once_before_the_scan_in_flag_words() {
    let ctx = dist();
    let run = ctx.cli(&[
        "dist",
        "--destination",
        "release",
        "--destination",
        "s3://bucket/builds",
        "--if-no-files-found",
        "maybe",
    ]);
    // A bad input first: named as the flag it is on the command line.
    assert_eq!(run.code, 2, "{}", run.log());
    insta::assert_snapshot!(redact(&run.stderr), @"error: `--if-no-files-found`: `maybe` is not accepted; use one of warn, error, ignore");
    assert!(!run.stderr.contains("input `"), "{}", run.stderr);
    // Inputs right: every missing piece of the environment, together, and nothing scanned.
    let run = ctx.cli(&[
        "dist",
        "--destination",
        "release",
        "--destination",
        "s3://bucket/builds",
    ]);
    assert_eq!(run.code, 2, "{}", run.log());
    insta::assert_snapshot!(redact(&run.stderr), @r#"
    error: `--destination release` needs `token` (the action passes `${{ github.token }}`; the job needs `permissions: contents: write`; on the command line, `--token` or GH_TOKEN)
    error: `--destination release` needs GITHUB_REPOSITORY (owner/name), which the runner sets; on the command line, `--repository owner/name`
    error: `--destination release` needs a tag: this run's ref is `(unset)`, not a tag; set `tag` (or `release-id`), or run on a tag push
    error: the s3:// destination needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials); set them in the step's `env:` or run aws-actions/configure-aws-credentials first
    "#);
    assert!(
        !run.stderr.contains("Scanning"),
        "before the scan: {}",
        run.stderr
    );
    // Inputs for a destination that is not there are said to be ignored.
    let run = ctx.cli(&["dist", "--destination", "./out", "--tag", "v1", "--draft"]);
    assert_eq!(run.code, 0, "{}", run.log());
    insta::assert_snapshot!(redact(&run.stderr), @r#"
    warning: `--tag` is set but no `release` destination is given; it is ignored
    warning: `--draft` is set but no `release` destination is given; it is ignored
    ==> Selecting files
    With the provided path, there will be 3 file(s) uploaded from `[TMP]/ws/dist`
      app.tar.gz
      bin/tool
      notes.txt
    ==> Scanning 3 files
    hashed 3 files, 68.4 KiB in [TIME] ([RATE])
    ==> Checking policies
    ==> Uploading
    copied 5 files to `[TMP]/ws/out`
    stevedore: 3 files, 68.4 KiB, 0 duplicate(s), 0 finding(s), scanned in [TIME], total [TIME]
    manifest: [TMP]/runner-temp/stevedore-[RUN]/stevedore-manifest.json
    checksums: [TMP]/runner-temp/stevedore-[RUN]/SHA256SUMS
    ./out: done, 5 files -> [TMP]/ws/out
    warning: `--tag` is set but no `release` destination is given; it is ignored
    warning: `--draft` is set but no `release` destination is given; it is ignored
    "#);
}

#[test]
fn a_word_after_a_switch_is_a_positional_path() {
    let ctx = dist();
    occupied(&ctx);
    // `dist/*` is not a boolean: overwrite=true, and `dist/*` is a path line.
    let run = ctx.cli(&["--overwrite", "dist/*", "--destination", "./out"]);
    assert_eq!(run.code, 0, "{}", run.log());
    let mut expected = read_tree(&ctx.ws.join("dist"));
    let shipped = read_tree(&ctx.ws.join("out"));
    assert!(!shipped.contains_key("old.txt"), "overwritten");
    for doc in ["SHA256SUMS", "stevedore-manifest.json"] {
        assert!(shipped.contains_key(doc), "{doc} written beside the files");
    }
    expected.insert("SHA256SUMS".into(), shipped["SHA256SUMS"].clone());
    expected.insert(
        "stevedore-manifest.json".into(),
        shipped["stevedore-manifest.json"].clone(),
    );
    assert_eq!(shipped, expected, "the files, byte for byte");
}

#[test]
fn positional_paths_ship_to_a_directory_from_their_common_root() {
    let ctx = dist();
    ctx.file("dist/other.zip", "not selected");
    let run = ctx.cli(&["dist/*.tar.gz", "dist/bin/*", "--destination", "./out"]);
    assert_eq!(run.code, 0, "{}", run.log());
    // The console of a run on a laptop: stages, the selection, the report, no commands.
    insta::assert_snapshot!(redact(&run.stderr), @r#"
    ==> Selecting files
    With the provided path, there will be 2 file(s) uploaded from `[TMP]/ws/dist`
      app.tar.gz
      bin/tool
    ==> Scanning 2 files
    hashed 2 files, 68.4 KiB in [TIME] ([RATE])
    ==> Checking policies
    ==> Uploading
    copied 4 files to `[TMP]/ws/out`
    stevedore: 2 files, 68.4 KiB, 0 duplicate(s), 0 finding(s), scanned in [TIME], total [TIME]
    manifest: [TMP]/runner-temp/stevedore-[RUN]/stevedore-manifest.json
    checksums: [TMP]/runner-temp/stevedore-[RUN]/SHA256SUMS
    ./out: done, 4 files -> [TMP]/ws/out
    "#);
    let shipped = read_tree(&ctx.ws.join("out"));
    let names: Vec<&str> = shipped.keys().map(String::as_str).collect();
    // Two patterns with different roots: the root is their common directory, `dist`.
    assert_eq!(
        names,
        [
            "SHA256SUMS",
            "app.tar.gz",
            "bin/tool",
            "stevedore-manifest.json"
        ]
    );
    assert_eq!(
        shipped["app.tar.gz"],
        fs::read(ctx.ws.join("dist/app.tar.gz")).expect("source")
    );
    assert_eq!(
        shipped["bin/tool"],
        fs::read(ctx.ws.join("dist/bin/tool")).expect("source")
    );
    let mode = fs::metadata(ctx.ws.join("out/bin/tool"))
        .expect("copied")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755, "the executable bit travels");

    // Positional paths come after `--path` lines: a `!` line among them excludes.
    let run = ctx.cli(&[
        "--path",
        "dist/**",
        "!dist/bin/**",
        "--destination",
        "./out2",
    ]);
    assert_eq!(run.code, 0, "{}", run.log());
    let shipped = read_tree(&ctx.ws.join("out2"));
    assert!(shipped.contains_key("other.zip") && !shipped.contains_key("bin/tool"));
}

#[test]
fn completions_for_bash_zsh_and_fish() {
    let ctx = Ctx::new();
    for shell in ["bash", "zsh", "fish"] {
        let run = ctx.cli(&["completions", shell]);
        assert_eq!(run.code, 0, "{shell}: {}", run.log());
        assert!(
            run.stdout.contains("verify") && run.stdout.contains("destination"),
            "{shell} script lacks the subcommand or a flag:\n{}",
            run.stdout
        );
        // The flags of `verify` are completed too.
        assert!(run.stdout.contains("manifest"), "{shell}");
    }
    let bash = ctx.cli(&["completions", "bash"]).stdout;
    assert!(bash.contains("--destination"));
    let script = ctx.temp.join("stevedore.bash");
    fs::write(&script, &bash).expect("write script");
    let check = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .expect("bash runs");
    assert!(
        check.status.success(),
        "bash -n refuses the script: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    // Sourced, it registers a completion for `stevedore`.
    let sourced = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source '{}' && complete -p stevedore",
            script.display()
        ))
        .output()
        .expect("bash runs");
    assert!(
        String::from_utf8_lossy(&sourced.stdout).contains("stevedore"),
        "{}",
        String::from_utf8_lossy(&sourced.stderr)
    );
    let run = ctx.cli(&["completions", "tcsh"]);
    assert_eq!(run.code, 2, "an unknown shell is a usage error");
}

/// Ships `dist` to `./out` for real and returns the context.
fn shipped_tree() -> Ctx {
    let ctx = dist();
    ctx.file("dist/.config/hidden.txt", "hidden");
    let run = ctx.cli(&["dist", "--include-hidden-files", "--destination", "./out"]);
    assert_eq!(run.code, 0, "{}", run.log());
    ctx
}

fn verify(ctx: &Ctx, args: &[&str]) -> Run {
    let mut all = vec!["verify"];
    all.extend_from_slice(args);
    ctx.cli(&all)
}

#[test]
fn verify_an_intact_tree_then_a_changed_a_missing_and_an_extra_file() {
    let ctx = shipped_tree();
    for list in [
        &["out", "--manifest", "out/stevedore-manifest.json"][..],
        &["out", "--checksums", "out/SHA256SUMS"][..],
    ] {
        let run = verify(&ctx, list);
        assert_eq!(run.code, 0, "{list:?}\n{}", run.log());
        assert!(
            run.stdout
                .contains("4 listed: 4 intact, 0 changed, 0 missing; 0 extra"),
            "{}",
            run.stdout
        );
    }
    // Both documents present and no flag: the manifest, which also checks sizes and modes.
    let run = verify(&ctx, &["out"]);
    assert_eq!(run.code, 0, "{}", run.log());
    assert!(run.stdout.contains("(manifest, 4 files)"), "{}", run.stdout);
    // With one of them gone, the other is the default.
    let out = ctx.ws.join("out");
    let manifest = fs::read(out.join("stevedore-manifest.json")).expect("manifest");
    let sums = ctx.temp.join("SHA256SUMS");
    fs::rename(out.join("SHA256SUMS"), &sums).expect("move the checksums away");
    let run = verify(&ctx, &["out"]);
    assert_eq!(run.code, 0, "the manifest by default\n{}", run.log());
    assert!(run.stdout.contains("(manifest, 4 files)"), "{}", run.stdout);

    fs::write(out.join("notes.txt"), "release notes, edited\n").expect("change");
    fs::remove_file(out.join("bin/tool")).expect("remove");
    fs::write(out.join(".stray"), "extra").expect("add a hidden file");
    fs::write(out.join("bin/added"), "extra").expect("add");
    // Against the manifest, which knows sizes...
    let run = verify(&ctx, &["out"]);
    assert_eq!(run.code, 3, "{}", run.log());
    insta::assert_snapshot!(redact(&run.stdout), @r#"
    verifying `out` against `out/stevedore-manifest.json` (manifest, 4 files)
    missing: bin/tool
    changed: notes.txt (size 22 bytes, listed 14, SHA-256 differs)
    extra: .stray
    extra: bin/added
    4 listed: 2 intact, 1 changed, 1 missing; 2 extra
    error: `out` does not match its list
    "#);
    // ...and against the checksums alone.
    let run = verify(&ctx, &["out", "--checksums", sums.to_str().expect("utf8")]);
    assert_eq!(run.code, 3, "{}", run.log());
    insta::assert_snapshot!(redact(&run.stdout), @r#"
    verifying `out` against `[TMP]/runner-temp/SHA256SUMS` (checksums, 4 files)
    missing: bin/tool
    changed: notes.txt (SHA-256 differs)
    extra: .stray
    extra: bin/added
    4 listed: 2 intact, 1 changed, 1 missing; 2 extra
    error: `out` does not match its list
    "#);
    assert_eq!(
        fs::read(out.join("stevedore-manifest.json")).expect("manifest"),
        manifest,
        "verify writes nothing"
    );
}

#[test]
fn verify_a_manifest_with_a_changed_mode() {
    let ctx = shipped_tree();
    let out = ctx.ws.join("out");
    fs::set_permissions(out.join("bin/tool"), fs::Permissions::from_mode(0o644)).expect("chmod");
    let run = verify(&ctx, &["out", "--manifest", "out/stevedore-manifest.json"]);
    assert_eq!(run.code, 3, "{}", run.log());
    insta::assert_snapshot!(redact(&run.stdout), @r#"
    verifying `out` against `out/stevedore-manifest.json` (manifest, 4 files)
    changed: bin/tool (mode 0644, listed 0755)
    4 listed: 3 intact, 1 changed, 0 missing; 0 extra
    only modes differ: modes do not survive every transfer (S3, HTTP downloads, `cp` under `umask 077`); `stevedore verify --no-modes` compares contents only
    error: `out` does not match its list
    "#);
    // A checksums file has no modes: the same tree is intact by its SHA-256 lines.
    let run = verify(&ctx, &["out", "--checksums", "out/SHA256SUMS"]);
    assert_eq!(run.code, 0, "{}", run.log());
}

#[test]
fn verify_a_list_written_by_sha256sum() {
    let ctx = Ctx::new();
    ctx.file("tree/a.bin", crate::support::random_bytes(300_000, 7));
    ctx.file("tree/dir/b.txt", "b");
    // GNU escapes these names: its lines start with `\`.
    ctx.file("tree/back\\slash", "escaped");
    ctx.file("tree/new\nline", "escaped too");
    ctx.file("tree/.hidden", "h");
    let tree = ctx.ws.join("tree");
    for (flag, file) in [
        ("-b", "binary.sums"),
        ("-t", "text.sums"),
        ("--tag", "tag.sums"),
    ] {
        let out = Command::new("sha256sum")
            .arg(flag)
            .args(["a.bin", "dir/b.txt", "back\\slash", "new\nline", ".hidden"])
            .current_dir(&tree)
            .output()
            .expect("sha256sum runs");
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).expect("utf8");
        if flag == "-b" {
            assert!(text.contains(" *a.bin") && text.contains("\n\\"), "{text}");
        }
        fs::write(ctx.ws.join(file), &text).expect("write list");
        let run = verify(&ctx, &["tree", "--checksums", file]);
        assert_eq!(run.code, 0, "{flag}\n{text}\n{}", run.log());
        assert!(
            run.stdout.contains("5 listed: 5 intact"),
            "{flag}: {}",
            run.stdout
        );
    }
    // A list kept inside the tree is not an extra file of it.
    fs::create_dir(tree.join("lists")).expect("mkdir");
    fs::copy(ctx.ws.join("binary.sums"), tree.join("lists/my.sums")).expect("copy list");
    let run = verify(&ctx, &["tree", "--checksums", "tree/lists/my.sums"]);
    assert_eq!(run.code, 0, "{}", run.log());
    fs::remove_dir_all(tree.join("lists")).expect("rm");

    fs::write(tree.join("new\nline"), "changed").expect("change");
    let run = verify(&ctx, &["tree", "--checksums", "binary.sums"]);
    assert_eq!(run.code, 3, "{}", run.log());
    // The name is printed escaped, on one line.
    insta::assert_snapshot!(redact(&run.stdout), @r#"
    verifying `tree` against `binary.sums` (checksums, 5 files)
    changed: new%0Aline (SHA-256 differs)
    5 listed: 4 intact, 1 changed, 0 missing; 0 extra
    error: `tree` does not match its list
    "#);
}

#[test]
fn verify_refuses_lists_that_leave_the_directory() {
    let ctx = Ctx::new();
    ctx.file("tree/a", "a");
    ctx.file("secret", "outside");
    let digest = "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb";
    // Every refusal is exit 2; what each says, in order.
    let mut said = Vec::new();
    for name in ["../secret", "/etc/hostname", "sub/../../secret"] {
        fs::write(
            ctx.ws.join("sums"),
            format!("{digest}  a\n{digest}  {name}\n"),
        )
        .expect("list");
        let run = verify(&ctx, &["tree", "--checksums", "sums"]);
        assert_eq!(run.code, 2, "{name}\n{}", run.log());
        said.push(run.stdout);
    }
    fs::write(ctx.ws.join("sums"), "not a checksums line\n").expect("list");
    for args in [
        &["tree", "--checksums", "sums"][..],
        &["tree", "--checksums", "absent"][..],
        &["tree"][..],
    ] {
        let run = verify(&ctx, args);
        assert_eq!(run.code, 2, "{args:?}\n{}", run.log());
        said.push(run.stdout);
    }
    insta::assert_snapshot!(redact(&said.concat()), @r#"
    error: `sums` entry 2 names `../secret`: `..` leaves the directory; lists name files relative to the directory
    error: `sums` entry 2 names `/etc/hostname`: an absolute path is outside the directory; lists name files relative to the directory
    error: `sums` entry 2 names `sub/../../secret`: `..` leaves the directory; lists name files relative to the directory
    error: `sums` line 1: not a checksums line: expected `<64 hex digits>  <name>` (or ` *<name>`), as sha256sum writes
    error: cannot read `absent`: No such file or directory (os error 2); pass a readable file
    error: `tree` holds neither stevedore-manifest.json nor SHA256SUMS: pass --checksums FILE (sha256sum format) or --manifest FILE (a stevedore manifest)
    "#);
}

#[test]
fn verify_does_not_follow_symbolic_links() {
    let ctx = Ctx::new();
    ctx.file("tree/a", "a");
    ctx.file("tree/b", "b");
    ctx.file("elsewhere/b", "b");
    let tree = ctx.ws.join("tree");
    let sums = sha256sum(&tree, &["a", "b"]);
    fs::write(ctx.ws.join("sums"), sums).expect("list");
    fs::remove_file(tree.join("b")).expect("rm");
    // Same bytes, through a link: not the file the list vouches for.
    std::os::unix::fs::symlink(ctx.ws.join("elsewhere/b"), tree.join("b")).expect("link");
    std::os::unix::fs::symlink(ctx.ws.join("elsewhere"), tree.join("linked-dir")).expect("link");
    let run = verify(&ctx, &["tree", "--checksums", "sums"]);
    assert_eq!(run.code, 3, "{}", run.log());
    assert!(
        run.stdout.contains("changed: b (is a symbolic link"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("extra: linked-dir\n"), "{}", run.stdout);
    assert!(
        !run.stdout.contains("linked-dir/"),
        "a linked directory is not entered"
    );
}

#[test]
fn verify_names_are_inert_and_redacted_in_actions() {
    let ctx = Ctx::new();
    ctx.file("tree/a", "a");
    let token = format!("ghp_{}", "x".repeat(36));
    ctx.file(&format!("tree/::warning::{token}"), "extra");
    let tree = ctx.ws.join("tree");
    fs::write(ctx.ws.join("sums"), sha256sum(&tree, &["a"])).expect("list");
    let out = Command::new(env!("CARGO_BIN_EXE_stevedore"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GITHUB_ACTIONS", "true")
        .args(["verify", "tree", "--checksums", "sums"])
        .current_dir(&ctx.ws)
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    assert!(
        !stdout.contains(&token),
        "the credential is redacted\n{stdout}"
    );
    assert!(stdout.contains("extra: ::warning::***"), "{stdout}");
    assert!(
        !stdout.lines().any(|l| l.starts_with("::warning")),
        "no line is a workflow command\n{stdout}"
    );
    assert!(
        stdout.contains("::error title=stevedore verify::`tree` does not match its list"),
        "{stdout}"
    );
}

/// `sha256sum NAMES` run in `dir`.
fn sha256sum(dir: &Path, names: &[&str]) -> String {
    let out = Command::new("sha256sum")
        .args(names)
        .current_dir(dir)
        .output()
        .expect("sha256sum runs");
    assert!(out.status.success());
    String::from_utf8(out.stdout).expect("utf8")
}
