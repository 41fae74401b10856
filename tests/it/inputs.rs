//! Every bad input: exit 2, an `::error::` that names the input and says what is
//! accepted, and nothing written to the destination.

use std::fs;

use crate::support::Ctx;

/// (input, value, text the error must contain).
const BAD: &[(&str, &str, &str)] = &[
    (
        "if-no-files-found",
        "fail",
        "use one of warn, error, ignore",
    ),
    (
        "include-hidden-files",
        "yes",
        "use one of true, True, TRUE, false, False, FALSE",
    ),
    ("overwrite", "tRue", "is not a boolean"),
    ("archive", "0", "is not a boolean"),
    ("retention-days", "0", "whole number from 1 to 400"),
    ("retention-days", "ten", "whole number from 1 to 400"),
    ("compression-level", "10", "whole number from 0 to 9"),
    ("compression-level", "+5", "whole number from 0 to 9"),
    ("max-file-size", "2G", "unknown unit"),
    ("max-file-size", "-5MB", "is not a size"),
    ("max-total-size", "lots", "is not a size"),
    ("max-total-size", "0", "greater than zero"),
    ("secrets", "ignore", "use one of error, warn, off"),
    ("secrets-allow", "dist/[", "is not a valid glob"),
    ("duplicates", "fail", "use one of warn, error, ignore"),
    ("upload-concurrency", "0", "whole number from 1 to 256"),
    ("upload-concurrency", "1000", "whole number from 1 to 256"),
    ("destination", "artefact", "is not a destination"),
    ("destination", "gs://bucket/x", "scheme is not supported"),
    (
        "destination",
        "s3://Bad_Bucket",
        "is not a valid bucket name",
    ),
    ("destination", "none\n./out", "cannot be combined"),
    ("destination", "./out\n./out", "is listed twice"),
    ("destination", "  \n", "holds no destination, only blanks"),
    (
        "destination",
        "# none yet",
        "leave it empty for the default",
    ),
    ("name", "my/artifact", "must not contain"),
    ("name", "a:b", "must not contain"),
    ("checksums", "sub/SUMS", "is not a plain file name"),
    ("checksums", "SUMS\tx", "control character"),
    (
        "checksums",
        "stevedore-manifest.json",
        "is the manifest's file name",
    ),
    ("name", "a\u{1}b", "control character"),
    ("make-latest", "yes", "use one of true, false, legacy"),
    ("release-id", "abc", "whole number"),
    ("draft", "1", "is not a boolean"),
    ("s3-endpoint", "ftp://x", "is not an endpoint URL"),
    ("s3-region", "us east", "is not a region name"),
    ("s3-path-style", "maybe", "is not a boolean"),
    ("check-run", "on", "is not a boolean"),
    ("summary", "no", "is not a boolean"),
    ("path", "../outside", "`.` and `..` is not allowed"),
    ("path", "# only a comment", "is required"),
];

#[test]
fn bad_inputs_exit_2_and_name_the_input() {
    let ctx = Ctx::new();
    ctx.file("dist/a.txt", "a");
    for (input, value, message) in BAD {
        let mut inputs = vec![("path", "dist"), ("destination", "./out")];
        inputs.retain(|(k, _)| k != input);
        inputs.push((input, value));
        let run = ctx.action(&inputs);
        assert_eq!(run.code, 2, "{input}={value:?}: exit code\n{}", run.log());
        let error_line = run
            .stdout
            .lines()
            .find(|l| l.starts_with("::error"))
            .unwrap_or_else(|| panic!("{input}: no ::error:: line\n{}", run.stdout));
        assert!(
            error_line.contains(&format!("`{input}`")),
            "{input}: error does not name the input: {error_line}"
        );
        assert!(
            error_line.contains(message),
            "{input}={value:?}: expected {message:?} in {error_line}"
        );
        assert!(
            !ctx.ws.join("out").exists(),
            "{input}: nothing may be written"
        );
    }
}

#[test]
fn all_bad_inputs_are_reported_at_once() {
    let ctx = Ctx::new();
    let run = ctx.action(&[
        ("path", "dist"),
        ("overwrite", "yes"),
        ("duplicates", "fail"),
        ("max-file-size", "big"),
    ]);
    assert_eq!(run.code, 2);
    for input in ["overwrite", "duplicates", "max-file-size"] {
        assert!(
            run.stdout
                .contains(&format!("::error title=stevedore::input `{input}`")),
            "{input} missing:\n{}",
            run.stdout
        );
    }
}

