//! The Windows build, executed: each body below runs twice, as `windows::linux::NAME` (this
//! test binary's Linux build, natively) and as `windows::wine::NAME` (the
//! `x86_64-pc-windows-gnu` release `.exe` under wine 10 in the trixie chroot, given a
//! Windows runner's `D:\...` paths: `support::wine`). Where the two must agree the body
//! asserts the same thing of both; where Windows differs on purpose (names Windows cannot
//! hold, case folding) the body says so and asserts each side.
//!
//! Fixtures hold only names NTFS can hold: no `\`, `:` or case pair is made for the `.exe`
//! (wine on ext4 would show it one, real Windows never does), except where a test says
//! why it must.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use crate::support::commands::{assert_only_intended_commands, processed};
use crate::support::emulator::{emulator, ship_zip};
use crate::support::s3server::{BUCKET, S3Server, credentials};
use crate::support::wine::Exe;
use crate::support::zips::{Raw, build};
use crate::support::{Ctx, Run, random_bytes, read_tree, sha256sum_check};

/// Generates `linux::NAME` and `wine::NAME` for each body `NAME(exe: Exe)`.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod linux {
            $( #[test] fn $name() { super::$name(super::Exe::Linux) } )*
        }
        mod wine {
            $( #[test] fn $name() { super::$name(super::Exe::Windows) } )*
        }
    };
}

on_both!(
    a_hostile_tree_ships_to_a_directory_byte_for_byte,
    case_collisions_are_named_and_reach_s3_but_a_windows_directory_refuses_them,
    an_artifact_comes_back_byte_for_byte_through_either_build,
    download_refuses_names_windows_cannot_hold_naming_the_entry,
    download_refuses_a_case_pair_where_the_destination_folds_case,
    verify_reads_the_documents_and_names_a_changed_file,
    exit_codes_are_the_documented_ones,
    runner_paths_in_inputs_select_and_receive,
);

/// One directory level of the long path: 4 x 61 + the file's 19 characters make the path
/// below `dist` 263 long, past `MAX_PATH` (260) before the workspace is even counted.
const LONG_DIR: &str = "a-directory-name-of-sixty-characters-to-pass-max-path-0123456";

/// A tree NTFS can hold, with what is hard to carry across: spaces, Unicode (accents, CJK,
/// an em dash), identical contents, an empty file, a path past `MAX_PATH`. Returns the path
/// below `dist` of the long file.
fn hostile_tree(ctx: &Ctx) -> String {
    let long = format!("{LONG_DIR}/{LONG_DIR}/{LONG_DIR}/{LONG_DIR}/long-file-name.txt");
    assert!(long.len() > 260);
    ctx.file(&format!("dist/{long}"), "long\n");
    portable_tree(ctx);
    long
}

/// [`hostile_tree`] without its long path (s3s-fs answers 500 to a key that long: its
/// store's own limit, not S3's).
fn portable_tree(ctx: &Ctx) {
    ctx.file("dist/with space/read me.txt", "spaces\n");
    ctx.file("dist/ünïcode/naïve — 数据.txt", "unicode\n");
    ctx.file("dist/sub dir/café (1).txt", "café\n");
    ctx.file("dist/dup/one.bin", random_bytes(4096, 1));
    ctx.file("dist/dup/two.bin", random_bytes(4096, 1));
    ctx.file("dist/empty", "");
    ctx.file("dist/app.bin", random_bytes(300_000, 2));
}

/// Every Windows path in `log` (from a drive, `X:\`, to the closing backtick or the line's
/// end) is spelled with `\` only: the Windows build wrote `D:\a\ws/dist` and
/// `...\partial\case/Readme.md`, the native root joined with a tree's `/` names. Nothing to
/// check in the Linux build's log.
fn assert_native_paths(exe: Exe, log: &str) {
    if exe == Exe::Linux {
        return;
    }
    for line in log.lines() {
        let mut rest = line;
        while let Some(i) = rest.find(":\\") {
            let path = rest[i.saturating_sub(1)..]
                .split('`')
                .next()
                .unwrap_or_default();
            assert!(!path.contains('/'), "a mixed separator in `{path}`:\n{log}");
            rest = &rest[i + 2..];
        }
    }
}

/// Lines of `log` that are workflow commands: `::warning ...` and `::error ...`.
fn annotations(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.starts_with("::warning") || l.starts_with("::error"))
        .collect()
}

