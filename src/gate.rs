//! Stage 3, gate: policy checks on the manifest. Violations stop the run before anything
//! is uploaded (exit 3); softer settings turn the same checks into warnings.

use crate::config::{Config, DuplicatesMode, IfNoFilesFound, SecretsMode};
use crate::scan::Manifest;
use crate::units;

/// Which policy a check belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// `if-no-files-found`.
    NoFiles,
    /// `max-file-size`.
    FileSize,
    /// `max-total-size`.
    TotalSize,
    /// `duplicates`.
    Duplicates,
    /// `secrets`.
    Secrets,
}

impl Policy {
    /// Annotation title.
    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            Policy::NoFiles => "No files found",
            Policy::FileSize => "File too large",
            Policy::TotalSize => "Selection too large",
            Policy::Duplicates => "Duplicate files",
            Policy::Secrets => "Credential found",
        }
    }
}

/// One policy result, with the file it concerns when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The policy.
    pub policy: Policy,
    /// What happened and what to change.
    pub message: String,
    /// Relative path in the selection.
    pub path: Option<String>,
    /// Line, for findings.
    pub line: Option<u64>,
}

/// The gate's verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GateOutcome {
    /// Failures: the run stops with exit 3.
    pub violations: Vec<Check>,
    /// Reported, not fatal.
    pub warnings: Vec<Check>,
}

impl GateOutcome {
    /// No violation.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }

    fn push(
        &mut self,
        fatal: bool,
        policy: Policy,
        message: String,
        path: Option<String>,
        line: Option<u64>,
    ) {
        let check = Check {
            policy,
            message,
            path,
            line,
        };
        if fatal {
            self.violations.push(check);
        } else {
            self.warnings.push(check);
        }
    }
}

/// Applies the policies of `config` to `manifest`.
#[must_use]
pub(crate) fn gate(manifest: &Manifest, config: &Config) -> GateOutcome {
    let mut out = GateOutcome::default();
    no_files(manifest, config, &mut out);
    sizes(manifest, config, &mut out);
    duplicates(manifest, config, &mut out);
    secrets(manifest, config, &mut out);
    out
}

fn no_files(manifest: &Manifest, config: &Config, out: &mut GateOutcome) {
    // An empty `path` (allowed with `expect-assets`: a final job that only publishes)
    // expects no file.
    if !manifest.records.is_empty()
        || config.if_no_files_found == IfNoFilesFound::Ignore
        || config
            .path
            .lines()
            .map(str::trim)
            .all(|l| l.is_empty() || l.starts_with('#'))
    {
        return;
    }
    let patterns = config
        .path
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(", ");
    let message = format!(
        "No files were found with the provided path: {patterns}. Nothing will be uploaded; check `path` (hidden files need `include-hidden-files: true`)."
    );
    out.push(
        config.if_no_files_found == IfNoFilesFound::Error,
        Policy::NoFiles,
        message,
        None,
        None,
    );
}

fn sizes(manifest: &Manifest, config: &Config, out: &mut GateOutcome) {
    if let Some(limit) = config.max_file_size {
        for (file, record) in manifest.files().filter(|(_, r)| r.size > limit) {
            let message = format!(
                "`{}` is {} ({} bytes), over `max-file-size` {} ({limit} bytes); exclude it in `path` or raise the limit",
                file.rel(),
                units::bytes(record.size),
                record.size,
                units::bytes(limit)
            );
            out.push(
                true,
                Policy::FileSize,
                message,
                Some(file.rel().to_owned()),
                None,
            );
        }
    }
    if let Some(limit) = config.max_total_size
        && manifest.total_bytes > limit
    {
        let message = format!(
            "the selection is {} ({} bytes), over `max-total-size` {} ({limit} bytes); narrow `path` or raise the limit",
            units::bytes(manifest.total_bytes),
            manifest.total_bytes,
            units::bytes(limit)
        );
        out.push(true, Policy::TotalSize, message, None, None);
    }
}

fn duplicates(manifest: &Manifest, config: &Config, out: &mut GateOutcome) {
    if config.duplicates == DuplicatesMode::Ignore {
        return;
    }
    for group in &manifest.duplicates {
        let paths: Vec<&str> = group
            .files
            .iter()
            .map(|&i| manifest.selection.files[i].rel())
            .collect();
        let message = format!(
            "{} files have identical content ({} each): {}",
            paths.len(),
            units::bytes(group.size),
            paths.join(", ")
        );
        out.push(
            config.duplicates == DuplicatesMode::Error,
            Policy::Duplicates,
            message,
            Some(paths[0].to_owned()),
            None,
        );
    }
}

fn secrets(manifest: &Manifest, config: &Config, out: &mut GateOutcome) {
    if config.secrets == SecretsMode::Off {
        return;
    }
    for finding in manifest.findings.iter().filter(|f| !f.allowed) {
        let at = finding
            .line
            .map_or_else(|| " (file name)".to_owned(), |l| format!(":{l}"));
        let message = format!(
            "{} in `{}`{at} [rule {}, fingerprint {}]; remove it from the build output, exclude the file in `path`, or accept it with `secrets-allow`",
            finding.description, finding.path, finding.rule, finding.fingerprint
        );
        out.push(
            config.secrets == SecretsMode::Error,
            Policy::Secrets,
            message,
            Some(finding.path.clone()),
            finding.line,
        );
    }
}
