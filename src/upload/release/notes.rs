//! `checksums-in-body`: the release notes end with a table of every asset's SHA-256,
//! between two HTML comments that GitHub does not show, so a later job (a late matrix job,
//! a re-run) replaces the table instead of appending a second one.

use std::fmt::Write as _;

/// The longest notes GitHub takes (characters): longer ones get 422 "body is too long
/// (maximum is 125000 characters)", on create and on update alike.
pub(super) const MAX_BODY_CHARS: usize = 125_000;

const BEGIN: &str = "<!-- stevedore:checksums -->";
const END: &str = "<!-- /stevedore:checksums -->";
/// The table's head, right after [`BEGIN`].
const HEADER: &str = "\n| Asset | SHA-256 |\n|---|---|\n";

/// `body` with its table (if any) replaced by one of `rows` (asset name, hex SHA-256).
pub(super) fn with_table(body: Option<&str>, rows: &[(String, String)]) -> String {
    let body = body.unwrap_or_default();
    // The table stevedore wrote (its marker, then its header), the last one: notes that
    // merely mention a marker keep their text.
    let table = body.rfind(&format!("{BEGIN}{HEADER}")).and_then(|start| {
        let end = start + body[start..].find(END)?;
        Some((start, end))
    });
    let before = match table {
        Some((start, end)) => {
            let after = body[end + END.len()..].trim();
            if after.is_empty() {
                body[..start].trim_end().to_owned()
            } else {
                format!("{}\n\n{after}", body[..start].trim_end())
            }
        }
        _ => body.trim_end().to_owned(),
    };
    let mut out = before;
    if !out.is_empty() {
        out.push_str("\n\n");
    }
    out.push_str(BEGIN);
    out.push_str(HEADER);
    for (name, hex) in rows {
        // Stored asset names hold only letters, digits and `-_.+`: nothing Markdown reads.
        let _ = writeln!(out, "| `{name}` | `{hex}` |");
    }
    out.push_str(END);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::with_table;

    #[test]
    fn the_table_is_appended_once_and_replaced_by_a_later_one() {
        let one = vec![("a.tar.gz".to_owned(), "ab".repeat(32))];
        let first = with_table(Some("Notes.\n\nMore notes.\n"), &one);
        assert_eq!(
            first,
            format!(
                "Notes.\n\nMore notes.\n\n<!-- stevedore:checksums -->\n| Asset | SHA-256 |\n|---|---|\n| `a.tar.gz` | `{}` |\n<!-- /stevedore:checksums -->\n",
                "ab".repeat(32)
            )
        );
        let two = vec![
            ("a.tar.gz".to_owned(), "ab".repeat(32)),
            ("b.zip".to_owned(), "cd".repeat(32)),
        ];
        let second = with_table(Some(&first), &two);
        assert_eq!(second.matches("<!-- stevedore:checksums -->").count(), 1);
        assert!(
            second.starts_with("Notes.\n\nMore notes.\n\n<!--"),
            "{second}"
        );
        assert!(second.contains("| `b.zip` |"), "{second}");
        assert_eq!(
            with_table(None, &one),
            first.trim_start_matches("Notes.\n\nMore notes.\n\n")
        );
    }
    /// Review 21: notes that mention the opening marker (a changelog describing
    /// `checksums-in-body`, a template) lose nothing when a later job replaces the table:
    /// only the table stevedore appended is replaced.
    #[test]
    fn notes_mentioning_the_marker_keep_their_text_when_the_table_is_replaced() {
        let notes = "Checksums now land between `<!-- stevedore:checksums -->` markers.\n\nKeep this line.\n";
        let one = vec![("a.tar.gz".to_owned(), "ab".repeat(32))];
        let first = with_table(Some(notes), &one);
        assert!(first.contains("Keep this line."), "{first}");
        let second = with_table(Some(&first), &one);
        assert!(second.contains("Keep this line."), "{second}");
        assert_eq!(second, first);
    }
}
