//! The module graph points one way: each top-level module may import (`crate::x`) only
//! modules of a lower layer than its own, so the pipeline reads top to bottom and no stage
//! reaches up into what sequences it. The layers are ARCHITECTURE.md's code map; this test
//! reads the sources and fails on the first import that points up or sideways.

use std::collections::BTreeMap;
use std::path::Path;

/// Each top-level module's layer; a module imports only from lower numbers.
const LAYERS: &[(&str, u8)] = &[
    ("display", 0),
    ("events", 0),
    ("exit_code", 0),
    ("secret", 0),
    ("tree_path", 0),
    ("units", 0),
    ("net", 1),
    ("pack", 1),
    ("github", 2),
    ("config", 3),
    ("select", 4),
    ("scan", 5),
    ("gate", 6),
    ("upload", 7),
    ("download", 7),
    ("error", 8),
    ("report", 9),
    ("run", 10),
    ("verify", 10),
    ("cli", 11),
];

fn layer(module: &str) -> u8 {
    LAYERS.iter().find(|(name, _)| *name == module).map_or_else(
        || panic!("module `{module}` has no layer in LAYERS"),
        |(_, layer)| *layer,
    )
}

/// The top-level modules `text` names as `crate::x`, outside comments.
fn imports(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or_default();
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_' || c.is_ascii_digit())
                .collect();
            if !name.is_empty() {
                found.push(name);
            }
        }
    }
    found
}

fn walk(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            walk(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

#[test]
fn imports_point_down_the_pipeline() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    let mut edges: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut wrong = Vec::new();
    for file in files {
        let rel = file.strip_prefix(&src).expect("under src");
        let top = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .map(|c| c.trim_end_matches(".rs").to_owned())
            .expect("a name");
        if matches!(top.as_str(), "main" | "lib" | "layering") {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("readable");
        // A module's unit tests may reach anywhere; what ships may not.
        let shipped = text
            .split("#[cfg(test)]\nmod tests")
            .next()
            .unwrap_or_default();
        for target in imports(shipped) {
            if target == top {
                continue;
            }
            if layer(&target) >= layer(&top) {
                wrong.push(format!("{}: `{top}` imports `{target}`", rel.display()));
            }
            edges.entry(top.clone()).or_default().push(target);
        }
    }
    assert!(
        wrong.is_empty(),
        "imports that point up:\n{}",
        wrong.join("\n")
    );
    assert!(
        edges.len() > 10,
        "the walk found the modules' imports: {edges:?}"
    );
}
