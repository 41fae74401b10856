//! The GitHub Release destination: never publishes an incomplete release.
//!
//! The release of `tag` (or `release-id`) is found (published: by tag; draft: through the
//! list, as drafts are invisible by tag) or created **as a draft**; a create that answers
//! 422 `already_exists` (a matrix job won the race) re-fetches and reuses (`find`). Name
//! clashes with existing assets stop the run before any upload unless `overwrite`. Assets
//! (every file, flat, plus a checksums file naming them) go up concurrently, bounded;
//! mutative API calls are paced; a failed upload is retried idempotently (`asset`): the
//! asset list decides whether a half-created (`starter`) or mismatching asset is deleted
//! first, or a matching one accepted. Only when every asset landed is the draft published
//! (unless `draft: true`).
//!
//! With `expect-assets` the release is a set that matrix jobs fill together (`set`): no
//! job uploads a checksums asset of its own; the job that finds every line matched writes
//! the release's single checksums asset, covering every asset, and publishes. A set
//! belongs to one commit (`GITHUB_SHA`, or `target-commitish`): its draft records that
//! commit as its `target_commitish`, and only drafts made for it are joined (`find`).

mod asset;
mod find;
mod set;
mod staged;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use bytes::Bytes;
use tokio::runtime::Runtime;

use self::asset::upload_asset;
use self::find::find_or_create;
use self::staged::{STAGED_LABEL, remove_leftovers, staged_name, swap_in};
use super::Bundle;
use crate::config::{Config, MakeLatest};
use crate::events::{Event, Reporter};
use crate::exit_code::ExitCode;
use crate::github::RunnerEnv;
use crate::github::api::{Api, ApiError, Asset, AssetBody, Release};
use crate::secret::Secret;

/// Uploads in flight when `upload-concurrency` is not set (GitHub asks for serial
/// mutative requests; a few in flight stays clear of the secondary limits).
const DEFAULT_CONCURRENCY: usize = 4;

/// Why the release destination failed.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    /// Something the release needs is missing or wrong.
    #[error("{0}")]
    Config(String),
    /// Assets of these names exist and `overwrite` is false.
    #[error(
        "release `{tag}` already has asset(s) named {names}; set `overwrite: true` to replace them, or rename the files"
    )]
    AssetsExist {
        /// The release's tag.
        tag: String,
        /// The names, quoted.
        names: String,
    },
    /// The release this run is directed at was made for another commit than the set's.
    #[error(
        "release `{tag}` was made for commit {recorded}, not for {commit}, the commit this release set is built from; stevedore adds no asset of one commit to another commit's release: ship this commit under a new tag, or delete release `{tag}` (and move its tag) to rebuild it from this commit"
    )]
    OtherCommit {
        /// The release's tag.
        tag: String,
        /// The commit the release records (`target_commitish`).
        recorded: String,
        /// The set's commit.
        commit: String,
    },
    /// The release is published and immutable.
    #[error(
        "release `{tag}` is published and immutable: GitHub refuses new assets; publish a new tag, or let stevedore create the release (it uploads to a draft and publishes last)"
    )]
    Immutable {
        /// The release's tag.
        tag: String,
    },
    /// A call failed.
    #[error("{what}: {source}")]
    Api {
        /// What was being done.
        what: String,
        /// The cause.
        source: ApiError,
    },
    /// Some assets did not land; this run did not publish the release.
    #[error("{failed} asset(s) failed ({first}); {landed} landed; {}", aftermath(*.published))]
    Incomplete {
        /// How many failed.
        failed: usize,
        /// The first failure.
        first: String,
        /// How many landed.
        landed: usize,
        /// The release was published (by an earlier run or another job) all the same.
        published: bool,
    },
    /// An asset of this job, as the release holds it, is not what the scan hashed.
    #[error(
        "release asset `{name}` is not the scanned file: the release has {got}, the scan sha256:{expected}; the release was not published; run the job again"
    )]
    Mismatch {
        /// The asset.
        name: String,
        /// The digest the release reports.
        got: String,
        /// The scan's hex SHA-256.
        expected: String,
    },
}

