//! Entry names as people see them in errors. The rules a name and a link target must pass
//! are `crate::tree_path`'s, shared with the upload (issue 19 items 3 and 5).

/// A name with its control characters made visible, for error messages (entry names come
/// from the archive: untrusted).
pub(crate) fn shown(name: &[u8]) -> String {
    crate::display::escape_controls(&String::from_utf8_lossy(name)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_makes_control_characters_visible() {
        assert_eq!(shown(b"a\nb\x1b[31m"), "a\\nb\\u{1b}[31m");
        assert_eq!(shown("é".as_bytes()), "é");
    }
}
