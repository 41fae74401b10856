//! The S3 destination as providers run it, against moto (a second, independent S3
//! server): what a bucket needs objects to be stored with (`s3-cache-control`,
//! `s3-content-type`, `s3-acl`, `s3-storage-class`, `s3-sse`), read back from the server,
//! and uploads without checksum headers (`s3-checksum: none`) for providers that refuse
//! them, byte for byte. Bad values of these inputs are in `inputs.rs`'s table.

use crate::support::moto::{Moto, ship};
use crate::support::s3server::{S3Server, SECRET_KEY, upload_with};
use crate::support::{Ctx, random_bytes};

#[test]
fn objects_are_stored_with_the_cache_control_type_acl_class_and_encryption_asked_for() {
    let ctx = Ctx::new();
    ctx.file("dist/app.js", "console.log('hi')\n");
    ctx.file("dist/site/index.html", "<p>hello</p>\n");
    ctx.file("dist/site/feed", "<rss/>\n");
    let moto = Moto::start();
    let run = ship(
        &ctx,
        &moto,
        "opts",
        &[
            ("s3-cache-control", "public, max-age=3600"),
            (
                "s3-content-type",
                "**/*.html=text/html; charset=utf-8\nsite/feed=application/rss+xml",
            ),
            ("s3-acl", "public-read"),
            ("s3-storage-class", "STANDARD_IA"),
            ("s3-sse", "aws:kms"),
            ("s3-sse-kms-key-id", "alias/builds"),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.log());
    let expected_types = [
        ("app.js", "application/javascript"),
        ("site/index.html", "text/html; charset=utf-8"),
        ("site/feed", "application/rss+xml"),
        // The documents keep their own types; every other setting is the same.
        ("SHA256SUMS", "text/plain; charset=utf-8"),
        ("stevedore-manifest.json", "application/json"),
    ];
    for (rel, content_type) in expected_types {
        let key = format!("opts/{rel}");
        let head = moto.head(&key).unwrap_or_else(|| panic!("{key} missing"));
        assert_eq!(head["content-type"], content_type, "{key}");
        assert_eq!(head["cache-control"], "public, max-age=3600", "{key}");
        assert_eq!(head["x-amz-storage-class"], "STANDARD_IA", "{key}");
        assert_eq!(head["x-amz-server-side-encryption"], "aws:kms", "{key}");
        assert_eq!(
            head["x-amz-server-side-encryption-aws-kms-key-id"], "alias/builds",
            "{key}"
        );
        let acl = moto.acl(&key);
        assert!(
            acl.contains("http://acs.amazonaws.com/groups/global/AllUsers")
                && acl.contains("<Permission>READ</Permission>"),
            "{key}: public-read grants everyone READ: {acl}"
        );
    }
    assert_eq!(moto.get("opts/site/index.html"), b"<p>hello</p>\n");
}

#[test]
fn without_options_objects_keep_the_guessed_type_and_the_buckets_defaults() {
    let ctx = Ctx::new();
    ctx.file("dist/index.html", "<p>hello</p>\n");
    let moto = Moto::start();
    let run = ship(&ctx, &moto, "plain", &[]);
    assert_eq!(run.code, 0, "{}", run.log());
    let head = moto.head("plain/index.html").expect("uploaded");
    assert_eq!(head["content-type"], "text/html");
    for absent in [
        "cache-control",
        "x-amz-server-side-encryption",
        "x-amz-storage-class",
    ] {
        assert!(!head.contains_key(absent), "{absent}: {head:?}");
    }
    assert!(
        !moto.acl("plain/index.html").contains("AllUsers"),
        "private by default"
    );
}

/// `s3-checksum: none` sends no `x-amz-checksum-*` header, `crc32` and `crc32c` send
/// `x-amz-checksum-crc32` or `-crc32c` (per part too); single and multipart uploads land
/// byte for byte on moto, and on s3s-fs, which checks the signed payload hash (`none`) and
/// the CRCs.
#[test]
fn other_checksum_modes_land_byte_exact_single_and_multipart_on_both_servers() {
    let ctx = Ctx::new();
    let big = random_bytes(70 * 1024 * 1024 + 3, 11);
    ctx.file("dist/big.bin", big.clone());
    ctx.file("dist/small.txt", "small\n");
    let moto = Moto::start();
    let server = S3Server::start();
    for mode in ["none", "crc32", "crc32c"] {
        let run = ship(&ctx, &moto, mode, &[("s3-checksum", mode)]);
        assert_eq!(run.code, 0, "{mode}: {}", run.log());
        assert!(
            moto.get(&format!("{mode}/big.bin")) == big,
            "{mode}: the multipart object differs"
        );
        assert_eq!(moto.get(&format!("{mode}/small.txt")), b"small\n");

        let run = upload_with(
            &ctx,
            &server,
            mode,
            SECRET_KEY,
            &[],
            &[("s3-checksum", mode)],
        );
        assert_eq!(run.code, 0, "{mode}: {}", run.log());
        assert!(
            std::fs::read(server.object_path(&format!("{mode}/big.bin"))).expect("stored") == big,
            "{mode}: s3s-fs stored other bytes"
        );
    }
}

/// Three jobs of a matrix ship to one prefix at once without `job-key`: the documents are
/// written only where nothing is (`If-None-Match`), so the checksums file is merged rather
/// than replaced and lists every object with its SHA-256, and every job's manifest is
/// kept. (Before, the last job's documents won and two thirds of the objects were in
/// none.)
#[test]
fn a_matrix_on_one_prefix_without_job_key_leaves_documents_that_list_every_object() {
    let moto = Moto::start();
    let jobs: Vec<Ctx> = (0..3)
        .map(|j| {
            let ctx = Ctx::new();
            for i in 0..4 {
                ctx.file(
                    &format!("dist/job{j}/file{i}.bin"),
                    random_bytes(1000 + i * 10 + j, (j * 10 + i) as u64),
                );
            }
            ctx.file("dist/common/readme.txt", "the same in every job\n");
            ctx
        })
        .collect();
    let runs = crate::support::all_at_once(&jobs, |ctx| ship(ctx, &moto, "matrix", &[]));
    for run in &runs {
        assert_eq!(run.code, 0, "{}", run.log());
    }
    let keys = moto.keys("matrix/");
    let objects: Vec<&String> = keys
        .iter()
        .filter(|k| !k.ends_with("SHA256SUMS") && !k.contains("stevedore-manifest"))
        .collect();
    assert_eq!(
        objects.len(),
        13,
        "12 job files and the common one: {keys:?}"
    );
    let sums = String::from_utf8(moto.get("matrix/SHA256SUMS")).expect("utf-8");
    let listed: std::collections::BTreeMap<&str, &str> = sums
        .lines()
        .filter_map(|l| l.split_once("  "))
        .map(|(hash, path)| (path, hash))
        .collect();
    for key in &objects {
        let rel = key.strip_prefix("matrix/").expect("under the prefix");
        let hash = listed
            .get(rel)
            .unwrap_or_else(|| panic!("{rel} is in no checksums line:\n{sums}"));
        let bytes = moto.get(key);
        assert_eq!(
            *hash,
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)),
            "{rel}"
        );
    }
    assert_eq!(listed.len(), 13, "nothing else listed:\n{sums}");
    let manifests = keys
        .iter()
        .filter(|k| {
            k.contains("stevedore-manifest-") || k.as_str() == "matrix/stevedore-manifest.json"
        })
        .count();
    assert_eq!(manifests, 3, "every job's manifest kept: {keys:?}");
    let merged = runs
        .iter()
        .filter(|r| r.stdout.contains("was there already"))
        .count();
    assert_eq!(merged, 2, "two jobs found the documents there and said so");
}

