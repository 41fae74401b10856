//! The part of minimatch 3.1 that `@actions/glob` 0.6 relies on (`minimatch.js`): one
//! segment compiled (`parse`, with `nobrace`, `noext`, `dot`, case-sensitive) and a split
//! path matched against the compiled segments (`matchOne`, its globstar search included).
//! [`super::pattern`] ports `internal-pattern.js`, which calls into this.
//!
//! Known difference: `?` and classes match one Unicode scalar value, where JavaScript
//! matches one UTF-16 code unit; they differ only for characters outside the BMP.

use regex::Regex;

/// One segment of a compiled pattern.
#[derive(Debug, Clone)]
pub(super) enum Part {
    /// Compared exactly.
    Literal(String),
    /// A segment with wildcards; never matches an empty segment (minimatch's `(?=.)`).
    Regex(Regex),
    /// `**`: any number of segments.
    GlobStar,
}

impl Part {
    pub(super) fn matches(&self, segment: &str) -> bool {
        match self {
            Part::Literal(s) => s == segment,
            Part::Regex(re) => !segment.is_empty() && re.is_match(segment),
            Part::GlobStar => false,
        }
    }
}

/// minimatch's `parse` for one segment.
pub(super) fn compile_part(segment: &str) -> Part {
    if segment == "**" {
        return Part::GlobStar;
    }
    let chars: Vec<char> = segment.chars().collect();
    let mut re = String::from("^");
    let mut magic = false;
    let mut escaping = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if escaping {
            escaping = false;
            re.push_str(&regex::escape(c.encode_utf8(&mut [0; 4])));
        } else {
            match c {
                '\\' => escaping = true,
                '*' => {
                    // Consecutive stars coalesce.
                    if !re.ends_with("[^/]*") {
                        re.push_str("[^/]*");
                    }
                    magic = true;
                }
                '?' => {
                    re.push_str("[^/]");
                    magic = true;
                }
                '[' => {
                    if let Some((class, end)) = compile_class(&chars, i) {
                        re.push_str(&class);
                        magic = true;
                        i = end;
                    } else {
                        re.push_str("\\[");
                    }
                }
                c => re.push_str(&regex::escape(c.encode_utf8(&mut [0; 4]))),
            }
        }
        i += 1;
    }
    if escaping {
        re.push_str("\\\\");
    }
    if !magic {
        return Part::Literal(unescape(segment));
    }
    re.push('$');
    // Every piece above is escaped or a fixed construct, so this cannot fail; if it ever
    // did, a segment that matches nothing is minimatch's own fallback (`/$./`).
    Regex::new(&re).map_or_else(|_| Part::Literal(String::from("\0")), Part::Regex)
}

/// A bracket expression starting at `chars[start] == '['`: the regex class and the index
/// of the closing `]`, or `None` when it does not close or is not a valid class (then the
/// `[` is literal, as in minimatch).
fn compile_class(chars: &[char], start: usize) -> Option<(String, usize)> {
    let mut i = start + 1;
    let mut negated = false;
    if matches!(chars.get(i), Some('!' | '^')) {
        negated = true;
        i += 1;
    }
    let mut items: Vec<(char, char)> = Vec::new();
    let next = |i: &mut usize| -> Option<char> {
        let c = *chars.get(*i)?;
        if c == '\\' && *i + 1 < chars.len() {
            *i += 2;
            return Some(chars[*i - 1]);
        }
        *i += 1;
        Some(c)
    };
    loop {
        let c = *chars.get(i)?;
        // `]` closes, except as the very first character after `[`.
        if c == ']' && i != start + 1 {
            break;
        }
        let lo = next(&mut i)?;
        if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|&n| n != ']') {
            i += 1;
            let hi = next(&mut i)?;
            if hi < lo {
                return None;
            }
            items.push((lo, hi));
        } else {
            items.push((lo, lo));
        }
    }
    let class = if items.is_empty() {
        // `[!]` is JavaScript's `[^]`: any character.
        "(?s:.)".to_owned()
    } else {
        let body: String = items
            .iter()
            .map(|&(lo, hi)| {
                if lo == hi {
                    format!("\\x{{{:X}}}", lo as u32)
                } else {
                    format!("\\x{{{:X}}}-\\x{{{:X}}}", lo as u32, hi as u32)
                }
            })
            .collect();
        format!("[{}{body}]", if negated { "^" } else { "" })
    };
    Some((class, i))
}

/// minimatch's `globUnescape`.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\'
            && let Some(n) = chars.next()
        {
            out.push(n);
            continue;
        }
        out.push(c);
    }
    out
}

pub(super) fn is_dot(segment: &str) -> bool {
    segment == "." || segment == ".."
}

/// minimatch `matchOne`.
pub(super) fn match_one(file: &[&str], pattern: &[Part], partial: bool) -> bool {
    if pattern.iter().any(|p| matches!(p, Part::GlobStar)) {
        match_globstar(file, pattern, partial)
    } else {
        match_plain(file, pattern, partial, 0)
    }
}

