//! The rules a relative path inside a shipped tree must pass, one set for both directions:
//! the upload checks the zip entry names it writes and the links it preserves, the download
//! the names and links it restores (issue 19 items 1, 2, 3 and 5). A leaf: it imports
//! nothing from the crate, so `select`, `upload` and `download` share it without an edge
//! between them.
//!
//! Link targets are resolved, not matched: every component is looked up in the tree the link
//! will live in (an archive's entries, a selection, or the file system itself, through the
//! caller's [`Node`] lookup), links met on the way are followed, and every step must stay
//! inside the root. A lexical check alone cannot see where another link leads, nor that a
//! case-folding file system makes `L1` the link `l1`.

use std::collections::VecDeque;

/// Why a name (or a link target) is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameProblem {
    /// A `..` component: it would climb out of the destination.
    ParentComponent,
    /// Starts with `/`.
    Absolute,
    /// Starts with a drive letter (`C:`).
    DriveLetter,
    /// Holds a `\`: upload-artifact writes `/` only, and Windows would split on it.
    Backslash,
    /// An empty or `.` component (`a//b`, `./a`, an empty name): not how any writer names a file, and
    /// it would let two names reach one path.
    EmptyComponent,
    /// Holds NUL.
    Nul,
    /// Not UTF-8.
    NotUtf8,
    /// A character Windows cannot hold in a file name (`: < > " | ? *`), checked on Windows.
    NotPortable,
    /// A `.git` component (in any case or disguise git itself refuses): written into a
    /// repository, `config` and `hooks/` run code at the next `git` command.
    GitDirectory,
    /// A control character (line breaks, ESC): no build writes one, and a terminal would
    /// act on it.
    Control,
    /// Longer than [`MAX_NAME_BYTES`] or deeper than [`MAX_DEPTH`]: no file system holds
    /// it, and every walk over it (placing, cleaning up) would hold a directory per level.
    TooLong,
}

/// Bytes of an entry name (Linux's `PATH_MAX`).
pub(crate) const MAX_NAME_BYTES: usize = 4096;
/// Components of an entry name: far beyond any build's tree (`node_modules` chains reach a
/// few dozen), and under the 256 descriptors a macOS process may hold by default.
pub(crate) const MAX_DEPTH: usize = 128;

impl std::fmt::Display for NameProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NameProblem::ParentComponent => "has a `..` component",
            NameProblem::Absolute => "is absolute",
            NameProblem::DriveLetter => "starts with a drive letter",
            NameProblem::Backslash => "contains a backslash",
            NameProblem::EmptyComponent => "has an empty or `.` component",
            NameProblem::Nul => "contains NUL",
            NameProblem::NotUtf8 => "is not UTF-8",
            NameProblem::NotPortable => {
                "is not a file name Windows can hold (a reserved character, a device name, or a trailing dot or space)"
            }
            NameProblem::GitDirectory => {
                "writes inside a `.git` directory, which would change a repository's configuration or hooks (git refuses such paths too)"
            }
            NameProblem::Control => "contains a control character",
            NameProblem::TooLong => {
                "is longer than 4096 bytes or deeper than 128 directories, which stevedore does not restore"
            }
        })
    }
}

/// `C:` at the start.
fn has_drive(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
}

/// Checks an entry name; returns it without the trailing `/` of a directory entry, and
/// whether it had one.
pub(crate) fn check_entry_name(raw: &[u8]) -> Result<(String, bool), NameProblem> {
    let name = std::str::from_utf8(raw).map_err(|_| NameProblem::NotUtf8)?;
    if name.contains('\0') {
        return Err(NameProblem::Nul);
    }
    if name.contains('\\') {
        return Err(NameProblem::Backslash);
    }
    if name.starts_with('/') {
        return Err(NameProblem::Absolute);
    }
    if has_drive(name) {
        return Err(NameProblem::DriveLetter);
    }
    let (path, is_dir) = match name.strip_suffix('/') {
        Some(path) => (path, true),
        None => (name, false),
    };
    if path.len() > MAX_NAME_BYTES || path.split('/').nth(MAX_DEPTH).is_some() {
        return Err(NameProblem::TooLong);
    }
    for component in path.split('/') {
        check_component_of_path(component)?;
    }
    Ok((path.to_owned(), is_dir))
}

