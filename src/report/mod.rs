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
pub(crate) mod subjects;
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

/// What a run produced, for the final report: what the stages reached, and how the run
/// ended. Every part of [`Reached`] is optional because a run can stop at any stage and
/// still reports what it has.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Outcome<'a> {
    pub(crate) reached: &'a Reached,
    /// The error that ended the run.
    pub(crate) error: Option<&'a crate::error::Error>,
    /// Warnings from the stages.
    pub(crate) warnings: &'a [String],
    /// Workspace, to make annotation paths relative.
    pub(crate) workspace: Option<&'a std::path::Path>,
    /// Whole run.
    pub(crate) elapsed: std::time::Duration,
}

impl<'a> Outcome<'a> {
    pub(crate) fn config(&self) -> Option<&'a crate::config::Config> {
        self.reached.config.as_ref()
    }

    pub(crate) fn manifest(&self) -> Option<&'a crate::scan::Manifest> {
        self.reached.manifest.as_ref()
    }

    pub(crate) fn gate(&self) -> Option<&'a crate::gate::GateOutcome> {
        self.reached.gate.as_ref()
    }

    pub(crate) fn destinations(&self) -> &'a [crate::upload::DestinationReport] {
        &self.reached.destinations
    }

    /// The checksums file, when written.
    pub(crate) fn checksums_path(&self) -> Option<&'a std::path::Path> {
        self.reached
            .documents
            .as_ref()
            .map(|d| d.checksums.as_path())
    }

    /// The manifest, when written.
    pub(crate) fn manifest_path(&self) -> Option<&'a std::path::Path> {
        self.reached
            .documents
            .as_ref()
            .map(|d| d.manifest.as_path())
    }
}
