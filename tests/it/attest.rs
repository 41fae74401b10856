//! The hand-off to attestations (issue 21, item 4): the `subject-checksums` output, read by
//! actions/attest's own parsing rules (tests/support/node/attest-subjects.mjs, transcribed
//! from `src/subject.ts`), for each kind of destination; and why the `checksums` file is not
//! that list (attest fails on its GNU-escaped lines).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use sha2::{Digest as _, Sha256};

use crate::support::emulator::emulator;
use crate::support::github::{asset_bytes, github};
use crate::support::{Ctx, node_peers};

const TOKEN: &str = "ghs_stevedoreTestToken000000000000000000";

/// Runs attest's reading of `file`: `Ok(name -> sha256 hex)`, or attest's error.
fn attest_reads(file: &Path) -> Result<BTreeMap<String, String>, String> {
    let out = Command::new("node")
        .arg(node_peers().join("attest-subjects.mjs"))
        .arg(file)
        .output()
        .expect("node");
    assert!(out.status.success(), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    if let Some(e) = json["error"].as_str() {
        return Err(e.to_owned());
    }
    Ok(json["subjects"]
        .as_array()
        .expect("subjects")
        .iter()
        .map(|s| {
            (
                s["name"].as_str().expect("name").to_owned(),
                s["digest"]["sha256"].as_str().expect("sha256").to_owned(),
            )
        })
        .collect())
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Names attest cannot take from the `checksums` file (a `\` escapes the line), one it can
/// never take (a line feed), and ones its flag rule must not eat (a leading `*` or space).
const HOSTILE: [&str; 5] = [
    "back\\slash.bin",
    "line\nfeed.bin",
    "*star.bin",
    " leading space.bin",
    "sub dir/café.bin",
];

fn hostile_tree(ctx: &Ctx) -> BTreeMap<String, String> {
    let mut want = BTreeMap::new();
    for (i, name) in HOSTILE.iter().enumerate() {
        let bytes = format!("file {i}: {name}\n").repeat(50 + i);
        ctx.file(&format!("dist/{name}"), bytes.as_bytes());
        if !name.contains('\n') {
            want.insert((*name).to_owned(), sha256_hex(bytes.as_bytes()));
        }
    }
    want
}

#[test]
fn attest_reads_every_shipped_file_where_it_fails_on_the_checksums_file() {
    let ctx = Ctx::new();
    let want = hostile_tree(&ctx);
    let out = ctx.temp.join("shipped");
    let run = ctx.action(&[
        ("path", "dist"),
        ("destination", out.to_str().expect("utf-8")),
    ]);
    assert_eq!(run.code, 0, "{}", run.log());

    let subjects = Path::new(&run.outputs["subject-checksums"]);
    assert_eq!(attest_reads(subjects), Ok(want));
    // The one name no line can carry: a warning counts it, the log names it (escaped,
    // inside a stop-commands fence, as every listing of names is).
    let warning = run
        .stdout
        .lines()
        .find(|l| l.starts_with("::warning") && l.contains("subject-checksums"))
        .unwrap_or_else(|| panic!("{}", run.stdout));
    assert!(warning.contains("1 file left out"), "{warning}");
    assert!(
        run.stdout.contains("  not attested: line\\nfeed.bin\n"),
        "{}",
        run.stdout
    );
    crate::support::commands::assert_only_intended_commands(&run.stdout);

    // The checksums file escapes `\` and the line feed for `sha256sum -c`; attest fails on
    // the first escaped line, which is why the second list exists.
    let checksums = Path::new(&run.outputs["checksums"]);
    let err = attest_reads(checksums).expect_err("attest refuses an escaped line");
    assert!(err.starts_with("Invalid digest: \\"), "{err}");
}

#[test]
fn release_subjects_are_the_assets_as_github_stores_them() {
    let repo = github().repo();
    let ctx = Ctx::new();
    ctx.file("dist/app linux (x64).tar.gz", "linux".repeat(300));
    ctx.file("dist/app-windows.zip", "windows".repeat(300));
    let mut env = github().env(&repo, "refs/tags/v1.0.0");
    env.push((
        "GITHUB_SHA".into(),
        "5f0c6e1d9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e".into(),
    ));
    let run = ctx.action_env(
        &[
            ("path", "dist"),
            ("destination", "release"),
            ("token", TOKEN),
        ],
        &env,
    );
    assert_eq!(run.code, 0, "{}", run.log());
    let subjects = attest_reads(Path::new(&run.outputs["subject-checksums"])).expect("attest");

    // Exactly the release's assets but the checksums asset, by stored name, with the
    // digest of the bytes the release serves.
    let releases = github().releases(&repo);
    let served: BTreeMap<String, String> = releases[0]["assets"]
        .as_array()
        .expect("assets")
        .iter()
        .filter(|a| a["name"] != "SHA256SUMS")
        .map(|a| {
            (
                a["name"].as_str().expect("name").to_owned(),
                sha256_hex(&asset_bytes(a)),
            )
        })
        .collect();
    assert_eq!(
        served.keys().collect::<Vec<_>>(),
        ["app-windows.zip", "app.linux..x64..tar.gz"]
    );
    assert_eq!(subjects, served);
}

#[test]
fn artifact_subjects_are_the_archives_by_digest() {
    let ctx = Ctx::new();
    ctx.file("dist/a.txt", "a".repeat(1000));
    ctx.file("dist/b.txt", "b".repeat(1000));
    let job = emulator().job();
    let env = emulator().env(&job);
    let run = ctx.action_env(
        &[
            ("path", "dist"),
            ("destination", "artifact"),
            ("name", "build"),
        ],
        &env,
    );
    assert_eq!(run.code, 0, "{}", run.log());
    let subjects = attest_reads(Path::new(&run.outputs["subject-checksums"])).expect("attest");
    let stored = emulator().stored(&job, "build");
    assert_eq!(
        subjects,
        BTreeMap::from([("build.zip".to_owned(), sha256_hex(&stored))])
    );
    assert_eq!(subjects["build.zip"], run.outputs["artifact-digest"]);

    // One artifact per file: each under its own name.
    let job = emulator().job();
    let env = emulator().env(&job);
    let run = ctx.action_env(
        &[
            ("path", "dist"),
            ("destination", "artifact"),
            ("archive", "false"),
        ],
        &env,
    );
    assert_eq!(run.code, 0, "{}", run.log());
    let subjects = attest_reads(Path::new(&run.outputs["subject-checksums"])).expect("attest");
    assert_eq!(
        subjects,
        BTreeMap::from([
            ("a.txt".to_owned(), sha256_hex("a".repeat(1000).as_bytes())),
            ("b.txt".to_owned(), sha256_hex("b".repeat(1000).as_bytes())),
        ])
    );
}

/// Review 21: a run stopped before shipping (a credential finding under `secrets: error`)
/// shipped nothing: its `subject-checksums` list names no file, so an attest step that runs
/// anyway (`if: always()`) cannot vouch for files no destination received.
#[test]
fn a_run_that_shipped_nothing_lists_no_subject() {
    let ctx = Ctx::new();
    ctx.file("dist/app.tar.gz", "app".repeat(300));
    ctx.file(
        "dist/config.env",
        format!("token=ghp_{}\n", "Zq7".repeat(12)),
    );
    let out = ctx.temp.join("shipped");
    // A destination stopped by the policy, and a dry run (`none`) whose policy failed.
    for destination in [out.to_str().expect("utf-8"), "none"] {
        let run = ctx.action(&[("path", "dist"), ("destination", destination)]);
        assert_ne!(run.code, 0, "{}", run.log());
        assert!(!out.join("app.tar.gz").exists(), "nothing shipped");
        if let Some(file) = run.outputs.get("subject-checksums") {
            assert_eq!(
                attest_reads(Path::new(file)),
                Ok(BTreeMap::new()),
                "subjects of a run that shipped nothing: {}",
                run.stdout
            );
        }
    }
}
