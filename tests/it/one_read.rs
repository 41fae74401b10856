//! Issue 25: every shipped byte is read from the tree once. The artifact's zip and a
//! directory destination's copy are made from the scan's own reads, so each selected file
//! is opened once in the whole run (`strace -y` shows which file each `openat` opened);
//! before, the upload opened every file again (the zip writer more than once). What the
//! scan wrote stays on this machine, unpublished, until the policies pass. The exception
//! is a file the zip stores as it is (incompressible): it is read again from the tree
//! when the zip is streamed, rather than copied whole into the spool and read from there.

use std::fs;

use crate::support::emulator::emulator;
use crate::support::{Ctx, Run, random_bytes, read_artifact_tree, read_tree};

/// Opens of `name` (a file below `dist/`) for reading in an `strace -y -f` log.
fn opens(log: &str, name: &str) -> usize {
    let whole = format!("/dist/{name}\"");
    let (dir, leaf) = match name.rsplit_once('/') {
        Some((dir, leaf)) => (format!("/dist/{dir}>"), leaf),
        None => ("/dist>".to_owned(), name),
    };
    let relative = format!("{dir}, \"{leaf}\"");
    log.lines()
        .filter(|l| l.contains("openat(") && !l.contains("O_CREAT") && !l.contains("O_DIRECTORY"))
        .filter(|l| l.contains(&whole) || l.contains(&relative))
        .count()
}

/// The step run under `strace -f` with `options` (which calls, how shown); returns the log.
fn traced(
    ctx: &Ctx,
    inputs: &[(&str, &str)],
    env: &[(String, String)],
    options: &[&str],
) -> (Run, String) {
    let trace = ctx.home.join("strace.log");
    let mut cmd = ctx.step_command("strace", inputs, env);
    cmd.arg("-f")
        .args(options)
        .arg("-o")
        .arg(&trace)
        .arg(crate::support::runner::STEVEDORE);
    let run = ctx.finish(cmd);
    let log = fs::read_to_string(&trace).expect("strace log");
    (run, log)
}

#[test]
fn a_directory_and_an_artifact_are_shipped_from_one_read_of_each_file() {
    let ctx = Ctx::new();
    let files = ["readme.txt", "bin/tool.hex", "nested/deep/empty.log"];
    ctx.file("dist/readme.txt", "hello, one read\n".repeat(4000));
    // Four units of the zip writer, deflated as pieces.
    ctx.file("dist/bin/tool.hex", hex::encode(random_bytes(3 << 19, 5)));
    ctx.file("dist/nested/deep/empty.log", "");
    // Incompressible: stored, read again when the zip is streamed.
    ctx.file("dist/bin/packed.gz", random_bytes(200_000, 6));
    let job = emulator().job();
    let mut env = emulator().env(&job);
    // Part of the archive spooled to a file, part held in memory.
    env.push(("STEVEDORE_SPOOL_MEMORY".into(), "1000000".into()));
    let (run, log) = traced(
        &ctx,
        &[
            ("path", "dist"),
            ("destination", "artifact\n./published"),
            ("name", "once"),
        ],
        &env,
        &["-y", "-e", "trace=openat"],
    );
    assert_eq!(run.code, 0, "{}", run.log());
    for name in files {
        assert_eq!(opens(&log, name), 1, "`{name}` opened once:\n{log}");
    }
    assert_eq!(opens(&log, "bin/packed.gz"), 2, "{log}");
    // What was shipped from those reads is the tree, byte for byte, both ways.
    let source = read_tree(&ctx.ws.join("dist"));
    let mut copied = read_tree(&ctx.ws.join("published"));
    copied.remove("SHA256SUMS").expect("checksums file");
    copied.remove("stevedore-manifest.json").expect("manifest");
    assert_eq!(copied, source);
    let into = ctx.home.join("downloaded");
    let id = &run.outputs["artifact-id"];
    emulator().official(&job, &["download", id, into.to_str().expect("utf-8")]);
    // Without its documents, after `sha256sum -c` passed on it.
    assert_eq!(read_artifact_tree(&into), source);
}

