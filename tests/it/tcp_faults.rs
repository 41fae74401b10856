//! Network faults below HTTP (issue 9, item 9): the fault-injecting TCP proxy
//! (`faultproxy`) between stevedore and every real server it talks to: the results-service
//! emulator (Twirp) and Azurite (blob uploads, through the upload URLs the emulator signs),
//! s3s-fs, and the GitHub emulator (API and uploads host). Each destination either lands
//! byte for byte (read back from the server and compared) or exits 4 with nothing
//! finalized, published or vouched for.
//!
//! Every destination is a [`Route`]; the promises all of them keep (a slow link, a big
//! upload reset or stalled on every attempt) are written once and instantiated per route by
//! [`every_route!`] (`tcp_faults::<route>::<promise>`); the fault plans only one route has
//! (a lost `FinalizeArtifact` answer, cut release API calls) are tests of that route's
//! module, run through the same [`lands`] body.
//!
//! Stalls rely on the request deadline `STEVEDORE_HTTP_TIMEOUT` (issue 9, item 6). Every
//! run here is killed after [`LIMIT`], so a missing deadline fails the test instead of
//! hanging the suite.

use std::time::Duration;

use serde_json::json;

use crate::support::emulator::{Job, emulator};
use crate::support::faultproxy::{Direction, Fault, FaultProxy, Shape};
use crate::support::github::{asset_bytes, github};
use crate::support::s3server::{S3Server, credentials};
use crate::support::{
    Ctx, Run, owned, random_bytes, read_artifact_tree, read_tree, sha256sum_check,
};

/// A run that takes longer than this is killed and fails its test.
const LIMIT: Duration = Duration::from_mins(1);
/// The request deadline the stall tests set (seconds).
const DEADLINE: (&str, &str) = ("STEVEDORE_HTTP_TIMEOUT", "2");

/// A slow link: 40 ms each way per chunk, 1 MB/s each way.
const SLOW_LINK: Shape = Shape {
    to_server_latency: Duration::from_millis(40),
    to_client_latency: Duration::from_millis(40),
    bandwidth: Some(1_000_000),
};

/// A destination reached through fault proxies.
trait Route: Sized {
    /// How the report line names the destination (`<destination>: failed: ...`).
    const DESTINATION: &'static str;
    /// The request (a prefix of its request line) that carries the tree's biggest file.
    const BIG_UPLOAD: &'static str;
    /// The size of that file: a slow link carried at least this much to the server.
    const BIG_BYTES: u64;
    /// How far into its body the big upload is cut when it is reset on every attempt.
    const RESET_EVERY_TIME_AT: u64;

    /// Fresh server-side state (a job, a bucket, a repository) behind fresh proxies.
    fn new() -> Self;
    /// The files the run ships, under `dist`.
    fn tree(ctx: &Ctx);
    /// Every proxy of the route.
    fn proxies(&self) -> Vec<&FaultProxy>;
    /// The proxy the big upload crosses.
    fn upload_proxy(&self) -> &FaultProxy;
    /// Runs the upload (with `extra` in the environment), killed after [`LIMIT`].
    fn upload(&self, ctx: &Ctx, extra: &[(&str, &str)]) -> Run;
    /// Exit 0, and what the server holds equals the source, byte for byte.
    fn assert_byte_exact(&self, ctx: &Ctx, run: &Run);
    /// Exit 4 with an error, and nothing finalized, published or vouched for.
    fn assert_nothing_landed(&self, run: &Run);
}

/// One run through a route: its workspace, the route and what the run left.
struct Trial<R> {
    ctx: Ctx,
    route: R,
    run: Run,
}

/// A workspace with `R`'s tree and a fresh route; `arm` sets faults and shapes on its
/// proxies; then the upload runs with `extra` in its environment.
fn trial<R: Route>(arm: impl FnOnce(&mut R), extra: &[(&str, &str)]) -> Trial<R> {
    let ctx = Ctx::new();
    R::tree(&ctx);
    let mut route = R::new();
    arm(&mut route);
    let run = route.upload(&ctx, extra);
    Trial { ctx, route, run }
}

