//! On the command line, messages name flags, not YAML (issue 26 item 8): the stages word
//! their messages for the action (input `` `overwrite` ``, `` `overwrite: true` ``), and a
//! person at a terminal typed `--overwrite`. Only spans in backticks that name an input of
//! stevedore's tables are rewritten, so a file name never is.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex};

use crate::config::{INPUTS, InputSpec};
use crate::download::DOWNLOAD_INPUTS;

/// input `` `name` `` and `` `name: value` ``.
static SPANS: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"input `([a-z][a-z0-9-]*)`|`([a-z][a-z0-9-]*): ([^`\n]*)`").ok());

fn spec(name: &str) -> Option<&'static InputSpec> {
    INPUTS
        .iter()
        .chain(DOWNLOAD_INPUTS)
        .find(|s| s.name == name)
}

/// `text` with the action's words for inputs turned into the command line's.
pub(crate) fn cli_words(text: &str) -> Cow<'_, str> {
    let Some(spans) = SPANS.as_ref() else {
        return Cow::Borrowed(text);
    };
    spans.replace_all(text, |c: &Captures<'_>| {
        if let Some(name) = c.get(1) {
            return match spec(name.as_str()) {
                Some(spec) => format!("`--{}`", spec.name),
                None => c[0].to_owned(),
            };
        }
        let (name, value) = (&c[2], c[3].trim());
        // Only values an input takes in a message: a boolean, or one plain word.
        let word = !value.is_empty()
            && value
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "._/:@-".contains(ch));
        match spec(name) {
            Some(spec) if spec.boolean && value == "true" => format!("`--{name}`"),
            Some(spec) if spec.boolean && value == "false" => format!("`--{name}=false`"),
            Some(spec) if !spec.boolean && word => format!("`--{name} {value}`"),
            _ => c[0].to_owned(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_become_flags_and_nothing_else_changes() {
        for (action, cli) in [
            (
                "destination directory `out` is not empty; set `overwrite: true` to replace it",
                "destination directory `out` is not empty; set `--overwrite` to replace it",
            ),
            (
                "input `secrets-allow`: `[` is not a glob",
                "`--secrets-allow`: `[` is not a glob",
            ),
            (
                "use `symlinks: follow` there",
                "use `--symlinks follow` there",
            ),
            (
                "(use `digest-mismatch: warn`)",
                "(use `--digest-mismatch warn`)",
            ),
            ("`draft: false`", "`--draft=false`"),
            // Not inputs, or not an input's value: left alone.
            (
                "`notes: draft` and input `whatever`",
                "`notes: draft` and input `whatever`",
            ),
            (
                "a file named `overwrite: true.txt`",
                "a file named `overwrite: true.txt`",
            ),
            ("`name: my report.html`", "`name: my report.html`"),
        ] {
            assert_eq!(cli_words(action), cli, "{action}");
        }
    }
}
