//! A debug re-run (`RUNNER_DEBUG=1`, "Re-run jobs with debug logging"): stage timings and
//! every HTTP request attempt as `::debug::` lines, through the same redaction and
//! escaping as every other line; nothing of the kind on an ordinary run.

use crate::support::s3server::{BUCKET, Fault, S3Server, SECRET_KEY, upload};
use crate::support::{Ctx, Run};

const SESSION_TOKEN: &str = "FQoGZXIvYXdzEXAMPLESESSIONTOKENdebug0123456789";

fn s3_run(ctx: &Ctx, server: &S3Server, prefix: &str, debug: Option<&str>) -> Run {
    let mut extra = vec![("AWS_SESSION_TOKEN", SESSION_TOKEN)];
    if let Some(value) = debug {
        extra.push(("RUNNER_DEBUG", value));
    }
    upload(ctx, server, prefix, SECRET_KEY, &extra)
}

/// The data of every `::debug::` line that comes from a span closing (a timing).
fn timed(run: &Run) -> Vec<&str> {
    run.stdout
        .lines()
        .filter_map(|l| l.strip_prefix("::debug::"))
        .filter(|l| l.contains(" took "))
        .collect()
}

/// The lines of request attempts.
fn requests<'r>(lines: &[&'r str]) -> Vec<&'r str> {
    lines
        .iter()
        .filter(|l| l.starts_with("request "))
        .copied()
        .collect()
}

/// The request lines for one object, in order.
fn attempts<'r>(lines: &[&'r str], path: &str) -> Vec<&'r str> {
    let needle = format!(" path={path} ");
    lines
        .iter()
        .filter(|l| l.starts_with("request ") && l.contains(&needle))
        .copied()
        .collect()
}

fn hostile_tree(ctx: &Ctx) {
    for i in 0..8 {
        ctx.file(
            &format!("dist/f{i:02}.bin"),
            format!("file {i}\n").repeat(100),
        );
    }
    ctx.file("dist/::error::INJECTED.txt", "a");
    ctx.file("dist/R##[set-output name=x;]INJECTED.txt", "b");
}

#[test]
fn a_debug_rerun_shows_stage_timings_and_every_request_attempt() {
    let ctx = Ctx::new();
    hostile_tree(&ctx);
    let server = S3Server::start();
    let fault = |matching: &str, status| Fault {
        method: "PUT",
        matching: matching.into(),
        status,
        times: 1,
    };
    server.fault(fault("f03.bin", Some(503)));
    server.fault(fault("f05.bin", None));
    let run = s3_run(&ctx, &server, "dbg", Some("1"));
    assert_eq!(run.code, 0, "{}", run.log());
    assert_eq!(server.pending_faults(), 0);
    crate::support::commands::assert_only_intended_commands(&run.stdout);
    crate::support::commands::assert_only_intended_commands(&run.stderr);

    // Every stage's time, in pipeline order, and the destination's.
    let lines = timed(&run);
    let stage_at = |name: &str| {
        let prefix = format!("stage name={name} took ");
        lines
            .iter()
            .position(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no timing for stage {name}: {}", run.stdout))
    };
    assert!(stage_at("select") < stage_at("scan"));
    assert!(stage_at("scan") < stage_at("gate"));
    assert!(stage_at("gate") < stage_at("upload"));
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("destination name=s3://{BUCKET}/dbg took "))),
        "{}",
        run.stdout
    );

    // One line per attempt the server saw: every object once, the refused and the dropped
    // request twice.
    let seen = server.seen().len();
    assert_eq!(seen, 10 + 2 + 2, "{:?}", server.seen());
    assert_eq!(requests(&lines).len(), seen, "{lines:#?}");
    assert!(
        lines.iter().position(|l| l.starts_with("request ")) > Some(stage_at("gate")),
        "requests are made in the upload stage: {lines:#?}"
    );

    // Each names what it sent (never the query) and how it ended: the refused and the
    // dropped request, then their retries.
    let host = server.endpoint.trim_start_matches("http://");
    let f03 = attempts(&lines, &format!("/{BUCKET}/dbg/f03.bin"));
    assert_eq!(f03.len(), 2, "{lines:#?}");
    assert!(
        f03[0].starts_with(&format!(
            "request method=PUT host={host} path=/{BUCKET}/dbg/f03.bin outcome=503 Service Unavailable took "
        )),
        "{f03:#?}"
    );
    assert!(f03[1].contains(" outcome=200 OK took "), "{f03:#?}");
    let f05 = attempts(&lines, &format!("/{BUCKET}/dbg/f05.bin"));
    assert_eq!(f05.len(), 2, "{lines:#?}");
    assert!(!f05[0].contains("outcome="), "no answer: {f05:#?}");
    assert!(f05[1].contains(" outcome=200 OK took "), "{f05:#?}");
    // The retry loop says why it tries again and after how long.
    let retries: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("::debug::retrying "))
        .collect();
    assert_eq!(retries.len(), 2, "{}", run.stdout);
    assert!(
        retries
            .iter()
            .any(|l| l.starts_with("::debug::retrying attempt=2 of=5 after=")
                && l.ends_with(" reason=\"503 SlowDown injected 503\"")),
        "{retries:#?}"
    );
    assert!(
        lines.iter().all(|l| !l.contains('?')),
        "no query string: {lines:#?}"
    );
    // Hostile names travel percent-encoded (and `%` escaped once more for the command).
    assert!(
        lines
            .iter()
            .any(|l| l.contains("/%253A%253Aerror%253A%253AINJECTED.txt ")),
        "{lines:#?}"
    );

    // Credentials appear only in the masks that hide them.
    for secret in [SECRET_KEY, SESSION_TOKEN] {
        let mask = format!("::add-mask::{secret}");
        for line in run.log().lines() {
            assert!(line == mask || !line.contains(secret), "printed: {line}");
        }
    }

    // The same run without debug logging (`RUNNER_DEBUG` unset, or not `1`) logs none of it.
    for (prefix, debug) in [("plain", None), ("quiet", Some("0"))] {
        server.fault(fault("f03.bin", Some(503)));
        let run = s3_run(&ctx, &server, prefix, debug);
        assert_eq!(run.code, 0, "{}", run.log());
        assert_eq!(server.pending_faults(), 0);
        assert!(timed(&run).is_empty(), "{}", run.stdout);
    }
}

#[test]
fn a_failed_debug_rerun_logs_every_attempt() {
    let ctx = Ctx::new();
    hostile_tree(&ctx);
    let server = S3Server::start();
    server.fault(Fault {
        method: "PUT",
        matching: "f02.bin".into(),
        status: Some(503),
        times: 100,
    });
    let run = s3_run(&ctx, &server, "rerun", Some("1"));
    assert_eq!(run.code, 4, "{}", run.log());
    crate::support::commands::assert_only_intended_commands(&run.stdout);
    let lines = timed(&run);
    let seen = server.seen();
    let refused = seen
        .iter()
        .filter(|s| s.target.ends_with("/rerun/f02.bin"))
        .count();
    // The S3 client's five attempts at the refused object, each one line.
    assert_eq!(refused, 5, "{seen:?}");
    let f02 = attempts(&lines, &format!("/{BUCKET}/rerun/f02.bin"));
    assert_eq!(f02.len(), 5, "{lines:#?}");
    assert!(
        f02.iter()
            .all(|l| l.contains(" outcome=503 Service Unavailable took ")),
        "{f02:#?}"
    );
    assert_eq!(requests(&lines).len(), seen.len(), "{lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("stage name=upload took ")),
        "{}",
        run.stdout
    );
}
