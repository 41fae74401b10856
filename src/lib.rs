//! stevedore: select build outputs by glob, scan them (SHA-256, duplicates, credentials,
//! size policy), upload them, and report step outputs, a job summary and annotations.
//!
//! The pipeline runs in one direction, one module per stage:
//!
//! ```text
//! inputs -> config -> select -> scan -> gate -> upload -> report
//! ```
//!
//! See `ARCHITECTURE.md` for the module map.

// Leaves: import nothing from the crate.
pub(crate) mod display;
pub mod events;
mod exit_code;
pub(crate) mod secret;
pub(crate) mod tree_path;
pub(crate) mod units;

// Infrastructure the stages share.
pub mod github;
pub(crate) mod net;

// The stages, in pipeline order, then the error that gathers theirs.
pub mod config;
pub mod download;
mod error;
pub(crate) mod gate;
pub mod pack;
pub mod scan;
pub mod select;
pub mod upload;

// Above every stage: the report implements `events::Reporter`; `run` sequences.
pub mod cli;
pub mod report;
pub mod run;
pub mod verify;

#[cfg(test)]
mod layering;

pub use error::Error;
pub use exit_code::ExitCode;
