//! `stevedore download` when the network or the service misbehaves: each fault ends
//! byte-exact (retried), or with exit 4 and `path` exactly as it was (a listing with modes
//! and hashes compared before and after), and no staging directory left. Faults come from
//! the results emulator (download faults, a listing with a wrong digest) and, for a reset
//! mid-body, from the TCP fault proxy in front of Azurite.

use std::fs;

use serde_json::json;

use crate::support::emulator::{emulator, official_upload};
use crate::support::faultproxy::{Direction, Fault, FaultProxy};
use crate::support::{Ctx, build_tree, read_tree, run_download, snapshot, staging_left};

/// A workspace whose `dist` tree the official client uploaded as `build` in a fresh job.
fn uploaded() -> (Ctx, std::path::PathBuf, crate::support::emulator::Job) {
    let ctx = Ctx::new();
    let root = build_tree(&ctx, "dist");
    let job = emulator().job();
    official_upload(&job, "build", &root);
    (ctx, root, job)
}

/// `stevedore download` of `build` into `dest`.
fn download_build(
    ctx: &Ctx,
    job: &crate::support::emulator::Job,
    dest: &std::path::Path,
) -> crate::support::Run {
    run_download(
        ctx,
        job,
        &[("name", "build"), ("path", dest.to_str().expect("utf-8"))],
    )
}

/// An existing `path` with a file the download would replace and one it would not touch.
fn existing_path(ctx: &Ctx) -> std::path::PathBuf {
    let dest = ctx.temp.join("dest");
    fs::create_dir_all(&dest).expect("mkdir");
    fs::write(dest.join("readme.txt"), "the old readme").expect("write");
    fs::write(dest.join("mine.txt"), "mine").expect("write");
    dest
}

fn calls(job: &crate::support::emulator::Job, method: &str) -> Vec<i64> {
    emulator()
        .calls(job)
        .into_iter()
        .filter(|(m, _)| m == method)
        .map(|(_, s)| s)
        .collect()
}

#[test]
fn a_truncated_body_is_retried_and_ends_byte_exact() {
    let (ctx, root, job) = uploaded();
    emulator().faults(&job, &json!([{"target": "download", "kind": "truncate"}]));
    let dest = ctx.temp.join("dl");
    let run = download_build(&ctx, &job, &dest);
    assert_eq!(run.code, 0, "{}", run.log());
    assert!(read_tree(&root) == read_tree(&dest));
    assert_eq!(
        calls(&job, "download"),
        [200, 200],
        "the truncated answer, then the retry"
    );
    assert!(
        emulator().state(&job)["pendingFaults"]
            .as_array()
            .expect("faults")
            .is_empty()
    );
}

#[test]
fn a_body_truncated_on_every_attempt_exits_4_with_path_untouched() {
    let (ctx, _, job) = uploaded();
    emulator().faults(
        &job,
        &json!([{"target": "download", "kind": "truncate", "times": -1}]),
    );
    let dest = existing_path(&ctx);
    let before = snapshot(&dest);
    let run = download_build(&ctx, &job, &dest);
    assert_eq!(run.code, 4, "{}", run.log());
    assert!(run.log().contains("truncated"), "{}", run.log());
    assert!(run.log().contains("::error"), "{}", run.log());
    assert_eq!(snapshot(&dest), before, "`path` untouched");
    assert!(staging_left(&dest).is_empty(), "staging removed");
    assert_eq!(calls(&job, "download").len(), 5, "five attempts");
}

#[test]
fn a_connection_reset_mid_body_is_retried_and_ends_byte_exact() {
    let (ctx, root, job) = uploaded();
    let proxy = FaultProxy::start(&emulator().azurite);
    emulator().download_base(&job, &proxy.url());
    proxy.fault(
        Fault::reset(Direction::ToClient, 256 * 1024)
            .when_sent("GET /devstoreaccount1/")
            .into_body(),
    );
    let dest = existing_path(&ctx);
    let run = download_build(&ctx, &job, &dest);
    assert_eq!(run.code, 0, "{}", run.log());
    assert_eq!(proxy.fired().len(), 1, "the reset happened");
    let mut expected = read_tree(&root);
    expected.insert("mine.txt".into(), b"mine".to_vec());
    assert!(
        read_tree(&dest) == expected,
        "byte-exact, the old readme replaced"
    );
}

#[test]
fn an_expired_signed_url_is_replaced_by_a_fresh_one() {
    let (ctx, root, job) = uploaded();
    emulator().faults(&job, &json!([{"target": "download", "kind": "expired"}]));
    let dest = ctx.temp.join("dl");
    let run = download_build(&ctx, &job, &dest);
    assert_eq!(run.code, 0, "{}", run.log());
    assert!(read_tree(&root) == read_tree(&dest));
    // The first URL's signature expired before it was issued and Azurite refused it (the
    // 403 is Azurite's own answer, passed through); the fresh URL points at Azurite
    // directly, so only the 403 was recorded.
    assert_eq!(calls(&job, "download"), [403]);
    assert_eq!(
        calls(&job, "GetSignedArtifactURL"),
        [200, 200],
        "a fresh URL after the 403"
    );
}

#[test]
fn a_digest_mismatch_exits_4_with_path_untouched_unless_told_to_warn() {
    let (ctx, root, job) = uploaded();
    emulator().faults(
        &job,
        &json!([{"target": "ListArtifacts", "kind": "baddigest"}]),
    );
    let dest = existing_path(&ctx);
    let before = snapshot(&dest);
    let run = download_build(&ctx, &job, &dest);
    assert_eq!(run.code, 4, "{}", run.log());
    assert!(
        run.log()
            .contains("digest validation failed for artifact(s) `build`"),
        "{}",
        run.log()
    );
    assert_eq!(snapshot(&dest), before, "`path` untouched");
    assert!(staging_left(&dest).is_empty());

    emulator().faults(
        &job,
        &json!([{"target": "ListArtifacts", "kind": "baddigest"}]),
    );
    let run = run_download(
        &ctx,
        &job,
        &[
            ("name", "build"),
            ("path", dest.to_str().expect("utf-8")),
            ("digest-mismatch", "warn"),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.log());
    assert!(run.log().contains("::warning"), "{}", run.log());
    assert!(
        run.log()
            .contains("artifact `build` digest validation failed"),
        "{}",
        run.log()
    );
    let mut expected = read_tree(&root);
    expected.insert("mine.txt".into(), b"mine".to_vec());
    assert!(read_tree(&dest) == expected);
}

#[test]
fn a_blob_store_that_goes_quiet_is_abandoned_after_the_idle_deadline_and_retried() {
    let (ctx, root, job) = uploaded();
    emulator().faults(&job, &json!([{"target": "download", "kind": "stall"}]));
    let dest = ctx.temp.join("dl");
    let mut env = emulator().env(&job);
    env.push(("STEVEDORE_HTTP_TIMEOUT".into(), "2".into()));
    let started = std::time::Instant::now();
    let run = crate::support::run_download_env(
        &ctx,
        &[("name", "build"), ("path", dest.to_str().expect("utf-8"))],
        &env,
    );
    assert_eq!(run.code, 0, "{}", run.log());
    assert!(read_tree(&root) == read_tree(&dest));
    assert!(
        started.elapsed() < std::time::Duration::from_mins(1),
        "no hang"
    );
    assert_eq!(
        calls(&job, "download"),
        [0, 200],
        "the stalled GET, then the retry"
    );
}
