//! Crash-safe re-runs: the binary is killed with SIGKILL at seeded points of an upload (a
//! job cancelled or its runner lost), then run again with the same inputs. The end state
//! must equal an uninterrupted run's: the same files, objects or assets byte for byte and
//! nothing else (no staging directory, no `starter` or staged asset, no extra draft, no
//! multipart upload of the re-run's left open). The artifact destination cannot always be
//! re-created in the same run: there the re-run either succeeds (the official client
//! downloads the artifact byte-exact) or says what to do.
//!
//! Delays come from a fixed seed, so a failure names the delay that reproduces it; each
//! kill starts on a fresh destination, and the tests assert that kills did land inside
//! the upload (a kill after the end would prove nothing).

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::{Ctx, Running, random_bytes, read_tree};

/// Inputs every run here gets: the secret scan is not under test, and the unoptimized
/// test build scans slowly.
const NO_SCAN: (&str, &str) = ("secrets", "off");

/// The seed of every delay list in this module.
const SEED: u64 = 0x5EED_C0FF_EE15_0009;

/// `n` delays in `[lo, hi)` milliseconds from a xorshift64 stream seeded by `seed`, sorted.
fn delays(seed: u64, n: usize, lo: u64, hi: u64) -> Vec<Duration> {
    let mut x = seed | 1;
    let mut out: Vec<Duration> = (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            Duration::from_millis(lo + x % (hi - lo))
        })
        .collect();
    out.sort();
    out
}

/// How a kill went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kill {
    /// SIGKILL reached the running process.
    Killed,
    /// The process had exited (with this code) before the kill was due.
    Finished(Option<i32>),
}

/// Waits until `anchor` holds (polled every millisecond), then `delay`, then kills the
/// process with SIGKILL and reaps it.
fn kill_at(mut running: Running, anchor: impl Fn() -> bool, delay: Duration) -> Kill {
    let deadline = Instant::now() + Duration::from_mins(1);
    while !anchor() {
        if let Some(status) = running.0.try_wait().expect("try_wait") {
            return Kill::Finished(status.code());
        }
        assert!(Instant::now() < deadline, "the anchor never held");
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(delay);
    if let Some(status) = running.0.try_wait().expect("try_wait") {
        return Kill::Finished(status.code());
    }
    running.0.kill().expect("SIGKILL");
    let status = running.0.wait().expect("reap");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9),
        "{status:?}"
    );
    Kill::Killed
}

// ---------------------------------------------------------------------------------------
// Directory

