//! What stages tell the user, and the one trait they tell it through. A leaf: it imports
//! nothing from the crate, so every stage can depend on it and `report`, which implements
//! [`Reporter`], sits above them all (as uv's lower crates define the reporter traits that
//! its top crate implements).

use std::sync::atomic::AtomicU64;
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

/// What a progress line says, from the counters so far, the total and the time since the
/// work started: each stage words its own (files scanned, bytes downloaded), the reporter
/// decides when and how the line is shown.
pub type Describe = dyn Fn(&Progress, u64, Duration) -> String + Sync;

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

/// Counters a long stage advances while it runs, for the reporter to show.
#[derive(Debug, Default)]
pub struct Progress {
    /// Files done.
    pub files: AtomicU64,
    /// Bytes done.
    pub bytes: AtomicU64,
}

/// Receives events from the stages; shared across threads. Every method but
/// [`Reporter::event`] has a plain default, so a test reporter implements one method.
pub trait Reporter: Sync {
    /// Handles one event.
    fn event(&self, event: &Event);

    /// Registers a credential learned during the run (a signed URL's signature): it is
    /// masked in the runner's log and replaced in every later line.
    fn mask(&self, _value: &str) {}

    /// A stage begins (a collapsible group in the Actions log).
    fn stage(&self, title: &str) {
        self.event(&Event::info(format!("==> {title}")));
    }

    /// Lines that quote untrusted names (file names), which a log must fence.
    fn listing(&self, lines: &[String]) {
        for line in lines {
            self.event(&Event::info(line.clone()));
        }
    }

    /// Shows `progress` towards `total`, in the words of `describe`, until `done`
    /// disconnects; runs on its own thread beside the work (see [`with_progress`]). By
    /// default shows nothing.
    fn show_progress(
        &self,
        _progress: &Progress,
        _total: u64,
        _describe: &Describe,
        _done: &Receiver<()>,
    ) {
    }
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

/// Runs `work`, which advances `progress` towards `total`, while `reporter` shows it in the
/// words of `describe` on a thread of its own.
pub fn with_progress<T>(
    reporter: &dyn Reporter,
    progress: &Progress,
    total: u64,
    describe: &Describe,
    work: impl FnOnce() -> T,
) -> T {
    std::thread::scope(|scope| {
        let (done, wait) = channel::<()>();
        scope.spawn(move || reporter.show_progress(progress, total, describe, &wait));
        let result = work();
        drop(done);
        result
    })
}
