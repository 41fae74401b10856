//! Stage 5, report: step outputs, job summary, annotations and the console log.
//!
//! Stages never print. They send [`crate::events::Event`]s to a
//! [`crate::events::Reporter`]; the [`log::LogReporter`] implements it here, above every
//! stage, turning events into log lines (grouped in Actions, with a progress line on a
//! terminal) and keeping warnings for the annotations written at the end.

pub(crate) mod annotations;
pub(crate) mod check_run;
pub(crate) mod commands;
pub mod diagnostics;
pub(crate) mod download;
pub(crate) mod finish;
pub(crate) mod format;
pub mod log;
pub(crate) mod outputs;
pub(crate) mod redact;
pub(crate) mod summary;
pub(crate) mod words;

/// What the run reached, stage by stage. Every part is optional because a run can stop
/// at any stage and still reports what it has.
#[derive(Debug, Default)]
pub struct Reached {
    /// Validated configuration, when inputs were valid.
    pub config: Option<crate::config::Config>,
    /// The scan result.
    pub manifest: Option<crate::scan::Manifest>,
    /// The checksums file and manifest, when written.
    pub documents: Option<crate::scan::documents::Documents>,
    /// Policy verdict.
    pub gate: Option<crate::gate::GateOutcome>,
    /// Destinations attempted.
    pub destinations: Vec<crate::upload::DestinationReport>,
}

/// What a run produced, for the final report. Every part is optional because a run can
/// stop at any stage and still reports what it has.
#[derive(Debug, Clone, Copy)]
pub struct Outcome<'a> {
    /// Validated configuration, when inputs were valid.
    pub config: Option<&'a crate::config::Config>,
    /// The scan result.
    pub manifest: Option<&'a crate::scan::Manifest>,
    /// Policy verdict.
    pub gate: Option<&'a crate::gate::GateOutcome>,
    /// Destinations attempted.
    pub destinations: &'a [crate::upload::DestinationReport],
    /// The error that ended the run.
    pub error: Option<&'a crate::error::Error>,
    /// Warnings from the stages.
    pub warnings: &'a [String],
    /// Checksums file name and path, when written.
    pub checksums_path: Option<&'a std::path::Path>,
    /// Manifest path, when written.
    pub manifest_path: Option<&'a std::path::Path>,
    /// Workspace, to make annotation paths relative.
    pub workspace: Option<&'a std::path::Path>,
    /// Whole run.
    pub elapsed: std::time::Duration,
}
