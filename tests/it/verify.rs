//! `stevedore verify` over trees stevedore itself wrote, as a newcomer meets them (issue 26
//! item 2): links kept with `symlinks: preserve`, a custom checksums name, modes lost in
//! transit, one downloaded file beside a release's `SHA256SUMS` (`--ignore-missing`); and
//! the review's findings on what verify must not overlook (issue 19 item 8): names that
//! are not UTF-8, documents of another list.

use std::fs;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::{PermissionsExt as _, symlink};

use crate::support::text::redact;
use crate::support::{Ctx, Run};

fn verify(ctx: &Ctx, args: &[&str]) -> Run {
    let mut all = vec!["verify"];
    all.extend_from_slice(args);
    ctx.cli(&all)
}

/// `dist/` shipped to `./out` with the extra inputs given.
fn shipped(extra: &[(&str, &str)]) -> Ctx {
    let ctx = Ctx::new();
    ctx.file("dist/app.bin", crate::support::random_bytes(50_000, 3));
    let tool = ctx.file("dist/bin/tool", "#!/bin/sh\n");
    fs::set_permissions(&tool, fs::Permissions::from_mode(0o755)).expect("chmod");
    ctx.file("dist/lib/libx.so.1", "lib");
    symlink("libx.so.1", ctx.ws.join("dist/lib/libx.so")).expect("link");
    let mut inputs = vec![("path", "dist"), ("destination", "./out")];
    inputs.extend_from_slice(extra);
    let run = ctx.action(&inputs);
    assert_eq!(run.code, 0, "{}", run.log());
    ctx
}

