//! Stage 3, gate: policy checks on the manifest. Violations stop the run before anything
//! is uploaded (exit 3); softer settings turn the same checks into warnings.

use crate::config::{Config, DuplicatesMode, IfNoFilesFound, SecretsMode};
use crate::report::format;
use crate::scan::Manifest;

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
}

/// Applies the policies of `config` to `manifest`.
#[must_use]
pub fn gate(manifest: &Manifest, config: &Config) -> GateOutcome {
    let mut out = GateOutcome::default();
    let mut push = |fatal: bool, check: Check| {
        if fatal {
            out.violations.push(check)
        } else {
            out.warnings.push(check)
        }
    };

    if manifest.records.is_empty() && config.if_no_files_found != IfNoFilesFound::Ignore {
        let patterns = config
            .path
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(", ");
        push(
            config.if_no_files_found == IfNoFilesFound::Error,
            Check {
                policy: Policy::NoFiles,
                message: format!(
                    "No files were found with the provided path: {patterns}. Nothing will be uploaded; check `path` (hidden files need `include-hidden-files: true`)."
                ),
                path: None,
                line: None,
            },
        );
    }

    if let Some(limit) = config.max_file_size {
        for (file, record) in manifest.files().filter(|(_, r)| r.size > limit) {
            push(
                true,
                Check {
                    policy: Policy::FileSize,
                    message: format!(
                        "`{}` is {} ({} bytes), over `max-file-size` {} ({limit} bytes); exclude it in `path` or raise the limit",
                        file.rel,
                        format::bytes(record.size),
                        record.size,
                        format::bytes(limit)
                    ),
                    path: Some(file.rel.clone()),
                    line: None,
                },
            );
        }
    }
    if let Some(limit) = config.max_total_size
        && manifest.total_bytes > limit
    {
        push(
            true,
            Check {
                policy: Policy::TotalSize,
                message: format!(
                    "the selection is {} ({} bytes), over `max-total-size` {} ({limit} bytes); narrow `path` or raise the limit",
                    format::bytes(manifest.total_bytes),
                    manifest.total_bytes,
                    format::bytes(limit)
                ),
                path: None,
                line: None,
            },
        );
    }

    if config.duplicates != DuplicatesMode::Ignore {
        for group in &manifest.duplicates {
            let paths: Vec<&str> = group
                .files
                .iter()
                .map(|&i| manifest.selection.files[i].rel.as_str())
                .collect();
            push(
                config.duplicates == DuplicatesMode::Error,
                Check {
                    policy: Policy::Duplicates,
                    message: format!(
                        "{} files have identical content ({} each): {}",
                        paths.len(),
                        format::bytes(group.size),
                        paths.join(", ")
                    ),
                    path: Some(paths[0].to_owned()),
                    line: None,
                },
            );
        }
    }

    if config.secrets != SecretsMode::Off {
        for finding in manifest.findings.iter().filter(|f| !f.allowed) {
            let at = finding
                .line
                .map_or_else(|| " (file name)".to_owned(), |l| format!(":{l}"));
            push(
                config.secrets == SecretsMode::Error,
                Check {
                    policy: Policy::Secrets,
                    message: format!(
                        "{} in `{}`{at} [rule {}, fingerprint {}]; remove it from the build output, exclude the file in `path`, or accept it with `secrets-allow`",
                        finding.description, finding.path, finding.rule, finding.fingerprint
                    ),
                    path: Some(finding.path.clone()),
                    line: finding.line,
                },
            );
        }
    }
    out
}
