//! Stage 5, report: step outputs, job summary, annotations and the console log.
//!
//! Stages never print. They send [`Event`]s to a [`Reporter`]; the [`log::LogReporter`]
//! turns them into log lines (grouped in Actions, with a progress line on a terminal)
//! and keeps warnings for the annotations written at the end.

pub mod annotations;
pub mod check_run;
pub mod commands;
pub mod format;
pub mod log;
pub mod outputs;
pub mod summary;

/// How much an event matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Details for debugging (`::debug::` in Actions, hidden on a terminal).
    Debug,
    /// Normal progress.
    Info,
    /// Something the user should look at; becomes an annotation.
    Warning,
}

/// Something a stage wants the user to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Importance.
    pub level: Level,
    /// One line (line breaks are escaped when printed).
    pub message: String,
}

impl Event {
    /// A debug event.
    #[must_use]
    pub fn debug(message: String) -> Self {
        Event {
            level: Level::Debug,
            message,
        }
    }

    /// An informational event.
    #[must_use]
    pub fn info(message: String) -> Self {
        Event {
            level: Level::Info,
            message,
        }
    }

    /// A warning.
    #[must_use]
    pub fn warning(message: String) -> Self {
        Event {
            level: Level::Warning,
            message,
        }
    }
}

/// Receives events from the stages; shared across threads.
pub trait Reporter: Sync {
    /// Handles one event.
    fn event(&self, event: &Event);

    /// Registers a credential learned during the run (a signed URL's signature): it is
    /// masked in the runner's log and replaced in every later line.
    fn mask(&self, _value: &str) {}
}

/// Collects events in memory (tests, and callers that render them later).
#[derive(Debug, Default)]
pub struct MemoryReporter {
    events: std::sync::Mutex<Vec<Event>>,
}

impl MemoryReporter {
    /// Events received so far.
    #[must_use]
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

impl Reporter for MemoryReporter {
    fn event(&self, event: &Event) {
        if let Ok(mut events) = self.events.lock() {
            events.push(event.clone());
        }
    }
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
