//! The GitHub emulator's workflow-run artifact endpoints (`GET .../actions/runs/{id}/artifacts`,
//! `GET .../actions/artifacts/{id}/zip`) over the results emulator and Azurite: proved with
//! the official `@actions/artifact` client, whose `findBy` path (download-artifact's
//! `github-token`) lists another run's artifacts there and follows the zip redirect.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::process::Command;

use sha2::{Digest as _, Sha256};

use crate::support::emulator::{Job, artifact_client, emulator};
use crate::support::github::github;
use crate::support::{Ctx, random_bytes, read_tree};

/// The token the tests' repositories accept (`actions: read`).
const TOKEN: &str = "ghs_rest-artifacts-reader";

/// A tree with text, a multi-block binary, an empty file, an executable, a non-ASCII name
/// and a nested directory; returns its files (relative paths).
fn build_tree(ctx: &Ctx) -> Vec<String> {
    let files = [
        (
            "dist/readme.txt",
            "hello artifact\n".repeat(300).into_bytes(),
        ),
        (
            "dist/bin/tool.bin",
            random_bytes(9 * 1024 * 1024 + 77, 0x5EED),
        ),
        ("dist/empty.log", Vec::new()),
        ("dist/bin/run.sh", b"#!/bin/sh\necho hi\n".to_vec()),
        (
            "dist/docs/h\u{e9}llo w\u{f6}rld.md",
            b"# unicode\n".to_vec(),
        ),
    ];
    for (rel, bytes) in &files {
        ctx.file(rel, bytes);
    }
    fs::set_permissions(
        ctx.ws.join("dist/bin/run.sh"),
        fs::Permissions::from_mode(0o755),
    )
    .expect("chmod");
    files
        .iter()
        .map(|(rel, _)| rel.trim_start_matches("dist/").to_owned())
        .collect()
}

/// Uploads `files` (relative to `ctx`'s `dist`) as artifact `name` with the official
/// client; returns its id.
fn official_upload(ctx: &Ctx, job: &Job, name: &str, files: &[String]) -> u64 {
    let root = ctx.ws.join("dist");
    let mut args = vec![
        "upload".to_owned(),
        name.to_owned(),
        root.to_str().expect("utf-8").to_owned(),
        "6".to_owned(),
    ];
    args.extend(
        files
            .iter()
            .map(|f| root.join(f).to_string_lossy().into_owned()),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    emulator().official(job, &args)["id"]
        .as_u64()
        .expect("artifact id")
}

/// Runs the official client's REST (`findBy`) commands against the GitHub emulator, with
/// no results-service credentials at all: what it gets, it got through the REST API.
fn official_public(args: &[&str], token: &str) -> serde_json::Value {
    artifact_client(args, |cmd| {
        cmd.env_remove("ACTIONS_RUNTIME_TOKEN")
            .env_remove("ACTIONS_RESULTS_URL")
            .env("GITHUB_API_URL", &github().url)
            .env("GITHUB_SERVER_URL", "https://github.com")
            .env("STEVEDORE_GITHUB_TOKEN", token);
    })
}

/// A plain GET (no redirect followed): status, lower-cased headers, body.
fn get(url: &str, token: Option<&str>) -> (u16, BTreeMap<String, String>, Vec<u8>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (head, body) = (dir.path().join("head"), dir.path().join("body"));
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "-o"])
        .arg(&body)
        .arg("-D")
        .arg(&head)
        .args(["-w", "%{http_code}"]);
    if let Some(token) = token {
        cmd.arg("-H").arg(format!("authorization: Bearer {token}"));
    }
    let out = cmd.arg(url).output().expect("curl");
    assert!(out.status.success(), "curl {url}: {out:?}");
    let status = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("status");
    let headers = fs::read_to_string(&head)
        .expect("headers")
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, fs::read(&body).unwrap_or_default())
}

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

#[test]
fn the_official_client_downloads_another_runs_artifact_through_the_rest_api() {
    let ctx = Ctx::new();
    let files = build_tree(&ctx);
    let job = emulator().job();
    let id = official_upload(&ctx, &job, "build-output", &files);
    let repo = github().repo();
    github().workflow_run(&repo, 7001, &job, TOKEN);

    let into = ctx.temp.join("restored");
    let got = official_public(
        &[
            "download-public",
            &id.to_string(),
            into.to_str().expect("utf-8"),
            &repo,
            "7001",
        ],
        TOKEN,
    );
    // The digest came from the REST list and the download was checked against it.
    let stored = emulator().stored(&job, "build-output");
    assert_eq!(got["expectedHash"], sha256(&stored));
    assert_eq!(got["digestMismatch"], false, "{got}");
    assert_eq!(read_tree(&into), read_tree(&ctx.ws.join("dist")));
    // The REST path alone served it: a list and a redirect on the API, no results-service
    // call from this client (its calls would carry the run's token; it had none).
    let routes: Vec<(String, i64)> = github().state(&repo)["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .map(|c| {
            (
                c["route"].as_str().expect("route").to_owned(),
                c["status"].as_i64().expect("status"),
            )
        })
        .collect();
    assert_eq!(
        routes,
        [
            ("list-artifacts".to_owned(), 200),
            ("download-artifact".to_owned(), 302)
        ]
    );
}

