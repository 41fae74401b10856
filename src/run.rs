//! The pipeline: config -> select -> scan -> gate -> upload, each stage called with the
//! previous stage's result. This module only sequences; what the user sees comes from the
//! stages' events and from `report::finish`, which renders whatever stage the run reached.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::config::{Config, RawInputs, SecretsMode, Symlinks};
use crate::error::Error;
use crate::events::{Event, Reporter};
use crate::exit_code::ExitCode;
use crate::gate::gate;
use crate::github::RunnerEnv;
use crate::github::env::DocumentsDir;
use crate::report::Reached;
use crate::report::log::LogReporter;
use crate::scan::secrets::SecretScanner;
use crate::scan::{Manifest, ScanOptions, documents, scan};
use crate::select::{SelectOptions, Selection, select_links};
use crate::units;
use crate::upload::{self, Bundle};

/// Everything a run starts from.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The environment.
    pub env: RunnerEnv,
    /// The inputs.
    pub inputs: RawInputs,
    /// Working directory.
    pub cwd: PathBuf,
}

/// Points between stages where a caller may act: a test rewrites a file in the window
/// between the scan and the upload, which a test of the binary cannot hit reliably.
#[derive(Default)]
pub struct Hooks<'a> {
    /// Called once the scan's documents are written, before the upload.
    pub after_scan: Option<&'a dyn Fn(&Manifest)>,
}

/// Runs stevedore and returns the exit code; the binary exits right after. Everything the
/// user sees goes through `log`.
pub fn run(invocation: &Invocation, log: &LogReporter) -> ExitCode {
    let started = Instant::now();
    let (mut reached, result) = pipeline(invocation, log, &Hooks::default());
    let code = crate::report::finish::finish(
        &invocation.env,
        &invocation.cwd,
        log,
        &reached,
        result.as_ref().err(),
        started,
    );
    // The binary exits right after: freeing the manifest (an allocation or two per file)
    // would only delay that exit, by 6 ms per 100,000 files. It holds memory only (no
    // file, no connection), which the exit returns at once.
    std::mem::forget(reached.manifest.take());
    code
}

/// Every stage in turn, up to the first failure; returns what the run reached.
pub fn pipeline(
    inv: &Invocation,
    reporter: &dyn Reporter,
    hooks: &Hooks<'_>,
) -> (Reached, Result<(), Error>) {
    let mut reached = Reached::default();
    let result = stages(inv, reporter, hooks, &mut reached);
    (reached, result)
}

fn stages(
    inv: &Invocation,
    reporter: &dyn Reporter,
    hooks: &Hooks<'_>,
    reached: &mut Reached,
) -> Result<(), Error> {
    let inputs = cli_token(&inv.inputs, &inv.env);
    let config = Config::from_raw(inputs.as_ref(), inv.env.github_actions)?;
    if let Some(token) = &config.token {
        // Masked before anything else is printed.
        reporter.mask(token.expose());
    }
    for warning in &config.warnings {
        reporter.event(&Event::warning(warning.clone()));
    }
    let config = reached.config.insert(config);

    let ctx = upload::Context {
        cwd: &inv.cwd,
        home: inv.env.home.as_deref(),
        env: &inv.env,
    };
    upload::check_setup(config, &ctx)?;

    reporter.stage("Selecting files");
    let mut selection = select_stage(inv, config, reporter)?;
    upload::leave_out_destinations(&mut selection, config, &ctx, reporter);
    if config.fail_on_unmatched && !selection.unmatched.is_empty() {
        return Err(Error::Unmatched {
            lines: selection.unmatched,
        });
    }

    let total = selection.files.len() as u64;
    reporter.stage(&format!("Scanning {}", units::plural(total, "file")));
    // The artifact's zip is compressed from the scan's reads; it stays on this machine
    // (memory, then an unnamed spool file) until the policies pass.
    let prepack = upload::artifact::prepack(config, &inv.env, selection.files.len()).map(Arc::new);
    // Directory destinations are filled from the same reads, in staging directories that
    // are published only after the gate (dropped, they are removed).
    let prestaged = upload::prestage(config, &ctx, &selection, reporter);
    let copiers: Vec<&dyn crate::scan::Copier> = prepack
        .as_deref()
        .map(|p| p as &dyn crate::scan::Copier)
        .into_iter()
        .chain(prestaged.iter().map(|p| p as &dyn crate::scan::Copier))
        .collect();
    let manifest = reached
        .manifest
        .insert(scan_stage(selection, config, reporter, &copiers)?);
    let manifest = &*manifest;
    // The policies only read the manifest: they are checked while the documents are
    // written (the two documents take two threads, the checks fill the gap).
    let place = inv.env.documents_dir();
    let replace = matches!(place, DocumentsDir::LastRun(_));
    let (docs, verdict) = rayon::join(
        || documents::write(manifest, place.path(), replace, &config.checksums_name),
        || {
            let _span = stage_span("gate");
            gate(manifest, config)
        },
    );
    let docs = reached.documents.insert(docs?);
    if let Some(after_scan) = hooks.after_scan {
        after_scan(manifest);
    }

    reporter.stage("Checking policies");
    let verdict = reached.gate.insert(verdict);
    if !verdict.passed() {
        return Err(Error::Policy {
            count: verdict.violations.len(),
        });
    }
    if config.destinations.is_empty() {
        return Ok(());
    }
    // The documents go into the zip at its top, after the files (unless
    // `artifact-documents: false`).
    if let Some(prepack) = prepack.as_ref().filter(|_| config.artifact.documents) {
        let files = manifest.records.len();
        rayon::join(
            || prepack.add_file(files, &docs.checksums),
            || prepack.add_file(files + 1, &docs.manifest),
        );
    }

    reporter.stage("Uploading");
    let _span = stage_span("upload");
    let bundle = Bundle {
        manifest,
        checksums_name: &config.checksums_name,
        checksums: &docs.checksums,
        manifest_json: &docs.manifest,
        prepack: prepack.as_ref(),
        prestaged: &prestaged,
    };
    let (reports, error) = upload::upload(&bundle, config, &ctx, reporter);
    reached.destinations = reports;
    error.map_or(Ok(()), |e| Err(e.into()))
}

