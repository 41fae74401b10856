//! Formatting for people: sizes, counts, durations, and markdown-safe text.

use std::time::Duration;

/// `1536` -> `1.5 KiB`.
#[must_use]
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `1234567` -> `1,234,567`.
#[must_use]
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `0.4123 s` -> `0.41 s`; `75 s` -> `1 min 15 s`.
#[must_use]
pub fn duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 1.0 {
        format!("{:.0} ms", secs * 1000.0)
    } else if secs < 60.0 {
        format!("{secs:.2} s")
    } else {
        format!("{} min {} s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

/// Bytes per second as `123.4 MiB/s`.
#[must_use]
pub fn rate(bytes_per_sec: f64) -> String {
    // Truncation is fine for display.
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "display only"
    )]
    let n = bytes_per_sec as u64;
    format!("{}/s", bytes(n))
}

/// Text safe inside markdown and HTML: credentials redacted first (escaping would hide
/// them from the detectors), then markdown punctuation backslash-escaped, `<`, `>` and `&`
/// turned into entities, and line breaks shown as `\n` so a name cannot start a new table
/// row or block.
#[must_use]
pub fn markdown(text: &str) -> String {
    let text = crate::redact::text(text);
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
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A markdown code span holding `text` verbatim (credentials redacted): the fence is longer than any run of
/// backticks inside, `|` is escaped so a table cell cannot be split (GFM strips that
/// escape even inside code spans), and control characters are shown as escapes.
#[must_use]
pub fn code(text: &str) -> String {
    let text = crate::redact::text(text);
    let mut body = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' => body.push_str("\\|"),
            '\n' => body.push_str("\\n"),
            '\r' => body.push_str("\\r"),
            c if c.is_control() => body.push('\u{FFFD}'),
            c => body.push(c),
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

/// `1 group`, `2 groups`.
#[must_use]
pub fn plural(n: u64, word: &str) -> String {
    format!("{} {word}{}", count(n), if n == 1 { "" } else { "s" })
}

/// Shortens long text to `max` characters with an ellipsis in the middle.
#[must_use]
pub fn shorten(text: &str, max: usize) -> String {
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
    fn human_units() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 << 30), "3.0 GiB");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(count(12), "12");
        assert_eq!(duration(Duration::from_millis(412)), "412 ms");
        assert_eq!(duration(Duration::from_secs(75)), "1 min 15 s");
    }

    #[test]
    fn markdown_cannot_break_out() {
        assert_eq!(markdown("a|b\n## x <img>"), "a\\|b\\n\\#\\# x &lt;img&gt;");
        assert_eq!(shorten("abcdefghij", 5), "ab…ij");
        assert_eq!(code("a|b"), "`a\\|b`");
        assert_eq!(code("x`y"), "``x`y``");
        assert_eq!(code("`x"), "`` `x ``");
        assert_eq!(plural(1, "group"), "1 group");
    }
}
