//! One line of the `path` input, parsed and matched the way `@actions/glob` 0.6 does it
//! (`internal-pattern.js`); the segment matching it calls is minimatch's, in
//! [`super::minimatch`] (options `dot`, `nobrace`, `noext`, `nocomment`, `nonegate`,
//! case-sensitive).
//!
//! Why a port and not `globset`: upload-artifact's behaviour is defined by this code,
//! quirks included (the implicit `/**`, partial matching during traversal, a trailing `**`
//! needing at least one more segment, literal `[` when a class does not close). Users move
//! workflows over from upload-artifact and expect the same files; the integration tests run
//! the real `@actions/glob` on the same trees to hold this module to that.

use std::path::Path;

use super::minimatch::{Part, compile_part, is_dot, match_one};

/// How an item matched (`internal-match-kind.js`): a bit set.
pub(crate) type MatchKind = u8;
/// Matched nothing.
pub(crate) const MATCH_NONE: MatchKind = 0;
/// Matches directories only (pattern with a trailing `/`).
pub(crate) const MATCH_DIRECTORY: MatchKind = 1;
/// Matches files only.
pub(crate) const MATCH_FILE: MatchKind = 2;
/// Matches both.
pub(crate) const MATCH_ALL: MatchKind = 3;

/// A parsed pattern line.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    /// Lines starting with `!` exclude.
    pub(crate) negate: bool,
    /// Segments of the absolute pattern, root first (`/`), still glob-escaped.
    pub(crate) segments: Vec<String>,
    /// The pattern ended in `/`: it matches directories only.
    pub(crate) trailing_separator: bool,
    /// The literal directory before the first wildcard segment.
    pub(crate) search_path: String,
    /// Added by stevedore for `implicitDescendants` (`<pattern>/**`).
    is_implicit: bool,
    /// First literal segment, for partial matches of the root itself.
    root_literal: String,
    /// The compiled minimatch set for the whole absolute pattern.
    parts: Vec<Part>,
    /// The same pattern when its whole match can be decided on the path text.
    shape: Shape,
}

/// Patterns whose match is a comparison of the path text with their literal prefix.
/// Nearly every `path` line is one (`dist` and its implicit `dist/**`, `out/**`), and the
/// walk matches every item it meets against every pattern: split into segments and
/// compared one segment at a time, that was most of the walk's own time (100,000 files:
/// a third of the selection stage).
#[derive(Debug, Clone)]
enum Shape {
    /// Literal segments only, joined by `/`: matches exactly that path.
    Literal(String),
    /// Literal segments (joined by `/`, not empty) then `**`: matches what lies below.
    Below(String),
    /// Anything else: compared segment by segment.
    General,
}

impl Shape {
    fn of(parts: &[Part]) -> Shape {
        let literal = |parts: &[Part]| -> Option<String> {
            let texts: Option<Vec<&str>> = parts
                .iter()
                .map(|p| match p {
                    Part::Literal(s) => Some(s.as_str()),
                    _ => None,
                })
                .collect();
            texts.map(|t| t.join("/"))
        };
        match parts.split_last() {
            Some((Part::GlobStar, head)) if !head.is_empty() => match literal(head) {
                // An empty prefix is the root (`/**`), which also matches `/` itself.
                Some(prefix) if !prefix.is_empty() => Shape::Below(prefix),
                _ => Shape::General,
            },
            Some(_) => literal(parts).map_or(Shape::General, Shape::Literal),
            None => Shape::General,
        }
    }

    /// minimatch's verdict for `path` (already without a trailing `/`), or `None` when
    /// it takes the segments. `slash`: the item is seen with a trailing `/` (an explicit
    /// trailing `**`), which makes the directory itself match too.
    fn matches(&self, path: &str, slash: bool) -> Option<bool> {
        // `ItemPath::new` strips one trailing `/`; a path still ending in one (never built by
        // the walk) has an empty last segment, which the segments decide.
        if path.len() > 1 && path.ends_with('/') {
            return None;
        }
        match self {
            Shape::General => None,
            // The `slash` view only adds an empty last segment, which minimatch lets go
            // unmatched after the last literal: the same answer either way.
            Shape::Literal(literal) => Some(path == literal),
            Shape::Below(prefix) => {
                let Some(rest) = path.strip_prefix(prefix.as_str()) else {
                    return Some(false);
                };
                Some(match rest.strip_prefix('/') {
                    // `**` matches one or more segments, none of them `.` or `..`.
                    Some(rest) => !rest.split('/').any(is_dot),
                    // The prefix itself: only as `prefix/`, whose empty last segment
                    // `**` matches.
                    None => rest.is_empty() && slash,
                })
            }
        }
    }
}

