//! The run's error type: every stage's error, and the exit code each maps to.

use crate::config::ConfigError;
use crate::scan::ScanError;
use crate::scan::documents::DocumentError;
use crate::select::SelectError;
use crate::upload::UploadError;

pub(crate) use crate::exit_code::ExitCode;

/// Everything that can end a run early.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Invalid inputs.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Selection failed.
    #[error(transparent)]
    Select(#[from] SelectError),
    /// A file could not be scanned.
    #[error(transparent)]
    Scan(#[from] ScanError),
    /// Policy violations (details are reported one by one).
    #[error("{count} policy violation(s): nothing was uploaded")]
    Policy {
        /// How many.
        count: usize,
    },
    /// `fail-on-unmatched-files`: lines of `path` matched no file.
    #[error(
        "`path` line(s) {} matched no file and `fail-on-unmatched-files` is true: nothing was uploaded",
        .lines.iter().map(|l| format!("`{l}`")).collect::<Vec<_>>().join(", ")
    )]
    Unmatched {
        /// The lines, as written.
        lines: Vec<String>,
    },
    /// A destination failed.
    #[error(transparent)]
    Upload(#[from] UploadError),
    /// The checksums file or the manifest could not be written.
    #[error(transparent)]
    Documents(#[from] DocumentError),
}

impl Error {
    /// The exit code for this error.
    #[must_use]
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Config(_) | Error::Select(_) | Error::Scan(_) => ExitCode::BadInput,
            Error::Policy { .. } | Error::Unmatched { .. } => ExitCode::Policy,
            Error::Upload(e) => e.exit_code(),
            Error::Documents(_) => ExitCode::Internal,
        }
    }

    /// Individual messages: a config error lists each bad input.
    #[must_use]
    pub fn messages(&self) -> Vec<String> {
        match self {
            Error::Config(e) => e.errors.iter().map(ToString::to_string).collect(),
            Error::Upload(UploadError::Setup(all)) => all.iter().map(ToString::to_string).collect(),
            other => vec![other.to_string()],
        }
    }
}
