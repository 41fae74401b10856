//! What is decided before the first request: the token, the repository, where the assets
//! go (`tag` or `release-id`), the notes, a release set's commit, and every asset as
//! GitHub will store it (its name predicted, the checksums document built). Pure: no call
//! is made here, so every input problem is said before anything changes.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use bytes::Bytes;

use super::{DEFAULT_CONCURRENCY, ReleaseError};
use crate::config::{Config, MakeLatest};
use crate::github::RunnerEnv;
use crate::github::api::AssetBody;
use crate::secret::Secret;
use crate::upload::Bundle;

/// Where the assets go.
#[derive(Debug, Clone)]
pub(super) enum Target {
    Tag(String),
    Id(u64),
}

/// One asset to upload.
#[derive(Debug, Clone)]
pub(super) struct Planned {
    /// The name GitHub will store it under ([`stored_name`]).
    pub(super) name: String,
    /// The file's name as selected, when GitHub will store it under another.
    pub(super) renamed_from: Option<String>,
    /// The label it carries in place (`asset-label`); a staged upload carries
    /// [`super::staging::STAGED_LABEL`] instead until it is renamed into place.
    pub(super) label: Option<String>,
    pub(super) body: AssetBody,
    pub(super) size: u64,
    pub(super) sha256: String,
    pub(super) content_type: &'static str,
}

/// Everything checked before the first request.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(super) api_url: String,
    pub(super) token: Secret,
    pub(super) repo: String,
    pub(super) target: Target,
    pub(super) name: Option<String>,
    /// Notes of a release this run creates (`body-path`, else `body`).
    pub(super) body: Option<String>,
    /// `generate-release-notes`.
    pub(super) generate_notes: bool,
    /// `target-commitish`.
    pub(super) target_commitish: Option<String>,
    /// With `expect-assets`: the commit the set belongs to (`target-commitish`, else
    /// `GITHUB_SHA`; a full SHA, lower case). Its draft records it as `target_commitish`.
    pub(super) commit: Option<String>,
    pub(super) prerelease: bool,
    pub(super) keep_draft: bool,
    pub(super) make_latest: Option<&'static str>,
    pub(super) overwrite: bool,
    pub(super) concurrency: usize,
    pub(super) idle: Duration,
    pub(super) assets: Vec<Planned>,
    /// `expect-assets`, each line with its matcher; empty: one job's release.
    pub(super) expect: Vec<crate::config::ExpectedAsset>,
    /// The checksums asset's name.
    pub(super) checksums_name: String,
    /// `discussion-category`.
    pub(super) discussion_category: Option<String>,
    /// `previous-tag`.
    pub(super) previous_tag: Option<String>,
    /// `checksums-in-body`.
    pub(super) checksums_in_body: bool,
    /// `rolling`: this commit's release replaces the one of `tag` (`roll`).
    pub(super) rolling: bool,
    /// This job's workflow run and attempt, marked on what it stages.
    pub(super) attempt: Option<super::staging::Attempt>,
}

/// What needs no file to be checked (issue 26 item 8): token, repository, tag, the set's
/// commit, the notes file, the `expect-assets` globs; before the scan, with every other
/// destination's, so all are said at once.
#[must_use]
pub(crate) fn check_setup(
    config: &Config,
    env: &RunnerEnv,
    cwd: &std::path::Path,
) -> Vec<ReleaseError> {
    let mut errors = Vec::new();
    if config.token.is_none() {
        errors.push(ReleaseError::Config("`destination: release` needs `token` (the action passes `${{ github.token }}`; the job needs `permissions: contents: write`; on the command line, `--token` or GH_TOKEN)".into()));
    }
    if config.release.repository.is_none() && env.repository.is_none() {
        errors.push(ReleaseError::Config(
            "`destination: release` needs GITHUB_REPOSITORY (owner/name), which the runner sets; on the command line, `--repository owner/name`"
                .into(),
        ));
    }
    errors.extend(target(config, env).err());
    if !config.release.expect_assets.is_empty() || config.release.rolling {
        errors.extend(set_commit(config, env).err());
    }
    errors.extend(body(config, cwd).err());
    errors
}

