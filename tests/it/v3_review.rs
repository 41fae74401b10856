//! The third security review's v3 cases (issue 20): the pipelines protocol against a
//! scripted service (`support::pipelines`) playing a GitHub Enterprise Server that is
//! compromised, misbehaves, or is simply not github.com: where the runtime token goes,
//! what a hostile listing or a gzip bomb can make a download write, and what an upload
//! checks of the files it sends.

use std::fs;
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use base64::Engine as _;

use crate::support::pipelines::{Reply, Scripted, Seen, v3_env};
use crate::support::{Ctx, STEVEDORE, run_download_env};

/// A runtime token as github.com's runner gives one (a JWT naming the results service's
/// run and job), for the cases that are not about the token's shape.
fn jwt() -> String {
    let enc = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    format!(
        "{}.{}.c2lnbmF0dXJl",
        enc(r#"{"alg":"RS256","typ":"JWT"}"#),
        enc(r#"{"scp":"Actions.GenericRead:1 Actions.Results:run-1:job-1"}"#)
    )
}

/// The pipelines service's answers to an upload: the container is at `container` (a
/// base URL; the service's own when `None`), every PUT and the PATCH succeed.
fn accept_upload(seen: &Seen, base: &str, container: Option<&str>) -> Reply {
    match seen.method.as_str() {
        "POST" => Reply::json(&serde_json::json!({
            "containerId": 7,
            "fileContainerResourceUrl": format!("{}/container/7", container.unwrap_or(base)),
            "name": "art",
        })),
        _ => Reply::json(&serde_json::json!({ "message": "ok" })),
    }
}

fn authorized(seen: &[Seen]) -> Vec<String> {
    seen.iter()
        .filter(|s| s.header("authorization").is_some())
        .map(|s| format!("{} {}", s.method, s.target))
        .collect()
}

/// GitHub Enterprise Server's runtime token need not carry github.com's
/// `Actions.Results:<run>:<job>` scope: the v3 protocol never uses it (the official v3
/// client does not read the token at all), so its absence must not stop an upload.
#[test]
fn v3_upload_does_not_need_the_results_scope_in_the_token() {
    let server = Scripted::start("127.0.0.1", |seen, base| accept_upload(seen, base, None));
    let ctx = Ctx::new();
    ctx.file("dist/a.txt", "hello v3\n");
    let token = "opaque-ghes-runtime-token";
    let run = ctx.action_env(
        &[("path", "dist"), ("name", "art")],
        &v3_env(&server.url, token),
    );
    assert_eq!(run.code, 0, "{}", run.log());
    let seen = server.seen();
    assert!(
        seen.iter().any(|s| s.method == "PATCH"),
        "not finalized: {:?}",
        seen.iter().map(|s| &s.target).collect::<Vec<_>>()
    );
    assert!(!run.log().contains(token), "{}", run.log());
}

/// A container on another origin gets the files but never the runtime token.
#[test]
fn v3_upload_never_sends_the_token_to_a_container_on_another_origin() {
    let other = Scripted::start("127.0.0.2", |_, _| {
        Reply::json(&serde_json::json!({ "message": "ok" }))
    });
    let elsewhere = other.url.clone();
    let server = Scripted::start("127.0.0.1", move |seen, base| {
        accept_upload(seen, base, Some(&elsewhere))
    });
    let ctx = Ctx::new();
    ctx.file("dist/a.txt", "hello v3\n");
    let run = ctx.action_env(
        &[("path", "dist"), ("name", "art")],
        &v3_env(&server.url, &jwt()),
    );
    assert_eq!(run.code, 0, "{}", run.log());
    let puts = other.seen();
    assert!(puts.iter().any(|s| s.method == "PUT"), "{puts:?}");
    assert_eq!(authorized(&puts), Vec::<String>::new());
    assert!(!authorized(&server.seen()).is_empty());
}

/// `archive: false` ships each file as its own artifact; over v3 the file's bytes must
/// still be the scanned ones (v4 checks the scan's SHA-256). Here the file is rewritten
/// to the same length while the container is being created, after the scan.
#[test]
fn v3_raw_upload_refuses_a_file_rewritten_after_the_scan() {
    let ctx = Ctx::new();
    let file = ctx.file("dist/a.txt", "scanned bytes\n");
    let rewritten = Arc::new(AtomicBool::new(false));
    let done = Arc::clone(&rewritten);
    let server = Scripted::start("127.0.0.1", move |seen, base| {
        if seen.method == "POST" && !done.swap(true, Ordering::SeqCst) {
            fs::write(&file, "CHANGED bytes\n").expect("rewrite");
        }
        accept_upload(seen, base, None)
    });
    let run = ctx.action_env(
        &[("path", "dist"), ("archive", "false")],
        &v3_env(&server.url, &jwt()),
    );
    assert!(rewritten.load(Ordering::SeqCst), "{}", run.log());
    let seen = server.seen();
    let sent: Vec<&[u8]> = seen
        .iter()
        .filter(|s| s.method == "PUT")
        .map(|s| s.body.as_slice())
        .collect();
    assert_ne!(
        run.code,
        0,
        "shipped {sent:?} as the scanned file\n{}",
        run.log()
    );
    assert!(
        run.log().contains("changed after it was scanned"),
        "{}",
        run.log()
    );
    assert!(!seen.iter().any(|s| s.method == "PATCH"), "finalized");
}

/// A listing with one artifact `art` whose items are given by `items(base)`.
fn listing(seen: &Seen, base: &str, items: &serde_json::Value) -> Option<Reply> {
    if seen
        .target
        .starts_with("/_apis/pipelines/workflows/42/artifacts")
    {
        return Some(Reply::json(&serde_json::json!({
            "count": 1,
            "value": [{
                "containerId": 9,
                "size": 10,
                "name": "art",
                "fileContainerResourceUrl": format!("{base}/container/9"),
                "type": "actions_storage",
            }],
        })));
    }
    if seen.target.starts_with("/container/9?") {
        return Some(Reply::json(&serde_json::json!({ "value": items })));
    }
    None
}

/// Item bytes on another origin, reached directly or through a redirect from the
/// service's own origin, are fetched without the runtime token.
#[test]
fn v3_download_never_sends_the_token_to_another_origin_or_through_a_redirect() {
    let other = Scripted::start("127.0.0.2", |seen, _| {
        Reply::bytes(format!("from {}\n", seen.target))
    });
    let elsewhere = other.url.clone();
    let server = Scripted::start("127.0.0.1", move |seen, base| {
        let items = serde_json::json!([
            { "path": "art/direct.txt", "itemType": "file",
              "contentLocation": format!("{elsewhere}/direct") },
            { "path": "art/redirected.txt", "itemType": "file",
              "contentLocation": format!("{base}/redirect") },
        ]);
        if let Some(reply) = listing(seen, base, &items) {
            return reply;
        }
        if seen.target == "/redirect" {
            return Reply::status(302).with("location", &format!("{elsewhere}/moved"));
        }
        Reply::status(404)
    });
    let ctx = Ctx::new();
    let dest = ctx.temp.join("dest");
    let run = run_download_env(
        &ctx,
        &[("name", "art"), ("path", dest.to_str().expect("utf-8"))],
        &v3_env(&server.url, &jwt()),
    );
    assert_eq!(run.code, 0, "{}", run.log());
    assert_eq!(
        fs::read_to_string(dest.join("direct.txt")).expect("direct"),
        "from /direct\n"
    );
    assert_eq!(
        fs::read_to_string(dest.join("redirected.txt")).expect("redirected"),
        "from /moved\n"
    );
    assert_eq!(authorized(&other.seen()), Vec::<String>::new());
    assert!(!authorized(&server.seen()).is_empty());
}

/// A gzip bomb: an item listed at 1000 bytes whose gzip-encoded body (what any job of the
/// run can upload with `Content-Encoding: gzip` and an `x-tfs-filelength` of its choosing)
/// inflates to 64 MiB. The download must stop writing once the item is longer than listed,
/// as the zip path never writes past an entry's declared size; here a file-size limit of
/// 16 MiB on the process makes an unbounded write kill it (SIGXFSZ) instead of failing.
#[test]
fn v3_download_stops_inflating_past_the_listed_length() {
    let bomb = {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..64 {
            gz.write_all(&zeros).expect("gzip");
        }
        gz.finish().expect("gzip")
    };
    let server = Scripted::start("127.0.0.1", move |seen, base| {
        let items = serde_json::json!([
            { "path": "art/small.txt", "itemType": "file", "fileLength": 1000,
              "contentLocation": format!("{base}/bomb") },
        ]);
        if let Some(reply) = listing(seen, base, &items) {
            return reply;
        }
        Reply::bytes(bomb.clone()).with("content-encoding", "gzip")
    });
    let ctx = Ctx::new();
    let dest = ctx.temp.join("dest");
    let mut cmd = ctx.step_command(
        "sh",
        &[("name", "art"), ("path", dest.to_str().expect("utf-8"))],
        &v3_env(&server.url, &jwt()),
    );
    cmd.args(["-c", "ulimit -f 32768 && exec \"$0\" download", STEVEDORE]);
    let run = ctx.finish(cmd);
    assert_eq!(run.code, 4, "{}", run.log());
    assert!(run.log().contains("small.txt"), "{}", run.log());
    assert!(!dest.exists(), "{}", run.log());
}

/// `upload-concurrency` is "requests in flight per destination". Over v3 the artifacts
/// (`archive: false` makes one per file) and each artifact's files are both bounded by
/// it; this holds only because an upload is either one artifact of many files or many
/// of one file each (a guard should that change: the square would be read, gzipped in
/// memory at 8 MiB each, and sent at once).
#[test]
fn v3_upload_keeps_upload_concurrency_across_artifacts() {
    use std::sync::atomic::AtomicUsize;
    let ctx = Ctx::new();
    for i in 0..8 {
        ctx.file(&format!("dist/f{i}.txt"), format!("file {i}\n"));
    }
    let in_flight = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (now, max) = (Arc::clone(&in_flight), Arc::clone(&most));
    let server = Scripted::start("127.0.0.1", move |seen, base| {
        if seen.method == "PUT" {
            let n = now.fetch_add(1, Ordering::SeqCst) + 1;
            max.fetch_max(n, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(300));
            now.fetch_sub(1, Ordering::SeqCst);
        }
        accept_upload(seen, base, None)
    });
    let run = ctx.action_env(
        &[
            ("path", "dist"),
            ("archive", "false"),
            ("upload-concurrency", "2"),
        ],
        &v3_env(&server.url, &jwt()),
    );
    assert_eq!(run.code, 0, "{}", run.log());
    let puts = server.seen().iter().filter(|s| s.method == "PUT").count();
    assert_eq!(puts, 8);
    assert!(
        most.load(Ordering::SeqCst) <= 2,
        "{} PUTs in flight with upload-concurrency 2",
        most.load(Ordering::SeqCst)
    );
}

/// An empty item (`fileLength: 0`) is created without a request, as the official client
/// (`emptyFilesToCreate`) and the runner's own `FileContainerServer` do: the service keeps
/// no content for it, and its `contentLocation` need not answer.
#[test]
fn v3_download_creates_empty_items_without_fetching_them() {
    let server = Scripted::start("127.0.0.1", move |seen, base| {
        let items = serde_json::json!([
            { "path": "art/full.txt", "itemType": "file", "fileLength": 5,
              "contentLocation": format!("{base}/full") },
            { "path": "art/empty.log", "itemType": "file", "fileLength": 0,
              "contentLocation": format!("{base}/empty") },
        ]);
        if let Some(reply) = listing(seen, base, &items) {
            return reply;
        }
        if seen.target == "/full" {
            return Reply::bytes("full\n");
        }
        Reply::status(404)
    });
    let ctx = Ctx::new();
    let dest = ctx.temp.join("dest");
    let run = run_download_env(
        &ctx,
        &[("name", "art"), ("path", dest.to_str().expect("utf-8"))],
        &v3_env(&server.url, &jwt()),
    );
    assert_eq!(run.code, 0, "{}", run.log());
    assert_eq!(fs::read(dest.join("empty.log")).expect("empty"), b"");
    assert_eq!(fs::read(dest.join("full.txt")).expect("full"), b"full\n");
    assert!(
        !server.seen().iter().any(|s| s.target == "/empty"),
        "fetched the empty item"
    );
}

/// A name already taken (HTTP 409 on create) cannot be fixed with `overwrite: true` over
/// v3 (the protocol cannot delete an artifact; the plan warns so): the advice must not
/// send the user there.
#[test]
fn v3_conflict_does_not_advise_overwrite() {
    let server = Scripted::start("127.0.0.1", |seen, base| {
        if seen.method == "POST" {
            return Reply::status(409);
        }
        accept_upload(seen, base, None)
    });
    let ctx = Ctx::new();
    ctx.file("dist/a.txt", "x\n");
    let run = ctx.action_env(
        &[("path", "dist"), ("name", "art")],
        &v3_env(&server.url, &jwt()),
    );
    assert_ne!(run.code, 0, "{}", run.log());
    assert!(run.log().contains("already exists"), "{}", run.log());
    assert!(!run.log().contains("overwrite: true"), "{}", run.log());
}

/// One item refused (HTTP 403) after another arrived: `path` is left as it was (not
/// created) and no staging directory is left beside it.
#[test]
fn v3_download_failing_half_way_leaves_path_as_it_was() {
    let server = Scripted::start("127.0.0.1", move |seen, base| {
        let items = serde_json::json!([
            { "path": "art/ok.txt", "itemType": "file",
              "contentLocation": format!("{base}/ok") },
            { "path": "art/no.txt", "itemType": "file",
              "contentLocation": format!("{base}/no") },
        ]);
        if let Some(reply) = listing(seen, base, &items) {
            return reply;
        }
        if seen.target == "/ok" {
            return Reply::bytes("ok\n");
        }
        Reply::status(403)
    });
    let ctx = Ctx::new();
    let dest = ctx.temp.join("dest");
    let run = run_download_env(
        &ctx,
        &[("name", "art"), ("path", dest.to_str().expect("utf-8"))],
        &v3_env(&server.url, &jwt()),
    );
    assert_eq!(run.code, 4, "{}", run.log());
    assert!(run.log().contains("no.txt"), "{}", run.log());
    assert!(!dest.exists());
    assert_eq!(
        crate::support::staging_left(&dest),
        Vec::<std::path::PathBuf>::new()
    );
}
