//! The directory destination: byte-exact copies, checksums that verify there, and the
//! refusals that keep a user's files safe.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

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
    assert!(
        !ctx.ws.join("published/old.txt").exists(),
        "replaced as a whole"
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
    assert!(
        run.stdout.contains("::error title=stevedore::cannot write"),
        "{}",
        run.stdout
    );
    assert_eq!(
        fs::read_to_string(ctx.ws.join("blocker")).expect("untouched"),
        "not a directory"
    );
    assert!(run.summary.contains("❌"), "{}", run.summary);
}

#[test]
fn a_file_changed_after_the_scan_is_not_published() {
    use stevedore::upload::UploadError;

    let ctx = Ctx::new();
    ctx.file("dist/a.txt", "original");
    ctx.file("dist/b.txt", "stays");
    // The build writes to a.txt after the scan (same size, different bytes).
    let (reports, error) = crate::support::upload_after_rewrite(
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