#[test]
fn cli_usage_errors_and_help() {
    let ctx = Ctx::new();
    let run = ctx.cli(&["--path", "x", "--no-such-flag"]);
    assert_eq!(run.code, 2, "{}", run.log());
    assert!(run.stderr.contains("--no-such-flag"));
    let run = ctx.cli(&["--help"]);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.contains("--if-no-files-found") && run.stdout.contains("Exit codes"),
        "{}",
        run.stdout
    );
    let run = ctx.cli(&["--version"]);
    assert_eq!(run.code, 0);
    assert_eq!(
        run.stdout.trim(),
        format!("stevedore {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn a_destination_refused_in_preflight_stops_every_destination() {
    let ctx = Ctx::new();
    ctx.file("dist/a.txt", "a");
    // A release needs a tag, and this run's ref is not one.
    let run = ctx.action_env(
        &[
            ("path", "dist"),
            ("destination", "./out\nrelease"),
            ("token", "ghs_000000000000000000000000000000000000"),
        ],
        &[
            ("GITHUB_REPOSITORY".into(), "octo/app".into()),
            ("GITHUB_REF".into(), "refs/heads/main".into()),
        ],
    );
    assert_eq!(run.code, 2, "{}", run.log());
    assert!(
        run.stdout
            .contains("`destination: release` needs a tag: this run's ref is `refs/heads/main`"),
        "{}",
        run.stdout
    );
    assert!(
        !ctx.ws.join("out").exists(),
        "the directory destination must not run when another destination is refused"
    );
}

#[test]
fn token_is_masked_first_and_never_printed_otherwise() {
    let ctx = Ctx::new();
    ctx.file("dist/a.txt", "a");
    let token = "ghs_TokenValueThatMustNotLeak1234567890ab";
    let run = ctx.action(&[("path", "dist"), ("destination", "none"), ("token", token)]);
    assert_eq!(run.code, 0, "{}", run.log());
    let first = run.stdout.lines().next().unwrap_or_default();
    assert_eq!(
        first,
        format!("::add-mask::{token}"),
        "the mask must come before any other output"
    );
    assert_eq!(
        run.stdout.matches(token).count(),
        1,
        "only in the mask command"
    );
    assert!(!run.summary.contains(token) && !run.outputs.values().any(|v| v.contains(token)));
}

#[test]
fn artifact_destination_refuses_names_the_service_rejects() {
    let ctx = Ctx::new();
    ctx.file("dist/ok.txt", "a");
    ctx.file("dist/build:12.log", "b");
    // The runner's variables are there (they are checked before the selection).
    let job = crate::support::emulator::emulator().job();
    let run = ctx.action_env(
        &[("path", "dist"), ("destination", "artifact\n./out")],
        &crate::support::emulator::emulator().env(&job),
    );
    assert_eq!(run.code, 2, "{}", run.log());
    assert!(
        run.stdout
            .contains("`build:12.log` cannot be stored in an artifact"),
        "{}",
        run.stdout
    );
    assert!(!ctx.ws.join("out").exists());
    // Other destinations accept the name.
    let run = ctx.action(&[("path", "dist"), ("destination", "./out")]);
    assert_eq!(run.code, 0, "{}", run.log());
    assert!(ctx.ws.join("out/build:12.log").exists());
}

#[test]
fn names_longer_than_255_bytes_are_refused() {
    let ctx = Ctx::new();
    ctx.file("dist/a.txt", "a");
    let long = "é".repeat(128); // 256 bytes
    for input in ["checksums", "name"] {
        let run = ctx.action(&[("path", "dist"), ("destination", "./out"), (input, &long)]);
        assert_eq!(run.code, 2, "{input}: {}", run.log());
        assert!(
            run.stdout
                .contains(&format!("input `{input}`: is 256 bytes long")),
            "{}",
            run.stdout
        );
        assert!(!ctx.ws.join("out").exists());
    }
}

#[test]
fn two_destination_lines_naming_one_directory_are_refused_before_any_copy() {
    let ctx = Ctx::new();
    ctx.file("dist/a.txt", "a");
    fs::create_dir_all(ctx.ws.join("real")).expect("mkdir");
    std::os::unix::fs::symlink(ctx.ws.join("real"), ctx.ws.join("link")).expect("symlink");
    for (lines, says) in [
        ("./o\no/../o", "`destination` names the directory"),
        ("real/out\nlink/out", "`destination` names the directory"),
        ("./o\n./o/", "is listed twice"),
    ] {
        let run = ctx.action(&[("path", "dist"), ("destination", lines)]);
        assert_eq!(run.code, 2, "{lines:?}: {}", run.log());
        assert!(
            run.stdout.contains("::error") && run.stdout.contains(says),
            "{}",
            run.stdout
        );
        assert!(!ctx.ws.join("o").exists() && !ctx.ws.join("real/out").exists());
    }
}
