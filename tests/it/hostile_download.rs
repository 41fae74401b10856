//! The second security review's hostile artifacts (issue 19), each through the whole of
//! `stevedore download` against the results emulator and Azurite: links that lead out of
//! `path` only in combination (two artifacts merged, two steps into one `path`, a link
//! already in `path`, a case-insensitive file system), `.git`, placement by a user who is
//! not root, a `path` on another file system, and more entries than the file system has
//! inodes. Each ends in exit 4 with `path` and its surroundings as they were, or (the
//! honest cases) in the tree exactly as uploaded.

use std::fs;
use std::os::unix::fs::{PermissionsExt as _, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::emulator::{Job, emulator, ship_zip};
use crate::support::tree::names_in;
use crate::support::zips::{Raw, build};
use crate::support::{
    Ctx, STEVEDORE, run_download, run_download_as, run_download_into, snapshot, staging_left,
};

/// `partA`: alone, `l1` points at the root of `path` (four levels up from `a/b/c/d`).
fn part_a() -> Vec<u8> {
    build(&[
        Raw::file("a/b/c/d/readme", b"part A", 0o644),
        Raw::link("a/b/c/d/l1", "../../../.."),
    ])
}

/// `partB`: alone, `l2` climbs out of `l1`, which it does not hold.
fn part_b() -> Vec<u8> {
    build(&[Raw::link(
        "a/b/c/d/l2",
        "l1/../../../../../outside/secret.txt",
    )])
}

/// A scene: `box/` holds `outside/secret.txt` (what an escaping link would reach: `l2`
/// from `box/dest/a/b/c/d` lands here) and `dest`, the download's `path`.
struct Scene {
    ctx: Ctx,
    job: Job,
    boxed: PathBuf,
    dest: PathBuf,
}

impl Scene {
    fn new() -> Scene {
        let ctx = Ctx::new();
        let job = emulator().job();
        let boxed = ctx.temp.join("box");
        fs::create_dir_all(boxed.join("outside")).expect("mkdir");
        fs::write(boxed.join("outside/secret.txt"), "outside `path`").expect("write");
        let dest = boxed.join("dest");
        Scene {
            ctx,
            job,
            boxed,
            dest,
        }
    }

    /// Ships `zip` as the raw artifact `name` of this scene's job.
    fn ship(&self, name: &str, zip: &[u8]) {
        ship_zip(&self.ctx, &self.job, name, zip);
    }

    fn download(&self, inputs: &[(&str, &str)]) -> crate::support::Run {
        let mut all = inputs.to_vec();
        all.push(("path", self.dest.to_str().expect("utf-8")));
        run_download(&self.ctx, &self.job, &all)
    }

    /// Exit 4 naming `named`, `box/` exactly as `before`, no staging left.
    #[track_caller]
    fn refused(
        &self,
        run: &crate::support::Run,
        named: &str,
        before: &std::collections::BTreeMap<String, (u32, String)>,
    ) {
        assert_eq!(run.code, 4, "{}", run.log());
        assert!(run.log().contains(named), "names {named}: {}", run.log());
        assert!(run.log().contains("::error"), "{}", run.log());
        assert_eq!(
            &snapshot(&self.boxed),
            before,
            "`path` and its surroundings untouched"
        );
        assert!(staging_left(&self.dest).is_empty());
    }
}

#[test]
fn a_link_chain_across_merged_artifacts_is_refused() {
    let scene = Scene::new();
    scene.ship("partA.zip", &part_a());
    scene.ship("partB.zip", &part_b());
    let before = snapshot(&scene.boxed);
    let run = scene.download(&[("pattern", "part*"), ("merge-multiple", "true")]);
    scene.refused(&run, "a/b/c/d/l2", &before);
}

#[test]
fn a_link_chain_across_two_download_steps_into_one_path_is_refused() {
    let scene = Scene::new();
    scene.ship("partA.zip", &part_a());
    scene.ship("partB.zip", &part_b());
    let first = scene.download(&[("name", "partA.zip")]);
    assert_eq!(first.code, 0, "{}", first.log());
    assert_eq!(
        fs::read_link(scene.dest.join("a/b/c/d/l1")).expect("l1 placed"),
        Path::new("../../../..")
    );
    let before = snapshot(&scene.boxed);
    let run = scene.download(&[("name", "partB.zip")]);
    scene.refused(&run, "a/b/c/d/l2", &before);
}

#[test]
fn a_link_through_a_link_path_already_holds_is_refused() {
    // `l2` alone points below `l1` (dangling in its archive, which is fine); `path`
    // already has `l1`, leading out: together they leave `path`. Only the check on the
    // staged tree over `path` can see it.
    let scene = Scene::new();
    fs::create_dir_all(scene.dest.join("d")).expect("mkdir");
    symlink("../../outside", scene.dest.join("d/l1")).expect("a link of the workspace's own");
    scene.ship("down.zip", &build(&[Raw::link("d/l2", "l1/secret.txt")]));
    let before = snapshot(&scene.boxed);
    let run = scene.download(&[("name", "down.zip")]);
    scene.refused(&run, "passes through the link `d/l1`", &before);
    // Inside `path`, the same link is restored.
    fs::remove_file(scene.dest.join("d/l1")).expect("rm");
    fs::create_dir(scene.dest.join("d/l1")).expect("a directory now");
    let run = scene.download(&[("name", "down.zip")]);
    assert_eq!(run.code, 0, "{}", run.log());
    assert_eq!(
        fs::read_link(scene.dest.join("d/l2")).expect("placed"),
        Path::new("l1/secret.txt")
    );
}

/// The mount `made`, or `None` after saying why there is none: the test then returns
/// without checking anything (see `Mount`, `Tmpfs`).
#[allow(
    clippy::print_stderr,
    reason = "the test's own output says it checked nothing"
)]
fn mounted<T>(made: Result<T, String>, what: &str) -> Option<T> {
    match made {
        Ok(mount) => Some(mount),
        Err(why) => {
            eprintln!("SKIPPED ({what}): {why}");
            None
        }
    }
}

