//! Annotations for the run: errors and warnings, at most 10 of each (what GitHub shows
//! per step), the last one saying how many more there are.

use std::path::Path;

use super::Outcome;
use super::commands::{Annotation, Severity};
use crate::error::Error;
use crate::gate::Check;

/// GitHub shows at most this many error and this many warning annotations per step.
pub(crate) const MAX_PER_SEVERITY: usize = 10;

/// Builds the annotations of an outcome, capped as the runner shows them.
#[must_use]
pub(crate) fn build(outcome: &Outcome<'_>) -> Vec<Annotation> {
    let (errors, warnings) = all(outcome);
    let mut out = cap(errors, "errors");
    out.extend(cap(warnings, "warnings"));
    out
}

/// Every error and warning annotation, uncapped (a check run takes them all).
#[must_use]
pub(crate) fn all(outcome: &Outcome<'_>) -> (Vec<Annotation>, Vec<Annotation>) {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let root = outcome.manifest().map(|m| m.selection.root.as_path());
    let located = |severity, check: &Check| Annotation {
        severity,
        title: Some(check.policy.title().to_owned()),
        file: check
            .path
            .as_ref()
            .map(|rel| workspace_relative(root, rel, outcome.workspace)),
        line: check.line,
        message: check.message.clone(),
    };
    if let Some(gate) = outcome.gate() {
        errors.extend(gate.violations.iter().map(|c| located(Severity::Error, c)));
        warnings.extend(gate.warnings.iter().map(|c| located(Severity::Warning, c)));
    }
    if let Some(error) = outcome.error
        && !matches!(error, Error::Policy { .. })
    {
        errors.extend(
            error
                .messages()
                .into_iter()
                .map(|m| Annotation::new(Severity::Error, "stevedore", m)),
        );
    }
    warnings.extend(
        outcome
            .warnings
            .iter()
            .map(|w| Annotation::new(Severity::Warning, "stevedore", w.clone())),
    );
    (errors, warnings)
}

fn cap(mut list: Vec<Annotation>, what: &str) -> Vec<Annotation> {
    if list.len() > MAX_PER_SEVERITY {
        let more = list.len() - (MAX_PER_SEVERITY - 1);
        let severity = list[0].severity;
        list.truncate(MAX_PER_SEVERITY - 1);
        list.push(Annotation::new(
            severity,
            "stevedore",
            format!("…and {more} more {what}; the job summary and the manifest list them all"),
        ));
    }
    list
}

/// Annotation paths are relative to the workspace so GitHub can link them.
fn workspace_relative(root: Option<&Path>, rel: &str, workspace: Option<&Path>) -> String {
    let Some(root) = root else {
        return rel.to_owned();
    };
    let full = root.join(rel);
    match workspace.and_then(|w| full.strip_prefix(w).ok()) {
        // Joined with `/` on every platform: GitHub links `file=` to the repository's
        // path (a Windows build gave `dist\dup/one`, the native root then the tree's name).
        Some(inside) => inside
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/"),
        // Outside it, the whole path as the platform spells it: components rejoined, so a
        // Windows root and a tree's `/` names do not mix (`D:\a\_temp\build\bin/x`).
        None => full
            .components()
            .collect::<std::path::PathBuf>()
            .to_string_lossy()
            .into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_at_ten_with_a_count() {
        let list: Vec<_> = (0..25)
            .map(|i| Annotation::new(Severity::Error, "t", format!("e{i}")))
            .collect();
        let capped = cap(list, "errors");
        assert_eq!(capped.len(), MAX_PER_SEVERITY);
        assert!(
            capped[9].message.contains("16 more errors"),
            "{}",
            capped[9].message
        );
    }

    #[test]
    fn paths_relative_to_workspace() {
        let p = workspace_relative(Some(Path::new("/w/dist")), "a.txt", Some(Path::new("/w")));
        assert_eq!(p, "dist/a.txt");
        let p = workspace_relative(Some(Path::new("/tmp/x")), "a.txt", Some(Path::new("/w")));
        assert_eq!(p, "/tmp/x/a.txt");
    }
}
