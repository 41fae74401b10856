//! User-facing text made deterministic for snapshots: what varies between runs (temporary
//! directories, durations, rates, run ids, fence tokens, the version) is replaced by
//! a bracketed name, and nothing else is touched, so a snapshot shows what the user sees.

use regex::Regex;

/// Each pattern and what stands for it, applied in order.
const REDACTIONS: [(&str, &str); 7] = [
    // A test's workspace, runner temp and home (`<tempdir>/ws/...`).
    (r"/[^\s`|'\x22]*/(ws|runner-temp|home)\b", "[TMP]/$1"),
    // The run's own directory below RUNNER_TEMP.
    (r"stevedore-[0-9a-f]{12}", "stevedore-[RUN]"),
    // `::stop-commands::<token>` and the line that resumes them.
    (r"\b[0-9a-f]{32}\b", "[TOKEN]"),
    (r"\d+(\.\d+)? (B|KiB|MiB|GiB)/s", "[RATE]"),
    (r"\b\d+(\.\d+)? (ms|s)\b", "[TIME]"),
    (r"stevedore \d+\.\d+\.\d+", "stevedore [VERSION]"),
    // What a destination shipped with the manifest: it holds the root's absolute path, so
    // its size follows the length of the temporary directory's name.
    (
        r"(`stevedore-manifest\.json` \| )\d+(\.\d+)? (B|KiB|MiB|GiB)",
        "$1[SIZE]",
    ),
];

/// `text` with [`REDACTIONS`] applied.
pub fn redact(text: &str) -> String {
    let mut out = text.to_owned();
    for (pattern, with) in REDACTIONS {
        let re = Regex::new(pattern).expect("a valid pattern");
        out = re.replace_all(&out, with).into_owned();
    }
    out
}

/// [`redact`], after replacing each of `known` (a value of this test: a repository name,
/// a server's URL) with what stands for it.
pub fn redact_known(text: &str, known: &[(&str, &str)]) -> String {
    let mut out = text.to_owned();
    for (value, with) in known {
        out = out.replace(value, with);
    }
    redact(&out)
}

/// The workflow commands of a log that the runner turns into annotations (`::error`,
/// `::warning`, `::notice` lines), redacted.
pub fn annotations(log: &str) -> String {
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| {
            l.starts_with("::error") || l.starts_with("::warning") || l.starts_with("::notice")
        })
        .collect();
    redact(&lines.join("\n"))
}
