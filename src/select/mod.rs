//! Stage 1, select: the `path` input -> a [`Selection`] of files under one root directory,
//! with upload-artifact's rules (`src/shared/search.ts` over `@actions/glob`).

mod minimatch;
mod pattern;
mod walk;

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::events::{Event, Reporter};
use pattern::Pattern;

/// Characters upload-artifact refuses in the relative path of a file in an artifact.
pub(crate) const FORBIDDEN_PATH_CHARS: &[char] = &['"', ':', '<', '>', '|', '*', '?', '\r', '\n'];

/// What the selector needs.
#[derive(Debug, Clone)]
pub struct SelectOptions<'a> {
    /// The `path` input: patterns, one per line.
    pub patterns: &'a str,
    /// Directory that relative patterns start from (the workspace).
    pub cwd: &'a Path,
    /// Home directory for `~`.
    pub home: Option<&'a Path>,
    /// `include-hidden-files`.
    pub include_hidden: bool,
    /// Refuse relative paths the artifact service rejects (an artifact destination is set).
    pub artifact_paths: bool,
}

/// One selected file.
///
/// Kept small because a selection can hold a million of them (issue 12's bound is
/// 256 MiB for the whole run): one allocation holds the absolute path and, after a NUL
/// (which no path can contain), a preserved link's target; the relative name is the
/// path's tail, as upload-artifact computes it. 24 bytes here, the size of the `String`
/// the walk found it as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectedFile {
    text: Box<str>,
    rel_start: u32,
    path_end: u32,
}

impl SelectedFile {
    /// A file found at `path` (`/`-separated, as the walk finds it), named relative to
    /// `root` the way upload-artifact names it.
    #[must_use]
    pub(crate) fn new(path: String, root: &str, link: Option<String>) -> Self {
        // Paths are bounded by the platform (4 KiB on Linux, 32 Ki UTF-16 units on
        // Windows): far inside u32.
        let offset = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let rel_start = offset(path.len() - relative(root, &path).len());
        let path_end = offset(path.len());
        let mut text = path;
        if let Some(target) = link {
            text.reserve_exact(1 + target.len());
            text.push('\0');
            text.push_str(&target);
        }
        SelectedFile {
            text: text.into_boxed_str(),
            rel_start,
            path_end,
        }
    }

    /// Absolute path as found (through links, not resolved).
    #[must_use]
    pub fn path(&self) -> &Path {
        Path::new(self.path_text())
    }

    fn path_text(&self) -> &str {
        self.text
            .get(..self.path_end as usize)
            .unwrap_or(&self.text)
    }

    /// Path relative to the root, `/`-separated: the name in every destination.
    #[must_use]
    pub(crate) fn rel(&self) -> &str {
        self.path_text()
            .get(self.rel_start as usize..)
            .unwrap_or_default()
    }

    /// With `symlinks: preserve`, the target of a selected symbolic link (shipped as a
    /// link); `None` for a regular file (or any file when links are followed).
    #[must_use]
    pub(crate) fn link(&self) -> Option<&str> {
        self.text.get(self.path_end as usize + 1..)
    }
}

/// The selected files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Root directory: relative paths start here.
    pub root: PathBuf,
    /// Search paths of the positive patterns (whether they exist or not).
    pub search_paths: Vec<PathBuf>,
    /// Files, sorted by relative path.
    pub files: Vec<SelectedFile>,
    /// Lines of `path` (positive patterns) that match no selected file, as written.
    pub(crate) unmatched: Vec<String>,
}

/// Why selection failed.
#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    /// A line of `path` is not a valid pattern.
    #[error("input `path`: {0}")]
    Pattern(String),
    /// A directory or link could not be read.
    #[error("cannot read `{path}`: {source}")]
    Io {
        /// The path being read.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A preserved link leads outside the root directory (or is absolute), alone or
    /// through other shipped links: it would dangle, or lead out of the destination,
    /// wherever it is restored.
    #[error(
        "`{rel}` is a symbolic link to `{target}`, which {reason} (the root directory is `{root}`); with `symlinks: preserve` a link must point inside what is shipped: exclude it with a `!` pattern in `path`, or use `symlinks: follow` to ship what it points to"
    )]
    LinkEscapes {
        /// The link, relative (escaped for display).
        rel: String,
        /// Its target (escaped for display).
        target: String,
        /// Why, as resolved against the shipped tree.
        reason: String,
        /// The root directory.
        root: String,
    },
    /// With `symlinks: preserve` into an artifact, a name holding `\`: the zip stores it
    /// with `/` (as upload-artifact does), so it would lie elsewhere than where its links
    /// were checked.
    #[error(
        "`{rel}` holds a backslash, which becomes `/` in an artifact's zip; with `symlinks: preserve` that would move it (and what its links lead to) away from where they were checked: rename it, exclude it with a `!` pattern in `path`, or use `symlinks: follow`"
    )]
    LinkedBackslash {
        /// The relative path (escaped for display).
        rel: String,
    },
    /// A selected file has a name the artifact service refuses.
    #[error(
        "`{rel}` cannot be stored in an artifact: paths must not contain \" : < > | * ? or line breaks; exclude it with a `!` pattern in `path` or rename it"
    )]
    ForbiddenPath {
        /// The relative path (escaped for display).
        rel: String,
    },
}