#[test]
fn run_artifacts_are_listed_paged_filtered_and_redirected_as_github_does() {
    let ctx = Ctx::new();
    ctx.file("dist/a.txt", "alpha\n");
    ctx.file("dist/b.bin", random_bytes(70_000, 3));
    let job = emulator().job();
    let ids: Vec<u64> = ["one", "two", "three"]
        .iter()
        .map(|name| official_upload(&ctx, &job, name, &["a.txt".into(), "b.bin".into()]))
        .collect();
    let repo = github().repo();
    github().workflow_run(&repo, 7002, &job, TOKEN);
    let api = format!("{}/repos/{repo}/actions", github().url);

    // Page 1 of 3, newest first (`direction` defaults to desc), with next/last links.
    let (status, headers, body) = get(
        &format!("{api}/runs/7002/artifacts?per_page=1"),
        Some(TOKEN),
    );
    assert_eq!(status, 200);
    let page = json(&body);
    assert_eq!(page["total_count"], 3);
    let first = &page["artifacts"][0];
    assert_eq!(first["id"], ids[2]);
    assert_eq!(first["name"], "three");
    assert_eq!(first["expired"], false);
    assert_eq!(first["workflow_run"]["id"], 7002);
    assert_eq!(
        first["archive_download_url"],
        format!("{api}/artifacts/{}/zip", ids[2])
    );
    let stored = emulator().stored(&job, "three");
    assert_eq!(first["digest"], sha256(&stored));
    assert_eq!(first["size_in_bytes"], stored.len());
    let link = &headers["link"];
    assert!(link.contains("page=2>; rel=\"next\""), "{link}");
    assert!(link.contains("page=3>; rel=\"last\""), "{link}");
    // The name filter, and the ascending order on request.
    let (_, _, body) = get(&format!("{api}/runs/7002/artifacts?name=two"), Some(TOKEN));
    let named = json(&body);
    assert_eq!(named["total_count"], 1);
    assert_eq!(named["artifacts"][0]["id"], ids[1]);
    let (_, _, body) = get(
        &format!("{api}/runs/7002/artifacts?direction=asc"),
        Some(TOKEN),
    );
    let order: Vec<u64> = json(&body)["artifacts"]
        .as_array()
        .expect("artifacts")
        .iter()
        .map(|a| a["id"].as_u64().expect("id"))
        .collect();
    assert_eq!(order, ids);

    // The zip: a redirect to a signed storage URL that serves the very bytes the digest names.
    let (status, headers, _) = get(&format!("{api}/artifacts/{}/zip", ids[0]), Some(TOKEN));
    assert_eq!(status, 302);
    let location = &headers["location"];
    assert!(location.contains("sig="), "{location}");
    let (status, _, zip) = get(location, None);
    assert_eq!(status, 200);
    assert_eq!(sha256(&zip), sha256(&emulator().stored(&job, "one")));

    // Authorization as GitHub does: private repository hidden without a token, a wrong
    // token refused, an unknown artifact or run 404, an expired artifact 410.
    let (status, _, _) = get(&format!("{api}/runs/7002/artifacts"), None);
    assert_eq!(status, 404);
    let (status, _, body) = get(&format!("{api}/runs/7002/artifacts"), Some("ghs_wrong"));
    assert_eq!(status, 401);
    assert_eq!(json(&body)["message"], "Bad credentials");
    let (status, _, _) = get(&format!("{api}/artifacts/{}/zip", ids[0]), None);
    assert_eq!(status, 404);
    let (status, _, _) = get(&format!("{api}/artifacts/999999/zip"), Some(TOKEN));
    assert_eq!(status, 404);
    let (status, _, _) = get(&format!("{api}/runs/1/artifacts"), Some(TOKEN));
    assert_eq!(status, 404);
    github().control(
        "expire",
        &serde_json::json!({"repo": repo, "artifact_id": ids[1]}),
    );
    let (status, _, body) = get(&format!("{api}/artifacts/{}/zip", ids[1]), Some(TOKEN));
    assert_eq!(status, 410);
    assert_eq!(json(&body)["message"], "Artifact has expired");
    let (_, _, body) = get(&format!("{api}/runs/7002/artifacts?name=two"), Some(TOKEN));
    assert_eq!(json(&body)["artifacts"][0]["expired"], true);

    // A public repository lists without a token, but its zips need one (403).
    let public = github().repo();
    github().control(
        "workflow-run",
        &serde_json::json!({"repo": public, "run_id": 7003, "results": emulator().url,
            "backend_run": job.run, "public": true}),
    );
    let public_api = format!("{}/repos/{public}/actions", github().url);
    let (status, _, body) = get(&format!("{public_api}/runs/7003/artifacts"), None);
    assert_eq!(status, 200);
    assert_eq!(json(&body)["total_count"], 3);
    let (status, _, body) = get(&format!("{public_api}/artifacts/{}/zip", ids[0]), None);
    assert_eq!(status, 403);
    assert!(
        json(&body)["message"]
            .as_str()
            .is_some_and(|m| m.contains("actions scope")),
        "{}",
        String::from_utf8_lossy(&body)
    );
}