/// What a failed run says about the release: the truth about its state, which another job
/// may have changed.
fn aftermath(published: bool) -> &'static str {
    if published {
        "the release is published (by an earlier run or another job) without them; run the job again to add them"
    } else {
        "the release was left unpublished (draft) so nobody sees it incomplete"
    }
}

impl ReleaseError {
    /// Configuration problems are exit 2; failed transfers are exit 4.
    #[must_use]
    pub fn exit_code(&self) -> ExitCode {
        match self {
            ReleaseError::Config(_)
            | ReleaseError::AssetsExist { .. }
            | ReleaseError::Immutable { .. } => ExitCode::BadInput,
            ReleaseError::Api { .. }
            | ReleaseError::Incomplete { .. }
            | ReleaseError::Mismatch { .. }
            | ReleaseError::OtherCommit { .. } => ExitCode::UploadFailed,
        }
    }
}

/// Where the assets go.
#[derive(Debug, Clone)]
enum Target {
    Tag(String),
    Id(u64),
}

/// One asset to upload.
#[derive(Debug, Clone)]
struct Planned {
    /// The name GitHub will store it under ([`stored_name`]).
    name: String,
    /// The file's name as selected, when GitHub will store it under another.
    renamed_from: Option<String>,
    /// The label the upload sets: [`STAGED_LABEL`] on a staged upload, else none.
    label: Option<String>,
    body: AssetBody,
    size: u64,
    sha256: String,
    content_type: &'static str,
}

/// Everything checked before the first request.
#[derive(Debug)]
pub struct Plan {
    api_url: String,
    token: Secret,
    repo: String,
    target: Target,
    name: Option<String>,
    /// Notes of a release this run creates (`body-path`, else `body`).
    body: Option<String>,
    /// `generate-release-notes`.
    generate_notes: bool,
    /// `target-commitish`.
    target_commitish: Option<String>,
    /// With `expect-assets`: the commit the set belongs to (`target-commitish`, else
    /// `GITHUB_SHA`; a full SHA, lower case). Its draft records it as `target_commitish`.
    commit: Option<String>,
    prerelease: bool,
    keep_draft: bool,
    make_latest: Option<&'static str>,
    overwrite: bool,
    concurrency: usize,
    idle: Duration,
    assets: Vec<Planned>,
    /// `expect-assets`, each line with its matcher; empty: one job's release.
    expect: Vec<crate::config::ExpectedAsset>,
    /// The checksums asset's name.
    checksums_name: String,
}

/// What landed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReleaseReport {
    /// The release id.
    pub id: Option<u64>,
    /// Its page.
    pub url: Option<String>,
    /// Asset name -> download URL, for every asset that landed.
    pub assets: Vec<(String, String)>,
    /// Whether it was published by this run.
    pub published: bool,
    /// The release's tag.
    pub tag: Option<String>,
    /// Assets that did not land: name and why (not started ones say so).
    pub failed: Vec<(String, String)>,
    /// Whether the release is published at the end of the run, by this run or any other
    /// (`release-published`); `None` when no release was reached.
    pub release_published: Option<bool>,
    /// With `expect-assets`: the lines no asset matches yet (the set is incomplete).
    pub waiting: Vec<String>,
    /// With `expect-assets`: every asset the release holds, by name, as last listed.
    pub present: Vec<String>,
}

/// What needs no file to be checked (issue 26 item 8): token, repository, tag, the set's
/// commit, the notes file, the `expect-assets` globs; before the scan, with every other
/// destination's, so all are said at once.
#[must_use]
pub fn check_setup(config: &Config, env: &RunnerEnv, cwd: &std::path::Path) -> Vec<ReleaseError> {
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
    if !config.release.expect_assets.is_empty() {
        errors.extend(set_commit(config, env).err());
    }
    errors.extend(body(config, cwd).err());
    errors
}