/// A case-insensitive file system with links, mounted for one test: an NTFS image through
/// `lowntfs-3g -o ignore_case` (FUSE). `None`, with the reason, where this machine allows
/// no such mount (not root, no `/dev/fuse`, no ntfs-3g).
struct Mount {
    dir: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Mount {
    fn case_insensitive() -> Result<Mount, String> {
        let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
        let image = tmp.path().join("ntfs.img");
        let dir = tmp.path().join("mnt");
        fs::create_dir(&dir).map_err(|e| e.to_string())?;
        fs::File::create(&image)
            .and_then(|f| f.set_len(64 << 20))
            .map_err(|e| e.to_string())?;
        let run = |cmd: &mut Command| -> Result<(), String> {
            let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "{cmd:?}: {}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ))
            }
        };
        run(Command::new("mkntfs").args(["-F", "-q", "-f"]).arg(&image))?;
        run(Command::new("lowntfs-3g")
            .args(["-o", "ignore_case"])
            .arg(&image)
            .arg(&dir))?;
        let mount = Mount { dir, _tmp: tmp };
        // Proof that it folds case and holds links, or no test.
        fs::write(mount.dir.join("probe"), "x").map_err(|e| e.to_string())?;
        if !mount.dir.join("PROBE").exists() {
            return Err("the mount does not fold case".into());
        }
        symlink("probe", mount.dir.join("link")).map_err(|e| format!("no links: {e}"))?;
        for name in ["probe", "link"] {
            fs::remove_file(mount.dir.join(name)).map_err(|e| e.to_string())?;
        }
        Ok(mount)
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir).status();
    }
}

