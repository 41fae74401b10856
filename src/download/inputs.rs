//! `stevedore download`'s inputs: their table (the same [`InputSpec`] as the main
//! action's, so the CLI builds its flags the same way), the raw values from `INPUT_*` or
//! flags, and [`DownloadConfig`], every input validated once. Names and meanings follow
//! `actions/download-artifact` v8 (`action.yml`, `src/download-artifact.ts`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::InputSpec;
use crate::config::inputs::{input, switch};
use crate::github::RunnerEnv;
use crate::secret::Secret;

/// Every input of `stevedore download` (and of `download/action.yml`), in the docs' order.
pub const DOWNLOAD_INPUTS: &[InputSpec] = &[
    input(
        "name",
        "",
        "Artifact to download; empty downloads every artifact of the run (or those `pattern` matches)",
    ),
    input(
        "artifact-ids",
        "",
        "Comma-separated artifact ids to download (not together with `name`)",
    ),
    input(
        "pattern",
        "",
        "Glob over artifact names; ignored when `name` is set",
    ),
    input(
        "path",
        "GITHUB_WORKSPACE, else the working directory",
        "Directory to download into (`~` is the home directory)",
    ),
    switch(
        "merge-multiple",
        "false",
        "Several artifacts go into `path` itself instead of `path/<name>`; two different files with one path are an error",
    ),
    input(
        "github-token",
        "",
        "Token with `actions: read` for artifacts of another run or repository (REST API)",
    ),
    input(
        "repository",
        "GITHUB_REPOSITORY",
        "owner/name holding the run, with `github-token`",
    ),
    input(
        "run-id",
        "GITHUB_RUN_ID",
        "Workflow run holding the artifacts, with `github-token`",
    ),
    input(
        "digest-mismatch",
        "error",
        "When an artifact's SHA-256 differs from the listed digest: ignore, info, warn or error",
    ),
];

/// Input values as given (`INPUT_*` or flags); empty values count as unset, as the runner
/// passes every declared input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DownloadInputs {
    values: BTreeMap<&'static str, String>,
}

impl DownloadInputs {
    /// Reads `INPUT_<NAME>` (upper-cased, `-` as `_`, or hyphenated) for every input.
    #[must_use]
    pub fn from_env(env: &RunnerEnv) -> Self {
        let mut raw = DownloadInputs::default();
        for spec in DOWNLOAD_INPUTS {
            let upper = spec.name.to_ascii_uppercase();
            let value = env
                .inputs
                .get(&upper.replace('-', "_"))
                .or_else(|| env.inputs.get(&upper));
            if let Some(value) = value {
                raw.set(spec.name, value.clone());
            }
        }
        raw
    }

    /// Sets input `name` (one of [`DOWNLOAD_INPUTS`]; others are ignored); blank is unset.
    pub(crate) fn set(&mut self, name: &str, value: String) {
        let Some(spec) = DOWNLOAD_INPUTS.iter().find(|s| s.name == name) else {
            return;
        };
        if value.trim().is_empty() {
            self.values.remove(spec.name);
        } else {
            self.values.insert(spec.name, value);
        }
    }

    /// The value of an input, trimmed, if set.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(|v| v.trim())
    }
}

/// Which artifacts to download.
#[derive(Debug, Clone)]
pub(crate) enum Wanted {
    /// One artifact by name (the newest of that name), into `path` itself.
    Name(String),
    /// Artifacts by id.
    Ids(Vec<u64>),
    /// Every artifact whose name the glob matches (`None`: every artifact of the run).
    Pattern(Option<(String, globset::GlobMatcher)>),
}

/// Where the artifacts are listed and fetched from.
#[derive(Debug, Clone)]
pub(crate) enum Origin {
    /// This workflow run, through the results service (`ACTIONS_RUNTIME_TOKEN`).
    ThisRun,
    /// Another run or repository, through the REST API with `github-token`.
    Rest {
        /// `github-token`.
        token: Secret,
        /// `owner/name`.
        repository: String,
        run_id: u64,
    },
}

/// What a digest mismatch does (`digest-mismatch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DigestMismatch {
    /// Nothing.
    Ignore,
    /// A log line.
    Info,
    /// A warning annotation.
    Warn,
    /// The download fails (exit 4) and `path` is left as it was.
    Error,
}

/// Every input of `stevedore download`, validated.
#[derive(Debug, Clone)]
pub(crate) struct DownloadConfig {
    pub(crate) wanted: Wanted,
    /// The absolute directory to download into.
    pub(crate) path: PathBuf,
    /// `merge-multiple`.
    pub(crate) merge_multiple: bool,
    /// Results service or REST API.
    pub(crate) origin: Origin,
    /// `digest-mismatch`.
    pub(crate) digest_mismatch: DigestMismatch,
    /// Notes about inputs that were ignored.
    pub(crate) warnings: Vec<String>,
}

