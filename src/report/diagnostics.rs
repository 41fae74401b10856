//! Diagnostics for a debug re-run: the crate's `tracing` spans and events as `::debug::`
//! lines.
//!
//! The stages open spans (`stage`, `destination`, `request`) and may emit debug events;
//! they never decide whether anyone sees them. When the runner's debug logging is on
//! (`RUNNER_DEBUG=1`, "Re-run jobs with debug logging"), the binary installs
//! [`DebugLines`], which turns every event into one line and every span, when it closes,
//! into a line with its fields and how long it was open: the stage timings, and one line per
//! HTTP request attempt with its outcome. Each line goes to the [`Reporter`] as a debug
//! [`Event`], so the `LogReporter` redacts and escapes it exactly as every other line.
//! Without debug logging no subscriber is installed and each span or event costs a
//! check of one global level.

use std::sync::Arc;
use std::time::Instant;

use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::{Interest, SetGlobalDefaultError};
use tracing::{Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;

use crate::events::{Event, Reporter};
use crate::units;

/// The crate's own target prefix. Dependencies trace too (h2 frames, the `SigV4`
/// canonical request with its signed headers): noise to a user, and text that was never
/// meant for a log, so their callsites are turned off rather than filtered line by line.
const OURS: &str = "stevedore";

/// A `tracing` layer writing debug lines to a reporter.
pub(crate) struct DebugLines {
    reporter: Arc<dyn Reporter + Send + Sync>,
}

impl DebugLines {
    /// A layer that sends each line to `reporter` as a debug event.
    #[must_use]
    pub(crate) fn new(reporter: Arc<dyn Reporter + Send + Sync>) -> Self {
        DebugLines { reporter }
    }

    fn wanted(meta: &Metadata<'_>) -> bool {
        let target = meta.target();
        let ours = target
            .strip_prefix(OURS)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"));
        ours && *meta.level() <= Level::DEBUG
    }

    fn emit(&self, line: String) {
        self.reporter.event(&Event::debug(line));
    }
}

/// Installs [`DebugLines`] over `reporter` as the process's subscriber (once, at start).
pub fn install(reporter: Arc<dyn Reporter + Send + Sync>) -> Result<(), SetGlobalDefaultError> {
    let subscriber = tracing_subscriber::registry().with(DebugLines::new(reporter));
    tracing::subscriber::set_global_default(subscriber)
}

/// A span's fields so far and when it opened.
struct Opened {
    at: Instant,
    fields: Fields,
}

/// Fields in the order first recorded; a field recorded again replaces its value (a
/// request span learns its status after its method).
#[derive(Default)]
struct Fields {
    message: Option<String>,
    pairs: Vec<(&'static str, String)>,
}

impl Fields {
    fn set(&mut self, name: &'static str, value: String) {
        if name == "message" {
            self.message = Some(value);
        } else if let Some(pair) = self.pairs.iter_mut().find(|(n, _)| *n == name) {
            pair.1 = value;
        } else {
            self.pairs.push((name, value));
        }
    }

    /// `message k=v k=v`, or ` k=v k=v` after a span's name.
    fn render(&self, mut out: String) -> String {
        if let Some(message) = &self.message {
            out.push_str(message);
        }
        for (name, value) in &self.pairs {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(name);
            out.push('=');
            out.push_str(value);
        }
        out
    }
}

impl tracing::field::Visit for Fields {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.set(field.name(), value.to_owned());
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.set(field.name(), format!("{value:?}"));
    }
}

impl<S> Layer<S> for DebugLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if Self::wanted(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, meta: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        Self::wanted(meta)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::DEBUG)
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Opened {
                at: Instant::now(),
                fields,
            });
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(opened) = span.extensions_mut().get_mut::<Opened>()
        {
            values.record(&mut opened.fields);
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        self.emit(fields.render(String::new()));
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else {
            return;
        };
        // Rendered first: the extensions' lock is not held while the reporter writes.
        let line = span.extensions().get::<Opened>().map(|opened| {
            let named = opened.fields.render(span.name().to_owned());
            format!("{named} took {}", units::duration(opened.at.elapsed()))
        });
        if let Some(line) = line {
            self.emit(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::log::tests::Shared;
    use crate::report::log::{LogReporter, Mode};
    use std::io::Write as _;

    /// The log an Actions run writes while `work` traces.
    fn traced(work: impl FnOnce()) -> String {
        let out = Shared::default();
        let log = Arc::new(LogReporter::new(Mode::Actions, Box::new(out.clone())));
        let subscriber = tracing_subscriber::registry().with(DebugLines::new(log));
        tracing::subscriber::with_default(subscriber, work);
        String::from_utf8(out.0.lock().expect("lock").clone()).expect("utf8")
    }

    #[test]
    fn a_closing_span_says_what_it_was_and_how_long_it_took() {
        let text = traced(|| {
            let stage = tracing::debug_span!("stage", name = "scan").entered();
            let request = tracing::debug_span!(
                "request",
                method = tracing::field::Empty,
                outcome = tracing::field::Empty
            );
            request.record("method", "PUT");
            request.record("outcome", "503 Service Unavailable");
            request.record("outcome", "200 OK");
            drop(request);
            tracing::debug!(attempt = 2, "retrying");
            drop(stage);
        });
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(
            lines[0].starts_with("::debug::request method=PUT outcome=200 OK took "),
            "a field recorded twice keeps its last value: {text}"
        );
        assert_eq!(lines[1], "::debug::retrying attempt=2");
        assert!(
            lines[2].starts_with("::debug::stage name=scan took ") && lines[2].ends_with(" ms"),
            "{text}"
        );
    }

    #[test]
    fn debug_lines_leak_no_credential_and_start_no_command() {
        let token = format!("{}{}", "ghp_", "Z".repeat(36));
        let text = traced(|| {
            tracing::debug!(
                url = "https://blob.example/c/a.zip?sv=2024&sig=SIGNATURE%2Fvalue&se=x",
                "put"
            );
            tracing::debug!("token {token} in a message");
            tracing::debug!(file = "x\n::set-output name=y::z\r##[error]w", "read");
        });
        assert!(!text.contains("SIGNATURE"), "{text}");
        assert!(!text.contains(&token), "{text}");
        for line in text.lines() {
            assert!(line.starts_with("::debug::"), "{line:?}");
        }
        assert_eq!(text.lines().count(), 3, "names cannot break a line: {text}");
        assert!(
            text.contains("::debug::read file=x%0A::set-output name=y::z%0D##[error]w\n"),
            "{text}"
        );
    }

    #[test]
    fn dependencies_and_trace_level_stay_quiet() {
        let text = traced(|| {
            tracing::debug!(target: "aws_sigv4::http_request", "canonical request");
            tracing::debug!(target: "stevedore_fork", "not ours");
            tracing::trace!("too fine");
            tracing::warn!("ours");
        });
        assert_eq!(text, "::debug::ours\n");
    }

    /// A server on loopback that answers each connection's first request with `reply`
    /// (or, when `None`, reads it and never answers).
    fn one_shot_server(reply: Option<&'static str>) -> std::net::SocketAddr {
        use std::io::Read as _;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                match reply {
                    Some(reply) => {
                        let _ = stream.write_all(reply.as_bytes());
                    }
                    None => std::thread::sleep(std::time::Duration::from_secs(5)),
                }
            }
        });
        addr
    }

    /// The debug log of one request attempt made the way the destinations make them.
    fn one_attempt(url: &str, idle: std::time::Duration) -> String {
        traced(|| {
            let http = crate::net::Http::new(idle).expect("client");
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let watch = http.watch();
            watch.describe("PUT", url);
            let sent = runtime.block_on(watch.run(http.client.put(url).body("x").send()));
            if let Ok(Ok(response)) = sent {
                watch.answered(response.status());
            }
        })
    }

    #[test]
    fn a_request_attempt_is_one_line_without_its_query() {
        let addr = one_shot_server(Some(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        ));
        let text = one_attempt(
            &format!("http://user:pass@{addr}/bucket/dir/a%20b.bin?partNumber=2&sig=SIGNATURE"),
            std::time::Duration::from_secs(30),
        );
        // `%25` is the command's escape of `%`: the runner shows `a%20b.bin`.
        let expected = format!(
            "::debug::request method=PUT host={addr} path=/bucket/dir/a%2520b.bin outcome=503 Service Unavailable took "
        );
        assert!(text.starts_with(&expected), "{text}");
        assert_eq!(text.lines().count(), 1, "{text}");
        for hidden in ["SIGNATURE", "partNumber", "user", "pass"] {
            assert!(!text.contains(hidden), "{text}");
        }
    }

    #[test]
    fn a_stalled_attempt_says_so() {
        let addr = one_shot_server(None);
        let text = one_attempt(
            &format!("http://{addr}/quiet"),
            std::time::Duration::from_millis(300),
        );
        let expected = format!(
            "::debug::request method=PUT host={addr} path=/quiet outcome=stalled: no byte moved for 0 s"
        );
        assert!(text.starts_with(&expected), "{text}");
    }
}
