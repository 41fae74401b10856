//! Artifacts on act's own artifact server (`support::actserver`), both protocols, each both
//! ways with the official client of that protocol:
//!
//! - v3 (the pipelines API, all GitHub Enterprise Server serves; the runner gives
//!   `ACTIONS_RUNTIME_URL` and no results URL): stevedore's upload read back by
//!   `@actions/artifact` 1.1.2 (upload-artifact v3's library), and its upload read back by
//!   `stevedore download`, byte for byte, gzip-encoded files included.
//! - v4 (the results service act ports from Gitea): stevedore's upload read back by
//!   `@actions/artifact` 6.2.1 and by `stevedore download`.

use std::fs;
use std::path::{Path, PathBuf};

use crate::support::actserver::{ActServer, v1_client};
use crate::support::data::{build_tree, random_bytes};
use crate::support::emulator::artifact_client;
use crate::support::runner::{Ctx, run_download_env};
use crate::support::tree::{read_artifact_tree, read_tree};

/// The sample tree, plus what exercises every way a v3 file goes up: a compressible file
/// over 8 MiB (gzip spooled to disk), an incompressible one over 8 MiB (raw, in two ranges),
/// a compressed file the client never gzips, and a name with spaces and parentheses.
fn v3_tree(ctx: &Ctx) -> PathBuf {
    let root = build_tree(ctx, "dist");
    ctx.file(
        "dist/big/log.txt",
        "line of a build log 0123456789\n".repeat(300_000),
    );
    ctx.file("dist/big/blob.bin", random_bytes(8 * 1024 * 1024 + 4097, 7));
    ctx.file(
        "dist/pkg.tar.gz",
        "not really gzip, never gzipped\n".repeat(100),
    );
    ctx.file("dist/sub dir/café (1).txt", "accents\n".repeat(50));
    root
}

fn all_files(root: &Path) -> Vec<String> {
    read_tree(root)
        .keys()
        .map(|rel| root.join(rel).to_string_lossy().into_owned())
        .collect()
}

/// What act stored for artifact `name`: its files, `.gz__` marking a gzip-encoded one.
fn stored(server: &ActServer, name: &str) -> Vec<String> {
    read_tree(&server.store().join(name)).into_keys().collect()
}

#[test]
fn v3_upload_is_read_back_by_the_official_v3_client() {
    let server = ActServer::start();
    let ctx = Ctx::new();
    let root = v3_tree(&ctx);
    let run = ctx.action_env(&[("path", "dist"), ("name", "ghes")], &server.v3_env());
    assert_eq!(run.code, 0, "{}", run.log());
    assert!(run.log().contains("(v3 protocol)"), "{}", run.log());
    // The protocol has no artifact id (act gives no container id) and no single digest.
    assert!(
        !run.outputs.contains_key("artifact-id"),
        "{:?}",
        run.outputs
    );
    assert!(
        !run.outputs.contains_key("artifact-digest"),
        "{:?}",
        run.outputs
    );

    // gzip where it is smaller, as the official client does; never for `.gz` or random.
    let kept = stored(&server, "ghes");
    for gz in ["readme.txt.gz__", "big/log.txt.gz__", "SHA256SUMS.gz__"] {
        assert!(
            kept.iter().any(|k| k == gz),
            "{gz} not gzip-encoded: {kept:?}"
        );
    }
    for raw in ["big/blob.bin", "pkg.tar.gz", "empty.log", "bin/tool.bin"] {
        assert!(
            kept.iter().any(|k| k == raw),
            "{raw} not stored raw: {kept:?}"
        );
    }

    let out = ctx.ws.join("restored");
    v1_client(
        &["download", "ghes", out.to_str().expect("utf-8")],
        &server.v3_env(),
    );
    assert_eq!(read_artifact_tree(&out), read_tree(&root));
}

#[test]
fn the_official_v3_clients_upload_is_restored_by_stevedore_download() {
    let server = ActServer::start();
    let ctx = Ctx::new();
    let root = v3_tree(&ctx);
    let mut args = vec![
        "upload".to_owned(),
        "official".into(),
        root.display().to_string(),
    ];
    args.extend(all_files(&root));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    v1_client(&args, &server.v3_env());
    assert!(
        stored(&server, "official")
            .iter()
            .any(|k| k.ends_with(".gz__")),
        "the official client gzipped nothing"
    );

    let out = ctx.ws.join("restored");
    let run = run_download_env(
        &ctx,
        &[("name", "official"), ("path", out.to_str().expect("utf-8"))],
        &server.v3_env(),
    );
    assert_eq!(run.code, 0, "{}", run.log());
    assert_eq!(read_tree(&out), read_tree(&root));
    assert_eq!(run.outputs["files"], read_tree(&root).len().to_string());
}

