//! Credential scan of file contents and paths, before anything leaves the runner.
//!
//! A [`Finding`] records the rule, path, line and a short fingerprint (the first 12 hex
//! digits of the SHA-256 of the matched value) and never the value itself: nothing that
//! is printed, written or uploaded can carry it.

mod rules;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, Input, MatchKind};
use serde::Serialize;
use sha2::{Digest, Sha256};

pub(crate) use rules::Rule;
use rules::{ANCHORS, Hit, confirm, confirm_kind};
pub(crate) use rules::{FileKind, classify};

/// Bytes past a window's scan limit that must be in memory so every rule can be
/// confirmed (the longest is a JWT in an environment dump).
pub(crate) const LOOKAHEAD: usize = 16 * 1024;

/// One credential found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Finding {
    /// Rule id, e.g. `github-pat`.
    pub rule: &'static str,
    /// What the rule detects.
    pub description: &'static str,
    /// Relative path of the file.
    pub path: String,
    /// 1-based line of the match; `None` for findings on the path itself.
    pub line: Option<u64>,
    /// First 12 hex digits of SHA-256 of the matched value, to tell findings apart.
    pub fingerprint: String,
    /// Accepted by `secrets-allow`.
    pub allowed: bool,
}

/// A finding located by byte offset, before line numbers are known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawFinding {
    pub(crate) rule: Rule,
    /// Offset of the value in the file; `None` for path findings.
    pub(crate) offset: Option<u64>,
    pub(crate) fingerprint: String,
}

/// The compiled rules; built once, shared by every scanning thread.
#[derive(Debug)]
pub(crate) struct SecretScanner {
    anchors: AhoCorasick,
}

impl SecretScanner {
    /// Compiles the anchor automaton.
    #[must_use]
    pub(crate) fn new() -> Self {
        let anchors = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostFirst)
            .build(ANCHORS.iter().map(|(a, _)| a))
            .unwrap_or_else(|e| unreachable!("fixed anchor set builds: {e}"));
        SecretScanner { anchors }
    }

    /// Scans `window[from..]` for findings whose value starts before `to`. The caller
    /// keeps [`LOOKAHEAD`] bytes past `to` in the window unless the file ends there.
    /// `base` is the file offset of `window[0]`.
    pub(crate) fn scan_window(
        &self,
        window: &[u8],
        from: usize,
        to: usize,
        base: u64,
        kind: FileKind,
        out: &mut Vec<RawFinding>,
    ) {
        for m in self
            .anchors
            .find_iter(Input::new(window).span(from..window.len()))
        {
            if m.start() >= to {
                break;
            }
            let anchor = ANCHORS[m.pattern().as_usize()].1;
            if let Some(hit) = confirm(anchor, window, m.start(), m.end()) {
                out.push(raw(window, &hit, base));
            }
        }
        if matches!(kind, FileKind::GitConfig | FileKind::DockerConfig) {
            for hit in confirm_kind(kind, window) {
                if (from..to).contains(&hit.value.start) {
                    out.push(raw(window, &hit, base));
                }
            }
        }
    }

    /// Findings in the relative path itself: a token in a file name, or a risky name.
    pub(crate) fn scan_path(&self, rel: &str, kind: FileKind, out: &mut Vec<RawFinding>) {
        if let FileKind::Risky(rule) = kind {
            out.push(RawFinding {
                rule,
                offset: None,
                fingerprint: fingerprint(rel.as_bytes()),
            });
        }
        let bytes = rel.as_bytes();
        for m in self.anchors.find_iter(bytes) {
            if let Some(hit) = confirm(ANCHORS[m.pattern().as_usize()].1, bytes, m.start(), m.end())
            {
                out.push(RawFinding {
                    rule: hit.rule,
                    offset: None,
                    fingerprint: fingerprint(&bytes[hit.value]),
                });
            }
        }
    }
}

