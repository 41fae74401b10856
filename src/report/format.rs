//! Markdown-safe text for the job summary and the check run (numbers are `crate::units`).

/// Text safe inside markdown and HTML: credentials redacted first (escaping would hide
/// them from the detectors), then markdown punctuation backslash-escaped, `<`, `>` and `&`
/// turned into entities, and line breaks shown as `\n` so a name cannot start a new table
/// row or block.
#[must_use]
pub(crate) fn markdown(text: &str) -> String {
    let text = crate::report::redact::text(text);
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '+' | '-' | '.'
            | '!' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push_str(&crate::display::escape_controls(c.encode_utf8(&mut [0; 4]))),
        }
    }
    out
}

/// A markdown code span holding `text` verbatim (credentials redacted): the fence is longer than any run of
/// backticks inside, `|` is escaped so a table cell cannot be split (GFM strips that
/// escape even inside code spans), and control characters are shown as escapes.
#[must_use]
pub(crate) fn code(text: &str) -> String {
    let text = crate::report::redact::text(text);
    let mut body = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' => body.push_str("\\|"),
            '\n' => body.push_str("\\n"),
            '\r' => body.push_str("\\r"),
            c => body.push_str(&crate::display::escape_controls(c.encode_utf8(&mut [0; 4]))),
        }
    }
    let mut longest = 0;
    let mut run = 0;
    for c in body.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let pad = if body.starts_with('`') || body.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{body}{pad}{fence}")
}

/// Shortens long text to `max` characters with an ellipsis in the middle.
#[must_use]
pub(crate) fn shorten(text: &str, max: usize) -> String {
    let n = text.chars().count();
    if n <= max {
        return text.to_owned();
    }
    let keep = max.saturating_sub(1) / 2;
    let head: String = text.chars().take(keep).collect();
    let tail: String = text.chars().skip(n - keep).collect();
    format!("{head}…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_cannot_break_out() {
        assert_eq!(markdown("a|b\n## x <img>"), "a\\|b\\n\\#\\# x &lt;img&gt;");
        assert_eq!(shorten("abcdefghij", 5), "ab…ij");
        assert_eq!(code("a|b"), "`a\\|b`");
        assert_eq!(code("x`y"), "``x`y``");
        assert_eq!(code("`x"), "`` `x ``");
    }
}
