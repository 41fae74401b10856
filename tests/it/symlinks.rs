//! `symlinks: preserve` (issue 14 item 6): a selected link ships as a link, to a
//! directory (recreated) or inside the artifact zip (an `S_IFLNK|0777` entry holding the
//! target, as Info-ZIP's `zip -y` writes it), and `download::extract` restores it; links
//! that escape the root and destinations that cannot hold a link are exit 2.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::Command;

use crate::support::emulator::emulator;
use crate::support::tree;
use crate::support::zips::extract;
use crate::support::{Ctx, random_bytes, sha256sum_check};

/// `dist/`: an executable, a versioned library with its links, a link to a directory,
/// a link to a file in another directory and a dangling link that stays inside.
fn build_tree(ctx: &Ctx) {
    let tool = ctx.file("dist/bin/tool", "#!/bin/sh\necho tool\n");
    fs::set_permissions(&tool, fs::Permissions::from_mode(0o755)).expect("chmod");
    ctx.file("dist/lib/libfoo.so.1.2", random_bytes(150_000, 5));
    let dist = ctx.ws.join("dist");
    symlink("libfoo.so.1.2", dist.join("lib/libfoo.so.1")).expect("symlink");
    symlink("libfoo.so.1", dist.join("lib/libfoo.so")).expect("symlink");
    symlink("lib", dist.join("current")).expect("symlink");
    symlink("../bin/tool", dist.join("lib/tool")).expect("symlink");
    symlink("not-built-yet", dist.join("later")).expect("symlink");
}

/// Files and links of a tree (directories' modes depend on how they were made).
fn leaves(dir: &Path) -> BTreeMap<String, (char, u32, Vec<u8>)> {
    tree(dir)
        .into_iter()
        .filter(|(_, (kind, _, _))| *kind != 'd')
        .collect()
}

/// [`leaves`] of a tree stevedore shipped, without the two documents beside the files.
fn shipped_leaves(dir: &Path) -> BTreeMap<String, (char, u32, Vec<u8>)> {
    let mut all = leaves(dir);
    for doc in ["SHA256SUMS", "stevedore-manifest.json"] {
        assert!(all.remove(doc).is_some(), "{doc} shipped");
    }
    all
}

#[test]
fn a_bad_value_and_destinations_that_cannot_hold_links_are_exit_2() {
    let ctx = Ctx::new();
    ctx.file("dist/a.txt", "a");
    let run = ctx.action(&[
        ("path", "dist"),
        ("destination", "./out"),
        ("symlinks", "sideways"),
    ]);
    assert_eq!(run.code, 2, "{}", run.log());
    assert!(run.log().contains("input `symlinks`"), "{}", run.log());
    for (destination, archive, named) in [
        ("release", "true", "`release`"),
        ("s3://bucket/prefix", "true", "`s3://`"),
        ("artifact", "false", "`archive: false`"),
    ] {
        let run = ctx.action(&[
            ("path", "dist"),
            ("destination", destination),
            ("archive", archive),
            ("symlinks", "preserve"),
        ]);
        assert_eq!(run.code, 2, "{destination}: {}", run.log());
        let log = run.log();
        assert!(
            log.contains("input `symlinks`") && log.contains(named),
            "{log}"
        );
        assert!(log.contains("::error"), "an error annotation: {log}");
    }
    assert!(!ctx.ws.join("out").exists());
}

#[test]
fn a_preserved_link_leaving_the_root_is_exit_2_naming_it() {
    for target in ["../outside.txt", "/etc/hostname", "sub/../../outside.txt"] {
        let ctx = Ctx::new();
        ctx.file("outside.txt", "secret next door");
        ctx.file("dist/sub/a.txt", "a");
        symlink(target, ctx.ws.join("dist/escape")).expect("symlink");
        let run = ctx.action(&[
            ("path", "dist"),
            ("destination", "./out"),
            ("symlinks", "preserve"),
        ]);
        assert_eq!(run.code, 2, "{target}: {}", run.log());
        let log = run.log();
        assert!(
            log.contains("`escape` is a symbolic link to") && log.contains(target),
            "{log}"
        );
        assert!(!ctx.ws.join("out").exists(), "nothing shipped");
        // Followed (the default), the same tree ships the file it points to.
        let run = ctx.action(&[("path", "dist"), ("destination", "./followed")]);
        if target == "/etc/hostname" && !Path::new(target).exists() {
            continue;
        }
        assert_eq!(run.code, 0, "{}", run.log());
        assert!(
            !fs::symlink_metadata(ctx.ws.join("followed/escape"))
                .expect("copied")
                .file_type()
                .is_symlink()
        );
    }
}

#[test]
fn links_that_leave_the_root_only_together_are_exit_2_naming_the_second() {
    // The review's chain (issue 19 item 5): `l1` alone points at the root, `l2` through it
    // at a file beside the workspace. With the default (follow) it would ship the file.
    let ctx = Ctx::new();
    ctx.file("outside.txt", "secret next door");
    ctx.file("dist/a/b/c/d/readme", "r");
    let deep = ctx.ws.join("dist/a/b/c/d");
    symlink("../../../..", deep.join("l1")).expect("symlink");
    symlink("l1/../outside.txt", deep.join("l2")).expect("symlink");
    for destination in ["./out", "artifact"] {
        let job = emulator().job();
        let run = ctx.action_env(
            &[
                ("path", "dist"),
                ("destination", destination),
                ("symlinks", "preserve"),
            ],
            &emulator().env(&job),
        );
        assert_eq!(run.code, 2, "{destination}: {}", run.log());
        let log = run.log();
        assert!(
            log.contains("`a/b/c/d/l2` is a symbolic link to")
                && log.contains("passes through the shipped link `a/b/c/d/l1`"),
            "{log}"
        );
        assert!(!ctx.ws.join("out").exists(), "nothing shipped");
        assert!(
            !emulator()
                .calls(&job)
                .iter()
                .any(|(method, _)| method == "CreateArtifact")
        );
    }
    // Without `l2`, `l1` (inside alone) ships as a link.
    fs::remove_file(deep.join("l2")).expect("rm");
    let run = ctx.action(&[
        ("path", "dist"),
        ("destination", "./out"),
        ("symlinks", "preserve"),
    ]);
    assert_eq!(run.code, 0, "{}", run.log());
    assert_eq!(
        fs::read_link(ctx.ws.join("out/a/b/c/d/l1")).expect("a link"),
        Path::new("../../../..")
    );
}

