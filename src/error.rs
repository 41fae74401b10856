//! The run's error type and the documented exit codes.

use crate::config::ConfigError;
use crate::report::outputs::OutputError;
use crate::scan::ScanError;
use crate::select::SelectError;
use crate::upload::UploadError;

/// Exit codes (documented in the README and DESIGN.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Everything worked.
    Success = 0,
    /// A bug or an environment failure stevedore did not expect.
    Internal = 1,
    /// Bad input or configuration.
    BadInput = 2,
    /// A policy stopped the run before upload (secret, size, duplicates, no files).
    Policy = 3,
    /// An upload failed.
    UploadFailed = 4,
}

impl ExitCode {
    /// The process exit status.
    #[must_use]
    pub fn code(self) -> u8 {
        self as u8
    }
}

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
    /// A destination failed.
    #[error(transparent)]
    Upload(#[from] UploadError),
    /// Outputs could not be written.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// Anything else, with context.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        source: std::io::Error,
    },
}

impl Error {
    /// The exit code for this error.
    #[must_use]
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Config(_) | Error::Select(_) | Error::Scan(_) => ExitCode::BadInput,
            Error::Policy { .. } => ExitCode::Policy,
            Error::Upload(e) => e.exit_code(),
            Error::Output(_) | Error::Io { .. } => ExitCode::Internal,
        }
    }

    /// Individual messages: a config error lists each bad input.
    #[must_use]
    pub fn messages(&self) -> Vec<String> {
        match self {
            Error::Config(e) => e.errors.iter().map(ToString::to_string).collect(),
            other => vec![other.to_string()],
        }
    }
}