/// On the command line, without `--token`: `GH_TOKEN`, else `GITHUB_TOKEN`, as `gh` reads
/// them. In a workflow the action passes `token` itself and nothing else is read.
fn cli_token<'i>(inputs: &'i RawInputs, env: &RunnerEnv) -> std::borrow::Cow<'i, RawInputs> {
    match &env.gh_token {
        Some(token) if !env.github_actions && inputs.get("token").is_none() => {
            let mut with = inputs.clone();
            with.set("token", token.expose().to_owned());
            std::borrow::Cow::Owned(with)
        }
        _ => std::borrow::Cow::Borrowed(inputs),
    }
}

fn select_stage(
    inv: &Invocation,
    config: &Config,
    reporter: &dyn Reporter,
) -> Result<Selection, Error> {
    let _span = stage_span("select");
    let options = SelectOptions {
        patterns: &config.path,
        cwd: &inv.cwd,
        home: inv.env.home.as_deref(),
        include_hidden: config.include_hidden_files,
        artifact_paths: config.ships_artifacts(),
    };
    let preserve = config.symlinks == Symlinks::Preserve;
    Ok(select_links(&options, preserve, reporter)?)
}

fn scan_stage(
    selection: Selection,
    config: &Config,
    reporter: &dyn Reporter,
    copies: &[&dyn crate::scan::Copier],
) -> Result<Manifest, Error> {
    let _span = stage_span("scan");
    let scanner = (config.secrets != SecretsMode::Off).then(SecretScanner::new);
    let options = ScanOptions {
        secrets: scanner.as_ref(),
        secrets_allow: &config.secrets_allow_set,
        reporter,
        crcs: crate::scan::read::Crcs {
            crc32: config.needs_crc32(),
            crc32c: config.needs_crc32c(),
        },
        copies,
    };
    Ok(scan(selection, &options)?)
}

/// A stage's span: on a debug re-run its timing is logged when it closes.
fn stage_span(name: &'static str) -> tracing::span::EnteredSpan {
    tracing::debug_span!("stage", name).entered()
}

/// Everything a `stevedore download` run starts from.
#[derive(Debug, Clone)]
pub struct DownloadInvocation {
    /// The environment.
    pub env: RunnerEnv,
    /// The inputs.
    pub inputs: crate::download::DownloadInputs,
    /// Working directory (a relative `path` is resolved against it).
    pub cwd: PathBuf,
}

/// `stevedore download`: inputs validated, then the download stage, then its report.
/// Returns the exit code; everything the user sees goes through `log`.
pub fn run_download(invocation: &DownloadInvocation, log: &LogReporter) -> ExitCode {
    let started = Instant::now();
    let result = download_pipeline(invocation, log);
    crate::report::download::finish(&invocation.env, log, &result, started)
}

/// The download's stages, for a test to call with a reporter of its own.
pub(crate) fn download_pipeline(
    inv: &DownloadInvocation,
    reporter: &dyn Reporter,
) -> Result<crate::download::DownloadReport, crate::download::DownloadError> {
    let config = crate::download::DownloadConfig::from_raw(&inv.inputs, &inv.env, &inv.cwd)?;
    if let crate::download::Origin::Rest { token, .. } = &config.origin {
        // Masked before anything else is printed.
        reporter.mask(token.expose());
    }
    for warning in &config.warnings {
        reporter.event(&Event::warning(warning.clone()));
    }
    let _span = stage_span("download");
    crate::download::download(&config, &inv.env, reporter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_reads_gh_token_then_github_token_as_gh_does() {
        let env = |vars: &[(&str, &str)]| RunnerEnv::from_vars(vars.iter().copied());
        let none = RawInputs::default();
        let both = env(&[
            ("GITHUB_TOKEN", "from-github-token"),
            ("GH_TOKEN", "from-gh-token"),
        ]);
        assert_eq!(cli_token(&none, &both).get("token"), Some("from-gh-token"));
        let second = env(&[("GITHUB_TOKEN", "from-github-token")]);
        assert_eq!(
            cli_token(&none, &second).get("token"),
            Some("from-github-token")
        );
        // `--token` wins; in a workflow the action's `token` input is the only source.
        let mut given = RawInputs::default();
        given.set("token", "from-flag".into());
        assert_eq!(cli_token(&given, &both).get("token"), Some("from-flag"));
        let actions = env(&[("GITHUB_ACTIONS", "true"), ("GH_TOKEN", "x")]);
        assert_eq!(cli_token(&none, &actions).get("token"), None);
    }
}