#[test]
fn a_directory_destination_recreates_the_links() {
    let ctx = Ctx::new();
    build_tree(&ctx);
    let run = ctx.action(&[
        ("path", "dist"),
        ("destination", "./out"),
        ("symlinks", "preserve"),
    ]);
    assert_eq!(run.code, 0, "{}", run.log());
    let out = ctx.ws.join("out");
    let mut copied = leaves(&out);
    copied.remove("SHA256SUMS").expect("checksums");
    copied.remove("stevedore-manifest.json").expect("manifest");
    assert_eq!(copied, leaves(&ctx.ws.join("dist")));
    // The checksums file lists regular files only, and verifies in the copy.
    let sums = fs::read_to_string(out.join("SHA256SUMS")).expect("sums");
    assert_eq!(sums.lines().count(), 2, "{sums}");
    sha256sum_check(&out, Path::new("SHA256SUMS"));
    // The manifest lists each link with its target; size and hash are the target's.
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(out.join("stevedore-manifest.json")).expect("manifest"))
            .expect("json");
    let link = manifest["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["path"] == "lib/libfoo.so")
        .expect("the link is listed");
    assert_eq!(link["type"], "symlink");
    assert_eq!(link["target"], "libfoo.so.1");
    assert_eq!(link["size"], 11);
    assert_eq!(link["mode"], "0777");
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"libfoo.so.1"));
    assert_eq!(link["sha256"], sha.as_str());
    let file = manifest["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["path"] == "bin/tool")
        .expect("file");
    assert!(
        file.get("type").is_none() && file.get("target").is_none(),
        "{file}"
    );
}

#[test]
fn an_artifact_keeps_its_links_for_zipinfo_and_extract_zip() {
    let ctx = Ctx::new();
    build_tree(&ctx);
    let job = emulator().job();
    let run = ctx.action_env(
        &[
            ("path", "dist"),
            ("destination", "artifact"),
            ("name", "linked"),
            ("symlinks", "preserve"),
        ],
        &emulator().env(&job),
    );
    assert_eq!(run.code, 0, "{}", run.log());
    let zip = ctx.temp.join("linked.zip");
    fs::write(&zip, emulator().stored(&job, "linked")).expect("write zip");
    // Info-ZIP (`unzip -Z`, the zipinfo listing) reads the entry types: `l` for each link,
    // as `zip -y` would have written.
    let listing = Command::new("unzip")
        .arg("-Z")
        .arg(&zip)
        .output()
        .expect("unzip -Z");
    assert!(listing.status.success());
    let listing = String::from_utf8_lossy(&listing.stdout);
    for link in [
        "current",
        "later",
        "lib/libfoo.so",
        "lib/libfoo.so.1",
        "lib/tool",
    ] {
        assert!(
            listing
                .lines()
                .any(|l| l.starts_with("lrwxrwxrwx") && l.ends_with(&format!(" {link}"))),
            "{link} is not a link entry:\n{listing}"
        );
    }
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with("-rwxr-xr-x") && l.ends_with(" bin/tool")),
        "{listing}"
    );
    let unzip = Command::new("unzip")
        .arg("-tq")
        .arg(&zip)
        .output()
        .expect("unzip");
    assert!(unzip.status.success(), "{unzip:?}");
    // And the way back restores the same tree: bytes, modes, links.
    let dest = ctx.temp.join("restored");
    fs::create_dir(&dest).expect("mkdir");
    let done = extract(&zip, &dest, false).expect("extracts");
    assert_eq!(done.files, 4, "two files and the two documents");
    assert_eq!(shipped_leaves(&dest), leaves(&ctx.ws.join("dist")));
}

/// The round trip of issue 14: `symlinks: preserve` upload, then `stevedore download`:
/// the same tree, links and modes included (download-artifact would write each link's
/// target as a file's content).
#[test]
fn preserved_links_come_back_through_stevedore_download() {
    let ctx = Ctx::new();
    build_tree(&ctx);
    let job = emulator().job();
    let up = ctx.action_env(
        &[
            ("path", "dist"),
            ("destination", "artifact"),
            ("name", "linked"),
            ("symlinks", "preserve"),
        ],
        &emulator().env(&job),
    );
    assert_eq!(up.code, 0, "{}", up.log());
    let dest = ctx.temp.join("restored");
    let run = crate::support::run_download_into(&ctx, &job, "linked", &dest);
    assert_eq!(run.code, 0, "{}", run.log());
    assert_eq!(shipped_leaves(&dest), leaves(&ctx.ws.join("dist")));
    assert!(
        fs::symlink_metadata(dest.join("current"))
            .expect("link")
            .file_type()
            .is_symlink()
    );
}
