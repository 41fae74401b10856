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

/// `n` delays spread over `[lo, hi)` milliseconds: one in each of `n` equal slices, placed
/// in it by a xorshift64 stream seeded by `seed`.
fn delays(seed: u64, n: u64, lo: u64, hi: u64) -> Vec<Duration> {
    let width = (hi - lo) / n;
    let mut x = seed | 1;
    (0..n)
        .map(|k| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            Duration::from_millis(lo + k * width + x % width)
        })
        .collect()
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
    // It may have exited between the last look and the kill (a signal to a process that
    // has exited but is not reaped yet does nothing): then it finished.
    match std::os::unix::process::ExitStatusExt::signal(&status) {
        Some(9) => Kill::Killed,
        None => Kill::Finished(status.code()),
        Some(other) => panic!("killed by signal {other}, not SIGKILL: {status:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// Directory

/// Entries beside `name` in `parent` that stevedore made (`.name.stevedore-*`).
fn dir_leftovers(parent: &Path, name: &str) -> Vec<String> {
    crate::support::tree::names_in(parent, &format!(".{name}.stevedore-"))
}

/// `files` files of 256 KiB and a nested one: 400 make a copy long enough (100 MB: tens
/// of milliseconds even from the page cache) for the delays to land in it; 120 were too
/// few once copies got faster (2 of 6 kills landed mid-copy).
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
    dir_tree(&ctx, 400);
    let reference = ctx.action(&[("path", "dist"), ("destination", "./reference"), NO_SCAN]);
    assert_eq!(reference.code, 0, "{}", reference.log());
    let expected = read_tree(&ctx.ws.join("reference"));
    assert_eq!(
        expected.len(),
        403,
        "400 files, the nested one and the two documents"
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
    for (i, delay) in delays(SEED ^ 1, 4, 0, 4).into_iter().enumerate() {
        // The previous contents: many small files an earlier run wrote (its manifest lists
        // them, so `overwrite` replaces them), so removing them takes a while.
        fs::remove_dir_all(ctx.ws.join("published")).ok();
        let mut listed = Vec::new();
        for j in 0..1000 {
            ctx.file(&format!("published/old/{j}.txt"), format!("old {i} {j}"));
            listed.push(serde_json::json!({ "path": format!("old/{j}.txt") }));
        }
        ctx.file(
            "published/stevedore-manifest.json",
            serde_json::json!({ "files": listed }).to_string(),
        );
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

// ---------------------------------------------------------------------------------------
// S3

mod s3 {
    use super::*;
    use crate::support::s3server::{BUCKET, S3Server, credentials};

    fn inputs<'a>(server: &'a S3Server, destination: &'a str) -> [(&'a str, &'a str); 7] {
        [
            ("path", "dist"),
            ("destination", destination),
            ("s3-endpoint", &server.endpoint),
            ("s3-path-style", "true"),
            ("s3-region", "eu-west-1"),
            // One object at a time: the kills land in every part of the upload.
            ("upload-concurrency", "1"),
            NO_SCAN,
        ]
    }

    /// The objects under `prefix` with their bytes (none when nothing landed yet).
    fn objects(server: &S3Server, prefix: &str) -> BTreeMap<String, Vec<u8>> {
        let dir = server.object_path(prefix);
        if dir.exists() {
            read_tree(&dir)
        } else {
            BTreeMap::new()
        }
    }

    #[test]
    fn s3_killed_mid_upload_then_rerun_equals_an_uninterrupted_upload() {
        let ctx = Ctx::new();
        // Small objects, then one above the multipart threshold (5 parts), then more.
        for i in 0..20 {
            ctx.file(
                &format!("dist/a{i:02}.bin"),
                random_bytes(64 * 1024 + i, 100 + i as u64),
            );
            ctx.file(
                &format!("dist/z{i:02}.bin"),
                random_bytes(32 * 1024 + i, 200 + i as u64),
            );
        }
        ctx.file("dist/m-big.bin", random_bytes(65 * 1024 * 1024 + 7, 300));
        let server = S3Server::start();
        let started = Instant::now();
        let reference = ctx.action_env(
            &inputs(&server, &format!("s3://{BUCKET}/reference")),
            &credentials(),
        );
        assert_eq!(reference.code, 0, "{}", reference.log());
        eprintln!("s3: an uninterrupted upload took {:?}", started.elapsed());
        let expected = read_tree(&server.object_path("reference"));
        assert_eq!(expected.len(), 43, "41 files and the two documents");
        assert!(server.open_multipart_uploads().is_empty());

        // Each kill is anchored on a request of the phase it aims at (the first object,
        // CreateMultipartUpload, the first object after the multipart one), then delayed.
        let anchors = ["/", "/m-big.bin?uploads", "/z00.bin"];
        let spans = [20, 150, 20];
        let (mut partial, mut orphans) = (0, 0);
        for (i, (anchor, span)) in anchors.into_iter().zip(spans).enumerate() {
            let delay = delays(SEED ^ 2 ^ i as u64, 1, 0, span)[0];
            let prefix = format!("p{i}");
            let destination = format!("s3://{BUCKET}/{prefix}");
            let inputs = inputs(&server, &destination);
            let seen = format!("/{BUCKET}/{prefix}{anchor}");
            let before = server.open_multipart_uploads();
            let kill = kill_at(
                ctx.spawn_action_env(&inputs, &credentials()),
                || server.seen().iter().any(|s| s.target.starts_with(&seen)),
                delay,
            );
            server.wait_idle();
            let landed = objects(&server, &prefix).len();
            let open = server.open_multipart_uploads();
            let at = format!(
                "killed {delay:?} after `{anchor}` ({kill:?}, {landed} objects, open uploads {open:?})"
            );
            if kill == Kill::Killed && landed < expected.len() {
                partial += 1;
            }
            orphans += open.iter().filter(|u| !before.contains(u)).count();
            let rerun = ctx.action_env(&inputs, &credentials());
            assert_eq!(rerun.code, 0, "{at}: {}", rerun.log());
            assert!(
                objects(&server, &prefix) == expected,
                "{at}: the objects differ from an uninterrupted upload's"
            );
            // The re-run completed or aborted every multipart upload it began. The killed
            // run's cannot be found: s3s-fs has no ListMultipartUploads (real S3 expires
            // them with an AbortIncompleteMultipartUpload lifecycle rule).
            let still_open = server.open_multipart_uploads();
            assert!(
                still_open.iter().all(|u| open.contains(u)),
                "{at}: the re-run left a multipart upload open: {still_open:?}"
            );
        }
        eprintln!(
            "s3: {partial} of 3 kills left a partial upload, {orphans} multipart upload(s) orphaned"
        );
        assert_eq!(partial, 3, "every kill landed mid-upload");
        assert_eq!(
            orphans, 1,
            "the kill after CreateMultipartUpload landed before CompleteMultipartUpload"
        );
    }
}

/// moto keeps incomplete multipart uploads and lists them (s3s-fs 0.14.1 cannot), so a
/// killed run's leftover is seen, and the re-run's cleanup proven.
mod s3_moto {
    use super::*;
    use crate::support::moto::{Moto, ship, spawn};

    #[test]
    fn a_rerun_aborts_the_multipart_upload_a_killed_run_left_and_only_it() {
        let ctx = Ctx::new();
        let big = random_bytes(70 * 1024 * 1024 + 1, 5);
        ctx.file("dist/m-big.bin", big.clone());
        ctx.file("dist/small.txt", "small\n");
        let moto = Moto::start();
        let key = "kill/m-big.bin";
        let kill = kill_at(
            spawn(&ctx, &moto, "kill"),
            || !moto.open_uploads(key).is_empty(),
            Duration::from_millis(50),
        );
        assert_eq!(kill, Kill::Killed, "killed mid-upload");
        let left = moto.open_uploads(key);
        assert_eq!(left.len(), 1, "the killed run left its multipart upload");

        // Someone else's incomplete upload under the prefix, of a key this run does not
        // write: left alone.
        let unrelated = moto.start_upload("kill/unrelated.bin");
        let rerun = ship(&ctx, &moto, "kill", &[]);
        assert_eq!(rerun.code, 0, "{}", rerun.log());
        assert!(
            rerun
                .log()
                .contains("Aborted 1 incomplete multipart upload(s) an earlier run left"),
            "{}",
            rerun.log()
        );
        assert_eq!(
            moto.open_uploads(key),
            Vec::<String>::new(),
            "the leftover was aborted"
        );
        assert_eq!(
            moto.open_uploads("kill/unrelated.bin"),
            [unrelated],
            "only this run's keys are cleaned up"
        );
        assert!(moto.get(key) == big, "the object is the file");
    }
}

// ---------------------------------------------------------------------------------------
// Release

mod release {
    use base64::Engine as _;
    use serde_json::{Value, json};

    use super::*;
    use crate::support::github::github;

    const TOKEN: &str = "ghs_stevedoreTestToken000000000000000000";

    fn inputs<'a>(tag: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut all = vec![
            ("path", "dist"),
            ("destination", "release"),
            ("token", TOKEN),
            ("tag", tag),
            // One asset at a time: the kills land in every part of the upload.
            ("upload-concurrency", "1"),
            NO_SCAN,
        ];
        all.extend_from_slice(extra);
        all
    }

    /// The next five uploads to `repo` (as many as a run makes) wait `ms` with the asset
    /// in state `starter` before the server reads the body; the re-run gets what is left.
    fn slow_uploads(repo: &str, ms: u64) {
        github().control(
            "faults",
            &json!({"repo": repo, "faults": [{"route": "upload", "kind": "slow", "ms": ms, "times": 5}]}),
        );
    }

    /// Lets the emulator answer what the killed run had sent (a held upload gives up on
    /// its body, a paced delete lands), as it would have long before a re-run started.
    fn settle() {
        std::thread::sleep(Duration::from_millis(300));
    }

    /// An asset: name, state, bytes.
    type Asset = (String, String, Vec<u8>);
    /// A release: whether it is a draft, and its assets sorted by name.
    type Rel = (bool, Vec<Asset>);

    /// The releases of `repo`.
    fn releases(repo: &str) -> Vec<Rel> {
        github()
            .releases(repo)
            .iter()
            .map(|r| {
                let mut assets: Vec<Asset> = r["assets"]
                    .as_array()
                    .expect("assets")
                    .iter()
                    .map(|a| {
                        let bytes = a["content_base64"].as_str().map_or_else(Vec::new, |b| {
                            base64::engine::general_purpose::STANDARD
                                .decode(b)
                                .expect("base64")
                        });
                        (
                            a["name"].as_str().expect("name").to_owned(),
                            a["state"].as_str().expect("state").to_owned(),
                            bytes,
                        )
                    })
                    .collect();
                assets.sort();
                (r["draft"] == Value::Bool(true), assets)
            })
            .collect()
    }

    /// Asserts that `repo` holds exactly what an uninterrupted run left in `reference`:
    /// one published release, the same assets with the same bytes, all `uploaded`.
    fn assert_converged(repo: &str, reference: &str, at: &str) {
        let expected = releases(reference);
        let got = releases(repo);
        let names = |r: &[Rel]| -> Vec<Vec<String>> {
            r.iter()
                .map(|(_, a)| a.iter().map(|(n, s, _)| format!("{n} ({s})")).collect())
                .collect()
        };
        assert_eq!(expected.len(), 1);
        assert_eq!(
            names(&got),
            names(&expected),
            "{at}: releases and assets differ from an uninterrupted run's"
        );
        assert!(
            got == expected,
            "{at}: an asset's bytes or a release's draft state differ"
        );
        assert!(!got[0].0, "{at}: published");
    }

    /// A tree of assets big enough that a kill catches one mid-body (the server reads
    /// slowly), plus small ones.
    fn release_tree(ctx: &Ctx, version: &str) {
        for i in 0..3 {
            ctx.file(
                &format!("dist/app-{i}.tar.gz"),
                random_bytes(1024 * 1024 + i, 400 + i as u64 + version.len() as u64),
            );
        }
        ctx.file("dist/notes.txt", format!("release notes {version}\n"));
    }

    #[test]
    fn release_killed_mid_upload_then_rerun_equals_an_uninterrupted_release() {
        let ctx = Ctx::new();
        release_tree(&ctx, "new");
        let reference = github().repo();
        let run = ctx.action_env(
            &inputs("v1.0.0", &[]),
            &github().env(&reference, "refs/heads/main"),
        );
        assert_eq!(run.code, 0, "{}", run.log());

        // Uploads take 150 ms each, five of them (four files and the checksums).
        let mut partial = 0;
        for delay in delays(SEED ^ 3, 3, 80, 800) {
            let repo = github().repo();
            slow_uploads(&repo, 150);
            let env = github().env(&repo, "refs/heads/main");
            let kill = kill_at(
                ctx.spawn_action_env(&inputs("v1.0.0", &[]), &env),
                || true,
                delay,
            );
            settle();
            let left = releases(&repo);
            let at = format!(
                "killed after {delay:?} ({kill:?}, left {:?})",
                summary(&left)
            );
            if kill == Kill::Killed && left.iter().any(|(draft, _)| *draft) {
                partial += 1;
            }
            let rerun = ctx.action_env(&inputs("v1.0.0", &[]), &env);
            assert_eq!(rerun.code, 0, "{at}: {}", rerun.log());
            assert_converged(&repo, &reference, &at);
        }
        eprintln!("release: {partial} of 3 kills left a draft");
        assert_eq!(partial, 3, "every kill landed before the publication");
    }

    /// Release names and asset names with states, for messages.
    fn summary(releases: &[Rel]) -> Vec<String> {
        releases
            .iter()
            .map(|(draft, assets)| {
                let names: Vec<String> =
                    assets.iter().map(|(n, s, _)| format!("{n}:{s}")).collect();
                format!(
                    "{}[{}]",
                    if *draft { "draft" } else { "published" },
                    names.join(" ")
                )
            })
            .collect()
    }

    #[test]
    fn release_killed_while_overwriting_then_rerun_equals_an_uninterrupted_release() {
        let ctx = Ctx::new();
        release_tree(&ctx, "new");
        // Published with older files of the same names: `overwrite` stages the new ones
        // under temporary names and swaps them in (paced: 100 ms per delete or rename).
        let seed = |repo: &str| {
            let assets: Vec<Value> = ["app-0.tar.gz", "app-1.tar.gz", "notes.txt", "SHA256SUMS"]
                .iter()
                .map(|n| json!({"name": n, "content": format!("old {n}")}))
                .collect();
            github().control(
                "release",
                &json!({"repo": repo, "tag": "v2", "assets": assets}),
            );
        };
        let reference = github().repo();
        seed(&reference);
        let run = ctx.action_env(
            &inputs("v2", &[("overwrite", "true")]),
            &github().env(&reference, "refs/heads/main"),
        );
        assert_eq!(run.code, 0, "{}", run.log());

        let mut staged = 0;
        // Five uploads of 150 ms, then per replacement: a rename aside, a rename into place,
        // a delete (paced 100 ms apart, but the rename into place follows at once).
        for delay in delays(SEED ^ 4, 3, 80, 1500) {
            let repo = github().repo();
            seed(&repo);
            slow_uploads(&repo, 150);
            let env = github().env(&repo, "refs/heads/main");
            let kill = kill_at(
                ctx.spawn_action_env(&inputs("v2", &[("overwrite", "true")]), &env),
                || true,
                delay,
            );
            settle();
            let left = releases(&repo);
            let at = format!(
                "killed after {delay:?} ({kill:?}, left {:?})",
                summary(&left)
            );
            if kill == Kill::Killed
                && left
                    .iter()
                    .any(|(_, a)| a.iter().any(|(n, _, _)| n.starts_with("stevedore-")))
            {
                staged += 1;
            }
            let rerun = ctx.action_env(&inputs("v2", &[("overwrite", "true")]), &env);
            assert_eq!(rerun.code, 0, "{at}: {}", rerun.log());
            assert_converged(&repo, &reference, &at);
        }
        eprintln!("release: {staged} of 3 kills left a staged replacement");
        assert!(
            staged >= 2,
            "only {staged} kill(s) left a staged replacement"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Artifact

mod artifact {
    use serde_json::{Value, json};

    use super::*;
    use crate::support::Run;
    use crate::support::emulator::{Job, emulator};

    /// Where the killed run had got to, as the service saw it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Left {
        Nothing,
        Unfinalized,
        Finalized,
    }

    fn left(job: &Job) -> Left {
        let state = emulator().state(job);
        let artifacts = state["artifacts"].as_array().expect("artifacts");
        match artifacts.first() {
            None => Left::Nothing,
            Some(a) if a["finalized"] == json!(true) => Left::Finalized,
            Some(_) => Left::Unfinalized,
        }
    }

    /// Waits until a `FinalizeArtifact` the killed run sent has been answered: the
    /// service finalizes even when the client is gone. (The delay fault is taken when
    /// the request arrives; the call is recorded when it is answered.)
    fn settle(job: &Job) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let state = emulator().state(job);
            let pending = |list: &Value, key: &str| {
                list.as_array()
                    .expect("list")
                    .iter()
                    .any(|x| x[key] == json!("FinalizeArtifact"))
            };
            let sent = !pending(&state["pendingFaults"], "target");
            let answered = pending(&state["calls"], "method");
            if !sent || answered {
                return;
            }
            assert!(Instant::now() < deadline, "FinalizeArtifact never answered");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn inputs<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut inputs = vec![
            ("path", "dist"),
            ("destination", "artifact"),
            ("name", "build"),
            // One block at a time: the kills land in every part of the upload.
            ("upload-concurrency", "1"),
            NO_SCAN,
        ];
        // A later `name` replaces the first, as the last `INPUT_NAME` does.
        inputs.extend_from_slice(extra);
        inputs
    }

    fn run(ctx: &Ctx, job: &Job, extra: &[(&str, &str)]) -> Run {
        ctx.action_env(&inputs(extra), &emulator().env(job))
    }

    /// The official client downloads the artifact `run` made, verifies its digest, and
    /// finds the source tree.
    fn assert_downloads(ctx: &Ctx, job: &Job, run: &Run, at: &str) {
        let into = ctx
            .temp
            .join(format!("download-{}", run.outputs["artifact-id"]));
        let result = emulator().official(
            job,
            &[
                "download",
                &run.outputs["artifact-id"],
                into.to_str().expect("utf-8"),
            ],
        );
        assert_eq!(result["digestMismatch"], json!(false), "{at}: {result}");
        assert!(
            crate::support::read_artifact_tree(&into) == read_tree(&ctx.ws.join("dist")),
            "{at}: the download differs from the source"
        );
    }

    /// Kills a run of a fresh workflow run at each delay, then re-runs it in the same job
    /// (`same_job`) or in another job of the run, and follows what the re-run says.
    fn kill_and_rerun(same_job: bool, seed: u64) -> Vec<Left> {
        let ctx = Ctx::new();
        ctx.file("dist/app.bin", random_bytes(9 * 1024 * 1024, 0xA5));
        ctx.file("dist/docs/readme.txt", "read me\n".repeat(100));
        let mut states = Vec::new();
        for delay in delays(seed, 3, 0, 750) {
            let job = emulator().job();
            // Two blocks of 150 ms each, and a Finalize that the service takes 300 ms to
            // answer (it finalizes even when the client is gone by then).
            emulator().faults(
                &job,
                &json!([
                    {"target": "block", "kind": "delay", "ms": 150, "times": 2},
                    {"target": "FinalizeArtifact", "kind": "delay", "ms": 300},
                ]),
            );
            let kill = kill_at(
                ctx.spawn_action_env(&inputs(&[]), &emulator().env(&job)),
                || true,
                delay,
            );
            settle(&job);
            let before = left(&job);
            states.push(before);
            let at = format!("killed after {delay:?} ({kill:?}, left {before:?})");
            let again = if same_job {
                job
            } else {
                emulator().other_job(&job)
            };
            let rerun = run(&ctx, &again, &[]);
            match (before, same_job) {
                // Nothing there, or an unfinalized artifact of this very job (the service
                // takes the create as a retry): the re-run succeeds.
                (Left::Nothing, _) | (Left::Unfinalized, true) => {
                    assert_eq!(rerun.code, 0, "{at}: {}", rerun.log());
                    assert_downloads(&ctx, &again, &rerun, &at);
                }
                // Finalized before the kill: the name is taken; the message says to set
                // `overwrite: true`, and doing so works.
                (Left::Finalized, _) => {
                    assert_eq!(rerun.code, 2, "{at}: {}", rerun.log());
                    assert!(
                        rerun.stdout.contains("set `overwrite: true` to replace it"),
                        "{at}: {}",
                        rerun.stdout
                    );
                    let replaced = run(&ctx, &again, &[("overwrite", "true")]);
                    assert_eq!(replaced.code, 0, "{at}: {}", replaced.log());
                    assert_downloads(&ctx, &again, &replaced, &at);
                }
                // Created by the killed job and never finalized: no listing shows it, so
                // `overwrite` cannot delete it. The message says so and what works instead.
                (Left::Unfinalized, false) => {
                    assert_unfinalized_refusal(&rerun, &at);
                    let overwrite = run(&ctx, &again, &[("overwrite", "true")]);
                    assert_unfinalized_refusal(&overwrite, &at);
                    let renamed = run(&ctx, &again, &[("name", "build-attempt-2")]);
                    assert_eq!(renamed.code, 0, "{at}: {}", renamed.log());
                    assert_downloads(&ctx, &again, &renamed, &at);
                }
            }
        }
        states
    }

    fn assert_unfinalized_refusal(run: &Run, at: &str) {
        assert_eq!(run.code, 2, "{at}: {}", run.log());
        let error = run
            .stdout
            .lines()
            .find(|l| l.starts_with("::error"))
            .unwrap_or_else(|| panic!("{at}: no error annotation: {}", run.stdout));
        for words in [
            "never finalized",
            "`overwrite: true` cannot",
            "another `name`",
        ] {
            assert!(error.contains(words), "{at}: {error}");
        }
    }

    #[test]
    fn artifact_killed_mid_upload_then_rerun_in_the_same_job() {
        let seen = kill_and_rerun(true, SEED ^ 5);
        eprintln!("artifact, same job: kills left {seen:?}");
        assert!(seen.contains(&Left::Unfinalized), "{seen:?}");
    }

    #[test]
    fn artifact_killed_mid_upload_then_rerun_in_another_job_of_the_run() {
        let seen = kill_and_rerun(false, SEED ^ 6);
        eprintln!("artifact, another job: kills left {seen:?}");
        assert!(seen.contains(&Left::Unfinalized), "{seen:?}");
    }
}