/// Checks the inputs and lists the assets.
pub(crate) fn plan(
    bundle: &Bundle<'_>,
    config: &Config,
    env: &RunnerEnv,
    cwd: &std::path::Path,
    idle: Duration,
) -> Result<Plan, ReleaseError> {
    let token = config
        .token
        .clone()
        .ok_or_else(|| ReleaseError::Config("`destination: release` needs `token` (the action passes `${{ github.token }}`; the job needs `permissions: contents: write`)".into()))?;
    let repo = config
        .release
        .repository
        .clone()
        .or_else(|| env.repository.clone())
        .ok_or_else(|| {
            ReleaseError::Config(
            "`destination: release` needs GITHUB_REPOSITORY (owner/name), which the runner sets"
                .into(),
        )
        })?;
    let target = target(config, env)?;
    let expect = config.release.expect_assets.clone();
    let assets = planned_assets(
        bundle,
        expect.is_empty(),
        config.release.asset_label.as_deref(),
    )?;
    let commit = if expect.is_empty() && !config.release.rolling {
        None
    } else {
        Some(set_commit(config, env)?)
    };
    Ok(Plan {
        api_url: env.api_url().to_owned(),
        token,
        repo,
        target,
        name: config.release.name.clone(),
        body: body(config, cwd)?,
        generate_notes: config.release.generate_notes,
        target_commitish: config.release.target_commitish.clone(),
        commit,
        prerelease: config.release.prerelease,
        keep_draft: config.release.draft,
        make_latest: config.release.make_latest.map(|m| match m {
            MakeLatest::True => "true",
            MakeLatest::False => "false",
            MakeLatest::Legacy => "legacy",
        }),
        overwrite: config.overwrite,
        concurrency: config.upload_concurrency.unwrap_or(DEFAULT_CONCURRENCY),
        idle,
        assets,
        expect,
        checksums_name: bundle.checksums_name.to_owned(),
        discussion_category: config.release.discussion_category.clone(),
        previous_tag: config.release.previous_tag.clone(),
        checksums_in_body: config.release.checksums_in_body,
        rolling: config.release.rolling,
        attempt: env
            .run_id
            .as_deref()
            .and_then(|id| id.parse().ok())
            .zip(env.run_attempt)
            .map(|(run, attempt)| super::staging::Attempt { run, attempt }),
    })
}

/// The notes of a release this run creates: the text of `body-path` (read now, so a
/// missing file stops the run before any upload), else `body`.
fn body(config: &Config, cwd: &std::path::Path) -> Result<Option<String>, ReleaseError> {
    let Some(path) = &config.release.body_path else {
        return Ok(config.release.body.clone());
    };
    let full = cwd.join(path);
    std::fs::read_to_string(&full).map(Some).map_err(|e| {
        ReleaseError::Config(format!(
            "input `body-path`: cannot read `{}`: {e}",
            full.display()
        ))
    })
}

/// The commit a release set belongs to: `target-commitish`, else `GITHUB_SHA`. A set's
/// draft records it, so it must name one commit for good: a full SHA, not a branch (whose
/// head moves on while the matrix runs).
fn set_commit(config: &Config, env: &RunnerEnv) -> Result<String, ReleaseError> {
    let full_sha = |s: &str| matches!(s.len(), 40 | 64) && s.bytes().all(|b| b.is_ascii_hexdigit());
    match (&config.release.target_commitish, &env.sha) {
        (Some(target), _) if full_sha(target) => Ok(target.to_ascii_lowercase()),
        (Some(target), _) => Err(ReleaseError::Config(format!(
            "input `target-commitish`: `{target}` is not a full commit SHA; with `expect-assets` the release set belongs to one commit, so give its full SHA (e.g. `${{{{ github.sha }}}}`), or leave `target-commitish` unset to use GITHUB_SHA"
        ))),
        (None, Some(sha)) if full_sha(sha) => Ok(sha.to_ascii_lowercase()),
        (None, _) => Err(ReleaseError::Config(
            "`expect-assets` needs the commit the release set is built from: GITHUB_SHA (the runner sets it), or `target-commitish` with a full commit SHA (e.g. the output of `git rev-parse HEAD`)".into(),
        )),
    }
}