#[test]
fn a_link_through_a_case_folded_name_is_refused_on_a_case_insensitive_file_system() {
    let Some(mount) = mounted(
        Mount::case_insensitive(),
        "this machine cannot mount a case-insensitive file system",
    ) else {
        return;
    };
    let ctx = Ctx::new();
    let job = emulator().job();
    // One archive, every name in lower case: by name `L1` is no entry of it; on this file
    // system it is the link `l1`.
    ship_zip(
        &ctx,
        &job,
        "folded.zip",
        &build(&[
            Raw::link("a/b/c/d/l1", "../../../.."),
            Raw::link("a/b/c/d/l2", "L1/../../../../../outside/secret.txt"),
        ]),
    );
    fs::create_dir(mount.dir.join("outside")).expect("mkdir");
    fs::write(mount.dir.join("outside/secret.txt"), "outside").expect("write");
    let dest = mount.dir.join("dest");
    let before = snapshot(&mount.dir);
    let run = run_download_into(&ctx, &job, "folded.zip", &dest);
    assert_eq!(run.code, 4, "{}", run.log());
    assert!(run.log().contains("a/b/c/d/l2"), "{}", run.log());
    assert_eq!(snapshot(&mount.dir), before, "nothing placed");
    // The same archive with distinct names comes back on the same file system.
    ship_zip(
        &ctx,
        &job,
        "honest.zip",
        &build(&[
            Raw::file("Docs/Readme.md", b"docs", 0o644),
            Raw::link("a/latest", "../Docs/Readme.md"),
        ]),
    );
    let run = run_download_into(&ctx, &job, "honest.zip", &dest);
    assert_eq!(run.code, 0, "{}", run.log());
    assert_eq!(
        fs::read(dest.join("a/latest")).expect("through the link"),
        b"docs"
    );
}

#[test]
fn git_directories_are_never_written() {
    let scene = Scene::new();
    fs::create_dir_all(scene.dest.join(".git/hooks")).expect("a repository");
    fs::write(scene.dest.join(".git/config"), "[core]\n").expect("write");
    for (artifact, entry) in [
        ("config.zip", ".git/config"),
        ("hook.zip", ".git/hooks/post-checkout"),
        ("nested.zip", "sub/.GIT/hooks/post-checkout"),
    ] {
        scene.ship(
            artifact,
            &build(&[
                Raw::file("fine.txt", b"fine", 0o644),
                Raw::file(entry, b"#!/bin/sh\ntouch /tmp/owned\n", 0o755),
            ]),
        );
        let before = snapshot(&scene.boxed);
        let run = scene.download(&[("name", artifact)]);
        scene.refused(&run, entry, &before);
        assert!(run.log().contains("`.git`"), "{}", run.log());
    }
    // An artifact *named* `.git`, downloaded beside another into `path/<name>/`.
    let root = scene.ctx.ws.join("hooks");
    fs::create_dir_all(&root).expect("mkdir");
    fs::write(root.join("post-checkout"), "#!/bin/sh\n").expect("write");
    let job = emulator().job();
    let files = [root.join("post-checkout").to_string_lossy().into_owned()];
    let mut args = vec!["upload", ".git", root.to_str().expect("utf-8"), "6"];
    args.extend(files.iter().map(String::as_str));
    emulator().official(&job, &args);
    let mut args = vec!["upload", "other", root.to_str().expect("utf-8"), "6"];
    args.extend(files.iter().map(String::as_str));
    emulator().official(&job, &args);
    let before = snapshot(&scene.boxed);
    let run = run_download(
        &scene.ctx,
        &job,
        &[("path", scene.dest.to_str().expect("utf-8"))],
    );
    scene.refused(&run, "artifact `.git`", &before);
}

/// Makes `ctx`'s directories usable by another user.
fn open_to_all(ctx: &Ctx) {
    let root = ctx.ws.parent().expect("root");
    fs::set_permissions(root, fs::Permissions::from_mode(0o755)).expect("chmod");
    for dir in [&ctx.ws, &ctx.temp, &ctx.home] {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o777)).expect("chmod");
    }
    for file in [&ctx.output, &ctx.summary] {
        fs::set_permissions(file, fs::Permissions::from_mode(0o666)).expect("chmod");
    }
}

/// `nobody` where the suite runs as root; the current user (already not root) otherwise.
fn unprivileged() -> Option<u32> {
    use std::os::unix::fs::MetadataExt as _;
    let probe = tempfile::tempfile().expect("a file of this user's");
    let root = probe.metadata().expect("meta").uid() == 0;
    root.then_some(65_534)
}

