//! The selector against the real `@actions/glob` (npm, pinned in tests/support/node):
//! the same trees and patterns must give the same files and the same root directory
//! upload-artifact would use.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use stevedore::events::MemoryReporter;
use stevedore::select::{SelectOptions, select};

use crate::support::node_peers;

/// A tree with everything that makes globbing interesting.
fn build_tree(root: &Path) {
    let files = [
        "dist/a.txt",
        "dist/b.bin",
        "dist/x.d",
        "dist/sub/c.txt",
        "dist/sub/deep/d.txt",
        "dist/.hidden.txt",
        "dist/.hiddendir/e.txt",
        "dist/é-unicode.txt",
        "dist/日本/f.txt",
        "dist/space name.txt",
        ".build/out/g.txt",
        ".build/h.txt",
        "build/out/i.txt",
        "build/j.txt",
        "lib/one/foo1.txt",
        "lib/two/foo2.txt",
        "lib/two/directory/foo3.txt",
        "path/to/some/directory/foo1.txt",
        "path/to/other/directory/foo2.txt",
        "path/to/other/directory/bar.txt",
        "top.txt",
        "[brackets]/k.txt",
        "empty-dir-sibling/z.txt",
    ];
    for f in files {
        let p = root.join(f);
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        fs::write(&p, f.as_bytes()).expect("write");
    }
    fs::create_dir_all(root.join("empty-dir")).expect("mkdir");
    symlink("sub", root.join("dist/link-to-sub")).expect("symlink");
    symlink("a.txt", root.join("dist/link-a.txt")).expect("symlink");
    symlink("does-not-exist", root.join("dist/broken")).expect("symlink");
    // A link back to its own directory: a cycle the traversal must cut.
    symlink(".", root.join("dist/loop")).expect("symlink");
    symlink("../lib", root.join("build/lib-link")).expect("symlink");
}

/// (patterns, include-hidden-files). Relative patterns start at the tree root; `<ROOT>` is
/// replaced by its absolute path.
const CASES: &[(&str, bool)] = &[
    ("dist", false),
    ("dist/", false),
    ("dist/*", false),
    ("dist/*.txt", false),
    ("dist/**", false),
    ("dist/**/*.txt", false),
    ("dist/*\n!dist/*.d", false),
    ("dist\n!dist/sub", false),
    ("dist\n!dist/sub/**", false),
    ("dist/a.txt", false),
    ("top.txt", false),
    ("dist/a.txt\nbuild/j.txt", false),
    ("dist\nbuild", false),
    ("path/to/*/directory/foo?.txt", false),
    ("lib/*/foo*.txt", false),
    ("lib/**/directory", false),
    (".build", false),
    (".build/out", false),
    ("dist/.hidden.txt", false),
    ("dist", true),
    ("**/*.txt", false),
    ("**/*.txt", true),
    ("dist/link-to-sub/*", false),
    ("dist/[ab].*", false),
    ("dist/[!a]*.txt", false),
    ("dist/?.txt", false),
    ("dist/é*", false),
    ("dist/日本/**", false),
    ("dist/space name.txt", false),
    ("# a comment\n\n  dist/sub  \n", false),
    ("./dist/sub", false),
    ("dist/*/deep", false),
    ("!dist/a.txt\ndist", false),
    ("dist\n!dist/**/*.txt\ndist/sub/c.txt", false),
    ("nonexistent/*", false),
    ("dist/**/deep/*.txt", false),
    ("dist/sub/**/", false),
    ("\\[brackets\\]/k.txt", false),
    ("[[]brackets]/*", false),
    ("build/**\n!build/out", false),
    ("<ROOT>/lib/two", false),
    ("~/dist/sub", false),
    ("lib/**/foo*.txt\n!lib/two", false),
    ("dist/*/\n", false),
    ("path/**/directory/*.txt\n!**/bar.txt", false),
    ("empty-dir", false),
    ("dist/link-a.txt", false),
    ("dist/broken", false),
    ("**", false),
    ("dist/**/**/*.txt", false),
    ("*/*/directory/**/*.txt", false),
];

