//! Every bad input: exit 2, an `::error::` that names the input and says what is
//! accepted, and nothing written to the destination.

use std::fs;

use crate::support::Ctx;
use crate::support::text::{annotations, redact};

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
    (
        "s3-checksum",
        "md5",
        "use one of sha256, crc32, crc32c, none",
    ),
    ("s3-acl", "everyone", "use one of private, public-read"),
    ("s3-sse", "kms", "use one of AES256, aws:kms"),
    ("s3-sse-kms-key-id", "alias/k", "set `s3-sse: aws:kms`"),
    ("s3-storage-class", "standard-ia", "is not a storage class"),
    ("s3-content-type", "html", "is not a media type"),
    ("s3-content-type", "dist/[=text/html", "not a valid glob"),
    ("s3-content-type", "=text/html", "has no glob before `=`"),
    (
        "s3-cache-control",
        "max-age=1\u{7}",
        "cannot be sent as an HTTP header",
    ),
    ("check-run", "on", "is not a boolean"),
    ("summary", "no", "is not a boolean"),
    ("path", "../outside", "`.` and `..` is not allowed"),
    ("path", "# only a comment", "is required"),
];

#[test]
#[allow(clippy::too_many_lines, reason = "most of it is the inline snapshot")]
fn bad_inputs_exit_2_and_name_the_input() {
    let ctx = Ctx::new();
    ctx.file("dist/a.txt", "a");
    let mut said = Vec::new();
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
        said.push(format!("{input}: {value:?}\n{error_line}"));
    }
    // What each bad value is told, as the annotation shows it.
    insta::assert_snapshot!(redact(&said.join("\n")), @r##"
    if-no-files-found: "fail"
    ::error title=stevedore::input `if-no-files-found`: `fail` is not accepted; use one of warn, error, ignore
    include-hidden-files: "yes"
    ::error title=stevedore::input `include-hidden-files`: `yes` is not a boolean; use one of true, True, TRUE, false, False, FALSE
    overwrite: "tRue"
    ::error title=stevedore::input `overwrite`: `tRue` is not a boolean; use one of true, True, TRUE, false, False, FALSE
    archive: "0"
    ::error title=stevedore::input `archive`: `0` is not a boolean; use one of true, True, TRUE, false, False, FALSE
    retention-days: "0"
    ::error title=stevedore::input `retention-days`: `0` is not a whole number from 1 to 400
    retention-days: "ten"
    ::error title=stevedore::input `retention-days`: `ten` is not a whole number from 1 to 400
    compression-level: "10"
    ::error title=stevedore::input `compression-level`: `10` is not a whole number from 0 to 9
    compression-level: "+5"
    ::error title=stevedore::input `compression-level`: `+5` is not a whole number from 0 to 9
    max-file-size: "2G"
    ::error title=stevedore::input `max-file-size`: `2G` has an unknown unit; use a number with an optional unit, e.g. 500MB, 2GiB, 1.5GB or 1048576
    max-file-size: "-5MB"
    ::error title=stevedore::input `max-file-size`: `-5MB` is not a size; use a number with an optional unit, e.g. 500MB, 2GiB, 1.5GB or 1048576
    max-total-size: "lots"
    ::error title=stevedore::input `max-total-size`: `lots` is not a size; use a number with an optional unit, e.g. 500MB, 2GiB, 1.5GB or 1048576
    max-total-size: "0"
    ::error title=stevedore::input `max-total-size`: `0` must be greater than zero
    secrets: "ignore"
    ::error title=stevedore::input `secrets`: `ignore` is not accepted; use one of error, warn, off
    secrets-allow: "dist/["
    ::error title=stevedore::input `secrets-allow`: `dist/[` is not a valid glob: unclosed character class; missing ']'
    duplicates: "fail"
    ::error title=stevedore::input `duplicates`: `fail` is not accepted; use one of warn, error, ignore
    upload-concurrency: "0"
    ::error title=stevedore::input `upload-concurrency`: `0` is not a whole number from 1 to 256
    upload-concurrency: "1000"
    ::error title=stevedore::input `upload-concurrency`: `1000` is not a whole number from 1 to 256
    destination: "artefact"
    ::error title=stevedore::input `destination`: `artefact` is not a destination; use artifact, release, none, s3://bucket/prefix, or a directory path such as ./out or /tmp/out (write a directory as ./artefact)
    destination: "gs://bucket/x"
    ::error title=stevedore::input `destination`: `gs://bucket/x`: the `gs://` scheme is not supported; use artifact, release, none, s3://bucket/prefix, or a directory path such as ./out or /tmp/out
    destination: "s3://Bad_Bucket"
    ::error title=stevedore::input `destination`: `s3://Bad_Bucket`: `Bad_Bucket` is not a valid bucket name (3-63 characters: lower-case letters, digits, `.` and `-`)
    destination: "none\n./out"
    ::error title=stevedore::input `destination`: `none` cannot be combined with other destinations; remove `none` or the others
    destination: "./out\n./out"
    ::error title=stevedore::input `destination`: `./out` is listed twice; list each destination once
    destination: "  \n"
    ::error title=stevedore::input `destination`: holds no destination, only blanks or `#` comments: leave it empty for the default (artifact inside Actions, none elsewhere), or use artifact, release, none, s3://bucket/prefix, or a directory path such as ./out or /tmp/out
    destination: "# none yet"
    ::error title=stevedore::input `destination`: holds no destination, only blanks or `#` comments: leave it empty for the default (artifact inside Actions, none elsewhere), or use artifact, release, none, s3://bucket/prefix, or a directory path such as ./out or /tmp/out
    name: "my/artifact"
    ::error title=stevedore::input `name`: `my/artifact` contains `/`; artifact names must not contain " : < > | * ? \ / or line breaks
    name: "a:b"
    ::error title=stevedore::input `name`: `a:b` contains `:`; artifact names must not contain " : < > | * ? \ / or line breaks
    checksums: "sub/SUMS"
    ::error title=stevedore::input `checksums`: `sub/SUMS` is not a plain file name; use a name such as SHA256SUMS (no path separators or " : < > | * ?)
    checksums: "SUMS\tx"
    ::error title=stevedore::input `checksums`: `SUMS\tx` contains the control character \u{9}; use printable characters only
    checksums: "stevedore-manifest.json"
    ::error title=stevedore::input `checksums`: `stevedore-manifest.json` is the manifest's file name, written beside the checksums file; choose another name such as SHA256SUMS
    name: "a\u{1}b"
    ::error title=stevedore::input `name`: `a\u{1}b` contains the control character \u{1}; use printable characters only
    make-latest: "yes"
    ::error title=stevedore::input `make-latest`: `yes` is not accepted; use one of true, false, legacy
    release-id: "abc"
    ::error title=stevedore::input `release-id`: `abc` is not a whole number from 1 to 18446744073709551615
    draft: "1"
    ::error title=stevedore::input `draft`: `1` is not a boolean; use one of true, True, TRUE, false, False, FALSE
    s3-endpoint: "ftp://x"
    ::error title=stevedore::input `s3-endpoint`: `ftp://x` is not an endpoint URL; use e.g. https://s3.example.com or http://127.0.0.1:9000
    s3-region: "us east"
    ::error title=stevedore::input `s3-region`: `us east` is not a region name such as us-east-1
    s3-path-style: "maybe"
    ::error title=stevedore::input `s3-path-style`: `maybe` is not a boolean; use one of true, True, TRUE, false, False, FALSE
    s3-checksum: "md5"
    ::error title=stevedore::input `s3-checksum`: `md5` is not accepted; use one of sha256, crc32, crc32c, none
    s3-acl: "everyone"
    ::error title=stevedore::input `s3-acl`: `everyone` is not accepted; use one of private, public-read, public-read-write, authenticated-read, aws-exec-read, bucket-owner-read, bucket-owner-full-control
    s3-sse: "kms"
    ::error title=stevedore::input `s3-sse`: `kms` is not accepted; use one of AES256, aws:kms, aws:kms:dsse
    s3-sse-kms-key-id: "alias/k"
    ::error title=stevedore::input `s3-sse-kms-key-id`: names a KMS key, but `s3-sse` is not `aws:kms` or `aws:kms:dsse`: set `s3-sse: aws:kms` to encrypt with it
    s3-storage-class: "standard-ia"
    ::error title=stevedore::input `s3-storage-class`: `standard-ia` is not a storage class; write it as the provider names it, e.g. STANDARD_IA or GLACIER_IR
    s3-content-type: "html"
    ::error title=stevedore::input `s3-content-type`: `html` is not a media type; write `type/subtype` (e.g. `text/html; charset=utf-8`), or `GLOB=type/subtype` for some files
    s3-content-type: "dist/[=text/html"
    ::error title=stevedore::input `s3-content-type`: `dist/[=text/html`: not a valid glob: unclosed character class; missing ']'
    s3-content-type: "=text/html"
    ::error title=stevedore::input `s3-content-type`: `=text/html` has no glob before `=`; write `GLOB=TYPE`, or the type alone for every file
    s3-cache-control: "max-age=1\u{7}"
    ::error title=stevedore::input `s3-cache-control`: `max-age=1\u{7}` cannot be sent as an HTTP header; use visible ASCII characters
    check-run: "on"
    ::error title=stevedore::input `check-run`: `on` is not a boolean; use one of true, True, TRUE, false, False, FALSE
    summary: "no"
    ::error title=stevedore::input `summary`: `no` is not a boolean; use one of true, True, TRUE, false, False, FALSE
    path: "../outside"
    ::error title=stevedore::input `path`: `../outside`: relative pathing `.` and `..` is not allowed
    path: "# only a comment"
    ::error title=stevedore::input `path`: is required: give one or more globs, one per line, e.g. `dist/*`
    "##);
}

#[test]
fn every_bad_input_is_reported_at_once_one_error_annotation_each() {
    let ctx = Ctx::new();
    let run = ctx.action(&[
        ("path", "dist"),
        ("overwrite", "yes"),
        ("duplicates", "fail"),
        ("max-file-size", "big"),
    ]);
    assert_eq!(run.code, 2);
    // One error annotation per input, in one run.
    insta::assert_snapshot!(annotations(&run.stdout), @r#"
    ::error title=stevedore::input `overwrite`: `yes` is not a boolean; use one of true, True, TRUE, false, False, FALSE
    ::error title=stevedore::input `duplicates`: `fail` is not accepted; use one of warn, error, ignore
    ::error title=stevedore::input `max-file-size`: `big` is not a size; use a number with an optional unit, e.g. 500MB, 2GiB, 1.5GB or 1048576
    "#);
}

#[test]
#[allow(clippy::too_many_lines, reason = "most of it is the inline snapshot")]
fn a_usage_error_names_the_flag_and_help_lists_every_input_and_exit_code() {
    let ctx = Ctx::new();
    let run = ctx.cli(&["--path", "x", "--no-such-flag"]);
    assert_eq!(run.code, 2, "{}", run.log());
    assert!(run.stderr.contains("--no-such-flag"));
    // Every input of the action is a flag, and the exit codes are explained.
    let run = ctx.cli(&["--help"]);
    assert_eq!(run.code, 0);
    insta::assert_snapshot!(redact(&run.stdout), @r#"
    Select build outputs by glob, scan them (SHA-256, duplicates, credentials, size), and ship them

    Usage: stevedore [OPTIONS] [PATH]...
           stevedore verify [OPTIONS] <DIR>
           stevedore download [OPTIONS]
           stevedore completions <SHELL>

    Commands:
      verify       Check that a directory holds exactly the files of a checksums file or a stevedore manifest
      download     Download workflow artifacts exactly: digest verified, modes restored, merged safely
      completions  Print the shell completion script for stevedore
      help         Print this message or the help of the given subcommand(s)

    Arguments:
      [PATH]...  Files to ship: globs, as `path` lines (after any --path lines)

    Options:
          --path <VALUE>
              Files to ship: one glob per line, `!` excludes, `#` comments (required)
          --destination <VALUE>
              Where to upload: artifact, release, s3://bucket/prefix, a directory path such as ./out, or none; one per line [default: artifact in Actions, none elsewhere]
          --name <VALUE>
              Artifact name [default: artifact]
          --fail-on-unmatched-files[=<BOOL>]
              Fail (exit 3) when a line of `path` matches no file, naming the line [default: false]
          --if-no-files-found <VALUE>
              What to do when no file matches: warn, error or ignore [default: warn]
          --include-hidden-files[=<BOOL>]
              Select files and directories whose name starts with a dot [default: false]
          --symlinks <VALUE>
              Symbolic links: follow (ship what they point to) or preserve (ship the link itself; artifact and directory destinations) [default: follow]
          --retention-days <VALUE>
              Days to keep the artifact (1-400); empty uses the repository default
          --compression-level <VALUE>
              Zip compression level for artifacts, 0 (store) to 9 [default: 6]
          --overwrite[=<BOOL>]
              Replace an existing artifact, release asset or non-empty destination directory [default: false]
          --archive[=<BOOL>]
              false uploads each file as its own unzipped artifact [default: true]
          --artifact-documents[=<BOOL>]
              Put the checksums file and the manifest in the (archived) artifact beside the files [default: true]
          --tag <VALUE>
              Release tag [default: tag of the ref]
          --release-name <VALUE>
              Release title
          --draft[=<BOOL>]
              Leave the release as a draft [default: false]
          --prerelease[=<BOOL>]
              Mark the release as a prerelease [default: false]
          --make-latest <VALUE>
              Mark the release as latest: true, false or legacy
          --release-id <VALUE>
              Upload to this existing release id instead of looking it up by tag
          --repository <VALUE>
              Ship the release to this owner/name instead of GITHUB_REPOSITORY (the token needs access to it) [default: the current repository]
          --body <VALUE>
              Release notes of a release this run creates
          --body-path <VALUE>
              File whose text is the release notes (wins over `body`)
          --generate-release-notes[=<BOOL>]
              Append GitHub's generated release notes to the body of a release this run creates [default: false]
          --target-commitish <VALUE>
              Commit or branch a tag this run creates points at; empty uses the default branch
          --expect-assets <VALUE>
              Globs over release asset names, one per line: publish only once each matches an asset (matrix jobs)
          --rolling[=<BOOL>]
              Keep one release for `tag` that always holds this run's build: the tag moves to this commit, the assets and notes are replaced, the previous release stays as it was until the new one is complete [default: false]
          --asset-label <VALUE>
              Label of each release asset, shown on the release page in place of its name (GitHub keeps labels verbatim); `{name}` is the file's name as selected
          --discussion-category <VALUE>
              Create a discussion in this existing category with the release when it is published
          --previous-tag <VALUE>
              The tag generated release notes start from (`generate-release-notes`); empty lets GitHub choose
          --checksums-in-body[=<BOOL>]
              Append a table of every asset's SHA-256 to the release notes [default: false]
          --job-key <VALUE>
              This job's key when several jobs ship to one s3:// prefix (e.g. the matrix target): its checksums file and manifest are named after it
          --s3-endpoint <VALUE>
              S3-compatible endpoint URL; empty uses AWS
          --s3-region <VALUE>
              S3 region; empty uses AWS_REGION or us-east-1
          --s3-path-style[=<BOOL>]
              Address buckets as endpoint/bucket instead of bucket.endpoint [default: false]
          --s3-checksum <VALUE>
              How S3 checks each object: sha256 (x-amz-checksum-sha256), crc32, crc32c (x-amz-checksum-crc32, -crc32c) or none (providers that refuse checksum headers; the signed payload hash still covers the bytes) [default: sha256]
          --s3-cache-control <VALUE>
              Cache-Control every S3 object is stored with (e.g. max-age=3600)
          --s3-content-type <VALUE>
              Content-Type of S3 objects instead of the one guessed from the extension: TYPE for every file, or GLOB=TYPE per line (first match wins)
          --s3-acl <VALUE>
              Canned ACL of every S3 object (x-amz-acl), e.g. bucket-owner-full-control
          --s3-storage-class <VALUE>
              Storage class of every S3 object (x-amz-storage-class), e.g. STANDARD_IA
          --s3-sse <VALUE>
              Server-side encryption of every S3 object: AES256, aws:kms or aws:kms:dsse
          --s3-sse-kms-key-id <VALUE>
              KMS key for s3-sse aws:kms (its id, ARN or alias); empty uses the bucket's default key
          --checksums <VALUE>
              Name of the checksums file (sha256sum -c format) [default: SHA256SUMS]
          --secrets <VALUE>
              Credential scan before upload: error, warn or off [default: error]
          --secrets-allow <VALUE>
              Globs of relative paths whose secret findings are accepted, one per line
          --duplicates <VALUE>
              Files with identical content: warn, error or ignore [default: warn]
          --max-file-size <VALUE>
              Largest allowed file, e.g. 500MB or 2GiB
          --max-total-size <VALUE>
              Largest allowed total, e.g. 10GiB
          --upload-concurrency <VALUE>
              Requests in flight per destination (1-256); empty uses each destination's default
          --token <VALUE>
              Token for releases and check runs [default: github.token]
          --check-run[=<BOOL>]
              Publish findings as a check run [default: false]
          --summary[=<BOOL>]
              Write the job summary [default: true]
      -h, --help
              Print help
      -V, --version
              Print version

    Without arguments, inputs are read from INPUT_<NAME> variables (GitHub Actions).
    Boolean inputs are switches: --overwrite means --overwrite true.
    A path named like a subcommand (verify, download, completions, help) is given as ./verify or --path verify.
    Exit codes: 0 success, 1 internal error, 2 bad input, 3 policy violation (verify: not intact), 4 upload failed.
    "#);
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
