//! Text from outside (file names, artifact names, link targets) made safe to show: every
//! control character (C0, DEL, C1: ESC and the CSI/OSC introducers a terminal acts on) and
//! every bidirectional override or isolate (which reorders what a reader sees, "Trojan
//! Source") is shown as an escape (issue 19 item 9). A leaf: the log, the summary and the
//! download's error messages share it.

use std::borrow::Cow;

/// Whether `c` must not reach a terminal or a log as itself.
fn hazardous(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// `text` with hazardous characters escaped (`\n`, `\u{1b}`, `\u{202e}`); a tab stays.
#[must_use]
pub(crate) fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c != '\t' && hazardous(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c != '\t' && hazardous(c) {
            if c.is_control() {
                out.extend(c.escape_default());
            } else {
                out.extend(c.escape_unicode());
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_and_bidi_controls_and_nothing_else() {
        assert_eq!(escape_controls("plain é name.txt"), "plain é name.txt");
        assert_eq!(escape_controls("a\tb"), "a\tb");
        assert_eq!(escape_controls("red\u{1b}[31m"), "red\\u{1b}[31m");
        assert_eq!(
            escape_controls("osc\u{9d}8;;x\u{9c}"),
            "osc\\u{9d}8;;x\\u{9c}"
        );
        assert_eq!(
            escape_controls("invoice\u{202e}fdp.exe"),
            "invoice\\u{202e}fdp.exe"
        );
        assert_eq!(escape_controls("\u{2066}x\u{2069}"), "\\u{2066}x\\u{2069}");
        assert_eq!(escape_controls("a\nb\u{7f}"), "a\\nb\\u{7f}");
    }
}