/// The staged copy the scan wrote is removed when the policies fail: nothing is
/// published and nothing is left beside the target.
#[test]
fn a_failed_gate_removes_the_copy_the_scan_staged() {
    let ctx = Ctx::new();
    ctx.file("dist/readme.txt", "hello\n".repeat(1000));
    let leaked = format!(
        "token = {}{}\n",
        "ghp_", "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG5"
    );
    ctx.file("dist/config.env", leaked);
    let run = ctx.action(&[("path", "dist"), ("destination", "./out/site")]);
    assert_eq!(run.code, 3, "{}", run.log());
    assert!(!ctx.ws.join("out/site").exists(), "nothing published");
    let left: Vec<String> = fs::read_dir(ctx.ws.join("out"))
        .expect("the parent was created")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.is_empty(), "left beside the target: {left:?}");
}

/// Two directory destinations in one parent are staged together before the scan, under
/// the one lock the process holds on that parent (a second `flock` of the same directory
/// from the same process would wait forever): both land, byte for byte.
#[test]
fn two_directories_in_one_parent_are_staged_together() {
    let ctx = Ctx::new();
    ctx.file("dist/a.txt", "a\n".repeat(100));
    ctx.file("dist/sub/b.bin", random_bytes(100_000, 9));
    let run = ctx.action_env_within(
        &[
            ("path", "dist"),
            ("destination", "./out/first\n./out/second"),
        ],
        &[],
        std::time::Duration::from_mins(1),
    );
    assert_eq!(run.code, 0, "{}", run.log());
    let source = read_tree(&ctx.ws.join("dist"));
    for copy in ["first", "second"] {
        let mut tree = read_tree(&ctx.ws.join("out").join(copy));
        tree.remove("SHA256SUMS").expect("checksums file");
        tree.remove("stevedore-manifest.json").expect("manifest");
        assert_eq!(tree, source, "{copy}");
    }
    let left: Vec<String> = fs::read_dir(ctx.ws.join("out"))
        .expect("out")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// Every read of a file's bytes lands on a page boundary of the scan's buffer. The
/// look-ahead the credential scan carries between windows (16 KiB and one byte) had put
/// each read after a file's first one byte past one, where the kernel's copy out of the
/// page cache ran at a third of its speed on the development VM (bench/README.md, "The
/// shipped musl binary"). `strace -e raw=read` shows each read's buffer address.
#[test]
fn every_read_of_a_large_file_lands_on_a_page_boundary() {
    let ctx = Ctx::new();
    ctx.file("dist/large.bin", random_bytes(3 << 20, 9));
    let (run, log) = traced(
        &ctx,
        &[("path", "dist"), ("destination", "none")],
        &[],
        &["-e", "trace=read", "-e", "raw=read"],
    );
    assert_eq!(run.code, 0, "{}", run.log());
    // `read(0x3, 0x7f0c2e1ff000, 0x40000) = 0x40000`: the file's reads are the large ones.
    let reads: Vec<(u64, u64)> = log
        .lines()
        .filter_map(|l| {
            let args = l.split_once("read(")?.1.split_once(')')?.0;
            let mut it = args.split(", ").skip(1);
            let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok();
            Some((hex(it.next()?)?, hex(it.next()?)?))
        })
        .filter(|&(_, len)| len >= 64 * 1024)
        .collect();
    assert!(reads.len() >= 12, "the file is read in pieces: {reads:x?}");
    let misaligned: Vec<_> = reads.iter().filter(|(at, _)| at % 4096 != 0).collect();
    assert!(
        misaligned.is_empty(),
        "reads off a page boundary: {misaligned:x?}"
    );
}

/// Where the file system shares extents (XFS here; btrfs alike), a directory destination's
/// copies of files of 64 KiB or more are reflinks, made when each is opened for the scan's
/// read: no byte of them is written, and the copy's blocks are the file's. Smaller files
/// are written, which costs less than a clone's transaction. XFS lives on a loop device
/// mounted in a private mount namespace (root, as for the full-disk test's tmpfs).
#[test]
fn where_the_file_system_shares_extents_the_directory_copies_are_reflinks() {
    let ctx = Ctx::new();
    ctx.file("dist/readme.txt", "hello, reflink\n".repeat(8000));
    ctx.file("dist/small.txt", "written, not cloned\n".repeat(50));
    ctx.file("dist/bin/tool.bin", random_bytes(3 << 20, 11));
    ctx.file("dist/empty.log", "");
    let image = ctx.home.join("xfs.img");
    fs::File::create(&image)
        .and_then(|f| f.set_len(320 << 20))
        .expect("sparse image");
    let mkfs = std::process::Command::new("mkfs.xfs")
        .arg("-q")
        .arg(&image)
        .status()
        .expect("mkfs.xfs (xfsprogs; scripts/test installs it)");
    assert!(mkfs.success(), "mkfs.xfs failed");
    let mnt = ctx.home.join("xfs");
    let seen = ctx.home.join("seen");
    fs::create_dir_all(&mnt).expect("mount point");
    fs::create_dir_all(&seen).expect("report dir");
    let (src, out) = (mnt.join("dist"), mnt.join("out"));
    let mut cmd = ctx.step_command(
        "unshare",
        &[
            ("path", src.to_str().expect("utf-8")),
            ("destination", out.to_str().expect("utf-8")),
        ],
        &[],
    );
    // The mount lives as long as the namespace: what the test reads is copied out first.
    cmd.args(["--mount", "sh", "-c"]).arg(
        r#"mount -o loop "$1" "$2" || exit 99
cp -a "$3" "$2/dist" || exit 98
mkdir "$4/strace"
strace -ff -y -e trace=ioctl,write,pwrite64,copy_file_range -o "$4/strace/t" "$0"; code=$?
filefrag -v "$2/out/bin/tool.bin" > "$4/filefrag.txt"
cp -a "$2/out" "$4/out"
exit $code"#,
    );
    cmd.arg(crate::support::runner::STEVEDORE)
        .arg(&image)
        .arg(&mnt)
        .arg(ctx.ws.join("dist"))
        .arg(&seen);
    let run = ctx.finish(cmd);
    assert_eq!(run.code, 0, "{}", run.log());
    // One log per thread (`-ff`): no call is split across lines by another thread's.
    let log: String = fs::read_dir(seen.join("strace"))
        .expect("strace logs")
        .map(|e| fs::read_to_string(e.expect("entry").path()).expect("strace log"))
        .collect();
    let clones: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("FICLONE") && l.trim_end().ends_with("= 0"))
        .collect();
    for name in ["readme.txt>", "tool.bin>"] {
        assert!(
            clones.iter().any(|l| l.contains(name)),
            "{name} was not cloned: {clones:#?}"
        );
        let writes: Vec<&str> = log
            .lines()
            .filter(|l| !l.contains("FICLONE") && l.contains(name))
            .collect();
        assert!(writes.is_empty(), "{name} was written: {writes:#?}");
    }
    assert!(
        !clones.iter().any(|l| l.contains("small.txt>"))
            && log
                .lines()
                .any(|l| l.starts_with("write(") && l.contains("/small.txt>")),
        "small.txt is written, not cloned: {clones:#?}"
    );
    let extents = fs::read_to_string(seen.join("filefrag.txt")).expect("filefrag");
    assert!(extents.contains("shared"), "{extents}");
    let mut copied = read_tree(&seen.join("out"));
    for document in ["SHA256SUMS", "stevedore-manifest.json"] {
        assert!(copied.remove(document).is_some(), "{document} is there");
    }
    assert_eq!(
        copied,
        read_tree(&ctx.ws.join("dist")),
        "the copy is the tree"
    );
}