#[test]
fn an_unprivileged_user_places_read_only_directories_or_changes_nothing() {
    let ctx = Ctx::new();
    let job = emulator().job();
    open_to_all(&ctx);
    ship_zip(
        &ctx,
        &job,
        "ro.zip",
        &build(&[
            Raw::file("new.txt", b"new", 0o644),
            Raw::dir("ro/", 0o555),
            Raw::file("ro/inner/f.txt", b"read-only parent", 0o444),
            Raw::dir("ro/inner/", 0o555),
        ]),
    );
    let dest = ctx.temp.join("dest");
    fs::create_dir(&dest).expect("mkdir");
    fs::write(dest.join("keep.txt"), "kept").expect("write");
    fs::set_permissions(&dest, fs::Permissions::from_mode(0o777)).expect("chmod");
    let inputs = [("name", "ro.zip"), ("path", dest.to_str().expect("utf-8"))];
    let run = run_download_as(&ctx, &inputs, &emulator().env(&job), unprivileged());
    assert_eq!(run.code, 0, "{}", run.log());
    let mode = |p: &str| {
        fs::metadata(dest.join(p))
            .expect("meta")
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(
        mode("ro"),
        0o555,
        "the directory's own mode, applied once placed"
    );
    assert_eq!(mode("ro/inner"), 0o555);
    assert_eq!(
        fs::read(dest.join("ro/inner/f.txt")).expect("f"),
        b"read-only parent"
    );
    assert_eq!(fs::read(dest.join("keep.txt")).expect("kept"), b"kept");
    assert!(staging_left(&dest).is_empty(), "{:?}", staging_left(&dest));

    // Into a `path` with a directory this user cannot write: refused before anything moves.
    let locked = ctx.temp.join("locked-dest");
    fs::create_dir_all(locked.join("ro")).expect("mkdir");
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o777)).expect("chmod");
    fs::set_permissions(locked.join("ro"), fs::Permissions::from_mode(0o755)).expect("chmod");
    let before = snapshot(&locked);
    let inputs = [
        ("name", "ro.zip"),
        ("path", locked.to_str().expect("utf-8")),
    ];
    let run = run_download_as(&ctx, &inputs, &emulator().env(&job), unprivileged());
    if unprivileged().is_some() {
        assert_eq!(run.code, 4, "{}", run.log());
        assert!(run.log().contains("cannot write there"), "{}", run.log());
        assert!(
            run.log().contains("`path` was left as it was"),
            "{}",
            run.log()
        );
        assert_eq!(snapshot(&locked), before, "nothing moved");
        assert!(staging_left(&locked).is_empty());
    }
    for p in ["ro/inner", "ro"] {
        let _ = fs::set_permissions(dest.join(p), fs::Permissions::from_mode(0o755));
    }
}

/// A tmpfs mounted for one test (`None`, with the reason, where mounting is not allowed).
struct Tmpfs {
    dir: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(options: &str) -> Result<Tmpfs, String> {
        let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
        let dir = tmp.path().join("mnt");
        fs::create_dir(&dir).map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(&dir)
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(Tmpfs { dir, _tmp: tmp })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir).status();
    }
}

#[test]
fn a_path_linked_to_another_file_system_is_staged_there() {
    let Some(mount) = mounted(Tmpfs::mount("size=16m"), "this machine allows no mount") else {
        return;
    };
    let ctx = Ctx::new();
    let job = emulator().job();
    ship_zip(
        &ctx,
        &job,
        "tree.zip",
        &build(&[Raw::file("dir/f.txt", b"across", 0o644)]),
    );
    fs::create_dir(mount.dir.join("real")).expect("mkdir");
    fs::write(mount.dir.join("real/old.txt"), "old").expect("write");
    let linked = ctx.temp.join("linked");
    symlink(mount.dir.join("real"), &linked).expect("link");
    for path in [&linked, &mount.dir] {
        let run = run_download_into(&ctx, &job, "tree.zip", path);
        assert_eq!(run.code, 0, "{}", run.log());
        assert_eq!(fs::read(path.join("dir/f.txt")).expect("placed"), b"across");
        let left = names_in(path, ".stevedore-");
        assert!(left.is_empty(), "{left:?}");
    }
    assert_eq!(
        fs::read(mount.dir.join("real/old.txt")).expect("kept"),
        b"old"
    );
}

