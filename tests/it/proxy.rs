//! Proxies and private CAs for every request: a real forward proxy (`tinyproxy`, whose log
//! says what went through it) and a TLS server signed by a CA of the test's own (s3s-fs
//! behind rustls, the results emulator and Azurite for the artifact destination). What is
//! asked of stevedore is what self-hosted runners already set for the official actions:
//! `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY` in either case, and `SSL_CERT_FILE`,
//! `SSL_CERT_DIR` or `NODE_EXTRA_CA_CERTS` for the CA.

use crate::support::emulator::emulator;
use crate::support::github::{asset, asset_bytes, github};
use crate::support::s3server::{S3Server, SECRET_KEY, upload};
use crate::support::testca::TestCa;
use crate::support::text::redact_known;
use crate::support::tinyproxy::Tinyproxy;
use crate::support::{Ctx, Run, free_port, read_tree, run_download_env};

/// A small tree under `dist`.
fn tree(ctx: &Ctx) {
    ctx.file("dist/app.js", "console.log('through')\n".repeat(500));
    ctx.file("dist/docs/readme.txt", "read me");
}

/// `dir` holds every file of `dist` with its bytes (and may hold the checksums file and
/// manifest beside them).
fn assert_holds_dist(ctx: &Ctx, dir: &std::path::Path) {
    let held = read_tree(dir);
    for (rel, bytes) in read_tree(&ctx.ws.join("dist")) {
        assert!(
            held.get(&rel) == Some(&bytes),
            "{rel} differs or is missing"
        );
    }
}

/// The run succeeded and `prefix` on `server` holds `dist`'s bytes.
fn assert_stored(ctx: &Ctx, run: &Run, server: &S3Server, prefix: &str) {
    assert_eq!(run.code, 0, "{}", run.log());
    assert_holds_dist(ctx, &server.object_path(prefix));
}

/// The S3 requests the proxy forwarded to `server`, as `METHOD URL`, sorted.
fn proxied_to(proxy: &Tinyproxy, server: &S3Server) -> Vec<String> {
    let mut through: Vec<String> = proxy
        .requests()
        .into_iter()
        .filter(|r| r.contains(&server.endpoint))
        .collect();
    through.sort();
    through
}

/// Every request `server` answered, as the proxy logs it (`METHOD <endpoint><target>`), sorted.
fn answered(server: &S3Server) -> Vec<String> {
    let mut seen: Vec<String> = server
        .seen()
        .iter()
        .map(|s| format!("{} {}{}", s.method, server.endpoint, s.target))
        .collect();
    seen.sort();
    seen
}

/// A TLS S3 server signed by a new test CA, and a workspace with [`tree`].
fn tls() -> (TestCa, S3Server, Ctx) {
    let ca = TestCa::new();
    let server = S3Server::start_tls(&ca);
    let ctx = Ctx::new();
    tree(&ctx);
    (ca, server, ctx)
}

#[test]
fn a_private_ca_is_refused_with_a_certificate_error_naming_the_fix() {
    let (_ca, server, ctx) = tls();
    let run = upload(&ctx, &server, "refused", SECRET_KEY, &[]);
    assert_eq!(run.code, 4, "{}", run.log());
    let log = run.log();
    assert!(
        log.contains("invalid peer certificate: UnknownIssuer (to trust a private CA, name its PEM file in NODE_EXTRA_CA_CERTS or SSL_CERT_FILE)"),
        "{log}"
    );
    assert!(server.seen().is_empty(), "a request got past the handshake");
}

#[test]
fn the_ca_is_trusted_once_ssl_cert_file_ssl_cert_dir_or_node_extra_ca_certs_names_it() {
    let (ca, server, ctx) = tls();
    // SSL_CERT_DIR: a path list, as OpenSSL reads it; an entry with no certificate is fine.
    let dir = ctx.temp.join("certs");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::copy(&ca.ca, dir.join("test-ca.pem")).expect("copy the CA");
    let dirs = format!("{}:{}", ctx.temp.display(), dir.display());
    // NODE_EXTRA_CA_CERTS: a bundle, as runners' files are: another certificate first (the
    // server's own, which is no CA but parses), then the CA.
    let bundle = ctx.temp.join("extra.pem");
    let pem = [&ca.cert, &ca.ca].map(|f| std::fs::read_to_string(f).expect("PEM"));
    std::fs::write(&bundle, pem.concat()).expect("write the bundle");
    for (var, value) in [
        ("SSL_CERT_FILE", ca.ca.to_str().expect("utf-8")),
        ("SSL_CERT_DIR", &dirs),
        ("NODE_EXTRA_CA_CERTS", bundle.to_str().expect("utf-8")),
    ] {
        let run = upload(&ctx, &server, var, SECRET_KEY, &[(var, value)]);
        assert_stored(&ctx, &run, &server, var);
    }
}