/// Every bad input, each named with its fix (exit 2).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", .errors.join("; "))]
pub(crate) struct DownloadConfigError {
    /// One message per bad input.
    pub(crate) errors: Vec<String>,
}

impl DownloadConfig {
    /// Validates `raw`; `cwd` resolves a relative `path`, `env` gives the defaults.
    pub(crate) fn from_raw(
        raw: &DownloadInputs,
        env: &RunnerEnv,
        cwd: &Path,
    ) -> Result<Self, DownloadConfigError> {
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let wanted = wanted(raw, &mut errors, &mut warnings);
        let merge_multiple = boolean(raw, "merge-multiple", &mut errors);
        let digest_mismatch = match raw.get("digest-mismatch").unwrap_or("error") {
            "ignore" => DigestMismatch::Ignore,
            "info" => DigestMismatch::Info,
            "warn" => DigestMismatch::Warn,
            "error" => DigestMismatch::Error,
            other => {
                errors.push(format!(
                    "`digest-mismatch` is `{other}`; use ignore, info, warn or error (default error)"
                ));
                DigestMismatch::Error
            }
        };
        let origin = origin(raw, env, &mut errors, &mut warnings);
        let path = download_path(raw, env, cwd);
        if errors.is_empty() {
            Ok(DownloadConfig {
                wanted,
                path,
                merge_multiple,
                origin,
                digest_mismatch,
                warnings,
            })
        } else {
            Err(DownloadConfigError { errors })
        }
    }
}

fn boolean(raw: &DownloadInputs, name: &str, errors: &mut Vec<String>) -> bool {
    match raw.get(name) {
        None | Some("false" | "False" | "FALSE") => false,
        Some("true" | "True" | "TRUE") => true,
        Some(other) => {
            errors.push(format!(
                "`{name}` is `{other}`; use true or false (YAML 1.2 core schema: true, True, TRUE, false, False, FALSE)"
            ));
            false
        }
    }
}

fn wanted(raw: &DownloadInputs, errors: &mut Vec<String>, warnings: &mut Vec<String>) -> Wanted {
    let name = raw.get("name");
    let ids = raw.get("artifact-ids");
    let pattern = raw.get("pattern");
    if let (Some(_), Some(_)) = (name, ids) {
        errors
            .push("`name` and `artifact-ids` cannot be used together; set only one of them".into());
    }
    if let Some(name) = name {
        if pattern.is_some() {
            warnings.push("`pattern` is ignored because `name` is set".into());
        }
        return Wanted::Name(name.to_owned());
    }
    if let Some(ids) = ids {
        let mut parsed = Vec::new();
        for id in ids.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match id.parse::<u64>() {
                Ok(n) => parsed.push(n),
                Err(_) => errors.push(format!(
                    "`artifact-ids` holds `{id}`, which is not an artifact id; give numbers separated by commas, e.g. `12,34`"
                )),
            }
        }
        if parsed.is_empty() && errors.is_empty() {
            errors.push("`artifact-ids` holds no id; give numbers separated by commas".into());
        }
        return Wanted::Ids(parsed);
    }
    match pattern {
        None => Wanted::Pattern(None),
        Some(p) => match globset::Glob::new(p) {
            Ok(glob) => Wanted::Pattern(Some((p.to_owned(), glob.compile_matcher()))),
            Err(e) => {
                errors.push(format!(
                    "`pattern` `{p}` is not a valid glob ({}); fix it, e.g. `build-*`",
                    e.kind()
                ));
                Wanted::Pattern(None)
            }
        },
    }
}

