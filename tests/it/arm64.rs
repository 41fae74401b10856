//! The aarch64 release binary as an ARM64 Linux runner gets and runs it, under
//! `qemu-aarch64-static` (user-mode emulation, Debian `qemu-user-static`):
//! `dist/install.sh` with `RUNNER_ARCH=ARM64` downloads it from a loopback release host and
//! verifies it against the manifest; the installed copy then ships a hostile tree to a
//! directory and to S3 (s3s-fs) in one run, and everything it writes equals what the `x86_64`
//! host build writes for the same inputs, byte for byte: the checksums file, the manifest,
//! the directory and the bucket, the step outputs (but the three that name this run's
//! scratch files, whose contents are compared instead) and the annotations. Both runs use one workspace, so even the manifest's `root`
//! is the same.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::support::install::{
    asset_path, pinned_installer, release_asset, release_binary, run_installer,
};
use crate::support::s3server::{ACCESS_KEY, BUCKET, S3Server, SECRET_KEY};
use crate::support::servers::serve;
use crate::support::{Ctx, Run, owned, parse_outputs, random_bytes, read_tree, sha256sum_check};

const TARGET: &str = "aarch64-unknown-linux-musl";

/// `qemu-aarch64-static` on `PATH`, or a failure that says how to get it.
fn qemu() -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join("qemu-aarch64-static"))
        .find(|path| path.is_file())
        .expect("qemu-aarch64-static is not installed: apt-get install qemu-user-static (scripts/test does)")
}

/// Installs the aarch64 release binary as `dist/install.sh` does on an ARM64 runner, from a
/// release host serving it, and returns the path the installer hands to the action.
fn install_arm64(root: &Path) -> PathBuf {
    let binary = fs::read(release_binary(TARGET)).expect("aarch64 release binary");
    let sha = hex::encode(Sha256::digest(&binary));
    let release = root.join("release");
    release_asset(&release, TARGET, "", &binary);
    let host = serve(release);

    // The action as a release commit holds it: the installer and a manifest pinning the
    // aarch64 asset (and only it: an X64 pick would find no hash and fail).
    let action = root.join("action");
    pinned_installer(&action, TARGET, &sha);

    let cache = root.join("runner");
    let out = run_installer(&action, &cache, &host.url, "ARM64");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "install.sh failed:\n{log}");
    assert!(
        log.contains(&format!("stevedore install: verified SHA-256 {sha}")),
        "{log}"
    );
    assert_eq!(
        host.requests(),
        [asset_path(TARGET, "")],
        "one download, of the aarch64 asset"
    );
    let outputs = parse_outputs(&fs::read_to_string(cache.join("github_output")).expect("output"));
    let installed = PathBuf::from(&outputs["path"]);
    assert_eq!(
        fs::read(&installed).expect("installed binary"),
        binary,
        "{}",
        installed.display()
    );
    installed
}

/// A tree a user might really ship, with what is hard to carry across: names with
/// spaces, unicode, `\`, `::` (a workflow command's marker), duplicates, an empty file, a
/// credential (`secrets: warn` lets it through with a warning), and one file above the
/// S3 multipart threshold.
fn hostile_tree(ctx: &Ctx) {
    let token = format!("{}{}", "ghp_", "Zq7".repeat(12));
    ctx.file("dist/with space/read me.txt", "spaces\n");
    ctx.file("dist/ünïcode/naïve — 数据.txt", "unicode\n");
    ctx.file("dist/back\\slash.txt", "backslash\n");
    ctx.file("dist/::error::not a command.txt", "colons\n");
    ctx.file("dist/a::b/c::d.json", "{}\n");
    ctx.file("dist/config/settings.ini", format!("token = {token}\n"));
    ctx.file("dist/dup/one.bin", random_bytes(4096, 1));
    ctx.file("dist/dup/two.bin", random_bytes(4096, 1));
    ctx.file("dist/empty", "");
    ctx.file("dist/big/image.bin", random_bytes(65 * 1024 * 1024 + 3, 2));
}

/// One run of `program` as the action runs it, in `ctx`'s workspace: `secrets: warn`, to
/// the directory `dir` and to `s3://builds/ship` on `server`.
fn ship(ctx: &Ctx, program: &[OsString], dir: &str, server: &S3Server) -> Run {
    let destination = format!("./{dir}\ns3://{BUCKET}/ship");
    let mut cmd = ctx.step_command(
        &program[0],
        &[
            ("path", "dist"),
            ("destination", &destination),
            ("secrets", "warn"),
            ("s3-endpoint", &server.endpoint),
            ("s3-path-style", "true"),
            ("s3-region", "eu-west-1"),
        ],
        &owned(&[
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
        ]),
    );
    cmd.args(&program[1..]);
    ctx.finish(cmd)
}