#[test]
fn more_entries_than_free_inodes_are_refused_before_writing() {
    let Some(mount) = mounted(
        Tmpfs::mount("size=16m,nr_inodes=64"),
        "this machine allows no mount",
    ) else {
        return;
    };
    let ctx = Ctx::new();
    let job = emulator().job();
    let entries: Vec<Raw> = (0..200)
        .map(|i| Raw::file(&format!("e/{i:03}"), b"", 0o644))
        .collect();
    ship_zip(&ctx, &job, "many.zip", &build(&entries));
    let dest = mount.dir.join("dest");
    let before = snapshot(&mount.dir);
    let run = run_download_into(&ctx, &job, "many.zip", &dest);
    assert_eq!(run.code, 4, "{}", run.log());
    assert!(
        run.log().contains("holds 201 entries") && run.log().contains("room for"),
        "{}",
        run.log()
    );
    assert_eq!(snapshot(&mount.dir), before);
}

#[test]
fn group_and_world_write_bits_are_dropped() {
    let scene = Scene::new();
    scene.ship(
        "open.zip",
        &build(&[
            Raw::dir("shared/", 0o777),
            Raw::file("shared/f", b"f", 0o666),
            Raw::file("tool", b"#!/bin/sh\n", 0o775),
        ]),
    );
    let run = scene.download(&[("name", "open.zip")]);
    assert_eq!(run.code, 0, "{}", run.log());
    let mode = |p: &str| {
        fs::metadata(scene.dest.join(p))
            .expect("meta")
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("shared"), 0o755);
    assert_eq!(mode("shared/f"), 0o644);
    assert_eq!(mode("tool"), 0o755);
}

#[test]
fn zip_slip_names_are_refused_before_anything_is_uploaded() {
    // On Linux `\` is a file name character; upload-artifact writes it as `/` in the zip.
    for (files, named) in [
        (&["x\\..\\..\\evil.sh"][..], "x/../../evil.sh"),
        (&["y", "y\\z"][..], "lies below `y`"),
        (&["keep\\.git\\config"][..], "keep/.git/config"),
    ] {
        let ctx = Ctx::new();
        let job = emulator().job();
        for file in files {
            ctx.file(&format!("dist/{file}"), "#!/bin/sh\n");
        }
        let run = ctx.action_env(
            &[
                ("path", "dist"),
                ("destination", "artifact"),
                ("include-hidden-files", "true"),
            ],
            &emulator().env(&job),
        );
        assert_eq!(run.code, 2, "{files:?}: {}", run.log());
        assert!(run.log().contains(named), "{named}: {}", run.log());
        assert!(run.log().contains("::error"), "{}", run.log());
        let calls = emulator().calls(&job);
        assert!(
            !calls.iter().any(|(method, _)| method == "CreateArtifact"),
            "nothing uploaded: {calls:?}"
        );
    }
}

// The second, adversarial review of this change (a helper who did not write it) found
// these; each test failed before its fix.

#[test]
fn a_link_an_earlier_step_placed_is_never_turned_elsewhere() {
    // Step 1 alone is safe: `l2` leads through `l1` (four levels down) and back to the root.
    // Step 2 alone is safe: it only points `l1` one level shallower, which would send `l2`
    // above `path`.
    let scene = Scene::new();
    scene.ship(
        "step1.zip",
        &build(&[
            Raw::file("a/b/c/d/readme", b"step 1", 0o644),
            Raw::link("a/b/l1", "c/d"),
            Raw::link("a/b/l2", "l1/../../../../outside/secret.txt"),
        ]),
    );
    scene.ship("step2.zip", &build(&[Raw::link("a/b/l1", "c")]));
    let first = scene.download(&[("name", "step1.zip")]);
    assert_eq!(first.code, 0, "{}", first.log());
    let before = snapshot(&scene.boxed);
    let run = scene.download(&[("name", "step2.zip")]);
    scene.refused(&run, "a link is never replaced by another", &before);
    assert!(
        fs::read(scene.dest.join("a/b/l2")).is_err(),
        "l2 still leads nowhere"
    );
    // The very same link again (a download repeated) is fine.
    let again = scene.download(&[("name", "step1.zip")]);
    assert_eq!(again.code, 0, "{}", again.log());
}

