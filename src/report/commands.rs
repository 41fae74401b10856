//! Workflow commands (`::name key=value::data`), escaped exactly as `@actions/core`
//! escapes them so the runner's unescaping restores the text and nothing a file name
//! contains can start a command of its own.

use std::fmt::Write as _;

/// Escapes command data: `%`, CR, LF.
#[must_use]
pub(crate) fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A plain log line that the runner can never read as a workflow command, whatever
/// untrusted text (a file name) it holds. The runner tries two syntaxes on every line it
/// reads: `::name ...::data` when the line, after leading white space, starts with `::`,
/// and the legacy `##[name ...]data` **anywhere** in the line (`ActionCommand.TryParseV2`
/// and `TryParse`). So: data escaping (no line breaks), a leading `::` turned into
/// `%3A:`, and every `##[` into `#%23[`. `%` is already escaped, so the result reads
/// unambiguously.
#[must_use]
pub(crate) fn inert(text: &str) -> String {
    let mut out = escape_data(text);
    if out.contains("##[") {
        out = out.replace("##[", "#%23[");
    }
    let lead = out.len() - out.trim_start().len();
    if out[lead..].starts_with("::") {
        out.replace_range(lead..=lead, "%3A");
    }
    out
}

/// Escapes a property value: data escaping plus `:` and `,`.
#[must_use]
pub(crate) fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Annotation severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Severity {
    /// `::error`
    Error,
    /// `::warning`
    Warning,
}

impl Severity {
    fn command(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// An annotation on the run, optionally on a file and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Annotation {
    pub(crate) severity: Severity,
    pub(crate) title: Option<String>,
    /// Path relative to the workspace.
    pub(crate) file: Option<String>,
    pub(crate) line: Option<u64>,
    pub(crate) message: String,
}

impl Annotation {
    /// An annotation without a location.
    #[must_use]
    pub(crate) fn new(severity: Severity, title: &str, message: String) -> Self {
        Annotation {
            severity,
            title: Some(title.to_owned()),
            file: None,
            line: None,
            message,
        }
    }

    /// The same annotation with credentials in every field replaced by `***` (a file name
    /// can hold a token; redacting after escaping would miss it).
    #[must_use]
    pub(crate) fn redacted(&self) -> Annotation {
        let clean = |s: &str| crate::report::redact::text(s).into_owned();
        Annotation {
            severity: self.severity,
            title: self.title.as_deref().map(clean),
            file: self.file.as_deref().map(clean),
            line: self.line,
            message: clean(&self.message),
        }
    }

    /// The workflow command line (without the trailing newline), redacted then escaped.
    #[must_use]
    pub(crate) fn to_command(&self) -> String {
        let this = self.redacted();
        let mut props = Vec::new();
        if let Some(title) = &this.title {
            props.push(format!("title={}", escape_property(title)));
        }
        if let Some(file) = &this.file {
            props.push(format!("file={}", escape_property(file)));
        }
        if let Some(line) = this.line {
            props.push(format!("line={line}"));
        }
        let mut out = format!("::{}", this.severity.command());
        if !props.is_empty() {
            let _ = write!(out, " {}", props.join(","));
        }
        let _ = write!(out, "::{}", escape_data(&this.message));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_matches_the_toolkit() {
        assert_eq!(escape_data("a%b\r\nc"), "a%25b%0D%0Ac");
        assert_eq!(escape_property("x:y,z%\n"), "x%3Ay%2Cz%25%0A");
    }

    #[test]
    fn no_plain_line_reads_as_a_command() {
        assert_eq!(
            inert("a ##[set-output name=x;]y"),
            "a #%23[set-output name=x;]y"
        );
        assert_eq!(inert("###[x]"), "##%23[x]");
        assert_eq!(inert("  ::error::x"), "  %3A:error::x");
        assert_eq!(inert("\u{a0}::warning::x"), "\u{a0}%3A:warning::x");
        assert_eq!(
            inert("file a::b"),
            "file a::b",
            "`::` inside a line is inert"
        );
        assert_eq!(inert("x\n::error::y"), "x%0A::error::y");
        assert_eq!(inert("100%"), "100%25");
    }

    #[test]
    fn annotation_with_location() {
        let a = Annotation {
            severity: Severity::Error,
            title: Some("Secret: github-pat".into()),
            file: Some("dist/a,b.txt".into()),
            line: Some(3),
            message: "line one\n::set-output name=x::y".into(),
        };
        assert_eq!(
            a.to_command(),
            "::error title=Secret%3A github-pat,file=dist/a%2Cb.txt,line=3::line one%0A::set-output name=x::y"
        );
        assert!(
            !a.to_command().contains('\n'),
            "a name cannot start a new command line"
        );
    }
}