impl Pattern {
    /// Parses one trimmed, non-comment line. `cwd` resolves relative patterns, `home`
    /// expands a leading `~`.
    pub(crate) fn parse(line: &str, cwd: &Path, home: Option<&Path>) -> Result<Pattern, String> {
        let mut pattern = line.trim();
        let mut negate = false;
        while let Some(rest) = pattern.strip_prefix('!') {
            negate = !negate;
            pattern = rest.trim();
        }
        let fixed = fixup_pattern(pattern, cwd, home)?;
        Ok(Pattern::from_absolute(negate, false, &fixed))
    }

    /// The `<pattern>/**` companion that `implicitDescendants` adds, or `None` when the
    /// pattern already ends in `**` (and has no trailing `/`).
    pub(crate) fn implicit_descendants(&self) -> Option<Pattern> {
        if !self.trailing_separator && self.segments.last().is_some_and(|s| s == "**") {
            return None;
        }
        let mut segments = self.segments.clone();
        segments.push("**".to_owned());
        Some(Pattern::from_absolute(
            self.negate,
            true,
            &join_segments(&segments),
        ))
    }

    fn from_absolute(negate: bool, is_implicit: bool, pattern: &str) -> Pattern {
        let segments = path_segments(pattern);
        let trailing_separator = normalize_separators(pattern).ends_with('/');
        let pattern = safe_trim_trailing_separator(pattern);
        let search_segments: Vec<String> = segments
            .iter()
            .map(|s| literal(s))
            .take_while(|s| !s.is_empty())
            .collect();
        let root_literal = search_segments.first().cloned().unwrap_or_default();
        let search_path = join_segments(&search_segments);
        let parts: Vec<Part> = pattern.split('/').map(compile_part).collect();
        let shape = Shape::of(&parts);
        Pattern {
            negate,
            segments,
            trailing_separator,
            search_path,
            is_implicit,
            root_literal,
            parts,
            shape,
        }
    }

    /// `Pattern.match`: how this pattern matches an absolute item path.
    #[cfg(test)]
    pub(crate) fn match_kind(&self, item: &str) -> MatchKind {
        self.match_item(&ItemPath::new(item))
    }

    /// `Pattern.match` on a pre-split item.
    pub(crate) fn match_item(&self, item: &ItemPath<'_>) -> MatchKind {
        // minimatch needs `/foo/` to match `/foo/**`, so an explicit trailing `**` sees the
        // item with a trailing slash (and then also matches the directory itself).
        let slash = !self.is_implicit && self.segments.last().is_some_and(|s| s == "**");
        let matched = self.shape.matches(item.path, slash).unwrap_or_else(|| {
            let file = if slash {
                item.with_slash()
            } else {
                item.plain()
            };
            match_one(file, &self.parts, false)
        });
        if matched {
            if self.trailing_separator {
                MATCH_DIRECTORY
            } else {
                MATCH_ALL
            }
        } else {
            MATCH_NONE
        }
    }

    /// `Pattern.partialMatch`: whether descendants of the item may match.
    #[cfg(test)]
    pub(crate) fn partial_match(&self, item: &str) -> bool {
        self.partial_item(&ItemPath::new(item))
    }

    /// `Pattern.partialMatch` on a pre-split item.
    pub(crate) fn partial_item(&self, item: &ItemPath<'_>) -> bool {
        if item.is_root() {
            return "/".starts_with(&self.root_literal);
        }
        match_one(item.plain(), &self.parts, true)
    }
}

/// An item path, split into segments at most once and shared by every pattern it is
/// matched against; not at all when every pattern has a [`Shape`] and one of them matches
/// (in the walk, `partial_item` is asked only of items no pattern matched). The segments
/// end with an extra `""`, the form minimatch sees for a trailing `/`.
pub(crate) struct ItemPath<'a> {
    /// Without a trailing `/` (but `/` itself).
    path: &'a str,
    segments: std::cell::OnceCell<Vec<&'a str>>,
}