fn origin(
    raw: &DownloadInputs,
    env: &RunnerEnv,
    errors: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Origin {
    let repository = raw.get("repository");
    let run_id = raw.get("run-id");
    let Some(token) = raw.get("github-token") else {
        // The action passes its defaults (this repository and run); only other values
        // mean the user expected them to be used.
        if repository.is_some_and(|r| Some(r) != env.repository.as_deref())
            || run_id.is_some_and(|r| Some(r) != env.run_id.as_deref())
        {
            warnings.push(
                "`repository` and `run-id` are used only with `github-token`: without it, this run's artifacts are downloaded"
                    .into(),
            );
        }
        return Origin::ThisRun;
    };
    let repository = repository.or(env.repository.as_deref()).unwrap_or_default();
    let mut parts = repository.split('/');
    let valid = matches!(
        (parts.next(), parts.next(), parts.next()),
        (Some(owner), Some(name), None) if !owner.is_empty() && !name.is_empty()
    );
    if !valid {
        errors.push(format!(
            "`repository` is `{repository}`; with `github-token` give the repository as owner/name"
        ));
    }
    let run = run_id.or(env.run_id.as_deref()).unwrap_or_default();
    let run_id = run.parse::<u64>().unwrap_or_else(|_| {
        errors.push(format!(
            "`run-id` is `{run}`; with `github-token` give the numeric id of the workflow run (the number in its URL)"
        ));
        0
    });
    Origin::Rest {
        token: Secret::new(token.to_owned()),
        repository: repository.to_owned(),
        run_id,
    }
}

/// `path`, `~` expanded and made absolute; by default `GITHUB_WORKSPACE`, else `cwd`.
fn download_path(raw: &DownloadInputs, env: &RunnerEnv, cwd: &Path) -> PathBuf {
    let Some(path) = raw.get("path") else {
        return env.workspace.clone().unwrap_or_else(|| cwd.to_owned());
    };
    let expanded = match (path.strip_prefix('~'), &env.home) {
        (Some(rest), Some(home)) if rest.is_empty() || rest.starts_with(['/', '\\']) => {
            home.join(rest.trim_start_matches(['/', '\\']))
        }
        _ => PathBuf::from(path),
    };
    let absolute = cwd.join(expanded);
    // Lexically normalized (`a/./b/../c` -> `a/c`), as Node's `path.resolve` does.
    let mut out = PathBuf::new();
    for part in absolute.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> DownloadInputs {
        let mut raw = DownloadInputs::default();
        for (k, v) in pairs {
            raw.set(k, (*v).to_owned());
        }
        raw
    }

    fn env() -> RunnerEnv {
        RunnerEnv::from_vars([
            ("GITHUB_REPOSITORY", "octo/here"),
            ("GITHUB_RUN_ID", "77"),
            ("HOME", "/home/u"),
        ])
    }

    fn errors(pairs: &[(&str, &str)]) -> Vec<String> {
        DownloadConfig::from_raw(&raw(pairs), &env(), Path::new("/w"))
            .expect_err("invalid")
            .errors
    }

    #[test]
    fn every_bad_input_is_named() {
        let e = errors(&[
            ("name", "a"),
            ("artifact-ids", "1"),
            ("merge-multiple", "yes"),
            ("digest-mismatch", "loud"),
        ]);
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(e[0].contains("`name` and `artifact-ids`"));
        assert!(e[1].contains("`merge-multiple` is `yes`"));
        assert!(e[2].contains("`digest-mismatch` is `loud`"));
        let e = errors(&[("artifact-ids", "12, x")]);
        assert!(e[0].contains("`x`"), "{e:?}");
        let e = errors(&[
            ("github-token", "t"),
            ("repository", "nope"),
            ("run-id", "r1"),
        ]);
        assert!(e[0].contains("`repository` is `nope`") && e[1].contains("`run-id` is `r1`"));
        let e = errors(&[("pattern", "a[")]);
        assert!(e[0].contains("`pattern`"), "{e:?}");
    }

    #[test]
    fn defaults_and_sources() {
        let c = DownloadConfig::from_raw(&raw(&[]), &env(), Path::new("/w")).expect("valid");
        assert_eq!(c.path, Path::new("/w"));
        assert!(matches!(c.wanted, Wanted::Pattern(None)));
        assert!(matches!(c.origin, Origin::ThisRun));
        assert_eq!(c.digest_mismatch, DigestMismatch::Error);
        let c = DownloadConfig::from_raw(
            &raw(&[
                ("github-token", "t"),
                ("path", "~/x/../out"),
                ("artifact-ids", "3, 4,"),
            ]),
            &env(),
            Path::new("/w"),
        )
        .expect("valid");
        assert_eq!(c.path, Path::new("/home/u/out"));
        assert!(matches!(c.wanted, Wanted::Ids(ref ids) if ids == &[3, 4]));
        assert!(
            matches!(c.origin, Origin::Rest { ref repository, run_id: 77, .. } if repository == "octo/here")
        );
        let c = DownloadConfig::from_raw(
            &raw(&[("run-id", "5"), ("path", "rel")]),
            &env(),
            Path::new("/w"),
        )
        .expect("valid");
        assert_eq!(c.path, Path::new("/w/rel"));
        assert_eq!(c.warnings.len(), 1, "run-id without a token is noted");
    }
}