/// Entries beside `name` in `parent` that stevedore made (`.name.stevedore-*`).
fn dir_leftovers(parent: &Path, name: &str) -> Vec<String> {
    let prefix = format!(".{name}.stevedore-");
    let mut out: Vec<String> = fs::read_dir(parent)
        .expect("read_dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&prefix))
        .collect();
    out.sort();
    out
}

/// `files` files of 256 KiB and a nested one: 120 make a copy long enough (tens of
/// milliseconds) for the delays to land in it.
fn dir_tree(ctx: &Ctx, files: usize) {
    for i in 0..files {
        ctx.file(
            &format!("dist/part-{i:03}.bin"),
            random_bytes(256 * 1024 + i, i as u64 + 1),
        );
    }
    ctx.file("dist/nested/deep/notes.txt", "notes\n".repeat(100));
}

#[test]
fn directory_killed_mid_copy_then_rerun_equals_an_uninterrupted_copy() {
    let ctx = Ctx::new();
    dir_tree(&ctx, 120);
    let reference = ctx.action(&[("path", "dist"), ("destination", "./reference"), NO_SCAN]);
    assert_eq!(reference.code, 0, "{}", reference.log());
    let expected = read_tree(&ctx.ws.join("reference"));
    assert_eq!(
        expected.len(),
        123,
        "120 files, the nested one and the two documents"
    );

    let mut mid_copy = 0;
    for (i, delay) in delays(SEED, 6, 0, 40).into_iter().enumerate() {
        let name = format!("out{i}");
        let dest = format!("./{name}");
        let inputs = [("path", "dist"), ("destination", dest.as_str()), NO_SCAN];
        // Anchored on the staging directory's appearance: the copy has begun.
        let kill = kill_at(
            ctx.spawn_action_env(&inputs, &[]),
            || !dir_leftovers(&ctx.ws, &name).is_empty(),
            delay,
        );
        let left = dir_leftovers(&ctx.ws, &name);
        let published = ctx.ws.join(&name).exists();
        if kill == Kill::Killed && !published && !left.is_empty() {
            mid_copy += 1;
        }
        let rerun = ctx.action(&inputs);
        let at = format!("killed after {delay:?} ({kill:?}, left {left:?})");
        if published {
            // Killed after the rename: the target is complete, and a re-run refuses to
            // replace a non-empty directory without `overwrite`.
            assert_eq!(rerun.code, 2, "{at}: {}", rerun.log());
        } else {
            assert_eq!(rerun.code, 0, "{at}: {}", rerun.log());
        }
        assert!(
            read_tree(&ctx.ws.join(&name)) == expected,
            "{at}: the copy differs from an uninterrupted one"
        );
        assert_eq!(
            dir_leftovers(&ctx.ws, &name),
            Vec::<String>::new(),
            "{at}: staging left beside the destination"
        );
    }
    eprintln!("directory: {mid_copy} of 6 kills landed mid-copy");
    assert!(mid_copy >= 3, "only {mid_copy} kill(s) landed mid-copy");
}

#[test]
fn directory_killed_while_replacing_then_rerun_equals_an_uninterrupted_copy() {
    let ctx = Ctx::new();
    dir_tree(&ctx, 8);
    let inputs = [
        ("path", "dist"),
        ("destination", "./published"),
        ("overwrite", "true"),
        NO_SCAN,
    ];
    let reference = ctx.action(&[("path", "dist"), ("destination", "./reference"), NO_SCAN]);
    assert_eq!(reference.code, 0, "{}", reference.log());
    let expected = read_tree(&ctx.ws.join("reference"));

    let mut while_removing = 0;
    for (i, delay) in delays(SEED ^ 1, 4, 0, 3).into_iter().enumerate() {
        // The previous contents: many small files, so removing them takes a while.
        fs::remove_dir_all(ctx.ws.join("published")).ok();
        for j in 0..1000 {
            ctx.file(&format!("published/old/{j}.txt"), format!("old {i} {j}"));
        }
        // Anchored on the previous contents being moved aside (`.published.stevedore-old-*`).
        let kill = kill_at(
            ctx.spawn_action_env(&inputs, &[]),
            || {
                dir_leftovers(&ctx.ws, "published")
                    .iter()
                    .any(|n| n.contains("-old-"))
            },
            delay,
        );
        let left = dir_leftovers(&ctx.ws, "published");
        if kill == Kill::Killed && left.iter().any(|n| n.contains("-old-")) {
            while_removing += 1;
        }
        let at = format!("killed after {delay:?} ({kill:?}, left {left:?})");
        let rerun = ctx.action(&inputs);
        assert_eq!(rerun.code, 0, "{at}: {}", rerun.log());
        assert!(
            read_tree(&ctx.ws.join("published")) == expected,
            "{at}: the copy differs from an uninterrupted one"
        );
        assert_eq!(
            dir_leftovers(&ctx.ws, "published"),
            Vec::<String>::new(),
            "{at}: the previous contents were left beside the destination"
        );
    }
    eprintln!("directory: {while_removing} of 4 kills landed while replacing");
    assert!(
        while_removing >= 2,
        "only {while_removing} kill(s) landed while the old contents were removed"
    );
}

/// The instant between moving the old target aside and renaming the new one into place
/// is too short to hit with a timer; this is the state a kill there leaves.
#[test]
fn a_target_moved_aside_by_a_killed_run_is_put_back_first() {
    let ctx = Ctx::new();
    ctx.file("dist/a.txt", "new");
    ctx.file(".published.stevedore-old-0123456789ab/kept.txt", "previous");
    ctx.file(".published.stevedore-partial-0123456789ab/a.txt", "new");
    // Without `overwrite` the previous contents must survive the re-run.
    let run = ctx.action(&[("path", "dist"), ("destination", "./published")]);
    assert_eq!(run.code, 2, "{}", run.log());
    assert!(run.stdout.contains("is not empty"), "{}", run.stdout);
    assert_eq!(
        read_tree(&ctx.ws.join("published")),
        BTreeMap::from([("kept.txt".to_owned(), b"previous".to_vec())])
    );
    assert_eq!(dir_leftovers(&ctx.ws, "published"), Vec::<String>::new());
}