/// The round trip of `s3.rs` on the second server: odd names (spaces, `+`, `%`, non-ASCII),
/// an empty file and a multipart upload land under the prefix with the source's bytes, as
/// moto (an independent implementation of key encoding and multipart) reads them back, and
/// the checksums file lists each with its SHA-256.
#[test]
fn a_tree_round_trips_byte_for_byte_on_moto_too() {
    let ctx = Ctx::new();
    ctx.file("dist/app.js", "console.log('hi')\n".repeat(1000));
    ctx.file("dist/sub dir/ünïcode + 100%.txt", "odd name");
    ctx.file("dist/empty", "");
    ctx.file("dist/big/image.bin", random_bytes(70 * 1024 * 1024 + 5, 7));
    let moto = Moto::start();
    let run = ship(&ctx, &moto, "releases/v1", &[]);
    assert_eq!(run.code, 0, "{}", run.log());
    let source = crate::support::read_tree(&ctx.ws.join("dist"));
    let sums = String::from_utf8(moto.get("releases/v1/SHA256SUMS")).expect("utf-8");
    for (rel, bytes) in &source {
        let key = format!("releases/v1/{rel}");
        let stored = moto.get(
            &key.replace('%', "%25")
                .replace(' ', "%20")
                .replace('+', "%2B"),
        );
        assert!(stored == *bytes, "{rel} differs");
        let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes));
        assert!(
            sums.lines().any(|l| l == format!("{hash}  {rel}")),
            "{rel} is not listed with its SHA-256:\n{sums}"
        );
    }
    assert!(
        moto.keys("releases/v1/")
            .contains(&"releases/v1/stevedore-manifest.json".to_owned())
    );
}