/// minimatch `_matchOne` for patterns without `**`, comparing from `file[fi..]`.
fn match_plain(file: &[&str], pattern: &[Part], partial: bool, mut fi: usize) -> bool {
    let mut pi = 0;
    while fi < file.len() && pi < pattern.len() {
        if !pattern[pi].matches(file[fi]) {
            return false;
        }
        fi += 1;
        pi += 1;
    }
    if fi == file.len() && pi == pattern.len() {
        true
    } else if fi >= file.len() {
        partial
    } else {
        // Out of pattern with file left: only a final empty segment (a trailing `/`).
        fi == file.len() - 1 && file[fi].is_empty()
    }
}

/// minimatch 3.1's `_matchGlobstar` (head, body sections, tail).
fn match_globstar(file: &[&str], pattern: &[Part], partial: bool) -> bool {
    let is_gs = |p: &Part| matches!(p, Part::GlobStar);
    let (Some(first), Some(last)) = (
        pattern.iter().position(is_gs),
        pattern.iter().rposition(is_gs),
    ) else {
        return match_plain(file, pattern, partial, 0);
    };
    let head = &pattern[..first];
    let body = if partial {
        &pattern[first + 1..]
    } else {
        &pattern[first + 1..last.max(first + 1)]
    };
    let tail = if partial {
        &[][..]
    } else {
        &pattern[last + 1..]
    };

    let mut file_index = 0;
    if !head.is_empty() {
        let file_head = &file[..head.len().min(file.len())];
        if !match_plain(file_head, head, partial, 0) {
            return false;
        }
        file_index = head.len();
    }

    let mut tail_match = 0;
    if !tail.is_empty() {
        if tail.len() + file_index > file.len() {
            return false;
        }
        let tail_start = file.len() - tail.len();
        if match_plain(file, tail, partial, tail_start) {
            tail_match = tail.len();
        } else {
            // `a/**/*` matching `a/b/`.
            if file.last() != Some(&"") || file_index + tail.len() == file.len() {
                return false;
            }
            if !match_plain(file, tail, partial, tail_start - 1) {
                return false;
            }
            tail_match = tail.len() + 1;
        }
    }

    let file_len = file.len().saturating_sub(tail_match);
    if body.is_empty() {
        let mut saw_some = tail_match > 0;
        for segment in file.iter().take(file_len).skip(file_index) {
            saw_some = true;
            if is_dot(segment) {
                return false;
            }
        }
        return partial || saw_some;
    }

    let sections = body_sections(body, file_len);
    match_sections(file, &sections, file_index, 0, partial, 0, tail_match > 0) == Tri::True
}

/// The body of a pattern split at each `**` into sections, each with the last index of
/// the first `file_len` segments it may start at (computed exactly as minimatch computes
/// it).
fn body_sections(body: &[Part], file_len: usize) -> Vec<(&[Part], isize)> {
    let mut sections: Vec<(&[Part], isize)> = body
        .split(|p| matches!(p, Part::GlobStar))
        .map(|s| (s, 0))
        .collect();
    let mut sums = vec![0usize];
    let mut non_gs = 0usize;
    for section in &sections[..sections.len() - 1] {
        non_gs += section.0.len();
        sums.push(non_gs);
    }
    let file_len = isize::try_from(file_len).unwrap_or(isize::MAX);
    let mut idx = sections.len();
    for section in &mut sections {
        idx -= 1;
        let used = isize::try_from(sums[idx] + section.0.len()).unwrap_or(isize::MAX);
        section.1 = file_len - used;
    }
    sections
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tri {
    False,
    /// Not matching, and no point trying further (minimatch returns `null`).
    Stop,
    True,
}

/// minimatch's default `maxGlobstarRecursion`.
const MAX_GLOBSTAR_RECURSION: usize = 200;

/// minimatch `_matchGlobStarBodySections`.
fn match_sections(
    file: &[&str],
    sections: &[(&[Part], isize)],
    mut file_index: usize,
    body_index: usize,
    partial: bool,
    depth: usize,
    mut saw_tail: bool,
) -> Tri {
    let Some((body, after)) = sections.get(body_index) else {
        for segment in file.iter().skip(file_index) {
            saw_tail = true;
            if is_dot(segment) {
                return Tri::False;
            }
        }
        return if saw_tail { Tri::True } else { Tri::False };
    };
    while isize::try_from(file_index).unwrap_or(isize::MAX) <= *after {
        let end = (file_index + body.len()).min(file.len());
        let m = match_plain(&file[..end], body, partial, file_index);
        if m && depth < MAX_GLOBSTAR_RECURSION {
            let sub = match_sections(
                file,
                sections,
                file_index + body.len(),
                body_index + 1,
                partial,
                depth + 1,
                saw_tail,
            );
            if sub != Tri::False {
                return sub;
            }
        }
        if file.get(file_index).is_some_and(|s| is_dot(s)) {
            return Tri::False;
        }
        file_index += 1;
    }
    if partial { Tri::True } else { Tri::Stop }
}