impl SecretScanner {
    /// Replaces every confirmed credential in `text` with `***`. Applied to each log line
    /// and to the job summary as a last line of defence: a token in a file name is
    /// reported, never echoed.
    #[must_use]
    pub(crate) fn redact<'t>(&self, text: &'t str) -> std::borrow::Cow<'t, str> {
        let bytes = text.as_bytes();
        let mut ranges: Vec<std::ops::Range<usize>> = Vec::new();
        for m in self.anchors.find_iter(bytes) {
            if let Some(hit) = confirm(ANCHORS[m.pattern().as_usize()].1, bytes, m.start(), m.end())
            {
                ranges.push(hit.value);
            }
        }
        if ranges.is_empty() {
            return std::borrow::Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for r in ranges {
            if r.start < at {
                continue;
            }
            // Ranges come from ASCII-only matches, so they fall on character boundaries.
            out.push_str(text.get(at..r.start).unwrap_or_default());
            out.push_str("***");
            at = r.end;
        }
        out.push_str(text.get(at..).unwrap_or_default());
        std::borrow::Cow::Owned(out)
    }
}

impl Default for SecretScanner {
    fn default() -> Self {
        Self::new()
    }
}

fn raw(window: &[u8], hit: &Hit, base: u64) -> RawFinding {
    RawFinding {
        rule: hit.rule,
        offset: Some(base + hit.value.start as u64),
        fingerprint: fingerprint(&window[hit.value.clone()]),
    }
}

/// First 12 hex digits of SHA-256: enough to tell findings apart, useless to an attacker.
fn fingerprint(value: &[u8]) -> String {
    let digest = Sha256::digest(value);
    hex::encode(&digest[..6])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(text: &str) -> Vec<&'static str> {
        let s = SecretScanner::new();
        let mut out = Vec::new();
        s.scan_window(text.as_bytes(), 0, text.len(), 0, FileKind::Plain, &mut out);
        out.iter().map(|f| f.rule.id()).collect()
    }

    #[test]
    fn github_tokens_need_exact_length_and_boundaries() {
        let body36 = "a".repeat(30) + "B1c2D3";
        assert_eq!(scan(&format!("token=ghp_{body36}\n")), ["github-pat"]);
        assert!(
            scan(&format!("ghp_{}", &body36[..35])).is_empty(),
            "35 chars"
        );
        assert!(scan(&format!("ghp_{body36}x")).is_empty(), "37 chars");
        assert!(
            scan(&format!("xghp_{body36}")).is_empty(),
            "no boundary before"
        );
        assert_eq!(
            scan(&format!("ghs_{body36}xyz")),
            ["github-app-token"],
            "ghs may be longer"
        );
    }

    #[test]
    fn aws_example_keys_are_allowed() {
        assert!(scan("AKIAIOSFODNN7EXAMPLE").is_empty());
        // Assembled at run time so the source itself holds no key-shaped string.
        let key = format!("id={}{};", "AKIA", "Z2X3C4V5B6N7M8Q9");
        assert_eq!(scan(&key), ["aws-access-key-id"]);
        assert!(
            scan("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY").is_empty()
        );
    }

    #[test]
    fn redaction() {
        let token = format!("ghp_{}", "Q".repeat(36));
        let s = SecretScanner::new();
        assert_eq!(
            s.redact(&format!("name-{token}.txt and {token}")),
            "name-***.txt and ***"
        );
        assert_eq!(s.redact("plain"), "plain");
    }

    #[test]
    fn fingerprint_never_contains_the_value() {
        let token = format!("ghp_{}", "Z".repeat(36));
        let s = SecretScanner::new();
        let mut out = Vec::new();
        s.scan_window(
            token.as_bytes(),
            0,
            token.len(),
            0,
            FileKind::Plain,
            &mut out,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].fingerprint.len(), 12);
        assert!(!token.contains(&out[0].fingerprint));
    }
}