impl<'a> ItemPath<'a> {
    /// A normalized absolute path (no `//`, no trailing `/`, as the walk builds them).
    pub(crate) fn new(path: &'a str) -> Self {
        let path = if path.len() > 1 {
            path.strip_suffix('/').unwrap_or(path)
        } else {
            path
        };
        ItemPath {
            path,
            segments: std::cell::OnceCell::new(),
        }
    }

    fn segments(&self) -> &[&'a str] {
        self.segments.get_or_init(|| {
            let mut segments: Vec<&str> = if self.path == "/" {
                vec!["", ""]
            } else {
                self.path.split('/').collect()
            };
            segments.push("");
            segments
        })
    }

    fn plain(&self) -> &[&'a str] {
        let segments = self.segments();
        &segments[..segments.len() - 1]
    }

    fn with_slash(&self) -> &[&'a str] {
        self.segments()
    }

    /// The segments are then `["", "", ""]`; no other path splits that way.
    fn is_root(&self) -> bool {
        self.path == "/"
    }
}

/// `Pattern.fixupPattern`: validates and makes the pattern absolute.
fn fixup_pattern(pattern: &str, cwd: &Path, home: Option<&Path>) -> Result<String, String> {
    let home = home.map(Path::to_string_lossy);
    fixup_on(
        pattern,
        &cwd.to_string_lossy(),
        home.as_deref(),
        cfg!(windows),
    )
}

/// [`fixup_pattern`] for Windows (`windows`) or a Unix, whatever this build's platform, so
/// the unit tests hold both. On Windows the paths are first put in the form the matching
/// takes ([`to_slashes`], [`windows_absolute`]).
fn fixup_on(pattern: &str, cwd: &str, home: Option<&str>, windows: bool) -> Result<String, String> {
    if windows {
        let cwd = to_slashes(cwd);
        let home = home.map(to_slashes);
        let pattern = windows_absolute(&to_slashes(pattern), &cwd)?;
        fixup_slashed(&pattern, &cwd, home.as_deref(), true)
    } else {
        fixup_slashed(pattern, cwd, home, false)
    }
}

/// A Windows path or pattern in the form this module matches: `\` is a separator there
/// (`@actions/glob` on Windows; wildcards are escaped with `[*]`, never `\`), so every one
/// becomes `/`: `D:\a\_temp/dist` (a `${{ runner.temp }}/dist` input) is `D:/a/_temp/dist`.
/// The standard library opens such paths as they are, so the walk and the scan need no
/// other form; [`super::native`] spells them back for messages.
pub(crate) fn to_slashes(path: &str) -> String {
    path.replace('\\', "/")
}

/// A drive-letter prefix, `D:`.
fn drive(path: &str) -> Option<&str> {
    let bytes = path.as_bytes();
    (bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':').then(|| &path[..2])
}

/// On Windows, where an absolute path starts with a drive (`D:/a`), makes the
/// root-relative form (`/a`) absolute on the working directory's drive, as Windows does;
/// refuses a drive-relative one (`D:a`: relative to a per-drive directory no runner sets).
fn windows_absolute(pattern: &str, cwd: &str) -> Result<String, String> {
    if let Some(d) = drive(pattern)
        && !pattern[2..].starts_with('/')
    {
        return Err(format!(
            "`{pattern}`: a drive-relative path; write `{d}/{}` or a path relative to the workspace",
            &pattern[2..]
        ));
    }
    Ok(if drive(pattern).is_none() && pattern.starts_with('/') {
        format!("{}{pattern}", drive(cwd).unwrap_or(""))
    } else {
        pattern.to_owned()
    })
}