fn ours(root: &Path, patterns: &str, include_hidden: bool) -> Value {
    let options = SelectOptions {
        patterns,
        cwd: root,
        home: Some(root),
        include_hidden,
        artifact_paths: false,
    };
    match select(&options, &MemoryReporter::default()) {
        Ok(selection) => {
            let mut files: Vec<String> = selection
                .files
                .iter()
                .map(|f| f.path().to_string_lossy().into_owned())
                .collect();
            files.sort();
            json!({
                "files": files,
                "searchPaths": selection.search_paths.iter().map(|p| p.to_string_lossy().into_owned()).collect::<Vec<_>>(),
                "rootDirectory": if files.is_empty() { Value::Null } else { json!(selection.root.to_string_lossy()) },
            })
        }
        Err(e) => json!({ "error": e.to_string() }),
    }
}

fn theirs(root: &Path, cases: &[(String, bool)]) -> Vec<Value> {
    let peers = node_peers();
    let input = root.parent().expect("parent").join("cases.json");
    let output = root.parent().expect("parent").join("results.json");
    let cases_json: Vec<Value> = cases
        .iter()
        .map(|(p, h)| json!({ "patterns": p, "includeHidden": h }))
        .collect();
    fs::write(&input, serde_json::to_vec(&cases_json).expect("json")).expect("write cases");
    let status = Command::new("node")
        .arg(peers.join("glob-oracle.mjs"))
        .arg(&input)
        .arg(&output)
        .current_dir(root)
        .env("HOME", root)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("node runs (Node.js is required for the interop tests)");
    assert!(status.success(), "glob oracle failed");
    let results: Vec<Value> =
        serde_json::from_slice(&fs::read(&output).expect("results")).expect("json");
    results
        .into_iter()
        .map(|mut r| {
            if let Some(files) = r.get_mut("files").and_then(Value::as_array_mut) {
                files.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
                if files.is_empty() {
                    r["rootDirectory"] = Value::Null;
                }
            }
            r
        })
        .collect()
}

#[test]
fn selection_matches_actions_glob() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = fs::canonicalize(dir.path())
        .expect("canonical")
        .join("tree");
    build_tree(&root);
    let cases: Vec<(String, bool)> = CASES
        .iter()
        .map(|(p, h)| (p.replace("<ROOT>", &root.to_string_lossy()), *h))
        .collect();
    assert!(cases.len() >= 30);
    let expected = theirs(&root, &cases);
    let mut mismatches = Vec::new();
    let mut non_empty = 0;
    for ((patterns, hidden), want) in cases.iter().zip(&expected) {
        assert!(
            want.get("error").is_none(),
            "oracle failed on {patterns:?}: {want}"
        );
        let got = ours(&root, patterns, *hidden);
        if got["files"].as_array().is_some_and(|f| !f.is_empty()) {
            non_empty += 1;
        }
        if &got != want {
            mismatches.push(format!("patterns {patterns:?} (include-hidden {hidden}):\n  @actions/glob: {want}\n  stevedore:     {got}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} cases differ:\n{}",
        mismatches.len(),
        cases.len(),
        mismatches.join("\n")
    );
    assert!(
        non_empty >= 30,
        "the table must exercise real matches, only {non_empty} cases found files"
    );
}

#[test]
fn dot_segments_are_refused_like_actions_glob() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = fs::canonicalize(dir.path())
        .expect("canonical")
        .join("tree");
    build_tree(&root);
    for bad in ["../tree/dist", "dist/../build", "dist/./sub"] {
        let theirs = theirs(&root, &[(bad.to_owned(), false)]);
        assert!(
            theirs[0]["error"]
                .as_str()
                .is_some_and(|e| e.contains("Relative pathing")),
            "{theirs:?}"
        );
        let got = ours(&root, bad, false);
        assert!(
            got["error"]
                .as_str()
                .is_some_and(|e| e.contains("`.` and `..` is not allowed")),
            "{got}"
        );
    }
}

#[test]
fn self_referencing_link_is_skipped_with_a_warning() {
    // @actions/glob throws ELOOP here and upload-artifact fails; stevedore skips the link.
    let dir = tempfile::tempdir().expect("tempdir");
    let root = fs::canonicalize(dir.path()).expect("canonical");
    fs::create_dir_all(root.join("d")).expect("mkdir");
    fs::write(root.join("d/ok.txt"), "x").expect("write");
    symlink("self", root.join("d/self")).expect("symlink");
    let reporter = MemoryReporter::default();
    let options = SelectOptions {
        patterns: "d",
        cwd: &root,
        home: None,
        include_hidden: false,
        artifact_paths: false,
    };
    let selection = select(&options, &reporter).expect("selects");
    assert_eq!(selection.files.len(), 1);
    assert!(
        reporter
            .events()
            .iter()
            .any(|e| e.message.contains("too many levels of symbolic links"))
    );
}