/// A [`trial`] that must land byte for byte.
fn lands<R: Route>(arm: impl FnOnce(&mut R), extra: &[(&str, &str)]) -> Trial<R> {
    let t = trial(arm, extra);
    t.route.assert_byte_exact(&t.ctx, &t.run);
    t
}

/// Every proxy of the route shaped as a slow link: the run lands byte for byte, and every
/// byte of the big file (and the calls around it) crossed a capped link.
fn slow_link<R: Route>() {
    let t = lands::<R>(
        |route| {
            for proxy in route.proxies() {
                proxy.shape(SLOW_LINK);
            }
        },
        &[],
    );
    let (to_server, _) = t.route.upload_proxy().bytes();
    assert!(to_server > R::BIG_BYTES, "{to_server}");
    for proxy in t.route.proxies() {
        let (up, down) = proxy.bytes();
        assert!(up > 0 && down > 0, "{up} {down}");
    }
}

/// The big upload meets `fault` on every attempt: exit 4 after retrying, nothing landed.
fn fails_every_time<R: Route>(fault: Fault, extra: &[(&str, &str)]) -> Trial<R> {
    let t = trial::<R>(
        |route| {
            route
                .upload_proxy()
                .fault(fault.when_sent(R::BIG_UPLOAD).into_body().always());
        },
        extra,
    );
    t.route.assert_nothing_landed(&t.run);
    let cut = t.route.upload_proxy().fired().len();
    assert!(cut > 1, "retried before giving up ({cut})");
    t
}

/// The promises every route keeps, `tcp_faults::<route>::<promise>`, beside the route's own
/// tests (`$own`); `$named` is what its failure report holds when the big upload is reset
/// on every attempt.
macro_rules! every_route {
    ($($name:ident: $route:ty, $named:literal { $($own:item)* })*) => {$(
        mod $name {
            use super::*;

            $($own)*

            #[test]
            fn lands_byte_exact_over_a_slow_link() {
                slow_link::<$route>();
            }

            #[test]
            fn exits_4_with_nothing_landed_when_its_big_upload_is_reset_every_time() {
                let t = fails_every_time::<$route>(
                    Fault::reset(Direction::ToServer, <$route>::RESET_EVERY_TIME_AT),
                    &[],
                );
                assert!(t.run.stdout.contains($named), "{}", t.run.stdout);
            }

            #[test]
            fn exits_4_naming_the_idle_deadline_when_its_big_upload_stalls_every_time() {
                let t = fails_every_time::<$route>(
                    Fault::stall(Direction::ToServer, 100_000),
                    &[DEADLINE],
                );
                assert_deadline_failure(&t.run, <$route>::DESTINATION);
            }
        }
    )*};
}