#[test]
fn v3_refuses_what_it_cannot_hold_before_creating_anything() {
    let server = ActServer::start();
    let ctx = Ctx::new();
    ctx.file("dist/ok.txt", "ok");
    std::os::unix::fs::symlink("ok.txt", ctx.ws.join("dist/link")).expect("link");
    let run = ctx.action_env(
        &[
            ("path", "dist"),
            ("name", "links"),
            ("symlinks", "preserve"),
        ],
        &server.v3_env(),
    );
    assert_eq!(run.code, 2, "{}", run.log());
    assert!(
        run.log().contains("`link` cannot be shipped") && run.log().contains("symlinks: follow"),
        "{}",
        run.log()
    );
    fs::remove_file(ctx.ws.join("dist/link")).expect("rm");
    ctx.file("dist/a:b.txt", "colon");
    let run = ctx.action_env(&[("path", "dist"), ("name", "colon")], &server.v3_env());
    assert_eq!(run.code, 2, "{}", run.log());
    assert!(
        run.log()
            .contains("`a:b.txt` cannot be stored in an artifact"),
        "{}",
        run.log()
    );
    assert!(
        !server.store().exists(),
        "something was uploaded: {:?}",
        read_tree(&server.store())
    );
}

#[test]
fn v4_on_acts_server_is_read_back_by_the_official_v4_client_and_stevedore() {
    let server = ActServer::start();
    let ctx = Ctx::new();
    let root = build_tree(&ctx, "dist");
    let run = ctx.action_env(&[("path", "dist"), ("name", "ours")], &server.v4_env());
    assert_eq!(run.code, 0, "{}", run.log());
    assert!(!run.log().contains("(v3 protocol)"), "{}", run.log());
    let id = run.outputs["artifact-id"].clone();
    let digest = format!("sha256:{}", run.outputs["artifact-digest"]);
    let out = ctx.ws.join("by-official");
    let env = server.v4_env();
    let got = artifact_client(
        &["download", &id, out.to_str().expect("utf-8"), &digest],
        |cmd| {
            cmd.envs(env.iter().map(|(k, v)| (k, v)));
        },
    );
    assert_eq!(got["digestMismatch"], false, "{got}");
    assert_eq!(read_artifact_tree(&out), read_tree(&root));

    // The other way (the official client's upload read by `stevedore download`) is not
    // possible here: act 0.2.89's v4 service decodes requests strictly and answers 500 to
    // the `mime_type` field @actions/artifact 6.2.1 sends in every CreateArtifact. That way
    // is tested against the results emulator (`download.rs`); here stevedore reads back its
    // own upload through act's `GetSignedArtifactURL` and blob route.
    let back = ctx.ws.join("by-stevedore");
    let run = run_download_env(
        &ctx,
        &[("name", "ours"), ("path", back.to_str().expect("utf-8"))],
        &env,
    );
    assert_eq!(run.code, 0, "{}", run.log());
    assert_eq!(read_artifact_tree(&back), read_tree(&root));
}

#[test]
fn v3_archive_false_makes_one_artifact_per_file() {
    let server = ActServer::start();
    let ctx = Ctx::new();
    ctx.file("dist/a.txt", "alpha\n".repeat(100));
    ctx.file("dist/sub/b.bin", random_bytes(70_000, 3));
    let run = ctx.action_env(&[("path", "dist"), ("archive", "false")], &server.v3_env());
    assert_eq!(run.code, 0, "{}", run.log());
    for (name, rel) in [("a.txt", "dist/a.txt"), ("b.bin", "dist/sub/b.bin")] {
        let out = ctx.ws.join(format!("got-{name}"));
        v1_client(
            &["download", name, out.to_str().expect("utf-8")],
            &server.v3_env(),
        );
        assert_eq!(
            fs::read(out.join(name)).expect("restored"),
            fs::read(ctx.ws.join(rel)).expect("original"),
            "{name}"
        );
    }
}