fn a_hostile_tree_ships_to_a_directory_byte_for_byte(exe: Exe) {
    let ctx = exe.ctx();
    let long = hostile_tree(&ctx);
    let run = exe.action(&ctx, &[("path", "dist"), ("destination", "./out")], &[]);
    assert_eq!(run.code, 0, "{}", run.log());
    assert_native_paths(exe, &run.log());

    let out = ctx.ws.join("out");
    let mut copied = read_tree(&out);
    let sums = copied.remove("SHA256SUMS").expect("checksums file");
    let manifest = copied.remove("stevedore-manifest.json").expect("manifest");
    assert!(
        copied == read_tree(&ctx.ws.join("dist")),
        "the copy differs"
    );
    assert!(copied.contains_key(&long), "the long path arrived");
    sha256sum_check(&out, Path::new("SHA256SUMS"));
    // The outputs name the documents as this build spells paths (`D:\...` under wine).
    assert_eq!(
        fs::read(exe.host(&run.outputs["checksums"])).expect("checksums"),
        sums
    );
    assert_eq!(
        fs::read(exe.host(&run.outputs["manifest"])).expect("manifest"),
        manifest
    );
    assert_eq!(run.outputs["files"], "8");
    assert_eq!(run.outputs["duplicates"], "1");

    // Paths in the log are spelled one way: the Windows build said `D:\...\ws/dist`.
    let root = exe.name(&ctx.ws.join("dist"));
    assert!(
        run.stdout
            .contains(&format!("there will be 8 file(s) uploaded from `{root}`")),
        "{}",
        run.stdout
    );
    // An annotation's `file=` is the repository's path, with `/` (was `dist\dup/one.bin`).
    assert_eq!(
        annotations(&run.stdout),
        [
            "::warning title=Duplicate files,file=dist/dup/one.bin::2 files have identical content (4.0 KiB each): dup/one.bin, dup/two.bin"
        ]
    );
}

/// What a build wrote, in the form two builds' runs are compared in.
#[derive(Debug, PartialEq, Eq)]
struct Shipped {
    checksums: Vec<u8>,
    /// The manifest with the root (an absolute path, spelled per platform) taken out.
    manifest: serde_json::Value,
    /// The file at the `subject-checksums` output.
    subjects: Vec<u8>,
    /// Every output but the three documents' paths.
    outputs: BTreeMap<String, String>,
    annotations: Vec<String>,
    directory: BTreeMap<String, Vec<u8>>,
    bucket: BTreeMap<String, Vec<u8>>,
}

/// `exe` ships the hostile tree to `./out` and to `s3://builds/ship` on a server of its own.
fn ship_both_ways(exe: Exe) -> (Shipped, String) {
    let ctx = exe.ctx();
    portable_tree(&ctx);
    let tool = ctx.file("dist/bin/run.sh", "#!/bin/sh\necho hi\n");
    fs::set_permissions(&tool, fs::Permissions::from_mode(0o755)).expect("chmod");
    let server = S3Server::start();
    let destination = format!("./out\ns3://{BUCKET}/ship");
    let run = exe.action(
        &ctx,
        &[
            ("path", "dist"),
            ("destination", &destination),
            ("s3-endpoint", &server.endpoint),
            ("s3-path-style", "true"),
            ("s3-region", "eu-west-1"),
        ],
        &credentials(),
    );
    assert_eq!(run.code, 0, "{}", run.log());
    assert_native_paths(exe, &run.log());
    let mut outputs = run.outputs.clone();
    let checksums = fs::read(exe.host(&outputs.remove("checksums").expect("checksums")))
        .expect("checksums file");
    let written =
        fs::read(exe.host(&outputs.remove("manifest").expect("manifest"))).expect("manifest file");
    let subjects = fs::read(
        exe.host(
            &outputs
                .remove("subject-checksums")
                .expect("subject-checksums"),
        ),
    )
    .expect("subject-checksums file");
    let mut manifest: serde_json::Value = serde_json::from_slice(&written).expect("json");
    let root = manifest["root"].take();
    assert_eq!(root.as_str(), Some(exe.name(&ctx.ws.join("dist")).as_str()));
    // The manifests in `out` and the bucket are the one at the output (root and all).
    let mut directory = read_tree(&ctx.ws.join("out"));
    let mut bucket = read_tree(&server.object_path("ship"));
    for copy in [&mut directory, &mut bucket] {
        assert_eq!(
            copy.remove("stevedore-manifest.json"),
            Some(written.clone())
        );
    }
    let mut shipped_files = directory.clone();
    shipped_files.remove("SHA256SUMS");
    assert!(
        shipped_files == read_tree(&ctx.ws.join("dist")),
        "the directory differs"
    );
    assert_eq!(
        bucket.keys().collect::<Vec<_>>(),
        directory.keys().collect::<Vec<_>>()
    );
    let shipped = Shipped {
        checksums,
        manifest,
        subjects,
        outputs,
        annotations: annotations(&run.stdout)
            .into_iter()
            .map(str::to_owned)
            .collect(),
        directory,
        bucket,
    };
    (shipped, run.log())
}