/// Checks the inputs and lists the assets.
pub fn plan(
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
    let assets = planned_assets(bundle, expect.is_empty())?;
    let commit = if expect.is_empty() {
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
fn planned_assets(bundle: &Bundle<'_>, with_checksums: bool) -> Result<Vec<Planned>, ReleaseError> {
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
            label: None,
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

/// Uploads the plan. Returns what landed, and the failure that stopped it, if any.
pub fn upload(
    plan: &Plan,
    runtime: &Runtime,
    reporter: &dyn Reporter,
) -> (ReleaseReport, Option<ReleaseError>) {
    let mut report = ReleaseReport::default();
    let error = runtime.block_on(run(plan, reporter, &mut report)).err();
    (report, error)
}

fn api_err(what: impl Into<String>) -> impl FnOnce(ApiError) -> ReleaseError {
    let what = what.into();
    move |source| ReleaseError::Api { what, source }
}

/// Uploads in this order: find or create the release, sort its assets against the plan
/// (stopping on a clash), remove what an earlier run left, stage the uploads, upload them,
/// settle (roll back, or swap replacements in), and publish last.
/// One warning per file whose name GitHub will change, before anything is uploaded.
fn warn_renames(plan: &Plan, reporter: &dyn Reporter) {
    for asset in &plan.assets {
        if let Some(local) = &asset.renamed_from {
            reporter.event(&Event::warning(format!(
                "GitHub stores release asset `{local}` as `{}` (it replaces spaces and other special characters with `.`); the checksums asset, the `assets` output and `expect-assets` use `{}`",
                asset.name, asset.name
            )));
        }
    }
}

/// The prediction missed a rule of GitHub's: the answer's name is used from here on, but a
/// single job's checksums asset was written with the predicted one.
fn warn_mispredicted(plan: &Plan, fresh: &[(&Planned, Asset)], reporter: &dyn Reporter) {
    for (asset, stored) in fresh.iter().filter(|(a, s)| s.name != a.name) {
        let checksums = if plan.expect.is_empty() {
            format!(
                ", but the checksums asset names it `{}`: rename the file to `{}`",
                asset.name, stored.name
            )
        } else {
            String::new()
        };
        reporter.event(&Event::warning(format!(
            "GitHub stored `{}` as `{}`, not as predicted; the `assets` output uses `{}`{checksums}",
            asset.renamed_from.as_deref().unwrap_or(&asset.name),
            stored.name,
            stored.name,
        )));
    }
}

async fn run(
    plan: &Plan,
    reporter: &dyn Reporter,
    report: &mut ReleaseReport,
) -> Result<(), ReleaseError> {
    let api = Api::new(&plan.api_url, &plan.token, &plan.repo, plan.idle)
        .map_err(ReleaseError::Config)?;
    warn_renames(plan, reporter);
    let release = open_release(plan, &api, reporter, report).await?;
    // Existing assets: a clash stops the run before anything is uploaded.
    let existing = api
        .assets(release.id)
        .await
        .map_err(api_err("listing the release's assets"))?;
    let (done, clashes) = inventory(plan, &existing, &release.tag_name)?;
    remove_leftovers(&api, plan, &existing).await?;
    for a in &done {
        report
            .assets
            .push((a.name.clone(), a.browser_download_url.clone()));
    }
    let uploads = stage(plan, &done, &clashes);
    let (landed, failures) = upload_all(&api, &release, plan, &uploads, report).await;
    warn_mispredicted(plan, &landed.fresh, reporter);
    settle(&api, &release, &clashes, landed, reporter, report).await?;
    if let Some(first) = failures.first() {
        // Another job may have published the set meanwhile: the message says what is so.
        let published = if release.draft && !plan.expect.is_empty() {
            api.release(release.id).await.is_ok_and(|r| !r.draft)
        } else {
            !release.draft
        };
        report.release_published = Some(published);
        return Err(ReleaseError::Incomplete {
            failed: failures.len(),
            first: first.clone(),
            landed: report.assets.len(),
            published,
        });
    }
    if !plan.expect.is_empty() {
        return set::complete(&api, plan, &release, reporter, report).await;
    }
    if release.draft && !plan.keep_draft {
        publish(&api, plan, &release, report).await?;
    }
    reporter.event(&Event::info(format!(
        "Release `{}`: {} asset(s) uploaded{}",
        release.tag_name,
        report.assets.len(),
        if report.published { ", published" } else { "" }
    )));
    Ok(())
}

/// The release the assets go to, recorded in the report; a published immutable release,
/// and (for a set) a release recorded for another commit, are refused before anything is
/// uploaded.
async fn open_release(
    plan: &Plan,
    api: &Api,
    reporter: &dyn Reporter,
    report: &mut ReleaseReport,
) -> Result<Release, ReleaseError> {
    let release = find_or_create(plan, api, reporter).await?;
    // Drafts found by tag were made for this commit (`find`); this catches a published
    // release (a draft of another commit is never joined, but a published release is the
    // tag's only one) and `release-id`. A release that records no commit (made by hand,
    // or by another tool, with a branch as its target) cannot be told apart and is used.
    // Checked before the report names the release: `release-published` must not say
    // `true` for another commit's release.
    if let Some(commit) = &plan.commit
        && let Some(recorded) = find::recorded_commit(&release)
        && !recorded.eq_ignore_ascii_case(commit)
    {
        return Err(ReleaseError::OtherCommit {
            recorded: recorded.to_owned(),
            tag: release.tag_name,
            commit: commit.clone(),
        });
    }
    report.id = Some(release.id);
    report.tag = Some(release.tag_name.clone());
    report.url = Some(release.html_url.clone());
    report.release_published = Some(!release.draft);
    if !release.draft && release.immutable {
        return Err(ReleaseError::Immutable {
            tag: release.tag_name,
        });
    }
    Ok(release)
}

/// The uploads to make, each with the asset it stands for: every planned asset the release
/// does not already have, a replacement (a clash, under `overwrite`) staged under a
/// temporary name and marked (`staged`) until [`settle`] swaps it in.
fn stage<'p>(plan: &'p Plan, done: &[&Asset], clashes: &[&Asset]) -> Vec<(&'p Planned, Planned)> {
    plan.assets
        .iter()
        .filter(|p| !done.iter().any(|a| a.name == p.name))
        .map(|p| {
            let mut upload = p.clone();
            if clashes.iter().any(|c| c.name == p.name) {
                upload.name = staged_name(&p.name);
                upload.label = Some(STAGED_LABEL.to_owned());
            }
            (p, upload)
        })
        .collect()
}

/// Uploads the staged assets, bounded by `upload-concurrency`. Returns what landed and
/// each failure's line; failed and unstarted assets go to the report.
async fn upload_all<'p>(
    api: &Api,
    release: &Release,
    plan: &Plan,
    uploads: &[(&'p Planned, Planned)],
    report: &mut ReleaseReport,
) -> (Landed<'p>, Vec<String>) {
    let results = super::bounded::run(uploads, plan.concurrency, |(_, upload)| {
        upload_asset(api, release, upload)
    })
    .await;
    let mut failures = Vec::new();
    let mut staged = Vec::new();
    let mut fresh = Vec::new();
    for ((asset, upload), result) in uploads.iter().zip(results) {
        match result {
            Some(Ok(landed)) if upload.name != asset.name => staged.push((*asset, landed)),
            Some(Ok(landed)) => fresh.push((*asset, landed)),
            Some(Err(e)) => {
                failures.push(format!("`{}`: {e}", asset.name));
                report.failed.push((asset.name.clone(), e.to_string()));
            }
            None => report.failed.push((
                asset.name.clone(),
                "not attempted after an earlier failure".into(),
            )),
        }
    }
    let landed = Landed {
        staged,
        fresh,
        failed: !failures.is_empty(),
    };
    (landed, failures)
}

/// Publishes the draft once every asset landed.
async fn publish(
    api: &Api,
    plan: &Plan,
    release: &Release,
    report: &mut ReleaseReport,
) -> Result<(), ReleaseError> {
    let published = api
        .publish(release.id, plan.make_latest)
        .await
        .map_err(api_err(
            "publishing the release (it stays a draft with every asset)",
        ))?;
    report.url = Some(published.html_url);
    report.published = true;
    report.release_published = Some(true);
    Ok(())
}

/// What the uploads left: replacements under temporary names, new assets, and whether any
/// asset failed.
struct Landed<'p> {
    staged: Vec<(&'p Planned, Asset)>,
    fresh: Vec<(&'p Planned, Asset)>,
    failed: bool,
}

/// After the uploads: on failure, removes the staged replacements (and, on a published
/// release, this run's new assets); on success, swaps the replacements in.
async fn settle(
    api: &Api,
    release: &Release,
    clashes: &[&Asset],
    landed: Landed<'_>,
    reporter: &dyn Reporter,
    report: &mut ReleaseReport,
) -> Result<(), ReleaseError> {
    if landed.failed {
        // The replacements that did land are removed; the assets they replace stay. On a
        // published release the new assets of this run go too, so what people see is the
        // release as it was (a draft keeps them: nobody sees it, and a re-run skips them).
        let rollback = landed
            .staged
            .iter()
            .chain(landed.fresh.iter().filter(|_| !release.draft));
        for (asset, added) in rollback {
            if let Err(e) = api.delete_asset(added.id).await {
                reporter.event(&Event::warning(format!(
                    "could not remove `{}` after the failure: {e}",
                    added.name
                )));
            }
            report.failed.push((
                asset.name.clone(),
                "landed, then removed: another asset failed".into(),
            ));
        }
        if release.draft {
            for (_, asset_landed) in landed.fresh {
                report
                    .assets
                    .push((asset_landed.name, asset_landed.browser_download_url));
            }
        }
    } else {
        // The name GitHub's answer gives, which is the name people download.
        for (_, asset_landed) in landed.fresh {
            report
                .assets
                .push((asset_landed.name, asset_landed.browser_download_url));
        }
        // Every replacement landed: swap each in (`staged::swap_in`: the old asset moved
        // aside, the new one renamed into place by the next request, the old deleted).
        for (asset, staged) in &landed.staged {
            let old = clashes.iter().find(|c| c.name == asset.name).copied();
            let placed = swap_in(api, old, staged, &asset.name, reporter)
                .await
                .map_err(|e| e.into_error(&asset.name))?;
            report
                .assets
                .push((placed.name, placed.browser_download_url));
        }
    }
    Ok(())
}

/// Sorts the release's existing assets against the plan: the same name with the same bytes
/// is already done (a re-run); the same name with other bytes is a clash, refused unless
/// `overwrite`.
fn inventory<'a>(
    plan: &Plan,
    existing: &'a [Asset],
    tag: &str,
) -> Result<(Vec<&'a Asset>, Vec<&'a Asset>), ReleaseError> {
    let same = |a: &Asset, p: &Planned| {
        a.state == "uploaded"
            && a.name == p.name
            && a.size == p.size
            && a.digest.as_deref() == Some(format!("sha256:{}", p.sha256).as_str())
    };
    let done: Vec<&Asset> = existing
        .iter()
        .filter(|a| plan.assets.iter().any(|p| same(a, p)))
        .collect();
    let clashes: Vec<&Asset> = existing
        .iter()
        .filter(|a| {
            a.state == "uploaded" && plan.assets.iter().any(|p| p.name == a.name && !same(a, p))
        })
        .collect();
    if !clashes.is_empty() && !plan.overwrite {
        return Err(ReleaseError::AssetsExist {
            tag: tag.to_owned(),
            names: clashes
                .iter()
                .map(|a| format!("`{}`", a.name))
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    Ok((done, clashes))
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