/// One component of a checked path (no `/`, `\` or NUL can be in it any more).
fn check_component_of_path(component: &str) -> Result<(), NameProblem> {
    match component {
        "" | "." => Err(NameProblem::EmptyComponent),
        ".." => Err(NameProblem::ParentComponent),
        _ if is_git_dir(component) => Err(NameProblem::GitDirectory),
        _ if cfg!(windows) && !windows_portable(component) => Err(NameProblem::NotPortable),
        _ => Ok(()),
    }
}

/// A name that becomes one directory level or one file of its own (an artifact name used
/// as `path/<name>`, a raw artifact's file name): the entry rules, no `/`, and no control
/// characters (this name comes from the service, not from an archive a build wrote).
pub(crate) fn check_component(name: &str) -> Result<(), NameProblem> {
    if name.contains('\0') {
        return Err(NameProblem::Nul);
    }
    if name.contains('\\') {
        return Err(NameProblem::Backslash);
    }
    if name.contains('/') {
        return Err(NameProblem::ParentComponent);
    }
    if has_drive(name) {
        return Err(NameProblem::DriveLetter);
    }
    if name.chars().any(char::is_control) {
        return Err(NameProblem::Control);
    }
    check_component_of_path(name)
}

/// Whether `component` names a `.git` directory as git itself would see it on some file
/// system: any case (`.GIT`), trailing dots and spaces Windows strips (`.git.`), the
/// code points HFS+ ignores (`.g\u{200c}it`), and NTFS's short name `git~1`.
pub(crate) fn is_git_dir(component: &str) -> bool {
    let folded: String = component
        .chars()
        .filter(|c| !is_ignorable(*c))
        .collect::<String>()
        .trim_end_matches(['.', ' '])
        .to_ascii_lowercase();
    folded == ".git" || folded == "git~1"
}

/// The code points HFS+ drops when it compares names (git's `is_hfs_dotgit` list).
fn is_ignorable(c: char) -> bool {
    matches!(c,
        '\u{200c}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{206a}'..='\u{206f}' | '\u{feff}')
}

/// Whether Windows can hold `component` as a file name: none of `: < > " | ? *`, no
/// trailing dot or space (Windows strips them, so two names would meet), and not a device
/// name (`CON`, `nul.txt`, `COM1`: opening one reaches the device, not a file).
pub(crate) fn windows_portable(component: &str) -> bool {
    const DEVICES: &[&str] = &["con", "prn", "aux", "nul", "conin$", "conout$"];
    if component.contains([':', '<', '>', '"', '|', '?', '*']) || component.ends_with(['.', ' ']) {
        return false;
    }
    let stem = component
        .split('.')
        .next()
        .unwrap_or(component)
        .trim_end()
        .to_ascii_lowercase();
    let numbered = (stem.len() == 4)
        && (stem.starts_with("com") || stem.starts_with("lpt"))
        && stem.as_bytes()[3].is_ascii_digit();
    !(DEVICES.contains(&stem.as_str()) || numbered)
}

/// The syntax a link target must have wherever it is restored: relative, `/`-separated,
/// not empty.
pub(crate) fn check_link_syntax(target: &str) -> Result<(), NameProblem> {
    if target.is_empty() {
        return Err(NameProblem::EmptyComponent);
    }
    if target.contains('\0') {
        return Err(NameProblem::Nul);
    }
    if target.contains('\\') {
        return Err(NameProblem::Backslash);
    }
    if target.starts_with('/') {
        return Err(NameProblem::Absolute);
    }
    if has_drive(target) {
        return Err(NameProblem::DriveLetter);
    }
    Ok(())
}