#[test]
fn the_windows_build_writes_what_the_linux_build_writes() {
    let (linux, _) = ship_both_ways(Exe::Linux);
    let (windows, log) = ship_both_ways(Exe::Windows);
    assert!(
        windows.checksums == linux.checksums,
        "checksums differ:\n--- linux\n{}\n--- windows\n{}",
        String::from_utf8_lossy(&linux.checksums),
        String::from_utf8_lossy(&windows.checksums)
    );
    // Equal but for the root taken out above and one mode: Windows has no execute bit to
    // read, so the 0755 script is recorded as 0644 (a writable file's mode there); every
    // other file is 0644 on both.
    let mode_of = |manifest: &serde_json::Value| {
        manifest["files"]
            .as_array()
            .expect("files")
            .iter()
            .find(|f| f["path"] == "bin/run.sh")
            .map(|f| f["mode"].clone())
    };
    assert_eq!(mode_of(&linux.manifest), Some("0755".into()));
    assert_eq!(mode_of(&windows.manifest), Some("0644".into()));
    let mut windows_manifest = windows.manifest.clone();
    for file in windows_manifest["files"].as_array_mut().expect("files") {
        if file["path"] == "bin/run.sh" {
            file["mode"] = "0755".into();
        }
    }
    assert_eq!(windows_manifest, linux.manifest, "{log}");
    assert_eq!(windows.subjects, linux.subjects);
    assert_eq!(windows.outputs, linux.outputs);
    assert_eq!(windows.annotations, linux.annotations);
    assert!(
        windows.directory == linux.directory,
        "the directories differ"
    );
    assert!(windows.bucket == linux.bucket, "the buckets differ");
}

fn case_collisions_are_named_and_reach_s3_but_a_windows_directory_refuses_them(exe: Exe) {
    // A pair NTFS holds only in a case-sensitive directory (`fsutil file
    // setCaseSensitiveInfo`, as WSL makes them); wine on ext4 is one such, so the `.exe`
    // meets the pair as a Windows runner would in one.
    let ctx = exe.ctx();
    ctx.file("dist/case/Readme.md", "mixed\n");
    ctx.file("dist/case/README.md", "upper\n");
    let server = S3Server::start();
    let run = exe.action(
        &ctx,
        &[
            ("path", "dist"),
            ("destination", &format!("s3://{BUCKET}/case")),
            ("s3-endpoint", &server.endpoint),
            ("s3-path-style", "true"),
            ("s3-region", "eu-west-1"),
        ],
        &credentials(),
    );
    assert_eq!(run.code, 0, "{}", run.log());
    assert!(
        run.stdout
            .contains("`case/Readme.md` differs from `case/README.md` only in case"),
        "{}",
        run.stdout
    );
    let bucket = read_tree(&server.object_path("case"));
    assert_eq!(bucket["case/Readme.md"], b"mixed\n");
    assert_eq!(bucket["case/README.md"], b"upper\n");

    let run = exe.action(&ctx, &[("path", "dist"), ("destination", "./out")], &[]);
    match exe {
        Exe::Linux => {
            assert_eq!(run.code, 0, "{}", run.log());
            assert_eq!(read_tree(&ctx.ws.join("out/case")).len(), 2);
        }
        // Windows finds `Readme.md` when asked to create `README.md` beside it: the copy
        // stops (exit 4) naming the file, rather than let one overwrite the other, and
        // leaves no `out` behind.
        Exe::Windows => {
            assert_eq!(run.code, 4, "{}", run.log());
            assert_native_paths(exe, &run.log());
            // The copies run in parallel: either of the pair may be the second.
            assert!(
                [
                    r"case\Readme.md`: File exists",
                    r"case\README.md`: File exists"
                ]
                .iter()
                .any(|m| run.stdout.contains(m)),
                "{}",
                run.stdout
            );
            assert!(!ctx.ws.join("out").exists());
        }
    }
}