#[test]
fn unusable_ca_variables_stop_the_run_naming_the_variable_and_the_file() {
    let server = S3Server::start();
    let ctx = Ctx::new();
    tree(&ctx);
    let empty = ctx.temp.join("empty.pem");
    std::fs::write(&empty, "no certificate here\n").expect("write");
    let missing = ctx.temp.join("missing.pem");
    let (empty, missing) = (
        empty.to_str().expect("utf-8"),
        missing.to_str().expect("utf-8"),
    );
    let known = [(ctx.temp.to_str().expect("utf-8"), "$RUNNER_TEMP")];
    // A configuration error (exit 2) whose annotation names `var`.
    let mut said = Vec::new();
    let mut refused = |run: Run, var: &str| {
        assert_eq!(run.code, 2, "{var}: {}", run.log());
        let line = run
            .stdout
            .lines()
            .find(|l| l.starts_with("::error") && l.contains(var))
            .unwrap_or_else(|| panic!("{var} not named: {}", run.log()))
            .to_owned();
        said.push(redact_known(&line, &known));
    };
    for env in [
        ("NODE_EXTRA_CA_CERTS", missing),
        ("NODE_EXTRA_CA_CERTS", empty),
        ("SSL_CERT_FILE", missing),
        ("SSL_CERT_FILE", empty),
        ("SSL_CERT_DIR", missing),
    ] {
        refused(upload(&ctx, &server, "never", SECRET_KEY, &[env]), env.0);
    }
    assert!(server.seen().is_empty(), "a request was sent");
    // Every destination that talks HTTP, and the download, refuse it the same way.
    let bad = ("NODE_EXTRA_CA_CERTS".to_owned(), missing.to_owned());
    let job = emulator().job();
    let mut env = emulator().env(&job);
    env.push(bad.clone());
    let inputs = [("destination", "artifact"), ("path", "dist")];
    refused(ctx.action_env(&inputs, &env), &bad.0);
    refused(run_download_env(&ctx, &[("name", "x")], &env), &bad.0);
    assert_eq!(emulator().calls(&job), [], "the results service was called");
    let repo = github().repo();
    let mut env = github().env(&repo, "refs/tags/v1");
    env.push(bad.clone());
    let inputs = [
        ("destination", "release"),
        ("path", "dist"),
        ("token", "ghs_x"),
    ];
    refused(ctx.action_env(&inputs, &env), &bad.0);
    assert!(github().calls(&repo).is_empty(), "the API was called");
    insta::assert_snapshot!(said.join("\n"), @r"
    ::error title=stevedore::NODE_EXTRA_CA_CERTS names `$RUNNER_TEMP/missing.pem`, which cannot be read (No such file or directory (os error 2)); point it at a PEM file of CA certificates, or unset it
    ::error title=stevedore::NODE_EXTRA_CA_CERTS names `$RUNNER_TEMP/empty.pem`, which holds no PEM certificate; point it at a PEM file of CA certificates (`-----BEGIN CERTIFICATE-----`), or unset it
    ::error title=stevedore::SSL_CERT_FILE is `$RUNNER_TEMP/missing.pem`, which cannot be read (No such file or directory (os error 2)); it replaces the system's certificate store when set: point it at a PEM file of CA certificates, or unset it
    ::error title=stevedore::SSL_CERT_FILE is `$RUNNER_TEMP/empty.pem`, which holds no PEM certificate; it replaces the system's certificate store when set: point it at a PEM file of CA certificates, or unset it
    ::error title=stevedore::SSL_CERT_DIR is `$RUNNER_TEMP/missing.pem`, which cannot be read (No such file or directory (os error 2)); it replaces the system's certificate store when set: point it at directories of PEM CA certificates, or unset it
    ::error title=stevedore::NODE_EXTRA_CA_CERTS names `$RUNNER_TEMP/missing.pem`, which cannot be read (No such file or directory (os error 2)); point it at a PEM file of CA certificates, or unset it
    ::error title=stevedore download::NODE_EXTRA_CA_CERTS names `$RUNNER_TEMP/missing.pem`, which cannot be read (No such file or directory (os error 2)); point it at a PEM file of CA certificates, or unset it
    ::error title=stevedore::NODE_EXTRA_CA_CERTS names `$RUNNER_TEMP/missing.pem`, which cannot be read (No such file or directory (os error 2)); point it at a PEM file of CA certificates, or unset it
    ");
}

#[test]
fn every_s3_request_goes_through_the_proxy_in_http_proxy_in_either_case() {
    let ctx = Ctx::new();
    tree(&ctx);
    for var in ["HTTP_PROXY", "http_proxy"] {
        let proxy = Tinyproxy::start();
        let server = S3Server::start();
        let run = upload(&ctx, &server, var, SECRET_KEY, &[(var, &proxy.url)]);
        assert_stored(&ctx, &run, &server, var);
        let through = proxied_to(&proxy, &server);
        // Objects and documents: one PUT per file at least, and every request the server
        // saw, each through the proxy.
        assert!(through.len() >= 4, "{var}: {through:#?}");
        assert_eq!(through, answered(&server), "{var}");
    }
}

#[test]
fn no_proxy_naming_the_host_or_its_network_bypasses_the_proxy() {
    let proxy = Tinyproxy::start();
    let server = S3Server::start();
    let ctx = Ctx::new();
    tree(&ctx);
    for (n, no_proxy) in [
        ("NO_PROXY", "example.com,127.0.0.1"),
        ("no_proxy", "10.0.0.0/8, 127.0.0.0/8"),
        ("NO_PROXY", "*"),
    ]
    .into_iter()
    .enumerate()
    {
        let prefix = format!("direct{n}");
        let run = upload(
            &ctx,
            &server,
            &prefix,
            SECRET_KEY,
            &[("HTTP_PROXY", &proxy.url), no_proxy],
        );
        assert_stored(&ctx, &run, &server, &prefix);
    }
    assert!(server.seen().len() >= 12, "{:?}", server.seen());
    assert_eq!(
        proxy.requests(),
        Vec::<String>::new(),
        "went through the proxy"
    );
}

#[test]
fn https_goes_through_the_proxy_as_a_tunnel_and_the_ca_still_applies() {
    let proxy = Tinyproxy::start();
    let (ca, server, ctx) = tls();
    let ca_file = ca.ca.to_str().expect("utf-8");
    let run = upload(
        &ctx,
        &server,
        "tunnel",
        SECRET_KEY,
        &[
            ("https_proxy", &proxy.url),
            ("NODE_EXTRA_CA_CERTS", ca_file),
        ],
    );
    assert_stored(&ctx, &run, &server, "tunnel");
    let authority = server.endpoint.trim_start_matches("https://");
    let requests = proxy.requests();
    assert!(!requests.is_empty(), "nothing went through the proxy");
    // Every connection was a tunnel to the server (the requests inside it are encrypted).
    for request in &requests {
        assert_eq!(request, &format!("CONNECT {authority}"));
    }
    // HTTP_PROXY is for http:// URLs only: set alone, the https upload goes direct.
    let before = proxy.requests().len();
    let run = upload(
        &ctx,
        &server,
        "direct",
        SECRET_KEY,
        &[("HTTP_PROXY", &proxy.url), ("SSL_CERT_FILE", ca_file)],
    );
    assert_stored(&ctx, &run, &server, "direct");
    assert_eq!(proxy.requests().len(), before);
}

#[test]
fn the_artifact_upload_and_download_reach_the_results_service_and_blob_store_through_the_proxy() {
    let proxy = Tinyproxy::start();
    let emulator = emulator();
    let job = emulator.job();
    let ctx = Ctx::new();
    tree(&ctx);
    let mut env = emulator.env(&job);
    env.push(("HTTP_PROXY".into(), proxy.url.clone()));
    let inputs = [
        ("destination", "artifact"),
        ("path", "dist"),
        ("name", "proxied"),
    ];
    let run = ctx.action_env(&inputs, &env);
    assert_eq!(run.code, 0, "{}", run.log());
    assert_eq!(emulator.finalized(&job).len(), 1);
    // Each request as `METHOD service call` or `METHOD blob <comp>`: the results service's
    // calls and the blob store's block and block list, every one through the proxy.
    let kinds = |requests: Vec<String>| -> Vec<String> {
        let twirp = format!(
            "{}twirp/github.actions.results.api.v1.ArtifactService/",
            emulator.url
        );
        let blob = format!("{}/devstoreaccount1/", emulator.azurite);
        requests
            .iter()
            .map(|r| {
                let (method, url) = r.split_once(' ').expect("METHOD URL");
                if let Some(call) = url.strip_prefix(&twirp) {
                    format!("{method} service {call}")
                } else if url.starts_with(&blob) {
                    let comp = url.split("comp=").nth(1).unwrap_or("").split('&').next();
                    format!("{method} blob {}", comp.unwrap_or_default())
                } else {
                    panic!("a request to an unexpected host: {r}")
                }
            })
            .collect()
    };
    assert_eq!(
        kinds(proxy.requests()),
        [
            "POST service CreateArtifact",
            "PUT blob block",
            "PUT blob blocklist",
            "POST service FinalizeArtifact",
        ]
    );
    // And back: listed, its URL signed, its zip fetched, all through the proxy.
    let before = proxy.requests().len();
    let into = ctx.temp.join("back");
    let down = run_download_env(
        &ctx,
        &[("name", "proxied"), ("path", into.to_str().expect("utf-8"))],
        &env,
    );
    assert_eq!(down.code, 0, "{}", down.log());
    assert_holds_dist(&ctx, &into);
    let back = kinds(proxy.requests().split_off(before));
    assert!(
        back.iter()
            .any(|k| k.starts_with("POST service ListArtifacts"))
            && back.iter().any(|k| k.starts_with("GET blob")),
        "{back:#?}"
    );
}

#[test]
fn the_release_api_and_its_uploads_go_through_the_proxy() {
    let proxy = Tinyproxy::start();
    let ctx = Ctx::new();
    tree(&ctx);
    let repo = github().repo();
    let mut env = github().env(&repo, "refs/tags/v1.0.0");
    env.push(("http_proxy".into(), proxy.url.clone()));
    let inputs = [
        ("path", "dist"),
        ("destination", "release"),
        ("token", "ghs_stevedoreTestToken000000000000000000"),
    ];
    let run = ctx.action_env(&inputs, &env);
    assert_eq!(run.code, 0, "{}", run.log());
    let releases = github().releases(&repo);
    assert_eq!(releases[0]["draft"], false, "published");
    assert_eq!(
        asset_bytes(asset(&releases[0], "readme.txt")),
        b"read me",
        "the asset's bytes"
    );
    let requests = proxy.requests();
    for request in &requests {
        assert!(request.contains(&github().url), "{request}");
    }
    // Every call the API recorded came through the proxy, uploads included.
    assert_eq!(requests.len(), github().calls(&repo).len(), "{requests:#?}");
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with("POST ") && r.contains("/assets?name="))
    );
}

#[test]
fn a_proxy_password_is_never_printed() {
    // A proxy that refuses every connection (a port nothing listens on).
    let port = free_port();
    let server = S3Server::start();
    let ctx = Ctx::new();
    tree(&ctx);
    let proxy = format!("http://builder:pr0xy-pa55word@127.0.0.1:{port}");
    let run = upload(
        &ctx,
        &server,
        "never",
        SECRET_KEY,
        &[("HTTP_PROXY", &proxy), ("RUNNER_DEBUG", "1")],
    );
    assert_eq!(run.code, 4, "{}", run.log());
    assert!(server.seen().is_empty(), "went direct");
    assert!(!run.log().contains("pr0xy-pa55word"), "{}", run.log());
    // The debug log says which proxy was used, its credentials hidden.
    let said = format!("::debug::proxy variable=HTTP_PROXY proxy=http://***@127.0.0.1:{port}/");
    assert!(run.stdout.lines().any(|l| l == said), "{}", run.stdout);
}