#[test]
fn a_link_into_a_git_directory_is_refused() {
    let scene = Scene::new();
    fs::create_dir_all(scene.dest.join(".git/hooks")).expect("a repository");
    scene.ship("gitlink.zip", &build(&[Raw::link("hooks", ".git/hooks")]));
    let before = snapshot(&scene.boxed);
    let run = scene.download(&[("name", "gitlink.zip")]);
    scene.refused(&run, "leads into the `.git` directory", &before);
}

#[test]
fn a_preserved_link_named_with_a_backslash_is_refused_for_an_artifact() {
    // `p\q` is one name on disk (checked from the root), but `p/q` in the zip, where its
    // `l` is `p/l`: the link would be checked at one place and land at another.
    let ctx = Ctx::new();
    ctx.file("dist/d1/d2/d3/d4/f", "deep");
    ctx.file("dist/p/keep", "p");
    let dist = ctx.ws.join("dist");
    symlink("d1/d2/d3/d4", dist.join("l")).expect("link");
    symlink(".", dist.join("p/l")).expect("link");
    symlink("l/../../../../x", dist.join("p\\q")).expect("link");
    let job = emulator().job();
    let run = ctx.action_env(
        &[
            ("path", "dist"),
            ("destination", "artifact"),
            ("symlinks", "preserve"),
        ],
        &emulator().env(&job),
    );
    assert_eq!(run.code, 2, "{}", run.log());
    assert!(run.log().contains("holds a backslash"), "{}", run.log());
    assert!(
        !emulator()
            .calls(&job)
            .iter()
            .any(|(method, _)| method == "CreateArtifact")
    );
}

/// `stevedore download` under `ulimit -n nofile` (a self-hosted runner's service gets
/// 1024; macOS processes 256).
fn run_download_limited(ctx: &Ctx, job: &Job, inputs: &[(&str, &str)], nofile: u32) -> i32 {
    ctx.step_command("sh", inputs, &emulator().env(job))
        .arg("-c")
        .arg(format!("ulimit -n {nofile} && exec \"$0\" download"))
        .arg(STEVEDORE)
        .output()
        .expect("run")
        .status
        .code()
        .unwrap_or(-1)
}

#[test]
fn deep_artifacts_are_bounded_and_never_leave_their_staging_behind() {
    let scene = Scene::new();
    // Deeper than any build's tree: refused by name, before anything is written.
    let deep = "d/".repeat(1100);
    scene.ship(
        "deep.zip",
        &build(&[Raw::file(&format!("{deep}f"), b"deep", 0o644)]),
    );
    fs::create_dir_all(&scene.boxed).expect("mkdir");
    let before = snapshot(&scene.boxed);
    let run = scene.download(&[("name", "deep.zip")]);
    scene.refused(&run, "deeper than 128 directories", &before);
    // As deep as allowed, with few descriptors: placed, links checked, staging removed.
    let deep = "d/".repeat(120);
    scene.ship(
        "ok-deep.zip",
        &build(&[
            Raw::file(&format!("{deep}f"), b"deep", 0o644),
            Raw::link(&format!("{deep}l"), "f"),
        ]),
    );
    fs::create_dir_all(&scene.dest).expect("mkdir");
    let inputs = [
        ("name", "ok-deep.zip"),
        ("path", scene.dest.to_str().expect("utf-8")),
    ];
    assert_eq!(run_download_limited(&scene.ctx, &scene.job, &inputs, 64), 0);
    assert_eq!(
        fs::read(scene.dest.join(format!("{deep}l"))).expect("placed"),
        b"deep"
    );
    assert!(staging_left(&scene.dest).is_empty());
}