fn an_artifact_comes_back_byte_for_byte_through_either_build(exe: Exe) {
    let ctx = exe.ctx();
    hostile_tree(&ctx);
    let job = emulator().job();
    let env = emulator().env(&job);
    let up = exe.action(
        &ctx,
        &[
            ("path", "dist"),
            ("destination", "artifact"),
            ("name", "build"),
        ],
        &env,
    );
    assert_eq!(up.code, 0, "{}", up.log());
    // Downloaded by this build, and by the other: the zip it wrote is the same for both
    // (names with `/`, whatever the platform that wrote them).
    for (reader, dest) in [(exe, "restored"), (Exe::Linux, "restored-by-linux")] {
        let dest = ctx.temp.join(dest);
        let run = reader.download(
            &ctx,
            &[("name", "build"), ("path", &reader.name(&dest))],
            &env,
        );
        assert_eq!(run.code, 0, "{}", run.log());
        assert_native_paths(reader, &run.log());
        let mut got = read_tree(&dest);
        // The artifact carries the documents beside the tree.
        let sums = got.remove("SHA256SUMS").expect("checksums in the artifact");
        got.remove("stevedore-manifest.json")
            .expect("manifest in the artifact");
        assert_eq!(
            sums,
            fs::read(exe.host(&up.outputs["checksums"])).expect("checksums")
        );
        assert!(
            got == read_tree(&ctx.ws.join("dist")),
            "{} differs",
            dest.display()
        );
        assert_eq!(run.outputs["download-path"], reader.name(&dest));
    }
    // A relative `path` is the workspace's, `~` the home directory's, and `download-path`
    // spells the result the platform's way whatever separator was typed. The home is
    // `HOME` on Linux; on Windows `USERPROFILE` (wine hides `HOME`, a Unix variable, from
    // Windows programs and sets `USERPROFILE` to its prefix's `C:\users\root`, as a
    // Windows runner's is `C:\Users\runneradmin`).
    let home = match exe {
        Exe::Linux => ctx.home.join("dl"),
        Exe::Windows => exe.host(r"C:\users\root\dl"),
    };
    // Not a test's own directory under wine: cleared from an earlier run.
    let _ = fs::remove_dir_all(&home);
    for (typed, lands) in [("got/nested", ctx.ws.join("got/nested")), ("~/dl", home)] {
        let run = exe.download(&ctx, &[("name", "build"), ("path", typed)], &env);
        assert_eq!(run.code, 0, "{}", run.log());
        assert_native_paths(exe, &run.log());
        assert_eq!(exe.host(&run.outputs["download-path"]), lands);
        assert_eq!(
            fs::read(lands.join("app.bin")).expect("downloaded"),
            random_bytes(300_000, 2)
        );
    }
}

/// A zip of `entries` shipped as a raw artifact of a fresh job, then downloaded by `exe`
/// into `RUNNER_TEMP/got`: the run and that path.
fn download_zip(exe: Exe, ctx: &Ctx, entries: &[Raw]) -> (Run, std::path::PathBuf) {
    let job = emulator().job();
    ship_zip(ctx, &job, "entries.zip", &build(entries));
    let dest = ctx.temp.join("got");
    let run = exe.download(
        ctx,
        &[("name", "entries.zip"), ("path", &exe.name(&dest))],
        &emulator().env(&job),
    );
    (run, dest)
}

