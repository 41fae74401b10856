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

pub mod cli;
pub mod config;
pub mod error;
pub mod gate;
pub mod github;
pub mod pack;
pub mod redact;
pub mod report;
pub mod run;
pub mod scan;
pub mod select;
pub mod upload;

pub use error::{Error, ExitCode};
