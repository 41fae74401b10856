//! `download::extract` against zips written here byte by byte (issue 14 items 3, 4 and 6):
//! one hostile archive per case, each refused naming the entry with nothing written outside
//! the destination; honest archives (ours, Info-ZIP's) restored with their bytes, modes
//! and links.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use stevedore::download::extract::{
    EntryKind, ExtractError, ExtractOptions, Extracted, extract_zip,
};

use crate::support::zips::{Raw, build, build_at, extract, write_local};
use crate::support::{random_bytes, tree, walk};

/// A scratch area: `parent/dest` (empty) and the zip outside `parent`.
struct Scene {
    _tmp: tempfile::TempDir,
    parent: PathBuf,
    dest: PathBuf,
    zip: PathBuf,
}

impl Scene {
    fn new(bytes: &[u8]) -> Scene {
        let tmp = tempfile::tempdir().expect("tempdir");
        let parent = tmp.path().join("parent");
        let dest = parent.join("dest");
        fs::create_dir_all(&dest).expect("set up the scene");
        let zip = tmp.path().join("artifact.zip");
        fs::write(&zip, bytes).expect("set up the scene");
        Scene {
            _tmp: tmp,
            parent,
            dest,
            zip,
        }
    }

    fn extract(&self, case_insensitive: bool) -> Result<Extracted, ExtractError> {
        extract(&self.zip, &self.dest, case_insensitive)
    }

    /// Everything below `parent`, as relative paths.
    fn listing(&self) -> Vec<String> {
        walk(&self.parent).into_iter().map(|f| f.rel).collect()
    }
}

/// Extracts, expects a refusal whose message names `entry`, and proves nothing appeared
/// beside the destination (nor anywhere under it that a link could lead out of). Returns
/// the message, the zip's temporary directory shown as `[TMP]`.
#[track_caller]
fn refused(entries: &[Raw], case_insensitive: bool, entry: &str) -> String {
    refused_bytes(&build(entries), case_insensitive, entry)
}

#[track_caller]
fn refused_bytes(bytes: &[u8], case_insensitive: bool, named: &str) -> String {
    let scene = Scene::new(bytes);
    let before = scene.listing();
    assert_eq!(before, ["dest"]);
    let err = scene
        .extract(case_insensitive)
        .expect_err("the archive must be refused");
    let message = err.to_string();
    assert!(message.contains(named), "{message:?} should name {named:?}");
    assert!(
        message.contains("artifact.zip"),
        "{message:?} should name the zip"
    );
    assert_eq!(err.exit_code().code(), 4);
    let after = scene.listing();
    assert!(
        after.iter().all(|p| p == "dest" || p.starts_with("dest/")),
        "written outside dest: {after:?}"
    );
    // Nothing outside `parent` either: the zip's own directory holds only the zip and parent.
    let mut siblings: Vec<_> = fs::read_dir(scene.parent.parent().expect("list"))
        .expect("ok")
        .map(|e| e.expect("ok").file_name().to_string_lossy().into_owned())
        .collect();
    siblings.sort();
    assert_eq!(siblings, ["artifact.zip", "parent"]);
    message.replace(&scene.zip.display().to_string(), "[TMP]/artifact.zip")
}