fn download_refuses_names_windows_cannot_hold_naming_the_entry(exe: Exe) {
    for bad in [
        "CON",
        "aux.txt",
        "sub/NUL.log",
        "report:v2.txt",
        "trailing.",
        "trailing ",
    ] {
        let ctx = exe.ctx();
        let (run, dest) = download_zip(
            exe,
            &ctx,
            &[
                Raw::file("good.txt", b"good\n", 0o644),
                Raw::file(bad, b"bad\n", 0o644),
            ],
        );
        match exe {
            // Legal names on Linux: the entry arrives as written.
            Exe::Linux => {
                assert_eq!(run.code, 0, "{bad}: {}", run.log());
                assert_eq!(fs::read(dest.join(bad)).expect("entry"), b"bad\n");
            }
            // A device name, `:` or a trailing dot or space would open a device, write an
            // alternate stream, or lose its ending: refused before anything is written.
            Exe::Windows => {
                assert_eq!(run.code, 4, "{bad}: {}", run.log());
                assert_native_paths(exe, &run.log());
                assert!(
                    run.stdout.contains(&format!("refused entry `{bad}`"))
                        && run.stdout.contains("is not a file name Windows can hold"),
                    "{bad}: {}",
                    run.stdout
                );
                assert!(!dest.join("good.txt").exists(), "{bad}: nothing written");
            }
        }
    }
}

fn download_refuses_a_case_pair_where_the_destination_folds_case(exe: Exe) {
    let ctx = exe.ctx();
    let (run, dest) = download_zip(
        exe,
        &ctx,
        &[
            Raw::file("docs/a.txt", b"lower\n", 0o644),
            Raw::file("docs/A.txt", b"upper\n", 0o644),
        ],
    );
    match exe {
        Exe::Linux => {
            assert_eq!(run.code, 0, "{}", run.log());
            assert_eq!(fs::read(dest.join("docs/A.txt")).expect("A"), b"upper\n");
            assert_eq!(fs::read(dest.join("docs/a.txt")).expect("a"), b"lower\n");
        }
        // The `.exe` probes `path` and finds it folds case (wine does, as NTFS does): one
        // entry would overwrite the other, so the download stops before writing either.
        Exe::Windows => {
            assert_eq!(run.code, 4, "{}", run.log());
            assert_native_paths(exe, &run.log());
            assert!(
                run.stdout.contains(
                    "refused entry `docs/A.txt`: it collides with `docs/a.txt` on a case-insensitive file system"
                ),
                "{}",
                run.stdout
            );
            assert!(!dest.exists(), "{}", run.log());
        }
    }
}

fn verify_reads_the_documents_and_names_a_changed_file(exe: Exe) {
    let ctx = exe.ctx();
    hostile_tree(&ctx);
    let run = exe.action(&ctx, &[("path", "dist"), ("destination", "./out")], &[]);
    assert_eq!(run.code, 0, "{}", run.log());
    let run = exe.cli(&ctx, &["verify", "out"]);
    assert_eq!(run.code, 0, "{}", run.log());
    let sep = if exe == Exe::Windows { '\\' } else { '/' };
    assert_eq!(
        run.stdout,
        format!(
            "verifying `out` against `out{sep}stevedore-manifest.json` (manifest, 8 files)\n\
             8 listed: 8 intact, 0 changed, 0 missing; 0 extra\n"
        )
    );
    let run = exe.cli(&ctx, &["verify", "out", "--checksums", "out/SHA256SUMS"]);
    assert_eq!(run.code, 0, "{}", run.log());

    ctx.file("out/sub dir/café (1).txt", "changed\n");
    fs::remove_file(ctx.ws.join("out/empty")).expect("rm");
    let run = exe.cli(&ctx, &["verify", "out"]);
    assert_eq!(run.code, 3, "{}", run.log());
    assert_native_paths(exe, &run.log());
    assert!(
        run.stdout.contains("changed: sub dir/café (1).txt")
            && run.stdout.contains("missing: empty")
            && run.stdout.contains("6 intact, 1 changed, 1 missing"),
        "{}",
        run.stdout
    );
}