/// Exit 4, and the report line of `destination` (and an error annotation) says every
/// attempt was abandoned at the idle deadline.
fn assert_deadline_failure(run: &Run, destination: &str) {
    assert_eq!(run.code, 4, "{}", run.log());
    let prefix = format!("{destination}: failed: ");
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` line:\n{}", run.stdout));
    assert!(line.contains("no byte moved for 2 s"), "{line}");
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with("::error") && l.contains("STEVEDORE_HTTP_TIMEOUT")),
        "{}",
        run.stdout
    );
}

/// Every fault was taken by a connection and fired there.
fn assert_all_fired(proxy: &FaultProxy, expected: usize, what: &str) {
    assert!(
        proxy.pending().is_empty(),
        "{what}: faults never used: {:?}",
        proxy.pending()
    );
    let carried: Vec<_> = proxy
        .connections()
        .into_iter()
        .filter(|c| c.fault.is_some())
        .collect();
    assert!(
        carried.iter().all(|c| c.fired),
        "{what}: a fault did not fire: {carried:?}"
    );
    assert_eq!(carried.len(), expected, "{what}: {carried:?}");
}

// --- artifact: stevedore -> proxy -> results emulator, stevedore -> proxy -> Azurite -------

/// One artifact job whose Twirp calls and blob uploads both cross a proxy.
struct ArtifactRoute {
    job: Job,
    twirp: FaultProxy,
    blob: FaultProxy,
}

impl ArtifactRoute {
    fn finalized(&self) -> Vec<serde_json::Value> {
        emulator().finalized(&self.job)
    }

    fn calls(&self, method: &str) -> Vec<i64> {
        emulator()
            .calls(&self.job)
            .into_iter()
            .filter(|(m, _)| m == method)
            .map(|(_, status)| status)
            .collect()
    }
}

impl Route for ArtifactRoute {
    const DESTINATION: &'static str = "artifact";
    const BIG_UPLOAD: &'static str = "comp=block&";
    const BIG_BYTES: u64 = 1_500_000;
    const RESET_EVERY_TIME_AT: u64 = 100_000;

    fn new() -> ArtifactRoute {
        let job = emulator().job();
        let twirp = FaultProxy::start(&emulator().url);
        let blob = FaultProxy::start(&emulator().azurite);
        emulator().upload_base(&job, &blob.url());
        ArtifactRoute { job, twirp, blob }
    }

    /// 1.5 MB that does not compress (stored in the zip) and a text file.
    fn tree(ctx: &Ctx) {
        ctx.file("dist/data.bin", random_bytes(1_500_000, 0xA11CE));
        ctx.file("dist/notes.txt", "notes\n".repeat(2000));
    }

    fn proxies(&self) -> Vec<&FaultProxy> {
        vec![&self.twirp, &self.blob]
    }

    fn upload_proxy(&self) -> &FaultProxy {
        &self.blob
    }

    fn upload(&self, ctx: &Ctx, extra: &[(&str, &str)]) -> Run {
        let mut env = emulator().env(&self.job);
        for (k, v) in &mut env {
            if k == "ACTIONS_RESULTS_URL" {
                *v = format!("{}/", self.twirp.url());
            }
        }
        env.extend(owned(extra));
        ctx.action_env_within(
            &[
                ("destination", "artifact"),
                ("path", "dist"),
                ("name", "net"),
            ],
            &env,
            LIMIT,
        )
    }

    /// The official client downloads the artifact straight from Azurite (not through the
    /// proxy), checks its digest, and the tree equals the source.
    fn assert_byte_exact(&self, ctx: &Ctx, run: &Run) {
        assert_eq!(run.code, 0, "{}", run.log());
        let url = emulator().state(&self.job)["artifacts"][0]["signed_upload_url"]
            .as_str()
            .expect("url")
            .to_owned();
        assert!(
            url.starts_with(&self.blob.url()),
            "the upload URL points at the proxy: {url}"
        );
        let into = ctx.temp.join("downloaded");
        let result = emulator().official(
            &self.job,
            &[
                "download",
                &run.outputs["artifact-id"],
                into.to_str().expect("utf-8"),
            ],
        );
        assert_eq!(result["digestMismatch"], json!(false), "{result}");
        assert!(
            read_artifact_tree(&into) == read_tree(&ctx.ws.join("dist")),
            "the downloaded tree differs from the source"
        );
        assert_eq!(self.finalized().len(), 1);
    }

    /// Finalize never called, nothing finalized, no `artifact-id`.
    fn assert_nothing_landed(&self, run: &Run) {
        assert_eq!(run.code, 4, "{}", run.log());
        assert!(run.stdout.contains("::error"), "{}", run.stdout);
        assert!(self.calls("FinalizeArtifact").is_empty(), "Finalize called");
        assert!(self.finalized().is_empty());
        assert!(!run.outputs.contains_key("artifact-id"));
    }
}

// --- S3: stevedore -> proxy -> s3s-fs ------------------------------------------------------

/// An S3 server and a proxy in front of it.
struct S3Route {
    server: S3Server,
    proxy: FaultProxy,
}

impl Route for S3Route {
    const DESTINATION: &'static str = "s3://builds/net";
    const BIG_UPLOAD: &'static str = "PUT /builds/net/big.bin ";
    const BIG_BYTES: u64 = 1_000_000;
    const RESET_EVERY_TIME_AT: u64 = 100_000;

    fn new() -> S3Route {
        let server = S3Server::start();
        let proxy = FaultProxy::start(&server.endpoint);
        S3Route { server, proxy }
    }

    fn tree(ctx: &Ctx) {
        ctx.file("dist/big.bin", random_bytes(1_000_000, 0x53));
        for i in 0..4 {
            ctx.file(
                &format!("dist/small-{i}.txt"),
                format!("small {i}\n").repeat(100),
            );
        }
    }

    fn proxies(&self) -> Vec<&FaultProxy> {
        vec![&self.proxy]
    }

    fn upload_proxy(&self) -> &FaultProxy {
        &self.proxy
    }

    fn upload(&self, ctx: &Ctx, extra: &[(&str, &str)]) -> Run {
        let mut env = credentials();
        env.extend(owned(extra));
        let endpoint = self.proxy.url();
        ctx.action_env_within(
            &[
                ("path", "dist"),
                ("destination", "s3://builds/net"),
                ("s3-endpoint", &endpoint),
                ("s3-path-style", "true"),
                ("s3-region", "eu-west-1"),
            ],
            &env,
            LIMIT,
        )
    }

    /// The stored objects equal the source, and `sha256sum -c` accepts the stored tree.
    fn assert_byte_exact(&self, ctx: &Ctx, run: &Run) {
        assert_eq!(run.code, 0, "{}", run.log());
        let stored = read_tree(&self.server.object_path("net"));
        for (rel, bytes) in read_tree(&ctx.ws.join("dist")) {
            assert!(
                stored.get(&rel) == Some(&bytes),
                "{rel} differs or is missing"
            );
        }
        sha256sum_check(
            &self.server.object_path("net"),
            &self.server.object_path("net/SHA256SUMS"),
        );
    }

    /// Nothing vouches for a partial upload, and `big.bin` is not stored.
    fn assert_nothing_landed(&self, run: &Run) {
        assert_eq!(run.code, 4, "{}", run.log());
        assert!(run.stdout.contains("::error"), "{}", run.stdout);
        let objects = self.server.objects();
        assert!(
            !objects.iter().any(|o| o.ends_with("SHA256SUMS")
                || o.ends_with("stevedore-manifest.json")
                || o.ends_with("big.bin")),
            "{objects:?}"
        );
    }
}

// --- release: stevedore -> proxy -> GitHub emulator (API and uploads) ----------------------

const TOKEN: &str = "ghs_stevedoreTestToken000000000000000000";

/// The upload request of `app.tar.gz`.
const APP_UPLOAD: &str = "/assets?name=app.tar.gz ";

/// A repository of the GitHub emulator reached through a proxy, released at `tag`.
struct ReleaseRoute {
    repo: String,
    proxy: FaultProxy,
    tag: &'static str,
}

impl ReleaseRoute {
    /// `/repos/<repo>/releases`.
    fn releases_path(&self) -> String {
        format!("/repos/{}/releases", self.repo)
    }

    fn releases(&self) -> Vec<serde_json::Value> {
        github().releases(&self.repo)
    }

    fn calls(&self) -> Vec<String> {
        github().calls(&self.repo)
    }
}

impl Route for ReleaseRoute {
    const DESTINATION: &'static str = "release";
    const BIG_UPLOAD: &'static str = APP_UPLOAD;
    const BIG_BYTES: u64 = 800_000;
    const RESET_EVERY_TIME_AT: u64 = 50_000;

    fn new() -> ReleaseRoute {
        ReleaseRoute {
            repo: github().repo(),
            proxy: FaultProxy::start(&github().url),
            tag: "v1",
        }
    }

    fn tree(ctx: &Ctx) {
        ctx.file("dist/app.tar.gz", random_bytes(800_000, 0x6E1));
        ctx.file("dist/notes.txt", "release notes\n".repeat(50));
    }

    fn proxies(&self) -> Vec<&FaultProxy> {
        vec![&self.proxy]
    }

    /// The uploads cross the proxy too: the upload URL is built from its address.
    fn upload_proxy(&self) -> &FaultProxy {
        &self.proxy
    }

    fn upload(&self, ctx: &Ctx, extra: &[(&str, &str)]) -> Run {
        let mut env = github().env(&self.repo, &format!("refs/tags/{}", self.tag));
        for (k, v) in &mut env {
            if k == "GITHUB_API_URL" {
                *v = self.proxy.url();
            }
        }
        env.extend(owned(extra));
        ctx.action_env_within(
            &[
                ("path", "dist"),
                ("destination", "release"),
                ("token", TOKEN),
            ],
            &env,
            LIMIT,
        )
    }

    /// One published release whose assets are the source files (bytes as the emulator
    /// stored them) and the checksums file, all `uploaded`.
    fn assert_byte_exact(&self, ctx: &Ctx, run: &Run) {
        assert_eq!(run.code, 0, "{}", run.log());
        let all = self.releases();
        assert_eq!(all.len(), 1, "{all:?}");
        assert_eq!(all[0]["draft"], false, "published");
        let source = read_tree(&ctx.ws.join("dist"));
        let assets = all[0]["assets"].as_array().expect("assets");
        assert_eq!(assets.len(), source.len() + 1, "{assets:?}");
        for a in assets {
            assert_eq!(a["state"], "uploaded", "{a}");
            let name = a["name"].as_str().expect("name");
            let bytes = asset_bytes(a);
            if name == "SHA256SUMS" {
                let text = String::from_utf8(bytes).expect("utf-8");
                assert_eq!(text.lines().count(), source.len(), "{text}");
            } else {
                assert!(source.get(name) == Some(&bytes), "{name} differs");
            }
        }
    }

    /// One release, a draft: never published incomplete.
    fn assert_nothing_landed(&self, run: &Run) {
        assert_eq!(run.code, 4, "{}", run.log());
        assert!(run.stdout.contains("::error"), "{}", run.stdout);
        assert!(run.stdout.contains("left unpublished"), "{}", run.stdout);
        let all = self.releases();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0]["draft"], true, "never published incomplete");
    }
}

// --- the promises, per route --------------------------------------------------------------

every_route! {
    artifact: ArtifactRoute, "Put Block" {
        #[test]
        fn resets_mid_body_of_blocks_block_list_create_and_finalize_are_retried_byte_exact() {
            let t = lands(
                |route: &mut ArtifactRoute| {
                    // Put Block cut 300 kB into its body; Put Block List's answer cut after 10
                    // bytes (the list was committed, the client never heard).
                    route.blob.fault(
                        Fault::reset(Direction::ToServer, 300_000)
                            .when_sent("comp=block&")
                            .into_body(),
                    );
                    route
                        .blob
                        .fault(Fault::reset(Direction::ToClient, 10).when_sent("comp=blocklist"));
                    // CreateArtifact and FinalizeArtifact cut 10 bytes into their JSON bodies.
                    for method in ["CreateArtifact", "FinalizeArtifact"] {
                        route.twirp.fault(
                            Fault::reset(Direction::ToServer, 10)
                                .when_sent(&format!("ArtifactService/{method} "))
                                .into_body(),
                        );
                    }
                },
                &[],
            );
            assert_all_fired(&t.route.blob, 2, "blob");
            assert_all_fired(&t.route.twirp, 2, "twirp");
            // The cut calls never reached the service; the retries did, once each.
            assert_eq!(t.route.calls("CreateArtifact"), [200]);
            assert_eq!(t.route.calls("FinalizeArtifact"), [200]);
    }

    #[test]
    fn a_lost_finalize_answer_is_recognised_as_finalized() {
        // FinalizeArtifact lands, its answer is cut: the retry finds nothing pending (404),
        // and the run must recognise its own artifact by name, size and digest.
        let t = lands(
            |route: &mut ArtifactRoute| {
                route.twirp.fault(
                    Fault::reset(Direction::ToClient, 20)
                        .when_sent("ArtifactService/FinalizeArtifact "),
                );
            },
            &[],
        );
        assert_all_fired(&t.route.twirp, 1, "twirp");
        assert_eq!(t.route.calls("FinalizeArtifact"), [200, 404]);
        assert_eq!(
            t.run.outputs["artifact-id"],
            t.route.finalized()[0]["id"].to_string(),
            "the id of the artifact the first Finalize created"
        );
    }

    #[test]
    fn stalls_hit_the_idle_deadline_and_are_retried_byte_exact() {
        let t = lands(
            |route: &mut ArtifactRoute| {
                // Put Block stops moving 100 kB into its body; Put Block List's answer never
                // arrives; CreateArtifact's answer stops 10 bytes into its body.
                route.blob.fault(
                    Fault::stall(Direction::ToServer, 100_000)
                        .when_sent("comp=block&")
                        .into_body(),
                );
                route
                    .blob
                    .fault(Fault::stall(Direction::ToClient, 0).when_sent("comp=blocklist"));
                route.twirp.fault(
                    Fault::stall(Direction::ToClient, 10)
                        .when_sent("ArtifactService/CreateArtifact ")
                        .into_body(),
                );
            },
            &[DEADLINE],
        );
        assert_all_fired(&t.route.blob, 2, "blob");
        assert_all_fired(&t.route.twirp, 1, "twirp");
        // The withheld answer: the service created the artifact, then the retry re-created it.
        assert_eq!(t.route.calls("CreateArtifact"), [200, 200]);
    }
    }

    s3: S3Route, "big.bin" {
        #[test]
        fn resets_mid_body_and_lost_answers_are_retried_byte_exact() {
            let t = lands(
                |route: &mut S3Route| {
                    // big.bin cut 200 kB into its body, twice; small-1's answer cut (the object
                    // was stored, the client never heard); SHA256SUMS cut 10 bytes into its body.
                    route.proxy.fault(
                        Fault::reset(Direction::ToServer, 200_000)
                            .when_sent("PUT /builds/net/big.bin ")
                            .into_body()
                            .times(2),
                    );
                    route.proxy.fault(
                        Fault::reset(Direction::ToClient, 0)
                            .when_sent("PUT /builds/net/small-1.txt "),
                    );
                    route.proxy.fault(
                        Fault::reset(Direction::ToServer, 10)
                            .when_sent("PUT /builds/net/SHA256SUMS ")
                            .into_body(),
                    );
                },
                &[],
            );
            assert_all_fired(&t.route.proxy, 4, "s3");
    }

    #[test]
    fn stalls_hit_the_idle_deadline_and_are_retried_byte_exact() {
        let t = lands(
            |route: &mut S3Route| {
                route.proxy.fault(
                    Fault::stall(Direction::ToServer, 100_000)
                        .when_sent("PUT /builds/net/big.bin ")
                        .into_body(),
                );
                route.proxy.fault(
                    Fault::stall(Direction::ToClient, 0).when_sent("PUT /builds/net/small-2.txt "),
                );
            },
            &[DEADLINE],
        );
        assert_all_fired(&t.route.proxy, 2, "s3");
    }
    }

    release: ReleaseRoute, "left unpublished" {
        #[test]
        fn resets_mid_upload_are_retried_byte_exact_and_the_starter_asset_is_deleted() {
            let t = lands(
                |route: &mut ReleaseRoute| {
                    route.tag = "v2";
                    // app.tar.gz cut 100 kB into its body (a `starter` asset is left behind); the
                    // answer to notes.txt cut half-way (the asset landed, the client never heard).
                    route.proxy.fault(
                        Fault::reset(Direction::ToServer, 100_000)
                            .when_sent(APP_UPLOAD)
                            .into_body(),
                    );
                    route.proxy.fault(
                        Fault::reset(Direction::ToClient, 300).when_sent("/assets?name=notes.txt "),
                    );
                },
                &[],
            );
            assert_all_fired(&t.route.proxy, 2, "release");
            let calls = t.route.calls();
            assert!(
                calls.contains(&"delete-asset 204".to_owned()),
                "the starter asset was deleted: {calls:?}"
            );
    }

    #[test]
    fn api_calls_cut_are_retried_and_converge_on_one_release() {
        let t = lands(
            |route: &mut ReleaseRoute| {
                route.tag = "v6";
                let releases = route.releases_path();
                // The create request cut 10 bytes into its body (it never reaches the API);
                // the retried create's answer cut inside its head (the API made a draft the
                // client never heard of); the release list's answer and the publish answer
                // cut inside their heads.
                route.proxy.fault(
                    Fault::reset(Direction::ToServer, 10)
                        .when_sent(&format!("POST {releases} "))
                        .into_body(),
                );
                for request in [
                    format!("POST {releases} "),
                    format!("GET {releases}?"),
                    format!("PATCH {releases}/"),
                ] {
                    route
                        .proxy
                        .fault(Fault::reset(Direction::ToClient, 20).when_sent(&request));
                }
            },
            &[],
        );
        assert_all_fired(&t.route.proxy, 4, "release");
        let calls = t.route.calls();
        // Two drafts were made (the second create's answer was lost); the extra one was
        // deleted.
        assert_eq!(
            calls.iter().filter(|c| *c == "create 201").count(),
            2,
            "{calls:?}"
        );
        assert!(
            calls.contains(&"delete-release 204".to_owned()),
            "{calls:?}"
        );
    }

    #[test]
    fn api_answers_cut_or_stalled_inside_their_body_are_retried() {
        // octocrab's own retry ends once an answer's head has arrived: a body cut or stalled
        // after it must still be retried.
        let t = lands(
            |route: &mut ReleaseRoute| {
                route.tag = "v8";
                let releases = route.releases_path();
                route.proxy.fault(
                    Fault::reset(Direction::ToClient, 5)
                        .when_sent(&format!("POST {releases} "))
                        .into_body(),
                );
                route.proxy.fault(
                    Fault::stall(Direction::ToClient, 1)
                        .when_sent(&format!("GET {releases}?"))
                        .into_body(),
                );
            },
            &[DEADLINE],
        );
        assert_all_fired(&t.route.proxy, 2, "release");
    }

    #[test]
    fn stalls_hit_the_idle_deadline_and_are_retried_byte_exact() {
        let t = lands(
            |route: &mut ReleaseRoute| {
                route.tag = "v4";
                // An upload stops moving 100 kB into its body; another's answer stops 100
                // bytes into its body (the asset landed); the answer to the release list (a
                // JSON call through octocrab) never arrives.
                route.proxy.fault(
                    Fault::stall(Direction::ToServer, 100_000)
                        .when_sent(APP_UPLOAD)
                        .into_body(),
                );
                route.proxy.fault(
                    Fault::stall(Direction::ToClient, 100)
                        .when_sent("/assets?name=notes.txt ")
                        .into_body(),
                );
                let list = format!("GET {}?", route.releases_path());
                route
                    .proxy
                    .fault(Fault::stall(Direction::ToClient, 0).when_sent(&list));
            },
            &[DEADLINE],
        );
        assert_all_fired(&t.route.proxy, 3, "release");
    }
    }
}