/// [`fixup_pattern`] on `/`-separated text. An absolute pattern starts with `/`, or on
/// Windows with a drive (`D:/`).
fn fixup_slashed(
    pattern: &str,
    cwd: &str,
    home: Option<&str>,
    windows: bool,
) -> Result<String, String> {
    if pattern.is_empty() {
        return Err("a pattern is empty (a line with only `!`)".to_owned());
    }
    let literals: Vec<String> = path_segments(pattern).iter().map(|s| literal(s)).collect();
    if literals
        .iter()
        .enumerate()
        .any(|(i, s)| (s == "." && i != 0) || s == "..")
    {
        return Err(format!(
            "`{pattern}`: relative pathing `.` and `..` is not allowed"
        ));
    }
    let pattern = normalize_separators(pattern);
    let absolute = |p: &str| {
        p.starts_with('/') || (windows && drive(p).is_some_and(|_| p[2..].starts_with('/')))
    };
    let cwd = glob_escape(cwd);
    let fixed = if pattern == "." || pattern.starts_with("./") {
        format!("{cwd}{}", &pattern[1..])
    } else if pattern == "~" || pattern.starts_with("~/") {
        let home =
            home.ok_or_else(|| format!("`{pattern}`: cannot expand `~`: HOME is not set"))?;
        if !absolute(home) {
            return Err(format!(
                "`{pattern}`: HOME must be an absolute path, got `{home}`"
            ));
        }
        format!("{}{}", glob_escape(home), &pattern[1..])
    } else if absolute(&pattern) {
        pattern
    } else if cwd.ends_with('/') {
        format!("{cwd}{pattern}")
    } else {
        format!("{cwd}/{pattern}")
    };
    Ok(normalize_separators(&fixed))
}

/// Collapses runs of `/` (`pathHelper.normalizeSeparators` on POSIX).
pub(crate) fn normalize_separators(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    let mut prev_slash = false;
    for c in p.chars() {
        if c == '/' && prev_slash {
            continue;
        }
        prev_slash = c == '/';
        out.push(c);
    }
    out
}

/// Normalizes and drops one trailing `/`, except from the root itself.
pub(crate) fn safe_trim_trailing_separator(p: &str) -> String {
    let p = normalize_separators(p);
    if p.len() > 1 && p.ends_with('/') {
        p[..p.len() - 1].to_owned()
    } else {
        p
    }
}

/// The segments `new Path(pattern)` produces: `/` first for absolute paths.
fn path_segments(p: &str) -> Vec<String> {
    let p = safe_trim_trailing_separator(p);
    match p.strip_prefix('/') {
        None => p.split('/').map(str::to_owned).collect(),
        Some("") => vec!["/".to_owned()],
        Some(rest) => std::iter::once("/".to_owned())
            .chain(rest.split('/').map(str::to_owned))
            .collect(),
    }
}

/// `Path.toString()` of a segment list.
fn join_segments(segments: &[String]) -> String {
    let mut out = String::new();
    for (i, s) in segments.iter().enumerate() {
        if i > 0 && !out.ends_with('/') {
            out.push('/');
        }
        out.push_str(s);
    }
    out
}

/// `Pattern.globEscape` (POSIX): makes a literal path safe to prepend to a pattern.
fn glob_escape(s: &str) -> String {
    let chars: Vec<char> = s.replace('\\', "\\\\").chars().collect();
    let mut out = String::with_capacity(chars.len());
    for (i, &c) in chars.iter().enumerate() {
        match c {
            // `[` only when a `]` follows within the same segment, after at least one char.
            '[' if chars[i + 1..]
                .iter()
                .take_while(|&&c| c != '/')
                .skip(1)
                .any(|&c| c == ']') =>
            {
                out.push_str("[[]");
            }
            '?' => out.push_str("[?]"),
            '*' => out.push_str("[*]"),
            c => out.push(c),
        }
    }
    out
}