fn exit_codes_are_the_documented_ones(exe: Exe) {
    let ctx = exe.ctx();
    ctx.file("dist/a.txt", "a\n");
    let code = |run: Run| (run.code, run.log());
    // 0: a run that shipped; `--help`.
    let (c, log) = code(exe.action(&ctx, &[("path", "dist"), ("destination", "./out")], &[]));
    assert_eq!(c, 0, "{log}");
    let (c, log) = code(exe.cli(&ctx, &["--help"]));
    assert_eq!(c, 0, "{log}");
    // 2: an input that cannot be right.
    let (c, log) = code(exe.action(
        &ctx,
        &[
            ("path", "dist"),
            ("destination", "./o2"),
            ("if-no-files-found", "sometimes"),
        ],
        &[],
    ));
    assert_eq!(c, 2, "{log}");
    assert!(log.contains("if-no-files-found"), "{log}");
    // A `::` in the text a user typed is no workflow command of its own.
    let (c, log) = code(exe.action(
        &ctx,
        &[
            ("path", "nothing/::error::injected"),
            ("destination", "./o3"),
            ("if-no-files-found", "error"),
        ],
        &[],
    ));
    // 3: a policy stops the run (here: no files where `error` wants some).
    assert_eq!(c, 3, "{log}");
    assert_only_intended_commands(&log);
    assert!(
        processed(&log)
            .iter()
            .all(|c| !c.data.starts_with("injected")),
        "{log}"
    );
    // 3: verify finds a difference.
    fs::write(ctx.ws.join("out/a.txt"), "b\n").expect("change");
    let (c, log) = code(exe.cli(&ctx, &["verify", "out"]));
    assert_eq!(c, 3, "{log}");
    // 2 again: `stevedore download` of an artifact the run does not have names the input.
    let job = emulator().job();
    let env = emulator().env(&job);
    let dest = exe.name(&ctx.temp.join("d"));
    let (c, log) = code(exe.download(&ctx, &[("name", "absent"), ("path", &dest)], &env));
    assert_eq!(c, 2, "{log}");
    assert!(
        log.contains("artifact `absent` (input `name`) not found"),
        "{log}"
    );
    // 4: a transfer failed: the listed digest is not the stored bytes'.
    let (c, log) = code(exe.action(
        &ctx,
        &[
            ("path", "dist"),
            ("destination", "artifact"),
            ("name", "build"),
        ],
        &env,
    ));
    assert_eq!(c, 0, "{log}");
    emulator().faults(
        &job,
        &serde_json::json!([{"target": "ListArtifacts", "kind": "baddigest"}]),
    );
    let (c, log) = code(exe.download(&ctx, &[("name", "build"), ("path", &dest)], &env));
    assert_eq!(c, 4, "{log}");
    assert!(!ctx.temp.join("d").exists(), "{log}");
}

fn runner_paths_in_inputs_select_and_receive(exe: Exe) {
    // `path: ${{ runner.temp }}/build` and a destination under `${{ runner.temp }}`, as a
    // workflow writes them: on a Windows runner `D:\a\_temp/build`, separators mixed.
    let ctx = exe.ctx();
    let build = ctx.temp.join("build");
    fs::create_dir_all(build.join("bin")).expect("mkdir");
    fs::write(build.join("bin/tool.exe"), random_bytes(70_000, 9)).expect("write");
    fs::write(build.join("bin/copy.exe"), random_bytes(70_000, 9)).expect("write");
    fs::write(build.join("notes.txt"), "notes\n").expect("write");
    let path = format!("{}/**/*.exe", exe.name(&build));
    let out = ctx.temp.join("published");
    let run = exe.action(
        &ctx,
        &[("path", &path), ("destination", &exe.name(&out))],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.log());
    assert_eq!(run.outputs["files"], "2");
    let mut copied = read_tree(&out);
    copied.remove("SHA256SUMS");
    copied.remove("stevedore-manifest.json");
    assert_eq!(
        copied.keys().collect::<Vec<_>>(),
        ["bin/copy.exe", "bin/tool.exe"]
    );
    assert_eq!(copied["bin/tool.exe"], random_bytes(70_000, 9));
    // Outside the workspace an annotation names the whole path, the platform's way (`:` is
    // escaped in a property); the Windows build wrote `D:\...\build\bin/copy.exe`.
    let file = exe.name(&build.join("bin/copy.exe")).replace(':', "%3A");
    assert!(
        run.stdout
            .contains(&format!("::warning title=Duplicate files,file={file}::")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains(&format!("uploaded from `{}`", exe.name(&build))),
        "{}",
        run.stdout
    );
    // The documents are written under `RUNNER_TEMP`, named as this build spells it.
    assert!(
        run.outputs["checksums"].starts_with(&exe.name(&ctx.temp)),
        "{:?}",
        run.outputs
    );
    assert!(exe.host(&run.outputs["checksums"]).is_file());
    assert!(run.summary.contains("### Destinations"), "{}", run.summary);
}
