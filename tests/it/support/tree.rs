//! The one tree walker ([`walk`]) and the views of a tree the tests compare: bytes of the
//! files ([`read_tree`]), kind, mode and content of every entry ([`tree`]), the same hashed
//! ([`snapshot`]), and names left beside a path ([`names_in`]).

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use crate::support::sha256sum_check;

/// One entry below a walked directory.
pub struct Found {
    /// The path below the walked directory, as the platform spells it (`/`-separated here).
    pub rel: String,
    pub path: PathBuf,
    /// Of the entry itself: a link is a link, not what it points at.
    pub meta: fs::Metadata,
}

impl Found {
    pub fn is_dir(&self) -> bool {
        self.meta.is_dir()
    }

    pub fn is_link(&self) -> bool {
        self.meta.file_type().is_symlink()
    }

    /// The permission bits (`& 0o7777`).
    pub fn mode(&self) -> u32 {
        self.meta.permissions().mode() & 0o7777
    }

    /// The last component of the name.
    pub fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// Every entry below `dir` (files, directories, links), sorted by relative path. Links are
/// never followed. Panics when a directory cannot be read.
pub fn walk(dir: &Path) -> Vec<Found> {
    walk_with(dir, false)
}

/// [`walk`], where a directory that cannot be read (`dir` missing, or not a directory)
/// contributes nothing.
pub fn walk_lenient(dir: &Path) -> Vec<Found> {
    walk_with(dir, true)
}

fn walk_with(dir: &Path, lenient: bool) -> Vec<Found> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = match fs::read_dir(&d) {
            Ok(entries) => entries,
            Err(_) if lenient => continue,
            Err(e) => panic!("read_dir {}: {e}", d.display()),
        };
        for entry in entries {
            let path = entry.expect("entry").path();
            let meta = fs::symlink_metadata(&path).expect("stat");
            if meta.is_dir() {
                stack.push(path.clone());
            }
            let rel = path
                .strip_prefix(dir)
                .expect("under dir")
                .to_string_lossy()
                .into_owned();
            out.push(Found { rel, path, meta });
        }
    }
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    out
}

/// Every file under `dir` with its bytes (a link: the bytes it leads to), keyed by
/// `/`-separated relative path.
pub fn read_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    walk(dir)
        .into_iter()
        .filter(|f| !f.is_dir())
        .map(|f| (f.rel.replace('\\', "/"), fs::read(&f.path).expect("read")))
        .collect()
}

/// A downloaded artifact stevedore uploaded: its files, without the `SHA256SUMS` and
/// `stevedore-manifest.json` it carries at the top (`artifact-documents`), after checking
/// both are there and that `sha256sum -c` accepts the tree.
pub fn read_artifact_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut tree = read_tree(dir);
    assert!(
        tree.remove("stevedore-manifest.json").is_some(),
        "the artifact holds its manifest"
    );
    assert!(
        tree.contains_key("SHA256SUMS"),
        "the artifact holds its checksums"
    );
    sha256sum_check(dir, Path::new("SHA256SUMS"));
    tree.remove("SHA256SUMS");
    tree
}

/// Files, directories and links below `dir`: path -> (kind `f`/`d`/`l`, mode, bytes or
/// link target). A link's mode is 0o777.
pub fn tree(dir: &Path) -> BTreeMap<String, (char, u32, Vec<u8>)> {
    walk(dir)
        .into_iter()
        .map(|f| {
            let value = if f.is_link() {
                let target = fs::read_link(&f.path).expect("read link");
                ('l', 0o777, target.to_string_lossy().as_bytes().to_vec())
            } else if f.is_dir() {
                ('d', f.mode(), Vec::new())
            } else {
                ('f', f.mode(), fs::read(&f.path).expect("read back"))
            };
            (f.rel, value)
        })
        .collect()
}

/// Every entry under `dir` (files, directories, links) with its mode and a hash of its
/// bytes (or link target): what "`path` untouched" compares. A `dir` that is missing or
/// not a directory has no entries.
pub fn snapshot(dir: &Path) -> BTreeMap<String, (u32, String)> {
    use sha2::Digest as _;
    walk_lenient(dir)
        .into_iter()
        .map(|f| {
            let content = if f.is_link() {
                format!("-> {}", fs::read_link(&f.path).expect("link").display())
            } else if f.is_dir() {
                "dir".into()
            } else {
                hex::encode(sha2::Sha256::digest(fs::read(&f.path).expect("read")))
            };
            (f.rel.clone(), (f.mode(), content))
        })
        .collect()
}

/// The names of the entries directly in `dir` that start with `prefix`, sorted.
pub fn names_in(dir: &Path, prefix: &str) -> Vec<String> {
    let mut out: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read_dir {}: {e}", dir.display()))
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect();
    out.sort();
    out
}

/// Entries beside `path` whose name starts `.stevedore-`: staging a run left behind.
pub fn staging_left(path: &Path) -> Vec<PathBuf> {
    let parent = path.parent().expect("parent");
    names_in(parent, ".stevedore-")
        .into_iter()
        .map(|n| parent.join(n))
        .collect()
}
