//! The console: log lines, groups, progress, and listings of untrusted names.
//!
//! In Actions everything goes to stdout (where the runner reads workflow commands), each
//! stage in a `::group::`, with a progress line every few seconds on long scans. On a
//! terminal a single progress line is redrawn on stderr. File names are printed escaped and
//! listings are wrapped in `::stop-commands::` so no name can issue a workflow command.

use std::io::{self, Write};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use super::commands::{escape_data, inert};
use crate::events::{Event, Level, Progress, Reporter};
use crate::secret::random_hex;

/// Where the log is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A GitHub Actions log: workflow commands, groups, periodic progress lines.
    Actions,
    /// An interactive terminal: a redrawn progress line.
    Terminal,
    /// Any other pipe or file: plain lines.
    Plain,
}

struct State {
    out: Box<dyn Write + Send>,
    group_open: bool,
}

/// The reporter used by the binary.
pub struct LogReporter {
    mode: Mode,
    state: Mutex<State>,
    warnings: Mutex<Vec<String>>,
    /// Delay before the first progress report, then between reports.
    progress_intervals: (Duration, Duration),
}

impl LogReporter {
    /// A reporter writing to `out`.
    #[must_use]
    pub fn new(mode: Mode, out: Box<dyn Write + Send>) -> Self {
        LogReporter {
            mode,
            state: Mutex::new(State {
                out,
                group_open: false,
            }),
            warnings: Mutex::new(Vec::new()),
            progress_intervals: match mode {
                // Interactive: appear quickly, redraw often. Logs: a line every 5 s.
                Mode::Terminal => (Duration::from_millis(250), Duration::from_millis(100)),
                Mode::Actions | Mode::Plain => (Duration::from_secs(5), Duration::from_secs(5)),
            },
        }
    }

    /// Overrides the progress intervals (tests use short ones).
    #[cfg(test)]
    #[must_use]
    pub(crate) fn with_progress_intervals(mut self, first: Duration, every: Duration) -> Self {
        self.progress_intervals = (first, every);
        self
    }

    /// The mode.
    #[must_use]
    pub(crate) fn mode(&self) -> Mode {
        self.mode
    }

    /// Writes one line, with any credential in it replaced by `***` and any character a
    /// terminal would act on (ESC, bidi overrides) shown escaped.
    fn write_line(&self, line: &str) {
        self.write_unfiltered(&crate::display::escape_controls(
            &crate::report::redact::text(line),
        ));
    }

    fn write_unfiltered(&self, line: &str) {
        if let Ok(mut state) = self.state.lock() {
            // A broken stdout must not turn a successful upload into a failure.
            let _ = writeln!(state.out, "{line}");
            let _ = state.out.flush();
        }
    }

    /// Starts a stage: a collapsible group in Actions, a heading elsewhere.
    pub(crate) fn stage(&self, title: &str) {
        match self.mode {
            Mode::Actions => {
                self.end_group();
                self.write_line(&format!("::group::{}", escape_data(title)));
                if let Ok(mut state) = self.state.lock() {
                    state.group_open = true;
                }
            }
            Mode::Terminal | Mode::Plain => self.write_line(&format!("==> {title}")),
        }
    }

    /// Closes the open group, if any.
    pub(crate) fn end_group(&self) {
        let open = self
            .state
            .lock()
            .is_ok_and(|mut s| std::mem::replace(&mut s.group_open, false));
        if open {
            self.write_line("::endgroup::");
        }
    }

    /// A plain log line: one line, which the runner cannot read as a workflow command
    /// whatever file name it quotes ([`inert`]).
    pub fn line(&self, text: &str) {
        if self.mode == Mode::Actions {
            self.write_line(&inert(text));
        } else {
            // A person at a terminal typed flags: messages name them.
            self.write_line(&inert(&super::words::cli_words(text)));
        }
    }

    /// A workflow command, written only in Actions.
    pub(crate) fn command(&self, command: &str) {
        if self.mode == Mode::Actions {
            self.write_line(command);
        }
    }

    /// `::add-mask::` for a credential. The one line that must carry the value itself,
    /// so it bypasses redaction; the runner hides it and masks it from then on.
    pub(crate) fn add_mask(&self, value: &str) {
        if value.is_empty() {
            return;
        }
        crate::report::redact::add_mask(value);
        if self.mode == Mode::Actions {
            self.write_unfiltered(&format!("::add-mask::{}", escape_data(value)));
        }
    }

    /// Lines that may hold untrusted text (file names), fenced so the runner ignores
    /// any command inside them.
    pub(crate) fn listing(&self, lines: &[String]) {
        let token = (self.mode == Mode::Actions).then(random_hex);
        if let Some(token) = &token {
            self.write_line(&format!("::stop-commands::{token}"));
        }
        for line in lines {
            self.line(line);
        }
        if let Some(token) = &token {
            self.write_line(&format!("::{token}::"));
        }
    }

