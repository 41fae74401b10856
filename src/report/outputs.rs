//! Step outputs in `$GITHUB_OUTPUT`, in the heredoc form `@actions/core` writes:
//! `name<<ghadelimiter_<random>` / value / delimiter.

use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::commands::random_token;

/// Why outputs could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The file could not be opened or written.
    #[error("cannot write step outputs to `{path}`: {source}")]
    Io {
        /// `$GITHUB_OUTPUT`.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A value contains the delimiter (practically impossible with a random one).
    #[error("output `{name}` contains the heredoc delimiter")]
    Delimiter {
        /// The output name.
        name: String,
    },
}

/// Renders outputs, each with its own random delimiter.
pub fn render(outputs: &[(&str, String)]) -> Result<String, OutputError> {
    let mut out = String::new();
    for (name, value) in outputs {
        let delimiter = format!("ghadelimiter_{}", random_token());
        if name.contains(&delimiter) || value.contains(&delimiter) {
            return Err(OutputError::Delimiter {
                name: (*name).to_owned(),
            });
        }
        let _ = write!(out, "{name}<<{delimiter}\n{value}\n{delimiter}\n");
    }
    Ok(out)
}

/// Appends outputs to the file named by `$GITHUB_OUTPUT`.
pub fn write(path: &Path, outputs: &[(&str, String)]) -> Result<(), OutputError> {
    let text = render(outputs)?;
    let io = |source| OutputError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heredoc_blocks() {
        let text = render(&[("files", "3".into()), ("multi", "a\nb".into())]).expect("renders");
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("files<<ghadelimiter_"));
        let delim = &lines[0]["files<<".len()..];
        assert_eq!(lines[1], "3");
        assert_eq!(lines[2], delim);
        assert!(lines[3].starts_with("multi<<ghadelimiter_"));
        assert_ne!(
            &lines[3]["multi<<".len()..],
            delim,
            "each output gets a fresh delimiter"
        );
        assert_eq!(&lines[4..6], ["a", "b"]);
    }
}
