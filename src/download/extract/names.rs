//! The rules an entry name and a link target must pass before anything is written
//! (issue 14 item 4). upload-artifact writes relative, `/`-separated UTF-8 names
//! (reference/artifact-protocol.md section 5.1); anything else is hostile or foreign.

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
}

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
    for component in path.split('/') {
        match component {
            "" | "." => return Err(NameProblem::EmptyComponent),
            ".." => return Err(NameProblem::ParentComponent),
            _ if cfg!(windows) && !windows_portable(component) => {
                return Err(NameProblem::NotPortable);
            }
            _ => {}
        }
    }
    Ok((path.to_owned(), is_dir))
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

/// How a link target resolves.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TargetProblem {
    /// The target itself is malformed.
    Name(NameProblem),
    /// It climbs above the destination.
    Escapes,
    /// It passes through another link entry (`prefix`): a lexical check could not see
    /// where that one leads, so the chain is refused.
    ThroughLink(String),
}

/// Resolves `target` lexically against the directory of the link `link` (both relative to
/// the destination, `/`-separated) and returns the resolved path ("" is the destination
/// itself). `is_link(prefix)` says whether an intermediate path is another link entry.
pub(crate) fn resolve_target(
    link: &str,
    target: &str,
    is_link: impl Fn(&str) -> bool,
) -> Result<String, TargetProblem> {
    if target.is_empty() {
        return Err(TargetProblem::Name(NameProblem::EmptyComponent));
    }
    if target.contains('\0') {
        return Err(TargetProblem::Name(NameProblem::Nul));
    }
    if target.contains('\\') {
        return Err(TargetProblem::Name(NameProblem::Backslash));
    }
    if target.starts_with('/') {
        return Err(TargetProblem::Name(NameProblem::Absolute));
    }
    if has_drive(target) {
        return Err(TargetProblem::Name(NameProblem::DriveLetter));
    }
    let mut parts: Vec<&str> = link.split('/').collect();
    parts.pop();
    let components: Vec<&str> = target.split('/').collect();
    for (i, component) in components.iter().enumerate() {
        match *component {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(TargetProblem::Escapes);
                }
            }
            other => {
                parts.push(other);
                let more = components[i + 1..]
                    .iter()
                    .any(|c| !c.is_empty() && *c != ".");
                let prefix = parts.join("/");
                if more && is_link(&prefix) {
                    return Err(TargetProblem::ThroughLink(prefix));
                }
            }
        }
    }
    Ok(parts.join("/"))
}

/// A name with its control characters made visible, for error messages (entry names come
/// from the archive: untrusted).
pub(crate) fn shown(name: &[u8]) -> String {
    String::from_utf8_lossy(name)
        .chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

#[cfg(test)]
mod tests {
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
        ];
        for (name, problem) in cases {
            assert_eq!(check_entry_name(name), Err(*problem), "{}", shown(name));
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

    #[test]
    fn link_targets_resolve_against_the_link_directory() {
        let none = |_: &str| false;
        assert_eq!(resolve_target("a/l", "b", none), Ok("a/b".into()));
        assert_eq!(resolve_target("a/l", "../b", none), Ok("b".into()));
        assert_eq!(resolve_target("a/l", "..", none), Ok(String::new()));
        assert_eq!(resolve_target("l", "./x/./y", none), Ok("x/y".into()));
        assert_eq!(resolve_target("l", "..", none), Err(TargetProblem::Escapes));
        assert_eq!(
            resolve_target("a/l", "../../x", none),
            Err(TargetProblem::Escapes)
        );
        assert_eq!(
            resolve_target("a/l", "b/../../..", none),
            Err(TargetProblem::Escapes)
        );
        assert_eq!(
            resolve_target("l", "/etc", none),
            Err(TargetProblem::Name(NameProblem::Absolute))
        );
        assert_eq!(
            resolve_target("l", "C:/x", none),
            Err(TargetProblem::Name(NameProblem::DriveLetter))
        );
        assert_eq!(
            resolve_target("l", "..\\x", none),
            Err(TargetProblem::Name(NameProblem::Backslash))
        );
        assert_eq!(
            resolve_target("l", "", none),
            Err(TargetProblem::Name(NameProblem::EmptyComponent))
        );
    }

    #[test]
    fn a_target_through_another_link_is_refused() {
        // d/l1 -> .. is inside; d/l2 -> l1/.. would really be the destination's parent.
        let links = |p: &str| p == "d/l1";
        assert_eq!(resolve_target("d/l1", "..", links), Ok(String::new()));
        assert_eq!(
            resolve_target("d/l2", "l1/..", links),
            Err(TargetProblem::ThroughLink("d/l1".into()))
        );
        // Naming the link itself as the last component is a chain, each link checked alone.
        assert_eq!(resolve_target("d/l2", "l1", links), Ok("d/l1".into()));
    }

    #[test]
    fn shown_makes_control_characters_visible() {
        assert_eq!(shown(b"a\nb\x1b[31m"), "a\\nb\\u{1b}[31m");
        assert_eq!(shown("é".as_bytes()), "é");
    }
}
