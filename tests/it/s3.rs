//! The S3 destination against a real S3 server (s3s-fs, signatures and checksums
//! verified), with faults injected in front of it.

use std::fs;
use std::process::Command;

use crate::support::s3server::{
    ACCESS_KEY, BUCKET, Fault, S3Server, SECRET_KEY, credentials, upload, upload_with,
};
use crate::support::text::{annotations, redact_known};
use crate::support::{Ctx, Run, owned, random_bytes, read_tree, sha256sum_check};

/// Credentials appear only in the `::add-mask::` line that hides them.
fn assert_never_printed(run: &Run, secrets: &[&str]) {
    for secret in secrets {
        let mask = format!("::add-mask::{secret}");
        assert!(run.stdout.contains(&mask), "{secret} was not masked");
        for line in run.log().lines() {
            assert!(line == mask || !line.contains(secret), "printed: {line}");
        }
    }
}

#[test]
fn a_tree_round_trips_byte_for_byte_with_signatures_checked() {
    let ctx = Ctx::new();
    ctx.file("dist/app.js", "console.log('hi')\n".repeat(1000));
    ctx.file("dist/sub dir/ünïcode + 100%.txt", "odd name");
    ctx.file("dist/empty", "");
    // Above the multipart threshold: 5 parts of 16 MiB.
    ctx.file("dist/big/image.bin", random_bytes(70 * 1024 * 1024 + 5, 7));
    let server = S3Server::start();
    let run = upload(
        &ctx,
        &server,
        "releases/v1",
        SECRET_KEY,
        &[(
            "AWS_SESSION_TOKEN",
            "FQoGZXIvYXdzEXAMPLESESSIONTOKEN0123456789",
        )],
    );
    assert_eq!(run.code, 0, "{}", run.log());
    assert_never_printed(
        &run,
        &[SECRET_KEY, "FQoGZXIvYXdzEXAMPLESESSIONTOKEN0123456789"],
    );

    // Every object is stored under the prefix with the source's bytes.
    let source = read_tree(&ctx.ws.join("dist"));
    let stored = read_tree(&server.object_path("releases/v1"));
    for (rel, bytes) in &source {
        assert!(
            stored.get(rel) == Some(bytes),
            "{rel} differs or is missing"
        );
    }
    // Beside them, the checksums file and the manifest, and `sha256sum -c` accepts the tree.
    assert!(stored.contains_key("SHA256SUMS") && stored.contains_key("stevedore-manifest.json"));
    sha256sum_check(
        &server.object_path("releases/v1"),
        &server.object_path("releases/v1/SHA256SUMS"),
    );

    let uris: Vec<String> = serde_json::from_str(&run.outputs["s3-uris"]).expect("JSON list");
    assert_eq!(uris.len(), source.len() + 2);
    assert!(uris.contains(&format!(
        "s3://{BUCKET}/releases/v1/sub dir/ünïcode + 100%.txt"
    )));
    assert_eq!(
        uris.last().map(String::as_str),
        Some("s3://builds/releases/v1/stevedore-manifest.json"),
        "the documents go last"
    );

    // The multipart upload went in parts, and an independent client (curl's SigV4) reads
    // an object back through the API.
    let parts = server
        .seen()
        .iter()
        .filter(|s| s.method == "PUT" && s.target.contains("partNumber="))
        .count();
    assert_eq!(parts, 5);
    let out = Command::new("curl")
        .args([
            "-sS",
            "--fail-with-body",
            "--aws-sigv4",
            "aws:amz:eu-west-1:s3",
        ])
        .args(["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "--user"])
        .arg(format!("{ACCESS_KEY}:{SECRET_KEY}"))
        .arg(format!("{}/{BUCKET}/releases/v1/app.js", server.endpoint))
        .output()
        .expect("curl");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        out.stdout,
        fs::read(ctx.ws.join("dist/app.js")).expect("app.js")
    );
}

#[test]
fn a_wrong_secret_is_refused_and_named() {
    let ctx = Ctx::new();
    ctx.file("dist/a.txt", "a");
    let server = S3Server::start();
    let wrong = "not-the-secret-key-0000000000000000000000";
    let run = upload(&ctx, &server, "x", wrong, &[]);
    assert_eq!(run.code, 2, "{}", run.log());
    // The service's refusal, and the variable to look at.
    insta::assert_snapshot!(
        redact_known(&annotations(&run.stdout), &[(&server.endpoint, "[S3]")]),
        @"::error title=stevedore::S3 refused the request for `x/a.txt`: 403 SignatureDoesNotMatch; check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (and `s3-region`) (0 object(s) uploaded before)"
    );
    assert_never_printed(&run, &[wrong]);
    assert!(server.objects().is_empty(), "{:?}", server.objects());

    let bare = ctx.action(&[("path", "dist"), ("destination", "s3://builds/x")]);
    assert_eq!(bare.code, 2, "{}", bare.log());
    insta::assert_snapshot!(annotations(&bare.stdout), @"::error title=stevedore::the s3:// destination needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials); set them in the step's `env:` or run aws-actions/configure-aws-credentials first");
}

#[test]
fn throttling_server_errors_and_dropped_connections_are_retried() {
    let ctx = Ctx::new();
    for i in 0..20 {
        ctx.file(
            &format!("dist/f{i:02}.bin"),
            random_bytes(10_000 + i, i as u64),
        );
    }
    ctx.file("dist/big.bin", random_bytes(66 * 1024 * 1024, 3));
    let server = S3Server::start();
    for (matching, status) in [
        ("f03.bin", Some(503)),
        ("f07.bin", None),
        ("f11.bin", Some(500)),
        ("partNumber=2", Some(503)),
        ("partNumber=3", None),
    ] {
        server.fault(Fault {
            method: "PUT",
            matching: matching.into(),
            status,
            times: 1,
        });
    }
    let run = upload(&ctx, &server, "", SECRET_KEY, &[]);
    assert_eq!(run.code, 0, "{}", run.log());
    assert_eq!(server.pending_faults(), 0, "every fault was hit");
    let stored = read_tree(&server.root.join(BUCKET));
    for (rel, bytes) in read_tree(&ctx.ws.join("dist")) {
        assert!(stored.get(&rel) == Some(&bytes), "{rel}");
    }
}

#[test]
fn a_permanent_failure_is_exit_4_and_nothing_vouches_for_a_partial_upload() {
    let ctx = Ctx::new();
    for i in 0..10 {
        ctx.file(&format!("dist/f{i}.txt"), format!("file {i}"));
    }
    ctx.file("dist/big.bin", random_bytes(65 * 1024 * 1024, 9));
    let server = S3Server::start();
    server.fault(Fault {
        method: "PUT",
        matching: "partNumber=4".into(),
        status: Some(503),
        times: 100,
    });
    let run = upload(&ctx, &server, "p", SECRET_KEY, &[]);
    assert_eq!(run.code, 4, "{}", run.log());
    assert!(run.stdout.contains("big.bin"), "{}", run.stdout);
    assert!(run.stdout.contains("object(s) uploaded"), "{}", run.stdout);
    let objects = server.objects();
    assert!(
        !objects
            .iter()
            .any(|o| o.ends_with("SHA256SUMS") || o.ends_with("big.bin")),
        "{objects:?}"
    );
    // The incomplete multipart upload was aborted.
    assert!(
        server
            .seen()
            .iter()
            .any(|s| s.method == "DELETE" && s.target.contains("uploadId=")),
        "no AbortMultipartUpload"
    );
    assert!(run.summary.contains("❌"));
    let uris: Vec<String> = serde_json::from_str(&run.outputs["s3-uris"]).expect("list");
    assert!(uris.iter().all(|u| !u.ends_with("big.bin")));
    // The summary lists what is in the bucket now.
    for uri in &uris {
        assert!(
            run.summary.contains(uri.as_str()),
            "{uri} not in the summary"
        );
    }
    assert_eq!(uris.len(), 10, "the ten small files landed");
}

#[test]
fn a_file_changed_after_the_scan_is_refused_by_the_server() {
    // Each PutObject carries the scan's SHA-256 in a signed `x-amz-checksum-sha256`: S3
    // itself refuses bytes that differ from what was scanned (BadDigest).
    let ctx = Ctx::new();
    ctx.file("dist/a.txt", "scanned bytes");
    ctx.file("dist/b.txt", "unchanged");
    let server = S3Server::start();
    let env = stevedore::github::RunnerEnv::from_vars([
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
    ]);
    let (_, error) = crate::support::runner::upload_after_rewrite(
        &ctx,
        &[
            ("path", "dist"),
            ("destination", "s3://builds/c"),
            ("s3-endpoint", server.endpoint.as_str()),
            ("s3-path-style", "true"),
        ],
        &env,
        ("dist/a.txt", "SCANNED BYTES"),
    );
    let error = error.expect("an error");
    assert!(
        matches!(
            error,
            stevedore::upload::UploadError::S3(stevedore::upload::s3::S3Error::Changed { ref path })
                if path == "a.txt"
        ),
        "{error}"
    );
    // Nothing vouches for the refused object. (s3s-fs 0.14.1 writes a body before it checks
    // the checksum and keeps it after answering BadDigest; real S3 discards it.)
    assert!(
        !server
            .objects()
            .iter()
            .any(|o| o.ends_with("SHA256SUMS") || o.ends_with("stevedore-manifest.json")),
        "{:?}",
        server.objects()
    );
}

#[test]
fn a_server_that_never_answers_is_abandoned_after_the_idle_deadline() {
    let ctx = Ctx::new();
    ctx.file("dist/a.txt", "a");
    let hole = crate::support::servers::BlackHole::start();
    let started = std::time::Instant::now();
    let run = ctx.action_env(
        &[
            ("path", "dist"),
            ("destination", "s3://builds/stall"),
            ("s3-endpoint", hole.url.as_str()),
        ],
        &[credentials(), owned(&[("STEVEDORE_HTTP_TIMEOUT", "1")])].concat(),
    );
    assert_eq!(run.code, 4, "{}", run.log());
    assert!(
        run.stdout.contains("::error") && run.log().contains("no byte moved for 1 s"),
        "{}",
        run.log()
    );
    // Five attempts of 1 s and their backoff; without a deadline this never ends.
    assert!(started.elapsed() < std::time::Duration::from_mins(1));
}

#[test]
fn an_unusable_http_timeout_is_a_configuration_error() {
    let ctx = Ctx::new();
    ctx.file("dist/a.txt", "a");
    let server = S3Server::start();
    for bad in ["abc", "0", "-1", "1.5"] {
        let run = ctx.action_env(
            &[
                ("path", "dist"),
                ("destination", "s3://builds/x"),
                ("s3-endpoint", server.endpoint.as_str()),
            ],
            &[credentials(), owned(&[("STEVEDORE_HTTP_TIMEOUT", bad)])].concat(),
        );
        assert_eq!(run.code, 2, "{bad}: {}", run.log());
        assert!(
            run.stdout.contains("::error") && run.stdout.contains("STEVEDORE_HTTP_TIMEOUT"),
            "{}",
            run.log()
        );
        assert!(server.objects().is_empty(), "nothing uploaded");
    }
}

#[test]
fn matrix_jobs_sharing_a_prefix_keep_every_checksums_document_and_manifest() {
    let server = S3Server::start();
    let keys = ["linux", "macos", "windows"];
    let ctxs: Vec<Ctx> = keys
        .iter()
        .enumerate()
        .map(|(i, key)| {
            let ctx = Ctx::new();
            ctx.file(
                &format!("dist/app-{key}.bin"),
                random_bytes(10_000 + i * 999, i as u64),
            );
            ctx.file(
                &format!("dist/{key}/notes.txt"),
                format!("notes for {key}\n"),
            );
            ctx
        })
        .collect();
    let job = |ctx: &Ctx, key: &str| {
        upload_with(
            ctx,
            &server,
            "shared/v2",
            SECRET_KEY,
            &[],
            &[("job-key", key)],
        )
    };
    let pairs: Vec<(&Ctx, &str)> = ctxs.iter().zip(keys).collect();
    let runs: Vec<Run> = crate::support::all_at_once(&pairs, |(ctx, key)| job(ctx, key));
    for run in &runs {
        assert_eq!(run.code, 0, "{}", run.log());
    }
    // A re-run of one job replaces its own documents only.
    let again = job(&ctxs[0], keys[0]);
    assert_eq!(again.code, 0, "{}", again.log());

    let prefix = server.object_path("shared/v2");
    let stored = read_tree(&prefix);
    let mut listed = std::collections::BTreeSet::new();
    for key in keys {
        let sums = format!("SHA256SUMS-{key}");
        assert!(
            stored.contains_key(&format!("stevedore-manifest-{key}.json")),
            "{key}'s manifest survives: {:?}",
            stored.keys()
        );
        sha256sum_check(&prefix, &prefix.join(&sums));
        let text = String::from_utf8(stored[&sums].clone()).expect("utf-8");
        for line in text.lines() {
            let (_, name) = line.split_once("  ").expect("sha256sum line");
            listed.insert(name.to_owned());
        }
    }
    let objects: std::collections::BTreeSet<String> = stored
        .keys()
        .filter(|k| !k.starts_with("SHA256SUMS") && !k.starts_with("stevedore-manifest"))
        .cloned()
        .collect();
    assert_eq!(
        listed, objects,
        "every object is in some checksums document"
    );
    assert_eq!(objects.len(), 6);
    assert_eq!(stored.len(), 12, "{:?}", stored.keys());
    // `stevedore verify` reads the whole layout, every job's manifest together.
    let verified = ctxs[0].cli(&["verify", prefix.to_str().expect("utf-8")]);
    assert_eq!(verified.code, 0, "{}", verified.log());
    assert!(
        verified.stdout.contains("6 listed: 6 intact") && verified.stdout.contains("; 0 extra"),
        "{}",
        verified.stdout
    );
}

#[test]
fn a_selected_file_named_like_a_job_key_document_is_refused() {
    let server = S3Server::start();
    for name in ["SHA256SUMS-linux", "stevedore-manifest-linux.json"] {
        let ctx = Ctx::new();
        ctx.file("dist/app.bin", "app");
        ctx.file(&format!("dist/{name}"), "a file of the build's own");
        let destination = format!("s3://{BUCKET}/keyed");
        let run = ctx.action_env(
            &[
                ("path", "dist"),
                ("destination", &destination),
                ("s3-endpoint", &server.endpoint),
                ("s3-path-style", "true"),
                ("s3-region", "eu-west-1"),
                ("job-key", "linux"),
            ],
            &credentials(),
        );
        assert_eq!(run.code, 2, "{name}: {}", run.log());
        assert!(
            run.log()
                .contains(&format!("a selected file is named `{name}`")),
            "{}",
            run.log()
        );
        assert!(
            server.objects().iter().all(|o| !o.starts_with("keyed/")),
            "nothing uploaded"
        );
    }
}

/// s3s-fs checks `If-None-Match` before it writes, not with the write, so only jobs that do
/// not race are kept apart there; one after the other, the second finds the documents,
/// merges the checksums file and says so (README: `job-key` needs no server support).
#[test]
fn jobs_one_after_another_on_one_prefix_merge_and_warn_on_s3s_fs_too() {
    let server = S3Server::start();
    let (first, second) = (Ctx::new(), Ctx::new());
    first.file("dist/linux.bin", "linux build\n");
    second.file("dist/macos.bin", "macos build\n");
    let run = upload(&first, &server, "seq", SECRET_KEY, &[]);
    assert_eq!(run.code, 0, "{}", run.log());
    assert!(!run.stdout.contains("was there already"), "{}", run.stdout);
    let run = upload(&second, &server, "seq", SECRET_KEY, &[]);
    assert_eq!(run.code, 0, "{}", run.log());
    assert!(
        run.stdout.contains("::warning")
            && run.stdout.contains("was there already")
            && run.stdout.contains("`job-key`"),
        "{}",
        run.stdout
    );
    let sums = fs::read_to_string(server.object_path("seq/SHA256SUMS")).expect("stored");
    assert!(
        sums.contains("  linux.bin\n") && sums.contains("  macos.bin\n"),
        "both jobs' files listed:\n{sums}"
    );
    sha256sum_check(
        &server.object_path("seq"),
        &server.object_path("seq/SHA256SUMS"),
    );
    let manifests = server
        .objects()
        .iter()
        .filter(|k| k.contains("seq/stevedore-manifest"))
        .count();
    assert_eq!(manifests, 2, "{:?}", server.objects());
}