/// Selects files (symbolic links followed, as upload-artifact does).
pub fn select(
    options: &SelectOptions<'_>,
    reporter: &dyn Reporter,
) -> Result<Selection, SelectError> {
    select_links(options, false, reporter)
}

/// As [`select`]; with `preserve_links` (`symlinks: preserve`) a selected symbolic link is
/// kept as a link ([`SelectedFile::link`]) and must point inside the root directory.
pub(crate) fn select_links(
    options: &SelectOptions<'_>,
    preserve_links: bool,
    reporter: &dyn Reporter,
) -> Result<Selection, SelectError> {
    let mut patterns = Vec::new();
    let mut lines = Vec::new();
    for line in options.patterns.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        patterns
            .push(Pattern::parse(line, options.cwd, options.home).map_err(SelectError::Pattern)?);
        lines.push(line);
    }
    let search_paths = walk::search_paths(&patterns);
    let mut all = Vec::with_capacity(patterns.len() * 2);
    for p in &patterns {
        all.push(p.clone());
        all.extend(p.implicit_descendants());
    }
    for sp in &search_paths {
        reporter.event(&Event::debug(format!("search path `{}`", native(sp))));
    }
    // The implicit `<pattern>/**` companions keep their pattern's literal prefix, so the
    // search paths of `all` are those of `patterns`: computed once, used for both the walk
    // and the root directory.
    let found = walk::walk(
        &all,
        &search_paths,
        options.include_hidden,
        preserve_links,
        reporter,
    )?;
    let unmatched = unmatched_lines(&patterns, &lines, &found);

    let root = root_directory(&search_paths, &found)
        .unwrap_or_else(|| options.cwd.to_string_lossy().into_owned());
    let forbidden = |rel: &str| {
        if options.artifact_paths && rel.contains(FORBIDDEN_PATH_CHARS) {
            Err(SelectError::ForbiddenPath {
                rel: rel.escape_debug().to_string(),
            })
        } else {
            Ok(())
        }
    };
    let mut files = Vec::with_capacity(found.len());
    if preserve_links {
        for path in found {
            let rel = relative(&root, &path);
            forbidden(rel)?;
            let link = link_target(&root, &path, rel)?;
            files.push(SelectedFile::new(path, &root, link));
        }
    } else {
        // On the pool: one thread spent 6-9 ms here per 100,000 files while the others
        // waited for the scan to start. The first offending name in walk order is named.
        if options.artifact_paths
            && let Some(error) = found
                .par_iter()
                .find_map_first(|path| forbidden(relative(&root, path)).err())
        {
            return Err(error);
        }
        found
            .into_par_iter()
            .map(|path| SelectedFile::new(path, &root, None))
            .collect_into_vec(&mut files);
    }
    // The walk sorts each directory (see `walk::walk_order`), so this is usually one
    // check, on the pool (each name read is a cache miss); several search paths, links
    // to directories or names outside the root need the sort, on the pool too (with
    // 100,000 files either was a visible serial step).
    if !files.par_windows(2).all(|w| w[0].rel() <= w[1].rel()) {
        files.par_sort_unstable_by(|a, b| a.rel().cmp(b.rel()));
    }
    if preserve_links {
        if options.artifact_paths
            && let Some(file) = files.iter().find(|f| f.rel().contains('\\'))
        {
            return Err(SelectError::LinkedBackslash {
                rel: file.rel().escape_debug().to_string(),
            });
        }
        check_links(&files, &root)?;
    }
    report_case_collisions(&files, reporter);
    let selection = Selection {
        root: PathBuf::from(native(&root).as_ref()),
        search_paths: search_paths
            .iter()
            .map(|p| PathBuf::from(native(p).as_ref()))
            .collect(),
        files,
        unmatched,
    };
    announce(&selection, reporter);
    Ok(selection)
}