/// What a path (relative to the root, `/`-separated) is in the tree a link is resolved
/// against. The lookup is asked for each prefix in turn, never for a path below a link, so a
/// file-system lookup may use `lstat` on the joined path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    /// A directory: resolution goes on inside it.
    Dir,
    /// A regular file (or anything that is not a directory or a link).
    File,
    /// Nothing there (yet).
    Missing,
    /// A link whose target is relative to its own directory.
    Link(String),
    /// A link whose absolute target lies inside the root: the target relative to the root.
    RootLink(String),
    /// A link whose target lies outside the root (absolute elsewhere, or unreadable as a path).
    Outside,
}

/// Links followed in one resolution before it is called a loop (Linux's `MAXSYMLINKS`).
pub(crate) const MAX_HOPS: usize = 40;

/// Why a link is refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum LinkProblem<E> {
    /// The target itself is malformed.
    Name(NameProblem),
    /// It leads outside the root; `via` is the last link it passed through, if any.
    Escapes {
        /// The link (relative path) whose target took the resolution out, if it was not the
        /// link itself.
        via: Option<String>,
    },
    /// A `..` follows a component that is missing or not a directory (`prefix`): a link
    /// placed there later (by another artifact, another step) would decide where it leads.
    ThroughMissing(String),
    /// More than [`MAX_HOPS`] links: a loop.
    TooManyLinks,
    /// It leads into a `.git` directory (`prefix`): whatever later writes through it (a
    /// tool that follows links) would change a repository's configuration or hooks.
    IntoGit(String),
    /// The lookup failed.
    Lookup(E),
}

impl<E: std::fmt::Display> std::fmt::Display for LinkProblem<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkProblem::Name(problem) => write!(f, "the target {problem}"),
            LinkProblem::Escapes { via: None } => f.write_str("it points outside the destination"),
            LinkProblem::Escapes { via: Some(via) } => write!(
                f,
                "it passes through the link `{via}` and so points outside the destination"
            ),
            LinkProblem::ThroughMissing(prefix) => write!(
                f,
                "it climbs back out of `{prefix}`, which is not a directory here (a link put there later would decide where it leads)"
            ),
            LinkProblem::TooManyLinks => {
                write!(f, "it passes through more than {MAX_HOPS} links (a loop)")
            }
            LinkProblem::IntoGit(prefix) => {
                write!(f, "it leads into the `.git` directory `{prefix}`")
            }
            LinkProblem::Lookup(e) => write!(f, "cannot follow it: {e}"),
        }
    }
}

impl<E> LinkProblem<E> {
    /// The same problem with the path it names made fit for display by `show` (names come
    /// from archives and trees: untrusted).
    #[must_use]
    pub(crate) fn shown_with(self, show: impl Fn(&str) -> String) -> Self {
        match self {
            LinkProblem::Escapes { via } => LinkProblem::Escapes {
                via: via.map(|v| show(&v)),
            },
            LinkProblem::ThroughMissing(prefix) => LinkProblem::ThroughMissing(show(&prefix)),
            LinkProblem::IntoGit(prefix) => LinkProblem::IntoGit(show(&prefix)),
            other => other,
        }
    }
}

