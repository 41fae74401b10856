//! The command line as people type it: boolean switches, positional paths, shell
//! completions, and `stevedore verify` on trees a real run wrote (and on lists the real
//! `sha256sum` wrote), changed, emptied and added to.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

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

/// Texts a newcomer meets, with the version made stable.
fn first_minutes_filters() -> Vec<(&'static str, &'static str)> {
    vec![(r"stevedore \d+\.\d+\.\d+", "stevedore [VERSION]")]
}

#[test]
fn a_bare_stevedore_prints_a_way_in_and_help_is_help() {
    let ctx = dist();
    let run = ctx.cli(&[]);
    assert_eq!(run.code, 2, "{}", run.log());
    assert!(!run.log().contains("is required"), "{}", run.log());
    insta::with_settings!({ filters => first_minutes_filters() }, {
        insta::assert_snapshot!("first_run_usage", run.stderr);
    });
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
fn a_word_after_a_switch_naming_no_file_is_exit_2_with_the_value_meant() {
    let ctx = dist();
    let run = ctx.cli(&["dist", "--overwrite", "yes", "--destination", "./out"]);
    assert_eq!(run.code, 2, "{}", run.log());
    insta::with_settings!({ filters => first_minutes_filters() }, {
        insta::assert_snapshot!("switch_with_a_word", run.stderr);
    });
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
    assert!(
        run.stderr.contains("error: `--if-no-files-found`"),
        "{}",
        run.stderr
    );
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
    for problem in [
        "needs `token`",
        "needs GITHUB_REPOSITORY",
        "needs a tag",
        "needs AWS_ACCESS_KEY_ID",
    ] {
        assert!(run.stderr.contains(problem), "{problem}: {}", run.stderr);
    }
    assert!(
        !run.stderr.contains("Scanning"),
        "before the scan: {}",
        run.stderr
    );
    // Inputs for a destination that is not there are said to be ignored.
    let run = ctx.cli(&["dist", "--destination", "./out", "--tag", "v1", "--draft"]);
    assert_eq!(run.code, 0, "{}", run.log());
    for input in ["`--tag`", "`--draft`"] {
        assert!(
            run.stderr.contains(&format!(
                "warning: {input} is set but no `release` destination is given; it is ignored"
            )),
            "{input}: {}",
            run.stderr
        );
    }
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
fn positional_paths_ship_to_a_directory() {
    let ctx = dist();
    ctx.file("dist/other.zip", "not selected");
    let run = ctx.cli(&["dist/*.tar.gz", "dist/bin/*", "--destination", "./out"]);
    assert_eq!(run.code, 0, "{}", run.log());
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
    for list in [
        &["out"][..],
        &["out", "--checksums", sums.to_str().expect("utf8")][..],
    ] {
        let run = verify(&ctx, list);
        assert_eq!(run.code, 3, "{list:?}\n{}", run.log());
        for line in [
            "changed: notes.txt (",
            "missing: bin/tool",
            "extra: .stray",
            "extra: bin/added",
            "4 listed: 2 intact, 1 changed, 1 missing; 2 extra",
            "error: `out` does not match its list",
        ] {
            assert!(
                run.stdout.contains(line),
                "{list:?}: {line}\n{}",
                run.stdout
            );
        }
    }
    let run = verify(&ctx, &["out"]);
    assert!(
        run.stdout
            .contains("changed: notes.txt (size 22 bytes, listed 14, SHA-256 differs)"),
        "a manifest knows sizes\n{}",
        run.stdout
    );
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
    assert!(
        run.stdout
            .contains("changed: bin/tool (mode 0644, listed 0755)"),
        "{}",
        run.stdout
    );
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
    assert!(
        run.stdout.contains("changed: new%0Aline (SHA-256 differs)"),
        "{}",
        run.stdout
    );
}

#[test]
fn verify_refuses_lists_that_leave_the_directory() {
    let ctx = Ctx::new();
    ctx.file("tree/a", "a");
    ctx.file("secret", "outside");
    let digest = "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb";
    for name in ["../secret", "/etc/hostname", "sub/../../secret"] {
        fs::write(
            ctx.ws.join("sums"),
            format!("{digest}  a\n{digest}  {name}\n"),
        )
        .expect("list");
        let run = verify(&ctx, &["tree", "--checksums", "sums"]);
        assert_eq!(run.code, 2, "{name}\n{}", run.log());
        assert!(
            run.stdout
                .contains(&format!("`sums` entry 2 names `{name}`")),
            "{name}: {}",
            run.stdout
        );
    }
    fs::write(ctx.ws.join("sums"), "not a checksums line\n").expect("list");
    let run = verify(&ctx, &["tree", "--checksums", "sums"]);
    assert_eq!(run.code, 2, "{}", run.log());
    assert!(
        run.stdout.contains("`sums` line 1: not a checksums line"),
        "{}",
        run.stdout
    );
    let run = verify(&ctx, &["tree", "--checksums", "absent"]);
    assert_eq!(run.code, 2, "{}", run.log());
    assert!(
        run.stdout.contains("cannot read `absent`"),
        "{}",
        run.stdout
    );
    let run = verify(&ctx, &["tree"]);
    assert_eq!(run.code, 2, "{}", run.log());
    assert!(
        run.stdout.contains("pass --checksums FILE"),
        "{}",
        run.stdout
    );
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