/// The positive lines no selected file matches (itself, or as a directory through its
/// implicit `/**`): what `fail-on-unmatched-files` names.
fn unmatched_lines(patterns: &[Pattern], lines: &[&str], found: &[String]) -> Vec<String> {
    patterns
        .iter()
        .zip(lines)
        .filter(|(p, _)| !p.negate)
        .filter(|(p, _)| {
            let implicit = p.implicit_descendants();
            !found.iter().any(|f| {
                let item = pattern::ItemPath::new(f);
                p.match_item(&item) != pattern::MATCH_NONE
                    || implicit
                        .as_ref()
                        .is_some_and(|i| i.match_item(&item) != pattern::MATCH_NONE)
            })
        })
        .map(|(_, line)| (*line).to_owned())
        .collect()
}

/// File names listed in the log before "…and N more".
const LISTED_FILES: usize = 20;

/// upload-artifact's line about what will be uploaded, then the first names, fenced (they
/// are untrusted text).
fn announce(selection: &Selection, reporter: &dyn Reporter) {
    reporter.event(&Event::info(format!(
        "With the provided path, there will be {} file(s) uploaded from `{}`",
        selection.files.len(),
        selection.root.display()
    )));
    let mut listing: Vec<String> = selection
        .files
        .iter()
        .take(LISTED_FILES)
        .map(|f| format!("  {}", f.rel()))
        .collect();
    if selection.files.len() > LISTED_FILES {
        let more = (selection.files.len() - LISTED_FILES) as u64;
        listing.push(format!("  …and {} more", crate::units::count(more)));
    }
    reporter.listing(&listing);
}

/// upload-artifact logs paths that differ only in case (they collide on case-insensitive
/// file systems). Each lower-cased path is keyed on every core, the keys sorted, and
/// only equal neighbours compared: done one file at a time into a hash map, this was a
/// serial step of 15 ms per 100,000 files between the walk and the scan.
fn report_case_collisions(files: &[SelectedFile], reporter: &dyn Reporter) {
    let Ok(count) = u32::try_from(files.len()) else {
        return;
    };
    let mut keyed: Vec<(u64, u32)> = files
        .par_iter()
        .zip(0..count)
        .map_init(String::new, |lower, (file, i)| {
            lower.clear();
            let rel = file.rel();
            if rel.is_ascii() {
                lower.push_str(rel);
                lower.make_ascii_lowercase();
            } else {
                lower.extend(rel.chars().flat_map(char::to_lowercase));
            }
            // CRC-32 and length as the key: a few times cheaper than SipHash; names with
            // equal keys are compared in full below.
            let crc = u64::from(crc32fast::hash(lower.as_bytes()));
            ((lower.len() as u64) << 32 | crc, i)
        })
        .collect();
    keyed.par_sort_unstable();
    // (later, first) pairs, reported in path order as a serial pass would find them.
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    for run in keyed
        .chunk_by(|a, b| a.0 == b.0)
        .filter(|run| run.len() > 1)
    {
        // Names sharing a key are grouped by the whole folded name: a run can mix two
        // groups (CRC-32 collisions can be made on purpose), and each is reported apart.
        let mut folded: Vec<(String, usize)> = run
            .iter()
            .map(|&(_, i)| (files[i as usize].rel().to_lowercase(), i as usize))
            .collect();
        folded.sort_unstable();
        for same in folded.chunk_by(|a, b| a.0 == b.0) {
            let first = same[0].1;
            pairs.extend(same[1..].iter().map(|&(_, later)| (later, first)));
        }
    }
    pairs.sort_unstable();
    for (later, first) in pairs {
        reporter.event(&Event::info(format!(
            "`{}` differs from `{}` only in case; on case-insensitive systems one will overwrite the other",
            files[later].rel(),
            files[first].rel()
        )));
    }
}

/// A path as this module holds it (`/`-separated, `D:/a/dist` on Windows: see
/// [`pattern::to_slashes`]) in the platform's own spelling, for what people read (the log,
/// the summary, the manifest's `root`): `D:\a\dist` on Windows, not `D:\a/dist`.
pub(crate) fn native(path: &str) -> std::borrow::Cow<'_, str> {
    if cfg!(windows) {
        path.replace('/', "\\").into()
    } else {
        path.into()
    }
}