/// Resolves the link at `link` (relative to the root, `/`-separated) whose content is
/// `target`, as the kernel would in the tree `lookup` describes, and returns where it leads
/// (relative to the root; "" is the root itself). Every link met is followed from its own
/// directory; every step must stay inside the root.
pub(crate) fn resolve_link<E>(
    link: &str,
    target: &str,
    lookup: &mut dyn FnMut(&str) -> Result<Node, E>,
) -> Result<String, LinkProblem<E>> {
    check_link_syntax(target).map_err(LinkProblem::Name)?;
    let mut at: Vec<String> = link.split('/').map(str::to_owned).collect();
    at.pop();
    let mut queue: VecDeque<String> = target.split('/').map(str::to_owned).collect();
    let mut hops = 0;
    let mut via: Option<String> = None;
    while let Some(component) = queue.pop_front() {
        match component.as_str() {
            "" | "." => {}
            ".." => {
                if at.pop().is_none() {
                    return Err(LinkProblem::Escapes { via });
                }
            }
            _ => {
                let git = is_git_dir(&component);
                at.push(component);
                let prefix = at.join("/");
                if git {
                    return Err(LinkProblem::IntoGit(prefix));
                }
                let follow = match lookup(&prefix).map_err(LinkProblem::Lookup)? {
                    Node::Dir => continue,
                    Node::File | Node::Missing => {
                        if queue.iter().any(|c| c == "..") {
                            // Out even if it were a directory: say so, it is the plainer reason.
                            let mut depth = at.len();
                            for c in &queue {
                                match c.as_str() {
                                    "" | "." => {}
                                    ".." if depth == 0 => {
                                        return Err(LinkProblem::Escapes { via });
                                    }
                                    ".." => depth -= 1,
                                    _ => depth += 1,
                                }
                            }
                            return Err(LinkProblem::ThroughMissing(prefix));
                        }
                        at.extend(queue.drain(..).filter(|c| !c.is_empty() && c != "."));
                        break;
                    }
                    Node::Outside => return Err(LinkProblem::Escapes { via: Some(prefix) }),
                    Node::Link(next) => {
                        check_link_syntax(&next).map_err(|_| LinkProblem::Escapes {
                            via: Some(prefix.clone()),
                        })?;
                        at.pop();
                        next
                    }
                    Node::RootLink(next) => {
                        at.clear();
                        next
                    }
                };
                hops += 1;
                if hops > MAX_HOPS {
                    return Err(LinkProblem::TooManyLinks);
                }
                via = Some(prefix);
                for c in follow.split('/').rev() {
                    queue.push_front(c.to_owned());
                }
            }
        }
    }
    Ok(at.join("/"))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn plain_names_pass_and_directories_lose_their_slash() {
        assert_eq!(check_entry_name(b"a/b.txt"), Ok(("a/b.txt".into(), false)));
        assert_eq!(check_entry_name(b"dir/"), Ok(("dir".into(), true)));
        assert_eq!(
            check_entry_name("héllo wörld.txt".as_bytes()),
            Ok(("héllo wörld.txt".into(), false))
        );
        assert_eq!(
            check_entry_name(b"..a/b..").map(|x| x.0),
            Ok("..a/b..".into())
        );
        assert_eq!(
            check_entry_name(b"a/.github/x.yml").map(|x| x.0),
            Ok("a/.github/x.yml".into())
        );
    }

    #[test]
    fn hostile_names_are_refused_for_their_reason() {
        let cases: &[(&[u8], NameProblem)] = &[
            (b"../x", NameProblem::ParentComponent),
            (b"a/../../x", NameProblem::ParentComponent),
            (b"a/..", NameProblem::ParentComponent),
            (b"/etc/passwd", NameProblem::Absolute),
            (b"C:x", NameProblem::DriveLetter),
            (b"C:/x", NameProblem::DriveLetter),
            (b"a\\b", NameProblem::Backslash),
            (b"..\\x", NameProblem::Backslash),
            (b"a//b", NameProblem::EmptyComponent),
            (b"./a", NameProblem::EmptyComponent),
            (b"", NameProblem::EmptyComponent),
            (b"/", NameProblem::Absolute),
            (b"a/./b", NameProblem::EmptyComponent),
            (b"a\0b", NameProblem::Nul),
            (b"\xff\xfe", NameProblem::NotUtf8),
            (b".git/config", NameProblem::GitDirectory),
            (b"sub/.GIT/hooks/post-checkout", NameProblem::GitDirectory),
            (b".git", NameProblem::GitDirectory),
            (b".git/", NameProblem::GitDirectory),
        ];
        for (name, problem) in cases {
            assert_eq!(
                check_entry_name(name),
                Err(*problem),
                "{}",
                String::from_utf8_lossy(name)
            );
        }
    }

    #[test]
    fn git_directories_in_every_disguise_git_refuses() {
        for bad in [
            ".git",
            ".GIT",
            ".Git",
            ".git.",
            ".git ",
            ".git. .",
            "git~1",
            "GIT~1",
            ".g\u{200c}it",
            "\u{feff}.git",
        ] {
            assert!(is_git_dir(bad), "{bad:?}");
        }
        for good in [".github", ".gitignore", "git", ".git2", "x.git", "git~2"] {
            assert!(!is_git_dir(good), "{good:?}");
        }
    }

    #[test]
    fn a_component_of_its_own_has_no_separator_or_control_character() {
        assert_eq!(check_component("build-linux"), Ok(()));
        assert_eq!(check_component("..x"), Ok(()));
        for (bad, problem) in [
            ("", NameProblem::EmptyComponent),
            (".", NameProblem::EmptyComponent),
            ("..", NameProblem::ParentComponent),
            ("a/b", NameProblem::ParentComponent),
            ("a\\b", NameProblem::Backslash),
            ("D:name", NameProblem::DriveLetter),
            ("a\0b", NameProblem::Nul),
            ("a\nb", NameProblem::Control),
            ("a\u{1b}[31mb", NameProblem::Control),
            ("a\u{9b}b", NameProblem::Control),
            (".git", NameProblem::GitDirectory),
        ] {
            assert_eq!(check_component(bad), Err(problem), "{bad:?}");
        }
    }

    #[test]
    fn windows_device_names_and_stripped_endings_are_not_portable() {
        for bad in [
            "CON",
            "nul.txt",
            "Com1",
            "lpt9.log",
            "a:b",
            "x?",
            "trailing.",
            "space ",
        ] {
            assert!(!windows_portable(bad), "{bad}");
        }
        for good in ["console", "nul2", "com", "comx", "file.txt", ".hidden"] {
            assert!(windows_portable(good), "{good}");
        }
    }

    /// A tree as a map: `d` directory, `f` file, anything else a link's target.
    fn tree(entries: &[(&str, &str)]) -> impl FnMut(&str) -> Result<Node, ()> {
        let map: HashMap<String, String> = entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |path: &str| {
            Ok(match map.get(path).map(String::as_str) {
                None => {
                    let dir = format!("{path}/");
                    if map.keys().any(|k| k.starts_with(&dir)) {
                        Node::Dir
                    } else {
                        Node::Missing
                    }
                }
                Some("d") => Node::Dir,
                Some("f") => Node::File,
                Some("OUT") => Node::Outside,
                Some(t) if t.starts_with("ROOT:") => Node::RootLink(t[5..].to_owned()),
                Some(t) => Node::Link(t.to_owned()),
            })
        }
    }

    fn resolve(
        entries: &[(&str, &str)],
        link: &str,
        target: &str,
    ) -> Result<String, LinkProblem<()>> {
        resolve_link(link, target, &mut tree(entries))
    }

    #[test]
    fn targets_resolve_against_the_link_directory() {
        let none: &[(&str, &str)] = &[];
        assert_eq!(resolve(none, "a/l", "b"), Ok("a/b".into()));
        assert_eq!(resolve(none, "a/l", "../b"), Ok("b".into()));
        assert_eq!(resolve(none, "a/l", ".."), Ok(String::new()));
        assert_eq!(resolve(none, "l", "./x/./y"), Ok("x/y".into()));
        assert_eq!(
            resolve(none, "l", ".."),
            Err(LinkProblem::Escapes { via: None })
        );
        assert_eq!(
            resolve(none, "a/l", "../../x"),
            Err(LinkProblem::Escapes { via: None })
        );
        assert_eq!(
            resolve(&[("a/b", "d")], "a/l", "b/../../.."),
            Err(LinkProblem::Escapes { via: None })
        );
        for (target, problem) in [
            ("/etc", NameProblem::Absolute),
            ("C:/x", NameProblem::DriveLetter),
            ("..\\x", NameProblem::Backslash),
            ("", NameProblem::EmptyComponent),
        ] {
            assert_eq!(
                resolve(none, "l", target),
                Err(LinkProblem::Name(problem)),
                "{target}"
            );
        }
    }

    #[test]
    fn a_chain_of_links_each_inside_alone_is_followed_out() {
        // The review's chain: l1 alone points at the root, l2 through it far above.
        let parts = [("a/b/c/d/l1", "../../../.."), ("a/b/c/d/x", "f")];
        assert_eq!(
            resolve(&parts, "a/b/c/d/l1", "../../../.."),
            Ok(String::new())
        );
        assert_eq!(
            resolve(&parts, "a/b/c/d/l2", "l1/../../../../../etc/passwd"),
            Err(LinkProblem::Escapes {
                via: Some("a/b/c/d/l1".into())
            })
        );
        // Through a link that stays inside, the chain is fine: `bin -> current/bin`.
        let versions = [
            ("v1/bin/tool", "f"),
            ("current", "v1"),
            ("bin", "current/bin"),
        ];
        assert_eq!(
            resolve(&versions, "bin", "current/bin"),
            Ok("v1/bin".into())
        );
        assert_eq!(
            resolve(&versions, "t", "bin/tool"),
            Ok("v1/bin/tool".into())
        );
        // Naming the link itself follows it too.
        let up = [("d/l1", "../.."), ("d/x", "f")];
        assert_eq!(
            resolve(&up, "d/l2", "l1"),
            Err(LinkProblem::Escapes {
                via: Some("d/l1".into())
            })
        );
    }

    #[test]
    fn absolute_links_already_there_count_only_inside_the_root() {
        let t = [("inside", "ROOT:v1"), ("v1/f", "f"), ("mnt", "OUT")];
        assert_eq!(resolve(&t, "a", "inside/f"), Ok("v1/f".into()));
        assert_eq!(
            resolve(&t, "a", "mnt"),
            Err(LinkProblem::Escapes {
                via: Some("mnt".into())
            })
        );
        assert_eq!(
            resolve(&[("l", "/abs")], "a", "l"),
            Err(LinkProblem::Escapes {
                via: Some("l".into())
            })
        );
    }

    #[test]
    fn climbing_out_of_what_is_not_there_is_refused() {
        // `l1` may be placed later as a link: `l1/..` is not known to be the root.
        assert_eq!(
            resolve(&[], "d/l2", "l1/../../x"),
            Err(LinkProblem::ThroughMissing("d/l1".into()))
        );
        assert_eq!(
            resolve(&[("d/f", "f")], "d/l", "f/../x"),
            Err(LinkProblem::ThroughMissing("d/f".into()))
        );
        // Dangling downwards is fine: wherever `missing` comes from, it is checked then.
        assert_eq!(
            resolve(&[], "d/l", "missing/file"),
            Ok("d/missing/file".into())
        );
    }

    #[test]
    fn a_link_into_a_git_directory_is_refused() {
        let t = [(".git/config", "f"), ("repo", ".git")];
        assert_eq!(
            resolve(&t, "config.ini", ".git/config"),
            Err(LinkProblem::IntoGit(".git".into()))
        );
        assert_eq!(
            resolve(&t, "c", "repo/config"),
            Err(LinkProblem::IntoGit(".git".into()))
        );
        assert_eq!(
            resolve(&[], "d/hooks", "../.GIT/hooks"),
            Err(LinkProblem::IntoGit(".GIT".into()))
        );
    }

    #[test]
    fn names_too_long_or_too_deep_are_refused() {
        let deep = vec!["d"; MAX_DEPTH + 1].join("/");
        assert_eq!(check_entry_name(deep.as_bytes()), Err(NameProblem::TooLong));
        let just = vec!["d"; MAX_DEPTH].join("/");
        assert!(check_entry_name(just.as_bytes()).is_ok());
        let long = "x".repeat(MAX_NAME_BYTES + 1);
        assert_eq!(check_entry_name(long.as_bytes()), Err(NameProblem::TooLong));
    }

    #[test]
    fn loops_stop() {
        let t = [("a", "b"), ("b", "a")];
        assert_eq!(resolve(&t, "x", "a"), Err(LinkProblem::TooManyLinks));
        assert_eq!(
            resolve(&[("s", "s")], "x", "s/y"),
            Err(LinkProblem::TooManyLinks)
        );
    }
}