/// What one run wrote, in the form the two runs are compared in.
#[derive(Debug, PartialEq, Eq)]
struct Shipped {
    /// The files at the `checksums`, `manifest` and `subject-checksums` outputs.
    checksums: Vec<u8>,
    manifest: Vec<u8>,
    subjects: Vec<u8>,
    /// Every other output, as written.
    outputs: BTreeMap<String, String>,
    /// The workflow commands that annotate the run (`::warning`, `::error`).
    annotations: Vec<String>,
    directory: BTreeMap<String, Vec<u8>>,
    bucket: BTreeMap<String, Vec<u8>>,
}

fn shipped(ctx: &Ctx, run: &Run, dir: &str, server: &S3Server) -> Shipped {
    assert_eq!(run.code, 0, "{}", run.log());
    let mut outputs = run.outputs.clone();
    let checksums = outputs.remove("checksums").expect("checksums output");
    let manifest = outputs.remove("manifest").expect("manifest output");
    let subjects = outputs
        .remove("subject-checksums")
        .expect("subject-checksums output");
    Shipped {
        checksums: fs::read(checksums).expect("checksums file"),
        manifest: fs::read(manifest).expect("manifest file"),
        subjects: fs::read(subjects).expect("subject-checksums file"),
        outputs,
        annotations: run
            .stdout
            .lines()
            .filter(|l| l.starts_with("::warning") || l.starts_with("::error"))
            .map(str::to_owned)
            .collect(),
        directory: read_tree(&ctx.ws.join(dir)),
        bucket: read_tree(&server.object_path("ship")),
    }
}

#[test]
fn the_aarch64_release_binary_installs_and_ships_as_x86_64_does() {
    let qemu = qemu();
    let ctx = Ctx::new();
    let arm64 = install_arm64(&ctx.home);
    hostile_tree(&ctx);

    let host_s3 = S3Server::start();
    let host_run = ship(
        &ctx,
        &[env!("CARGO_BIN_EXE_stevedore").into()],
        "shipped-x64",
        &host_s3,
    );
    let host = shipped(&ctx, &host_run, "shipped-x64", &host_s3);

    let arm_s3 = S3Server::start();
    let arm_run = ship(
        &ctx,
        &[qemu.into_os_string(), arm64.into_os_string()],
        "shipped-arm64",
        &arm_s3,
    );
    let arm = shipped(&ctx, &arm_run, "shipped-arm64", &arm_s3);

    // The x86_64 run is right on its own terms: every file arrived, the checksums verify
    // with sha256sum, the credential was found and warned about, not refused.
    assert_eq!(host.outputs["files"], "10");
    assert_eq!(host.outputs["findings"], "1");
    assert_eq!(host.outputs["duplicates"], "1");
    assert!(
        host.annotations.iter().any(
            |l| l.starts_with("::warning title=Credential found,file=dist/config/settings.ini")
        ),
        "{:?}",
        host.annotations
    );
    sha256sum_check(
        &ctx.ws.join("shipped-x64"),
        &ctx.ws.join("shipped-x64/SHA256SUMS"),
    );
    assert_eq!(host.directory["SHA256SUMS"], host.checksums);
    assert_eq!(host.bucket["stevedore-manifest.json"], host.manifest);
    assert_eq!(host.directory.len(), 12, "{:?}", host.directory.keys());

    // And the aarch64 run wrote the same, byte for byte, field by field for a clear failure.
    assert!(
        arm.checksums == host.checksums,
        "checksums differ:\n--- x86_64\n{}\n--- aarch64\n{}",
        String::from_utf8_lossy(&host.checksums),
        String::from_utf8_lossy(&arm.checksums)
    );
    assert!(
        arm.manifest == host.manifest,
        "manifests differ:\n--- x86_64\n{}\n--- aarch64\n{}",
        String::from_utf8_lossy(&host.manifest),
        String::from_utf8_lossy(&arm.manifest)
    );
    assert_eq!(arm.subjects, host.subjects);
    assert_eq!(arm.outputs, host.outputs);
    assert_eq!(arm.annotations, host.annotations);
    assert_eq!(
        arm.directory.keys().collect::<Vec<_>>(),
        host.directory.keys().collect::<Vec<_>>()
    );
    assert!(arm.directory == host.directory, "the directories differ");
    assert_eq!(
        arm.bucket.keys().collect::<Vec<_>>(),
        host.bucket.keys().collect::<Vec<_>>()
    );
    assert!(arm.bucket == host.bucket, "the buckets differ");
}
