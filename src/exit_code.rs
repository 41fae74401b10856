//! The documented exit codes. A leaf (as fd's `exit_codes.rs`): stages name the code their
//! errors map to without importing the run's error type.

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