/// `Pattern.getLiteral`: the literal text of a segment, or `""` when it has a wildcard.
/// Backslash escapes and one-character classes such as `[a]` count as literal.
fn literal(segment: &str) -> String {
    let chars: Vec<char> = segment.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() {
            out.push(chars[i + 1]);
            i += 2;
            continue;
        }
        if c == '*' || c == '?' {
            return String::new();
        }
        if c == '[' && i + 1 < chars.len() {
            let mut set = String::new();
            let mut closed = None;
            let mut j = i + 1;
            while j < chars.len() {
                if chars[j] == '\\' && j + 1 < chars.len() {
                    set.push(chars[j + 1]);
                    j += 2;
                    continue;
                }
                if chars[j] == ']' {
                    closed = Some(j);
                    break;
                }
                set.push(chars[j]);
                j += 1;
            }
            if let Some(end) = closed {
                if set.chars().count() > 1 {
                    return String::new();
                }
                if !set.is_empty() {
                    out.push_str(&set);
                    i = end + 1;
                    continue;
                }
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pat(p: &str) -> Pattern {
        Pattern::parse(p, Path::new("/w"), Some(Path::new("/home/u"))).expect("valid pattern")
    }

    #[test]
    fn windows_paths_take_either_slash_and_a_drive_makes_them_absolute() {
        let fix = |p: &str| fixup_on(p, r"D:\a\repo", Some(r"C:\Users\u"), true);
        assert_eq!(fix("dist").as_deref(), Ok("D:/a/repo/dist"));
        assert_eq!(
            fix(r"dist\sub\*.txt").as_deref(),
            Ok("D:/a/repo/dist/sub/*.txt")
        );
        // `${{ runner.temp }}/out` on a Windows runner.
        assert_eq!(fix(r"D:\a\_temp/out").as_deref(), Ok("D:/a/_temp/out"));
        assert_eq!(fix("E:/x/**").as_deref(), Ok("E:/x/**"));
        assert_eq!(fix(r"\top").as_deref(), Ok("D:/top"));
        assert_eq!(fix("~/x").as_deref(), Ok("C:/Users/u/x"));
        assert_eq!(fix(r".\x").as_deref(), Ok("D:/a/repo/x"));
        assert!(fix("D:dist").is_err(), "drive-relative");
        assert!(fix(r"dist\..\x").is_err(), "`..` through a backslash");
        // The patterns made so select as on Unix: the search path is the literal prefix.
        let p = Pattern::from_absolute(false, false, &fix(r"D:\a\repo\dist\*.txt").expect("ok"));
        assert_eq!(p.search_path, "D:/a/repo/dist");
        assert_eq!(p.match_kind("D:/a/repo/dist/x.txt"), MATCH_ALL);
        assert_eq!(p.match_kind("D:/a/repo/x.txt"), MATCH_NONE);
        // On Unix a drive is a name like any other, and `\` part of a name.
        assert_eq!(
            fixup_on("D:/x", "/w", None, false).as_deref(),
            Ok("/w/D:/x")
        );
        assert_eq!(
            fixup_on(r"a\b", "/w", None, false).as_deref(),
            Ok(r"/w/a\b")
        );
    }

    #[test]
    fn search_paths() {
        assert_eq!(pat("dist").search_path, "/w/dist");
        assert_eq!(pat("dist/*.txt").search_path, "/w/dist");
        assert_eq!(pat("a/*/b/c?.txt").search_path, "/w/a");
        assert_eq!(pat("./x/[y]/z*").search_path, "/w/x/y");
        assert_eq!(pat("~/out/**").search_path, "/home/u/out");
        assert_eq!(pat("/abs/f.txt").search_path, "/abs/f.txt");
        assert_eq!(pat("**").search_path, "/w");
    }

    /// The text comparison of [`Shape`] gives minimatch's segment-by-segment verdict for
    /// every pattern and item here, both with and without the trailing `/` view.
    #[test]
    fn shapes_agree_with_the_segment_match() {
        let patterns = [
            "dist",
            "dist/",
            "dist/**",
            "dist/**/",
            "a/b/c",
            "a/b/**",
            "/",
            "/**",
            "/a",
            "/a/**",
            "d[i]st/**",
            "dist\\*x/**",
            "**",
            "*/x",
            "a/**/b",
            "a/*",
            "C:/x/**",
        ];
        let items = [
            "/",
            "/w",
            "/w/",
            "/w/dist",
            "/w/dist/",
            "/w/distx",
            "/w/dist/a",
            "/w/dist/a/b",
            "/w/dist/.",
            "/w/dist/./a",
            "/w/dist/a/..",
            "/w/dist/../x",
            "/w/dis",
            "/w/a/b/c",
            "/w/a/b",
            "/w/a/b/c/d",
            "/a",
            "/a/x",
            "/ab",
            "/w/dist*x/y",
            "/w/dist\\*x/y",
            "C:/x",
            "C:/x/y",
            "/w/dist//a",
            "/w/dist//",
            "//",
        ];
        let mut shaped = 0;
        for line in patterns {
            let p = pat(line);
            for implicit in [Some(p.clone()), p.implicit_descendants()]
                .into_iter()
                .flatten()
            {
                for path in items {
                    let item = ItemPath::new(path);
                    for slash in [false, true] {
                        let Some(fast) = implicit.shape.matches(item.path, slash) else {
                            continue;
                        };
                        shaped += 1;
                        let file = if slash {
                            item.with_slash()
                        } else {
                            item.plain()
                        };
                        let slow = match_one(file, &implicit.parts, false);
                        assert_eq!(
                            fast, slow,
                            "{:?} on {path:?}, slash {slash}",
                            implicit.segments
                        );
                    }
                }
            }
        }
        assert!(shaped > 300, "the shapes were exercised ({shaped})");
    }

    #[test]
    fn dots_are_refused() {
        for bad in ["../x", "a/../b", "a/./b", "!", "a/.."] {
            assert!(Pattern::parse(bad, Path::new("/w"), None).is_err(), "{bad}");
        }
        assert!(Pattern::parse("./a", Path::new("/w"), None).is_ok());
    }

    #[test]
    fn wildcards() {
        let p = pat("dist/*.txt");
        assert_eq!(p.match_kind("/w/dist/a.txt"), MATCH_ALL);
        assert_eq!(p.match_kind("/w/dist/.a.txt"), MATCH_ALL, "dot: true");
        assert_eq!(p.match_kind("/w/dist/sub/a.txt"), MATCH_NONE);
        assert!(p.partial_match("/w"));
        assert!(p.partial_match("/w/dist"));
        assert!(!p.partial_match("/w/other"));
        let p = pat("a/**/b.txt");
        assert_eq!(p.match_kind("/w/a/b.txt"), MATCH_ALL);
        assert_eq!(p.match_kind("/w/a/x/y/b.txt"), MATCH_ALL);
        assert_eq!(p.match_kind("/w/a/x/y/c.txt"), MATCH_NONE);
        let p = pat("f[0-9]?.bin");
        assert_eq!(p.match_kind("/w/f1x.bin"), MATCH_ALL);
        assert_eq!(p.match_kind("/w/fax.bin"), MATCH_NONE);
        let p = pat("f[!0-9].bin");
        assert_eq!(p.match_kind("/w/fa.bin"), MATCH_ALL);
        assert_eq!(p.match_kind("/w/f1.bin"), MATCH_NONE);
        let p = pat("lit[eral");
        assert_eq!(
            p.match_kind("/w/lit[eral"),
            MATCH_ALL,
            "unclosed [ is literal"
        );
        let p = pat("a\\*b");
        assert_eq!(p.match_kind("/w/a*b"), MATCH_ALL);
        assert_eq!(p.match_kind("/w/axb"), MATCH_NONE);
    }

    #[test]
    fn explicit_globstar_matches_the_directory_itself() {
        let p = pat("dist/**");
        assert_eq!(p.match_kind("/w/dist"), MATCH_ALL);
        assert!(p.implicit_descendants().is_none());
        let implicit = pat("dist").implicit_descendants().expect("added");
        assert_eq!(
            implicit.match_kind("/w/dist"),
            MATCH_NONE,
            "implicit patterns add no slash"
        );
        assert_eq!(implicit.match_kind("/w/dist/a/b"), MATCH_ALL);
    }

    #[test]
    fn trailing_slash_matches_directories() {
        let p = pat("dist/");
        assert!(p.trailing_separator);
        assert_eq!(p.match_kind("/w/dist"), MATCH_DIRECTORY);
        assert!(p.implicit_descendants().is_some());
    }

    #[test]
    fn escaping_of_the_working_directory() {
        assert_eq!(glob_escape("/a[b]/c*?"), "/a[[]b]/c[*][?]");
        assert_eq!(glob_escape("/a[/b]"), "/a[/b]");
        let p = Pattern::parse("x", Path::new("/we[ir]d"), None).expect("valid");
        assert_eq!(p.search_path, "/we[ir]d/x");
        assert_eq!(p.match_kind("/we[ir]d/x"), MATCH_ALL);
    }
}