#[test]
fn a_tree_with_preserved_links_and_a_custom_checksums_name_verifies() {
    let ctx = shipped(&[("symlinks", "preserve"), ("checksums", "CHECKSUMS.txt")]);
    let run = verify(&ctx, &["out"]);
    assert_eq!(run.code, 0, "{}", run.log());
    insta::assert_snapshot!(redact(&run.stdout), @r#"
    verifying `out` against `out/stevedore-manifest.json` (manifest, 4 files)
    4 listed: 4 intact, 0 changed, 0 missing; 0 extra
    "#);
    // With the checksums file as the list, the manifest written with it is no extra; the
    // link is (a checksums file lists regular files only: the manifest knows links).
    let run = verify(&ctx, &["out", "--checksums", "out/CHECKSUMS.txt"]);
    assert_eq!(run.code, 3, "{}", run.log());
    insta::assert_snapshot!(redact(&run.stdout), @r#"
    verifying `out` against `out/CHECKSUMS.txt` (checksums, 3 files)
    extra: lib/libx.so
    3 listed: 3 intact, 0 changed, 0 missing; 1 extra
    error: `out` does not match its list
    "#);
    // A link that changed its target is named.
    let link = ctx.ws.join("out/lib/libx.so");
    fs::remove_file(&link).expect("rm");
    symlink("elsewhere", &link).expect("link");
    let run = verify(&ctx, &["out"]);
    assert_eq!(run.code, 3, "{}", run.log());
    insta::assert_snapshot!(redact(&run.stdout), @r#"
    verifying `out` against `out/stevedore-manifest.json` (manifest, 4 files)
    changed: lib/libx.so (links to `elsewhere`, listed `libx.so.1`)
    4 listed: 3 intact, 1 changed, 0 missing; 0 extra
    error: `out` does not match its list
    "#);
}

#[test]
fn modes_lost_in_transit_are_said_and_can_be_left_out() {
    let ctx = shipped(&[]);
    // As `cp -r` under `umask 077`, or any transfer that keeps no modes.
    for file in ["out/app.bin", "out/bin/tool", "out/lib/libx.so.1"] {
        fs::set_permissions(ctx.ws.join(file), fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let run = verify(&ctx, &["out"]);
    assert_eq!(run.code, 3, "{}", run.log());
    insta::assert_snapshot!(redact(&run.stdout), @r#"
    verifying `out` against `out/stevedore-manifest.json` (manifest, 4 files)
    changed: app.bin (mode 0600, listed 0644)
    changed: bin/tool (mode 0600, listed 0755)
    changed: lib/libx.so.1 (mode 0600, listed 0644)
    4 listed: 1 intact, 3 changed, 0 missing; 0 extra
    only modes differ: modes do not survive every transfer (S3, HTTP downloads, `cp` under `umask 077`); `stevedore verify --no-modes` compares contents only
    error: `out` does not match its list
    "#);
    let run = verify(&ctx, &["out", "--no-modes"]);
    assert_eq!(run.code, 0, "{}", run.log());
}

#[test]
fn one_downloaded_asset_beside_the_checksums_verifies_with_ignore_missing() {
    let ctx = shipped(&[]);
    let dl = ctx.ws.join("downloads");
    fs::create_dir(&dl).expect("mkdir");
    fs::copy(ctx.ws.join("out/SHA256SUMS"), dl.join("SHA256SUMS")).expect("copy");
    fs::copy(ctx.ws.join("out/app.bin"), dl.join("app.bin")).expect("copy");
    let run = verify(&ctx, &["downloads"]);
    assert_eq!(run.code, 3, "{}", run.log());
    insta::assert_snapshot!(redact(&run.stdout), @r#"
    verifying `downloads` against `downloads/SHA256SUMS` (checksums, 4 files)
    missing: bin/tool
    missing: lib/libx.so
    missing: lib/libx.so.1
    4 listed: 1 intact, 0 changed, 3 missing; 0 extra
    error: `downloads` does not match its list
    "#);
    let run = verify(&ctx, &["downloads", "--ignore-missing"]);
    assert_eq!(run.code, 0, "{}", run.log());
    insta::assert_snapshot!(redact(&run.stdout), @r#"
    verifying `downloads` against `downloads/SHA256SUMS` (checksums, 4 files)
    4 listed: 1 intact, 0 changed, 0 missing (3 absent, ignored); 0 extra
    "#);
    // The one file is still checked.
    fs::write(dl.join("app.bin"), "tampered").expect("write");
    let run = verify(&ctx, &["downloads", "--ignore-missing"]);
    assert_eq!(run.code, 3, "{}", run.log());
}

#[test]
fn a_name_that_is_not_utf8_cannot_hide_behind_a_listed_one() {
    let ctx = Ctx::new();
    let dir = ctx.ws.join("tree");
    fs::create_dir(&dir).expect("mkdir");
    // Listed: a name holding U+FFFD. Beside it, unlisted: a byte that is not UTF-8, which a
    // lossy conversion turns into the same U+FFFD.
    fs::write(dir.join("a\u{fffd}"), "listed").expect("write");
    fs::write(
        dir.join(std::ffi::OsStr::from_bytes(b"a\xff")),
        "not listed",
    )
    .expect("write");
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"listed"));
    fs::write(ctx.ws.join("list"), format!("{sha}  a\u{fffd}\n")).expect("write");
    let run = verify(&ctx, &["tree", "--checksums", "list"]);
    assert_eq!(run.code, 3, "{}", run.log());
    insta::assert_snapshot!(redact(&run.stdout), @r#"
    verifying `tree` against `list` (checksums, 1 files)
    extra: a� (a name that is not UTF-8)
    1 listed: 1 intact, 0 changed, 0 missing; 1 extra
    error: `tree` does not match its list
    "#);
}

#[test]
fn another_lists_documents_are_files_like_any_other() {
    let ctx = shipped(&[]);
    // A list of one file, kept outside the tree: `SHA256SUMS` and the manifest in `out`
    // vouch for other files than it does, so they are extra, as everything else unlisted.
    let line = fs::read_to_string(ctx.ws.join("out/SHA256SUMS"))
        .expect("sums")
        .lines()
        .find(|l| l.ends_with("app.bin"))
        .expect("app.bin listed")
        .to_owned();
    fs::write(ctx.ws.join("one.sums"), format!("{line}\n")).expect("write");
    let run = verify(&ctx, &["out", "--checksums", "one.sums"]);
    assert_eq!(run.code, 3, "{}", run.log());
    insta::assert_snapshot!(redact(&run.stdout), @r#"
    verifying `out` against `one.sums` (checksums, 1 files)
    extra: SHA256SUMS
    extra: bin/tool
    extra: lib/libx.so
    extra: lib/libx.so.1
    extra: stevedore-manifest.json
    1 listed: 1 intact, 0 changed, 0 missing; 5 extra
    error: `out` does not match its list
    "#);
}

#[test]
fn several_lists_are_checked_together_and_must_agree() {
    let ctx = shipped(&[]);
    let out = ctx.ws.join("out");
    // A `job-key` layout: each job's checksums file, no single one.
    let sums = fs::read_to_string(out.join("SHA256SUMS")).expect("sums");
    let lines: Vec<&str> = sums.lines().collect();
    let (first, rest) = lines.split_at(1);
    fs::write(out.join("SHA256SUMS-linux"), first.join("\n") + "\n").expect("write");
    fs::write(out.join("SHA256SUMS-macos"), rest.join("\n") + "\n").expect("write");
    for doc in ["SHA256SUMS", "stevedore-manifest.json"] {
        fs::remove_file(out.join(doc)).expect("rm");
    }
    let run = verify(&ctx, &["out"]);
    assert_eq!(run.code, 0, "{}", run.log());
    insta::assert_snapshot!(redact(&run.stdout), @r#"
    verifying `out` against `out/SHA256SUMS-linux` (checksums), `out/SHA256SUMS-macos` (checksums, 4 files)
    4 listed: 4 intact, 0 changed, 0 missing; 0 extra
    "#);
    // Two lists that vouch for different contents at one path are an error, not a guess.
    let name = first[0].split_once("  ").expect("line").1;
    fs::write(
        ctx.ws.join("other.sums"),
        format!("{}  {name}\n", "0".repeat(64)),
    )
    .expect("write");
    let run = verify(
        &ctx,
        &[
            "out",
            "--checksums",
            "out/SHA256SUMS-linux",
            "--checksums",
            "other.sums",
        ],
    );
    assert_eq!(run.code, 2, "{}", run.log());
    insta::assert_snapshot!(redact(&run.log()), @"error: `out/SHA256SUMS-linux` and `other.sums` disagree about `app.bin`; a path must have one content in every list checked together");
}
