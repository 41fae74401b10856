//! The last check before anything is placed (issue 19 item 1): every link the download
//! would leave in `path`, resolved on the file system itself against the tree `path` will
//! hold, the staged entries over what `path` already has. An archive's own check
//! (`extract`) sees one archive by name; this one sees every artifact of the run, what
//! earlier steps left in `path`, and the file system's own idea of a name (a
//! case-insensitive or normalizing file system makes `L1` the link `l1`), because each
//! component is looked up with `lstat` where it will be.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::extract::names::shown;
use super::place::{PlaceError, sorted_entries};
use crate::tree_path::{Node, resolve_link};

/// Checks every link below `out` (the staged tree) as if `out` were already merged into
/// `existing` (`path`, when it exists).
pub(crate) fn check_staged_links(out: &Path, existing: Option<&Path>) -> Result<(), PlaceError> {
    let root = match existing {
        Some(path) => Some(fs::canonicalize(path).map_err(|source| PlaceError::Io {
            what: "read",
            path: path.to_owned(),
            source,
        })?),
        None => None,
    };
    let mut links = Vec::new();
    collect_links(out, "", &mut links)?;
    for (rel, target) in links {
        let mut lookup = |prefix: &str| node(out, root.as_deref(), prefix);
        resolve_link(&rel, &target, &mut lookup).map_err(|problem| PlaceError::Link {
            link: shown(rel.as_bytes()),
            target: shown(target.as_bytes()),
            reason: problem.shown_with(|n| shown(n.as_bytes())).to_string(),
        })?;
    }
    Ok(())
}

/// Every link below `dir` (relative to the staged root, `/`-separated) with its target, in
/// name order so the first refused is the same from run to run.
fn collect_links(
    dir: &Path,
    rel: &str,
    links: &mut Vec<(String, String)>,
) -> Result<(), PlaceError> {
    let read_err = |path: &Path| {
        let path = path.to_owned();
        move |source| PlaceError::Io {
            what: "read",
            path,
            source,
        }
    };
    for entry in sorted_entries(dir)? {
        let path = entry.path;
        let name = entry.name.to_string_lossy().into_owned();
        let child = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let kind = entry.kind;
        if kind.is_symlink() {
            let target = fs::read_link(&path).map_err(read_err(&path))?;
            links.push((child, target.to_string_lossy().into_owned()));
        } else if kind.is_dir() {
            collect_links(&path, &child, links)?;
        }
    }
    Ok(())
}

/// `base` joined with a `/`-separated relative path.
fn below(base: &Path, rel: &str) -> PathBuf {
    rel.split('/')
        .fold(base.to_path_buf(), |acc, c| acc.join(c))
}

/// What `rel` is in the merged tree: the staged entry where there is one (it replaces a
/// file and merges into a directory), else what `path` holds.
fn node(out: &Path, root: Option<&Path>, rel: &str) -> io::Result<Node> {
    if let Some(node) = lstat_node(&below(out, rel), root)? {
        return Ok(node);
    }
    match root {
        Some(root) => Ok(lstat_node(&below(root, rel), Some(root))?.unwrap_or(Node::Missing)),
        None => Ok(Node::Missing),
    }
}

/// `None` when nothing is there. The resolver asks for each prefix in turn and never below a
/// link, so `lstat` on the joined path sees the entry itself.
fn lstat_node(path: &Path, root: Option<&Path>) -> io::Result<Option<Node>> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    Ok(Some(if meta.is_dir() {
        Node::Dir
    } else if meta.file_type().is_symlink() {
        link_node(&fs::read_link(path)?, root)
    } else {
        Node::File
    }))
}

/// A link as the resolver follows it: relative targets as they are; an absolute one (only
/// links already in `path` can be: staged ones were refused) counts only below `path`.
fn link_node(target: &Path, root: Option<&Path>) -> Node {
    let Some(text) = target.to_str() else {
        return Node::Outside;
    };
    if !target.is_absolute() {
        return Node::Link(text.replace(std::path::MAIN_SEPARATOR, "/"));
    }
    match root.and_then(|root| target.strip_prefix(root).ok()) {
        Some(rest) => match rest.to_str() {
            Some(rest) => Node::RootLink(rest.replace(std::path::MAIN_SEPARATOR, "/")),
            None => Node::Outside,
        },
        None => Node::Outside,
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    fn refused(out: &Path, existing: Option<&Path>) -> String {
        check_staged_links(out, existing)
            .expect_err("refused")
            .to_string()
    }

    #[test]
    fn a_chain_through_what_path_already_holds_is_refused() {
        let tmp = tempfile::tempdir().expect("tmp");
        let (out, path) = (tmp.path().join("out"), tmp.path().join("path"));
        fs::create_dir_all(out.join("a/b/c/d")).expect("mkdir");
        fs::create_dir_all(path.join("a/b/c/d")).expect("mkdir");
        symlink("../../../..", path.join("a/b/c/d/l1")).expect("link");
        symlink("l1/../../../../../etc/passwd", out.join("a/b/c/d/l2")).expect("link");
        let text = refused(&out, Some(&path));
        assert!(
            text.contains("a/b/c/d/l2") && text.contains("passes through the link `a/b/c/d/l1`"),
            "{text}"
        );
        // Alone (no `path` yet), `l1` is missing and `l2` climbs out of it: refused too.
        let text = refused(&out, None);
        assert!(text.contains("climbs back out of `a/b/c/d/l1`"), "{text}");
    }

    #[test]
    fn links_inside_pass_and_absolute_links_already_there_count_inside_path() {
        let tmp = tempfile::tempdir().expect("tmp");
        let (out, path) = (tmp.path().join("out"), tmp.path().join("path"));
        fs::create_dir_all(out.join("bin")).expect("mkdir");
        fs::create_dir_all(path.join("v1/bin")).expect("mkdir");
        fs::write(path.join("v1/bin/tool"), "x").expect("write");
        let canonical = fs::canonicalize(&path).expect("canonical");
        symlink(canonical.join("v1"), path.join("current")).expect("link");
        symlink("../current/bin/tool", out.join("bin/tool")).expect("link");
        check_staged_links(&out, Some(&path)).expect("inside through an absolute link inside");
        symlink(tmp.path(), path.join("elsewhere")).expect("link");
        symlink("../elsewhere/x", out.join("bin/other")).expect("link");
        let text = refused(&out, Some(&path));
        assert!(
            text.contains("bin/other") && text.contains("`elsewhere`"),
            "{text}"
        );
    }
}