/// upload-artifact's root directory: the common ancestor of several search paths; the
/// parent of a single literal file; else the one search path.
fn root_directory(search_paths: &[String], files: &[String]) -> Option<String> {
    match search_paths {
        [] => None,
        [only] if files.len() == 1 && files[0] == *only => walk::parent_of(only).map(str::to_owned),
        [only] => Some(only.clone()),
        several => {
            let split: Vec<Vec<&str>> = several.iter().map(|p| p.split('/').collect()).collect();
            let shortest = split.iter().map(Vec::len).min().unwrap_or(0);
            let common = (0..shortest)
                .take_while(|&i| split.iter().all(|s| s[i] == split[0][i]))
                .count();
            // `/w/a` and `/x` share `[""]`, the root; on Windows `D:/a/x` and `D:/a/y`
            // share `D:/a` (no leading `/`).
            let joined = split[0][..common].join("/");
            Some(if joined.is_empty() {
                "/".to_owned()
            } else {
                joined
            })
        }
    }
}

/// The target of `path` if it is a symbolic link, checked to stay inside `root` when
/// resolved by name from the link's own directory (as `stevedore download` checks it).
fn link_target(root: &str, path: &str, rel: &str) -> Result<Option<String>, SelectError> {
    let io = |source| SelectError::Io {
        path: PathBuf::from(path),
        source,
    };
    if !std::fs::symlink_metadata(path)
        .map_err(io)?
        .file_type()
        .is_symlink()
    {
        return Ok(None);
    }
    let target = std::fs::read_link(path)
        .map_err(io)?
        .into_os_string()
        .into_string()
        .map_err(|_| {
            io(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the link target is not valid UTF-8",
            ))
        })?;
    if let Err(problem) = crate::tree_path::check_link_syntax(&target) {
        return Err(SelectError::LinkEscapes {
            rel: rel.escape_debug().to_string(),
            target: target.escape_debug().to_string(),
            reason: format!("{problem}"),
            root: root.to_owned(),
        });
    }
    Ok(Some(target))
}

/// Every preserved link resolved against the tree that ships (the selection: its files,
/// its links, the directories they imply), with the same resolver the download applies
/// to what it restores: links on the way are followed, and no step may leave the root
/// (issue 19 item 5: two links each inside alone can lead out together).
fn check_links(files: &[SelectedFile], root: &str) -> Result<(), SelectError> {
    use crate::tree_path::{LinkProblem, Node, resolve_link};
    let mut lookup = |prefix: &str| -> Result<Node, std::convert::Infallible> {
        let at = files.partition_point(|f| f.rel() < prefix);
        if let Some(f) = files.get(at).filter(|f| f.rel() == prefix) {
            return Ok(f.link().map_or(Node::File, |t| Node::Link(t.to_owned())));
        }
        // `a-b` sorts between `a` and `a/b`: look from where `a/` would be.
        let dir = format!("{prefix}/");
        let first_below = files.partition_point(|f| f.rel() < dir.as_str());
        let below = files
            .get(first_below)
            .is_some_and(|f| f.rel().starts_with(dir.as_str()));
        Ok(if below { Node::Dir } else { Node::Missing })
    };
    for file in files {
        let Some(target) = file.link() else { continue };
        resolve_link(file.rel(), target, &mut lookup).map_err(|problem| {
            let reason = match problem.shown_with(|n| n.escape_debug().to_string()) {
                LinkProblem::Escapes { via: None } => "leads outside the root directory".into(),
                LinkProblem::Escapes { via: Some(via) } => format!(
                    "passes through the shipped link `{via}` and so leads outside the root directory"
                ),
                LinkProblem::ThroughMissing(prefix) => format!(
                    "climbs back out of `{prefix}`, which is not a shipped directory"
                ),
                LinkProblem::TooManyLinks => "passes through a loop of links".into(),
                LinkProblem::IntoGit(prefix) => {
                    format!("leads into the `.git` directory `{prefix}`")
                }
                LinkProblem::Name(problem) => format!("{problem}"),
                LinkProblem::Lookup(never) => match never {},
            };
            SelectError::LinkEscapes {
                rel: file.rel().escape_debug().to_string(),
                target: target.escape_debug().to_string(),
                reason,
                root: root.to_owned(),
            }
        })?;
    }
    Ok(())
}