    /// Warnings received so far (they become annotations at the end).
    #[must_use]
    pub(crate) fn warnings(&self) -> Vec<String> {
        self.warnings.lock().map(|w| w.clone()).unwrap_or_default()
    }
}

impl Reporter for LogReporter {
    fn mask(&self, value: &str) {
        self.add_mask(value);
    }

    fn stage(&self, title: &str) {
        LogReporter::stage(self, title);
    }

    fn listing(&self, lines: &[String]) {
        LogReporter::listing(self, lines);
    }

    /// A line every few seconds in logs; on a terminal one line redrawn, cleared at the end.
    fn show_progress(
        &self,
        progress: &Progress,
        total: u64,
        describe: &crate::events::Describe,
        done: &mpsc::Receiver<()>,
    ) {
        let (first, every) = self.progress_intervals;
        let started = Instant::now();
        let mut delay = first;
        let mut drew = false;
        while let Err(mpsc::RecvTimeoutError::Timeout) = done.recv_timeout(delay) {
            delay = every;
            let text = describe(progress, total, started.elapsed());
            if self.mode == Mode::Terminal {
                if let Ok(mut state) = self.state.lock() {
                    let _ = write!(state.out, "\r\x1b[2K{text}");
                    let _ = state.out.flush();
                }
                drew = true;
            } else {
                self.write_line(&text);
            }
        }
        if drew && let Ok(mut state) = self.state.lock() {
            let _ = write!(state.out, "\r\x1b[2K");
            let _ = state.out.flush();
        }
    }

    fn event(&self, event: &Event) {
        match (event.level, self.mode) {
            (Level::Debug, Mode::Actions) => {
                // Redacted before escaping: escaping rewrites `%`, so a masked value holding
                // one would no longer match (`write_line` filters the escaped line again).
                let message = crate::report::redact::text(&event.message);
                self.write_line(&format!("::debug::{}", escape_data(&message)));
            }
            (Level::Debug, _) => {}
            (Level::Info, _) => self.line(&event.message),
            (Level::Warning, _) => {
                self.line(&format!("warning: {}", event.message));
                if let Ok(mut w) = self.warnings.lock() {
                    w.push(event.message.clone());
                }
            }
        }
    }
}

/// Picks the mode from the environment and whether stderr is a terminal.
#[must_use]
pub fn detect_mode(github_actions: bool) -> Mode {
    use std::io::IsTerminal as _;
    if github_actions {
        Mode::Actions
    } else if io::stderr().is_terminal() {
        Mode::Terminal
    } else {
        Mode::Plain
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::Ordering;

    /// A log destination the test reads back.
    #[derive(Clone, Default)]
    pub(crate) struct Shared(pub(crate) Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn run_with_progress(mode: Mode) -> String {
        let out = Shared::default();
        let log = LogReporter::new(mode, Box::new(out.clone()))
            .with_progress_intervals(Duration::from_millis(5), Duration::from_millis(5));
        let progress = Progress::default();
        crate::events::with_progress(&log, &progress, 10, &crate::scan::files_scanned, || {
            progress.files.store(4, Ordering::Relaxed);
            progress.bytes.store(4096, Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(60));
        });
        String::from_utf8(out.0.lock().expect("lock").clone()).expect("utf8")
    }

    #[test]
    fn periodic_progress_lines_in_logs() {
        let text = run_with_progress(Mode::Plain);
        assert!(
            text.lines()
                .any(|l| l.starts_with("scanned 4 of 10 files (40%), 4.0 KiB")),
            "{text:?}"
        );
        assert!(!text.contains('\r'));
    }

    #[test]
    fn redrawn_progress_line_on_a_terminal() {
        let text = run_with_progress(Mode::Terminal);
        assert!(text.contains("\r\x1b[2Kscanned 4 of 10 files"), "{text:?}");
        assert!(
            text.ends_with("\r\x1b[2K"),
            "the line is cleared at the end: {text:?}"
        );
    }

    #[test]
    fn every_line_is_redacted_but_the_mask() {
        let out = Shared::default();
        let log = LogReporter::new(Mode::Actions, Box::new(out.clone()));
        let token = format!("{}{}", "ghp_", "k".repeat(36));
        log.add_mask(&token);
        log.line(&format!("file named {token}.txt"));
        let text = String::from_utf8(out.0.lock().expect("lock").clone()).expect("utf8");
        assert_eq!(text, format!("::add-mask::{token}\nfile named ***.txt\n"));
    }
}
