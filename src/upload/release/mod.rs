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
mod notes;
mod plan;
mod roll;
mod set;
mod staging;

pub(crate) use self::plan::{Plan, check_setup, plan};

use tokio::runtime::Runtime;

use self::asset::upload_asset;
use self::find::find_or_create;
use self::plan::Planned;
use self::staging::{Landed, inventory, remove_leftovers, settle, stage};
use crate::events::{Event, Reporter};
use crate::exit_code::ExitCode;
use crate::github::api::{Api, ApiError, Asset, Release, ReleaseUpdate};

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
    AssetsExist { tag: String, names: String },
    /// The release this run is directed at was made for another commit than the set's.
    #[error(
        "release `{tag}` was made for commit {recorded}, not for {commit}, the commit this release set is built from; stevedore adds no asset of one commit to another commit's release: ship this commit under a new tag, or delete release `{tag}` (and move its tag) to rebuild it from this commit"
    )]
    OtherCommit {
        tag: String,
        /// The commit the release records (`target_commitish`).
        recorded: String,
        commit: String,
    },
    /// The release is published and immutable.
    #[error(
        "release `{tag}` is published and immutable: GitHub refuses new assets; publish a new tag, or let stevedore create the release (it uploads to a draft and publishes last)"
    )]
    Immutable { tag: String },
    /// The release `rolling` would replace is immutable.
    #[error(
        "release `{tag}` is immutable, so it cannot roll: its assets and tag are fixed once published; turn off immutable releases for the repository (Settings > General > Releases), or ship each build under its own tag instead of `rolling`"
    )]
    RollingImmutable { tag: String },
    /// A call failed.
    #[error("{what}: {source}")]
    Api {
        /// What was being done.
        what: String,
        source: ApiError,
    },
    /// Some assets did not land; this run did not publish the release.
    #[error("{failed} asset(s) failed ({first}); {landed} landed; {}", aftermath(*.published))]
    Incomplete {
        /// How many failed.
        failed: usize,
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
        name: String,
        /// The digest the release reports.
        got: String,
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
            | ReleaseError::Immutable { .. }
            | ReleaseError::RollingImmutable { .. } => ExitCode::BadInput,
            ReleaseError::Api { .. }
            | ReleaseError::Incomplete { .. }
            | ReleaseError::Mismatch { .. }
            | ReleaseError::OtherCommit { .. } => ExitCode::UploadFailed,
        }
    }
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
    /// Bytes this run uploaded (assets already there from an earlier run count nothing).
    pub bytes: u64,
    /// This job's files as the release holds them: stored name and hex SHA-256 (the
    /// checksums asset is not one of them); what an attestation names.
    pub subjects: Vec<(String, String)>,
}

/// Uploads the plan. Returns what landed, and the failure that stopped it, if any.
pub(crate) fn upload(
    plan: &Plan,
    runtime: &Runtime,
    reporter: &dyn Reporter,
) -> (ReleaseReport, Option<ReleaseError>) {
    let mut report = ReleaseReport::default();
    let error = runtime.block_on(run(plan, reporter, &mut report)).err();
    report.subjects = report
        .assets
        .iter()
        .filter(|(name, _)| *name != plan.checksums_name)
        .filter_map(|(name, _)| {
            let planned = plan.assets.iter().find(|p| p.name == *name)?;
            Some((name.clone(), planned.sha256.clone()))
        })
        .collect();
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
    let rows: Vec<(String, String)> = plan
        .assets
        .iter()
        .filter(|a| a.name != plan.checksums_name)
        .map(|a| (a.name.clone(), a.sha256.clone()))
        .collect();
    let publish = release.draft && !plan.keep_draft;
    if plan.rolling && release.draft {
        return roll::roll_out(&api, plan, &release, report, publish, &rows, reporter).await;
    }
    finalize(&api, plan, &release, (report, reporter), publish, &rows).await?;
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
        if let Some(Ok(landed)) = &result {
            report.bytes += landed.size;
        }
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

/// The release's last update: published (with `make-latest` and the discussion) when
/// `publish`, else left a draft; `body` as the new notes when there are any.
pub(super) fn going_out<'p>(
    plan: &'p Plan,
    publish: bool,
    body: Option<&'p str>,
) -> ReleaseUpdate<'p> {
    ReleaseUpdate {
        draft: publish.then_some(false),
        make_latest: plan.make_latest.filter(|_| publish),
        body,
        discussion_category: plan.discussion_category.as_deref().filter(|_| publish),
        tag_name: None,
    }
}

/// With `checksums-in-body`, `release`'s notes with the table of `rows`; `None` without it,
/// or when the table would not fit: GitHub refuses notes over its limit, and with them the
/// publication in the same request, so the table is left out (with a warning) rather than
/// the release unpublished.
pub(super) fn notes_with_table(
    plan: &Plan,
    release: &Release,
    rows: &[(String, String)],
    reporter: &dyn Reporter,
) -> Option<String> {
    plan.checksums_in_body
        .then(|| notes::with_table(release.body.as_deref(), rows))
        .filter(|body| {
            let fits = body.chars().count() <= notes::MAX_BODY_CHARS;
            if !fits {
                reporter.event(&Event::warning(format!(
                    "`checksums-in-body`: the release notes with the checksums table would exceed GitHub's limit of {} characters; the table is left out (the `{}` asset has the checksums)",
                    notes::MAX_BODY_CHARS,
                    plan.checksums_name
                )));
            }
            fits
        })
}

/// The last request: publishes the draft once every asset landed (`publish`), with the
/// discussion `discussion-category` asks for; with `checksums-in-body`, the notes get the
/// table of `rows` (asset name, hex SHA-256) in the same request, or alone when the
/// release stays a draft or was published already.
async fn finalize(
    api: &Api,
    plan: &Plan,
    release: &Release,
    (report, reporter): (&mut ReleaseReport, &dyn Reporter),
    publish: bool,
    rows: &[(String, String)],
) -> Result<(), ReleaseError> {
    let body = notes_with_table(plan, release, rows, reporter);
    if !publish && body.is_none() {
        return Ok(());
    }
    let update = going_out(plan, publish, body.as_deref());
    let what = if publish {
        "publishing the release (it stays a draft with every asset)"
    } else {
        "writing the checksums table into the release notes"
    };
    let updated = api
        .update_release(release.id, &update)
        .await
        .map_err(api_err(what))?;
    if publish {
        report.url = Some(updated.html_url);
        report.published = true;
        report.release_published = Some(true);
    }
    Ok(())
}