/// upload-artifact removes the root as a plain string prefix; always a tail of `path`.
fn relative<'p>(root: &str, path: &'p str) -> &'p str {
    path.strip_prefix(root)
        .unwrap_or(path)
        .trim_start_matches('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_rules() {
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            root_directory(&s(&["/w/a/b", "/w/a/c"]), &[]),
            Some("/w/a".into())
        );
        assert_eq!(root_directory(&s(&["/w/a", "/x"]), &[]), Some("/".into()));
        // Windows search paths start with their drive, not `/`.
        assert_eq!(
            root_directory(&s(&["D:/a/x", "D:/a/y/z"]), &[]),
            Some("D:/a".into())
        );
        assert_eq!(
            root_directory(&s(&["/w/f.txt"]), &s(&["/w/f.txt"])),
            Some("/w".into())
        );
        assert_eq!(
            root_directory(&s(&["/w/d"]), &s(&["/w/d/f.txt"])),
            Some("/w/d".into())
        );
        assert_eq!(relative("/w/d", "/w/d/f.txt"), "f.txt");
        assert_eq!(relative("/", "/f.txt"), "f.txt");
    }

    /// ASCII names are lower-cased byte-wise, others character-wise: a pure-ASCII name
    /// and a non-ASCII one that lower-case alike (KELVIN SIGN -> `k`) must still meet.
    #[test]
    fn case_collisions_across_ascii_and_unicode() {
        let file = |rel: &str| SelectedFile::new(format!("/w/{rel}"), "/w", None);
        let files = [file("Kit.txt"), file("\u{212A}IT.txt"), file("other.txt")];
        let reporter = crate::events::MemoryReporter::default();
        report_case_collisions(&files, &reporter);
        let events = reporter.events();
        assert_eq!(events.len(), 1, "{events:?}");
        assert!(events[0].message.contains("`Kit.txt`"), "{events:?}");
    }

    /// A name whose key collides with a real pair's (CRC-32 of `buckeroo` and `plumless`
    /// are equal, and so are their lengths) does not hide the pair.
    #[test]
    fn a_key_collision_does_not_hide_a_case_collision() {
        assert_eq!(crc32fast::hash(b"buckeroo"), crc32fast::hash(b"plumless"));
        let file = |rel: &str| SelectedFile::new(format!("/w/{rel}"), "/w", None);
        let files = [file("Buckeroo"), file("Plumless"), file("plumless")];
        let reporter = crate::events::MemoryReporter::default();
        report_case_collisions(&files, &reporter);
        let said: Vec<String> = reporter.events().into_iter().map(|e| e.message).collect();
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(
            said[0].starts_with("`plumless` differs from `Plumless` only in case"),
            "{said:?}"
        );
    }

    /// Path, relative name and link target come back from the one allocation, the
    /// relative name by upload-artifact's rule (root removed as a string prefix), and a
    /// selected file stays three words.
    #[test]
    fn a_selected_file_keeps_its_path_name_and_link() {
        let plain = SelectedFile::new("/w/d/f.txt".into(), "/w", None);
        assert_eq!(plain.path(), Path::new("/w/d/f.txt"));
        assert_eq!(plain.rel(), "d/f.txt");
        assert_eq!(plain.link(), None);
        let link = SelectedFile::new("/w/d/l".into(), "/w/", Some("../f.txt".into()));
        assert_eq!(link.path(), Path::new("/w/d/l"));
        assert_eq!(link.rel(), "d/l");
        assert_eq!(link.link(), Some("../f.txt"));
        let outside = SelectedFile::new("/x/f".into(), "/w", None);
        assert_eq!(outside.rel(), "x/f");
        assert_eq!(SelectedFile::new("/".into(), "/", None).rel(), "");
        assert_eq!(std::mem::size_of::<SelectedFile>(), 24);
    }

    /// Several collisions come out in path order, each naming the first of its names,
    /// however the parallel hashing ordered them.
    #[test]
    fn case_collisions_are_reported_in_path_order() {
        let file = |rel: &str| SelectedFile::new(format!("/w/{rel}"), "/w", None);
        let mut names: Vec<String> = (0..500).map(|i| format!("d/f{i:04}.txt")).collect();
        names.extend(["d/F0007.txt", "d/F0400.TXT", "d/f0007.TXT"].map(str::to_owned));
        names.sort();
        let files: Vec<SelectedFile> = names.iter().map(|n| file(n)).collect();
        let reporter = crate::events::MemoryReporter::default();
        report_case_collisions(&files, &reporter);
        let said: Vec<String> = reporter.events().into_iter().map(|e| e.message).collect();
        // Sorted: d/F0007.txt < d/F0400.TXT < d/f0007.TXT < d/f0007.txt < ...
        let expected = [
            ("d/f0007.TXT", "d/F0007.txt"),
            ("d/f0007.txt", "d/F0007.txt"),
            ("d/f0400.txt", "d/F0400.TXT"),
        ]
        .map(|(later, first)| {
            format!("`{later}` differs from `{first}` only in case; on case-insensitive systems one will overwrite the other")
        });
        assert_eq!(said, expected);
    }
}