#[test]
fn names_that_climb_out_are_refused() {
    // What each refusal says, in order.
    let mut said = Vec::new();
    let ok = Raw::file("ok.txt", b"fine", 0o644);
    for name in ["../evil", "a/../../evil", "sub/..", ".."] {
        let message = refused(&[ok.clone(), Raw::file(name, b"x", 0o644)], false, name);
        assert!(message.contains("`..` component"), "{message}");
        said.push(message);
    }
    insta::assert_snapshot!(said.join("\n"), @r#"
    `[TMP]/artifact.zip`: refused entry `../evil`: its name has a `..` component
    `[TMP]/artifact.zip`: refused entry `a/../../evil`: its name has a `..` component
    `[TMP]/artifact.zip`: refused entry `sub/..`: its name has a `..` component
    `[TMP]/artifact.zip`: refused entry `..`: its name has a `..` component
    "#);
}

#[test]
fn absolute_names_and_drive_letters_are_refused() {
    // What each refusal says, in order.
    let mut said = Vec::new();
    let tmp = tempfile::tempdir().expect("tempdir");
    let target = tmp.path().join("absolute-evil");
    let absolute = target.to_string_lossy().into_owned();
    let message = refused(&[Raw::file(&absolute, b"x", 0o644)], false, &absolute);
    assert!(message.contains("is absolute"), "{message}");
    assert!(!target.exists());
    said.push(message.replace(&absolute, "[TMP]/absolute-evil"));
    for name in ["C:evil", "C:/evil", "c:\\evil"] {
        said.push(refused(&[Raw::file(name, b"x", 0o644)], false, name));
    }
    insta::assert_snapshot!(said.join("\n"), @r#"
    `[TMP]/artifact.zip`: refused entry `[TMP]/absolute-evil`: its name is absolute
    `[TMP]/artifact.zip`: refused entry `C:evil`: its name starts with a drive letter
    `[TMP]/artifact.zip`: refused entry `C:/evil`: its name starts with a drive letter
    `[TMP]/artifact.zip`: refused entry `c:\evil`: its name contains a backslash
    "#);
}

#[test]
fn backslashes_empty_components_and_nul_are_refused() {
    // What each refusal says, in order.
    let mut said = Vec::new();
    for (name, why) in [
        ("..\\evil", "backslash"),
        ("dir\\file", "backslash"),
        ("a//b", "empty or `.` component"),
        ("./a", "empty or `.` component"),
    ] {
        let message = refused(&[Raw::file(name, b"x", 0o644)], false, name);
        assert!(message.contains(why), "{message}");
        said.push(message);
    }
    let message = refused(&[Raw::file("a\0b", b"x", 0o644)], false, "a\\u{0}b");
    assert!(message.contains("NUL"), "{message}");
    said.push(message);
    // A name that is not UTF-8.
    let mut raw = Raw::file("x", b"x", 0o644);
    raw.name = b"bad\xffname".to_vec();
    said.push(refused(&[raw], false, "bad\u{fffd}name"));
    insta::assert_snapshot!(said.join("\n"), @r#"
    `[TMP]/artifact.zip`: refused entry `..\evil`: its name contains a backslash
    `[TMP]/artifact.zip`: refused entry `dir\file`: its name contains a backslash
    `[TMP]/artifact.zip`: refused entry `a//b`: its name has an empty or `.` component
    `[TMP]/artifact.zip`: refused entry `./a`: its name has an empty or `.` component
    `[TMP]/artifact.zip`: refused entry `a\u{0}b`: its name contains NUL
    `[TMP]/artifact.zip`: refused entry `bad�name`: its name is not UTF-8
    "#);
}

#[test]
fn duplicates_are_refused_and_case_collisions_when_the_target_folds_case() {
    // What each refusal says, in order.
    let mut said = Vec::new();
    let message = refused(
        &[
            Raw::file("same.txt", b"one", 0o644),
            Raw::file("same.txt", b"two", 0o644),
        ],
        false,
        "same.txt",
    );
    assert!(message.contains("twice"), "{message}");
    said.push(message);
    // A file and a directory of the same path are the same path.
    said.push(refused(
        &[Raw::file("x", b"one", 0o644), Raw::dir("x/", 0o755)],
        false,
        "x",
    ));
    let pair = [
        Raw::file("Readme.md", b"one", 0o644),
        Raw::file("README.md", b"two", 0o644),
    ];
    let message = refused(&pair, true, "README.md");
    assert!(
        message.contains("Readme.md") && message.contains("case-insensitive"),
        "{message}"
    );
    said.push(message);
    // Case-sensitive target: both are distinct files.
    let scene = Scene::new(&build(&pair));
    let done = scene.extract(false).expect("ok");
    assert_eq!(done.files, 2);
    assert_eq!(
        fs::read(scene.dest.join("README.md")).expect("read back"),
        b"two"
    );
    assert_eq!(
        fs::read(scene.dest.join("Readme.md")).expect("read back"),
        b"one"
    );
    insta::assert_snapshot!(said.join("\n"), @r#"
    `[TMP]/artifact.zip`: refused entry `same.txt`: the archive holds it twice
    `[TMP]/artifact.zip`: refused entry `x/`: the archive holds it twice
    `[TMP]/artifact.zip`: refused entry `README.md`: it collides with `Readme.md` on a case-insensitive file system
    "#);
}

#[test]
fn an_entry_below_a_file_or_a_link_is_refused() {
    // What each refusal says, in order.
    let mut said = Vec::new();
    let message = refused(
        &[
            Raw::file("a", b"file", 0o644),
            Raw::file("a/b", b"x", 0o644),
        ],
        false,
        "a/b",
    );
    assert!(message.contains("passes through `a`"), "{message}");
    said.push(message);
    // Order does not matter: the child first.
    said.push(refused(
        &[
            Raw::file("a/b", b"x", 0o644),
            Raw::file("a", b"file", 0o644),
        ],
        false,
        "a/b",
    ));
    // Through a link entry that points inside (innocent alone).
    let message = refused(
        &[
            Raw::dir("sub/", 0o755),
            Raw::link("l", "sub"),
            Raw::file("l/x", b"x", 0o644),
        ],
        false,
        "l/x",
    );
    assert!(message.contains("passes through `l`"), "{message}");
    said.push(message);
    // The classic: a link to `..` and a file written through it.
    said.push(refused(
        &[Raw::link("up", ".."), Raw::file("up/evil", b"x", 0o644)],
        false,
        "up/evil",
    ));
    // Case-folded: `L/x` passes through `l` on a case-insensitive target.
    said.push(refused(
        &[Raw::link("l", "."), Raw::file("L/x", b"x", 0o644)],
        true,
        "L/x",
    ));
    insta::assert_snapshot!(said.join("\n"), @r#"
    `[TMP]/artifact.zip`: refused entry `a/b`: its path passes through `a`, which is not a directory
    `[TMP]/artifact.zip`: refused entry `a/b`: its path passes through `a`, which is not a directory
    `[TMP]/artifact.zip`: refused entry `l/x`: its path passes through `l`, which is not a directory
    `[TMP]/artifact.zip`: refused entry `up/evil`: its path passes through `up`, which is not a directory
    `[TMP]/artifact.zip`: refused entry `L/x`: its path passes through `l`, which is not a directory
    "#);
}

#[test]
fn links_that_point_outside_are_refused() {
    // What each refusal says, in order.
    let mut said = Vec::new();
    for (target, why) in [
        ("/etc/passwd", "is absolute"),
        ("..", "outside the destination"),
        ("a/../../x", "outside the destination"),
        ("../parent-sibling", "outside the destination"),
        ("C:/Windows", "drive letter"),
        ("..\\x", "backslash"),
    ] {
        let message = refused(&[Raw::link("link", target)], false, "link");
        assert!(message.contains(why), "{target}: {message}");
        said.push(message);
    }
    let message = refused(&[Raw::link("d/deep", "../../..")], false, "d/deep");
    assert!(message.contains("outside"), "{message}");
    said.push(message);
    // d/l1 -> .. stays inside alone; d/l2 -> l1/.. would be the destination's parent.
    let message = refused(
        &[Raw::link("d/l1", ".."), Raw::link("d/l2", "l1/..")],
        false,
        "d/l2",
    );
    assert!(
        message.contains("passes through the link `d/l1`"),
        "{message}"
    );
    said.push(message);
    insta::assert_snapshot!(said.join("\n"), @r#"
    `[TMP]/artifact.zip`: refused link `link` -> `/etc/passwd`: the target is absolute
    `[TMP]/artifact.zip`: refused link `link` -> `..`: it points outside the destination
    `[TMP]/artifact.zip`: refused link `link` -> `a/../../x`: it points outside the destination
    `[TMP]/artifact.zip`: refused link `link` -> `../parent-sibling`: it points outside the destination
    `[TMP]/artifact.zip`: refused link `link` -> `C:/Windows`: the target starts with a drive letter
    `[TMP]/artifact.zip`: refused link `link` -> `..\x`: the target contains a backslash
    `[TMP]/artifact.zip`: refused link `d/deep` -> `../../..`: it points outside the destination
    `[TMP]/artifact.zip`: refused link `d/l2` -> `l1/..`: it passes through the link `d/l1` and so points outside the destination
    "#);
}

#[test]
fn zip_bombs_with_lying_sizes_are_refused() {
    // What each refusal says, in order.
    let mut said = Vec::new();
    let zeros = vec![0u8; 4 << 20];
    // Declares less than the stream produces: stopped at the declared size.
    let mut short = Raw::deflated("bomb.bin", &zeros, 0o644);
    short.size = 1000;
    let message = refused(&[short], false, "bomb.bin");
    assert!(
        message.contains("beyond the 1000 bytes it declares"),
        "{message}"
    );
    said.push(message);
    // Declares more than deflate can expand its bytes to: refused before inflating.
    let mut huge = Raw::deflated("huge.bin", b"tiny", 0o644);
    huge.size = u64::from(u32::MAX - 1);
    let message = refused(&[huge], false, "huge.bin");
    assert!(
        message.contains("more than deflate can expand to"),
        "{message}"
    );
    said.push(message);
    // Stored with a size other than its bytes.
    let mut stored = Raw::file("stored.bin", b"abc", 0o644);
    stored.size = 3_000_000;
    said.push(refused(&[stored], false, "stored.bin"));
    // Overlapping entries (how a small zip declares an enormous total): `outer`'s data is
    // `inner`'s whole local entry, and `inner`'s central record points inside it.
    let inner = Raw::deflated("inner", &zeros, 0o644);
    let mut inner_local = Vec::new();
    write_local(&mut inner_local, &inner);
    let outer = Raw::file("outer", &inner_local, 0o644);
    let inside = (30 + outer.name.len()) as u32;
    let bytes = build_at(&[(outer, None), (inner, Some(inside))]);
    let message = refused_bytes(&bytes, false, "inner");
    assert!(message.contains("overlaps entry `outer`"), "{message}");
    said.push(message);
    insta::assert_snapshot!(said.join("\n"), @r#"
    `[TMP]/artifact.zip`: refused entry `bomb.bin`: its data expands beyond the 1000 bytes it declares
    `[TMP]/artifact.zip`: refused entry `huge.bin`: declares 4294967294 bytes from 6 deflated bytes, more than deflate can expand to
    `[TMP]/artifact.zip`: refused entry `stored.bin`: stored with 3 bytes of data but declares 3000000 bytes
    `[TMP]/artifact.zip`: refused entry `inner`: its data overlaps entry `outer`
    "#);
}

#[test]
fn crc_mismatch_and_truncation_are_refused() {
    // What each refusal says, in order.
    let mut said = Vec::new();
    let content = random_bytes(300_000, 7);
    let mut bad = Raw::deflated("data.bin", &content, 0o644);
    bad.crc ^= 1;
    let message = refused(&[Raw::file("ok", b"ok", 0o644), bad], false, "data.bin");
    assert!(message.contains("CRC-32"), "{message}");
    said.push(message);
    // A flipped byte in stored data.
    let mut flipped = Raw::file("stored.bin", &content, 0o644);
    flipped.data[1000] ^= 0xff;
    said.push(refused(&[flipped], false, "stored.bin"));
    // A truncated download: the end records are gone.
    let whole = build(&[Raw::deflated("data.bin", &content, 0o644)]);
    let message = refused_bytes(&whole[..whole.len() / 2], false, "artifact.zip");
    assert!(message.contains("not a complete zip"), "{message}");
    said.push(message);
    // Cut inside the central directory's last bytes.
    said.push(refused_bytes(
        &whole[..whole.len() - 10],
        false,
        "artifact.zip",
    ));
    insta::assert_snapshot!(said.join("\n"), @r#"
    `[TMP]/artifact.zip`: entry `data.bin` is damaged: CRC-32 613f8b8c where 613f8b8d was declared
    `[TMP]/artifact.zip`: entry `stored.bin` is damaged: CRC-32 fae4960f where 613f8b8c was declared
    `[TMP]/artifact.zip` is not a complete zip: no end of central directory record (not a zip, or truncated)
    `[TMP]/artifact.zip` is not a complete zip: no end of central directory record (not a zip, or truncated)
    "#);
}

#[test]
fn the_destination_must_be_empty() {
    let scene = Scene::new(&build(&[Raw::file("a", b"a", 0o644)]));
    fs::write(scene.dest.join("already"), b"here").expect("set up the scene");
    let err = scene.extract(false).expect_err("refused");
    assert!(err.to_string().contains("not empty"), "{err}");
    assert_eq!(
        fs::read(scene.dest.join("already")).expect("read back"),
        b"here"
    );
}

#[test]
fn an_honest_archive_comes_back_with_bytes_modes_and_links() {
    let big = random_bytes(3 << 20, 3);
    let text: Vec<u8> = b"stevedore\n"
        .iter()
        .copied()
        .cycle()
        .take(2 << 20)
        .collect();
    let entries = [
        Raw::dir("bin/", 0o750),
        Raw::file("bin/tool", b"#!/bin/sh\necho hi\n", 0o755),
        Raw::file("bin/setuid", b"x", 0o4755),
        Raw::deflated("data/big.bin", &big, 0o600),
        Raw::deflated("data/log.txt", &text, 0o644),
        Raw::file("empty", b"", 0o644),
        Raw::link("data/tool", "../bin/tool"),
        Raw::link("here", "."),
        Raw::link("dangling", "missing/file"),
        Raw {
            host: 0,
            external: 0x20,
            ..Raw::file("dos.txt", b"dos", 0)
        },
    ];
    let scene = Scene::new(&build(&entries));
    let written = AtomicU64::new(0);
    let done = extract_zip(
        &scene.zip,
        &scene.dest,
        &ExtractOptions {
            case_insensitive: false,
            ..ExtractOptions::default()
        },
        &|n| {
            written.fetch_add(n, Ordering::Relaxed);
        },
    )
    .expect("ok");
    let total = (big.len() + text.len() + 18 + 1 + 3) as u64;
    assert_eq!(done.files, 6);
    assert_eq!(done.bytes, total);
    assert_eq!(written.load(Ordering::Relaxed), total);
    assert_eq!(
        done.entries
            .iter()
            .find(|e| e.path == "data/tool")
            .expect("ok")
            .kind,
        EntryKind::Symlink {
            target: "../bin/tool".into()
        }
    );
    let got = tree(&scene.dest);
    let f = |mode: u32, bytes: &[u8]| ('f', mode, bytes.to_vec());
    let l = |target: &str| ('l', 0o777, target.as_bytes().to_vec());
    let expected: BTreeMap<String, (char, u32, Vec<u8>)> = [
        ("bin", ('d', 0o750, Vec::new())),
        ("bin/tool", f(0o755, b"#!/bin/sh\necho hi\n")),
        // setuid dropped.
        ("bin/setuid", f(0o755, b"x")),
        ("data", ('d', 0o755, Vec::new())),
        ("data/big.bin", f(0o600, &big)),
        ("data/log.txt", f(0o644, &text)),
        ("data/tool", l("../bin/tool")),
        ("empty", f(0o644, b"")),
        ("here", l(".")),
        ("dangling", l("missing/file")),
        ("dos.txt", f(0o644, b"dos")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(got, expected);
    assert_eq!(
        fs::read(scene.dest.join("data/tool")).expect("read back"),
        b"#!/bin/sh\necho hi\n"
    );
}

/// Info-ZIP (`zip -r -y`, links stored as links) is the reference for the link format.
#[test]
fn an_info_zip_archive_with_links_comes_back_identical() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let src = tmp.path().join("src");
    fs::create_dir_all(src.join("bin")).expect("set up the scene");
    fs::create_dir_all(src.join("lib/deep")).expect("set up the scene");
    fs::write(src.join("bin/run"), b"#!/bin/sh\n").expect("set up the scene");
    fs::set_permissions(src.join("bin/run"), fs::Permissions::from_mode(0o755))
        .expect("set up the scene");
    fs::write(src.join("lib/deep/data.txt"), random_bytes(100_000, 9)).expect("set up the scene");
    fs::set_permissions(
        src.join("lib/deep/data.txt"),
        fs::Permissions::from_mode(0o640),
    )
    .expect("ok");
    std::os::unix::fs::symlink("../bin/run", src.join("lib/run")).expect("symlink");
    std::os::unix::fs::symlink("deep", src.join("lib/current")).expect("symlink");
    fs::set_permissions(src.join("lib/deep"), fs::Permissions::from_mode(0o700))
        .expect("set up the scene");
    let zip = tmp.path().join("info.zip");
    let status = Command::new("zip")
        .args(["-q", "-r", "-y", "-X"])
        .arg(&zip)
        .arg(".")
        .current_dir(&src)
        .status()
        .expect("ok");
    assert!(status.success());
    let dest = tmp.path().join("dest");
    fs::create_dir(&dest).expect("set up the scene");
    let done = extract(&zip, &dest, false).expect("ok");
    assert_eq!(done.files, 2);
    assert_eq!(tree(&dest), tree(&src));
}

/// The official `@actions/artifact` client's zip (archiver, data descriptors, Unix modes in
/// the external attributes), fetched from Azurite as any downloader would: the files come
/// back byte for byte with 0755 still 0755 (what download-artifact loses: upload-artifact
/// #38).
#[test]
fn the_official_clients_zip_comes_back_with_its_modes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("dist");
    let files: [(&str, Vec<u8>, u32); 4] = [
        ("bin/tool", b"#!/bin/sh\necho tool\n".to_vec(), 0o755),
        ("notes.txt", b"plain\n".repeat(5000), 0o644),
        ("lib/private.key.pub", random_bytes(200_000, 11), 0o600),
        ("lib/run.sh", b"#!/bin/sh\n".to_vec(), 0o750),
    ];
    let mut args = vec![
        "upload".to_owned(),
        "theirs".into(),
        root.to_string_lossy().into_owned(),
        "6".into(),
    ];
    for (rel, bytes, mode) in &files {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().expect("parent")).expect("set up the scene");
        fs::write(&path, bytes).expect("set up the scene");
        fs::set_permissions(&path, fs::Permissions::from_mode(*mode)).expect("set up the scene");
        args.push(path.to_string_lossy().into_owned());
    }
    let job = crate::support::emulator::emulator().job();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    crate::support::emulator::emulator().official(&job, &args);
    let zip = crate::support::emulator::emulator().stored(&job, "theirs");
    let scene = Scene::new(&zip);
    let done = scene.extract(false).expect("the official zip extracts");
    assert_eq!(done.files, 4);
    for (rel, bytes, mode) in &files {
        let path = scene.dest.join(rel);
        assert_eq!(&fs::read(&path).expect("read back"), bytes, "{rel}");
        let got = fs::metadata(&path).expect("stat").permissions().mode() & 0o7777;
        assert_eq!(got, *mode, "{rel}: mode {got:o}");
    }
}