/// The release the assets go to: `release-id`, else `tag`, else the tag this run was
/// pushed for.
fn target(config: &Config, env: &RunnerEnv) -> Result<Target, ReleaseError> {
    Ok(match (config.release.release_id, &config.release.tag) {
        (Some(id), _) => Target::Id(id),
        (None, Some(tag)) => Target::Tag(tag.clone()),
        (None, None) => match env
            .git_ref
            .as_deref()
            .and_then(|r| r.strip_prefix("refs/tags/"))
        {
            Some(tag) => Target::Tag(tag.to_owned()),
            None => {
                return Err(ReleaseError::Config(format!(
                    "`destination: release` needs a tag: this run's ref is `{}`, not a tag; set `tag` (or `release-id`), or run on a tag push",
                    env.git_ref.as_deref().unwrap_or("(unset)")
                )));
            }
        },
    })
}

/// Every selected file as a flat asset (names must stay unique and valid), then (for a
/// single job's release, `with_checksums`) the checksums file naming them; a release set
/// gets one checksums asset for the whole release instead (`set`).
fn planned_assets(
    bundle: &Bundle<'_>,
    with_checksums: bool,
    label: Option<&str>,
) -> Result<Vec<Planned>, ReleaseError> {
    let mut assets = Vec::new();
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut sums = String::new();
    for (file, record) in bundle.manifest.files() {
        let local = file.rel().rsplit('/').next().unwrap_or(file.rel());
        if local.contains(['\n', '\r', '\\']) {
            return Err(ReleaseError::Config(format!(
                "`{}` cannot be a release asset name (line break or backslash); rename it",
                file.rel().escape_debug()
            )));
        }
        let name = stored_name(local);
        if let Some(first) = seen.insert(name.clone(), file.rel().to_owned()) {
            return Err(ReleaseError::Config(format!(
                "release assets are flat, and `{first}` and `{}` would both be `{name}`; narrow `path` so file names are unique",
                file.rel()
            )));
        }
        let sha256 = hex::encode(record.sha256);
        let _ = writeln!(sums, "{sha256}  {name}");
        assets.push(Planned {
            content_type: crate::net::mime_type(&name),
            renamed_from: (name != local).then(|| local.to_owned()),
            label: label.map(|template| template.replace("{name}", local)),
            name,
            body: AssetBody::File {
                path: file.path().to_path_buf(),
                len: record.size,
            },
            size: record.size,
            sha256,
        });
    }
    if seen.contains_key(bundle.checksums_name) {
        return Err(ReleaseError::Config(format!(
            "a selected file is named `{}`, the checksums asset's name; set `checksums` to another name",
            bundle.checksums_name
        )));
    }
    if !with_checksums {
        return Ok(assets);
    }
    let sums = Bytes::from(sums);
    assets.push(Planned {
        name: bundle.checksums_name.to_owned(),
        renamed_from: None,
        label: None,
        size: sums.len() as u64,
        sha256: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&sums)),
        body: AssetBody::Bytes(sums),
        content_type: "text/plain",
    });
    Ok(assets)
}

/// The name GitHub stores an uploaded asset under. GitHub documents only that it "renames
/// asset filenames that have special characters, non-alphanumeric characters, and leading
/// or trailing periods" (REST docs, "Upload a release asset"); what users report
/// (softprops/action-gh-release#159 and #741, actions/upload-release-asset#57,
/// github/rest-api-description#2968): every character other than ASCII letters, digits,
/// `-`, `_`, `.` and `+` becomes `.`, and a leading `.` gets `default` before it
/// (`.config` -> `default.config`). The upload's answer has the name GitHub chose, which
/// wins where it differs.
fn stored_name(local: &str) -> String {
    let mut name: String = local
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+') {
                c
            } else {
                '.'
            }
        })
        .collect();
    if name.starts_with('.') {
        name.insert_str(0, "default");
    }
    name
}

#[cfg(test)]
mod tests {
    use super::stored_name;

    #[test]
    fn names_are_predicted_as_github_stores_them() {
        assert_eq!(
            stored_name("app-1.0+git_x64.tar.gz"),
            "app-1.0+git_x64.tar.gz"
        );
        assert_eq!(stored_name("My App (x64).zip"), "My.App..x64..zip");
        assert_eq!(stored_name("pkg-1:2~rc[1].deb"), "pkg-1.2.rc.1..deb");
        assert_eq!(stored_name(".config"), "default.config");
    }
}
