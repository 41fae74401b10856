//! Rolling releases (`rolling: true`, issue 21): one release per `tag` (`nightly`,
//! `continuous`) that always holds the newest build; after a run the tag points at this
//! commit and the release holds exactly this run's files (or this commit's matrix set) and
//! one checksums asset.
//!
//! The new release is built beside the old one as a **draft** for this commit, under a
//! stand-in tag name ([`draft_tag`]): GitHub refuses a release (even a draft) with the tag
//! of a published release, and a draft creates no git tag, so the stand-in name touches
//! nothing. Uploads, retries and a matrix's set all happen on that draft while the old
//! release stays published and untouched: a run that fails for good leaves the old release
//! exactly as it was (and its draft, which the re-run of this commit joins).
//!
//! Chosen over replacing assets inside the published release (staged uploads swapped in),
//! because there every swap and every deletion of a stale asset is a moment in which people
//! see a mixed release, and a failure half-way leaves one; and the notes, title and
//! checksums asset would change in place too. Once the draft is complete, [`roll_out`]
//! exchanges the two in four requests: the old release is made a draft again (reversible,
//! unlike a deletion), the tag is moved to this commit with the git refs API, the new
//! release takes the tag's name and is published, and the old one is deleted. Between the
//! first and the third request the tag has no published release (GitHub allows one
//! published release per tag, so no order avoids a gap or an overlap); a failure in them
//! puts the tag and the old release back.

use super::plan::{Plan, Target};
use super::{ReleaseError, ReleaseReport, api_err, going_out, notes_with_table};
use crate::events::{Event, Reporter};
use crate::github::api::{Api, Release, ReleaseUpdate};

/// The tag name a rolling release's draft carries until it goes out: `<tag>.stevedore-next`.
pub(super) fn draft_tag(tag: &str) -> String {
    format!("{tag}.stevedore-next")
}

/// The rolling tag and this commit (a rolling plan always has both).
fn tag_and_commit(plan: &Plan) -> Result<(&str, &str), ReleaseError> {
    match (&plan.target, plan.commit.as_deref()) {
        (Target::Tag(tag), Some(commit)) => Ok((tag, commit)),
        _ => Err(ReleaseError::Config(
            "`rolling` needs `tag` and the commit (GITHUB_SHA)".into(),
        )),
    }
}

/// Exchanges the release of the tag for `draft` (complete): see the module documentation.
/// With `publish` false (`draft: true`) the new release takes the tag's name but stays a
/// draft. `rows` are the checksums table's (`checksums-in-body`).
pub(super) async fn roll_out(
    api: &Api,
    plan: &Plan,
    draft: &Release,
    report: &mut ReleaseReport,
    publish: bool,
    rows: &[(String, String)],
    reporter: &dyn Reporter,
) -> Result<(), ReleaseError> {
    let (tag, commit) = tag_and_commit(plan)?;
    let old = api
        .release_by_tag(tag)
        .await
        .map_err(api_err(format!("looking up release `{tag}`")))?
        .filter(|old| old.id != draft.id);
    if let Some(old) = &old {
        if old.immutable {
            return Err(ReleaseError::RollingImmutable {
                tag: tag.to_owned(),
            });
        }
        let back_to_draft = ReleaseUpdate {
            draft: Some(true),
            ..ReleaseUpdate::default()
        };
        api.update_release(old.id, &back_to_draft)
            .await
            .map_err(api_err(format!(
                "taking the previous release of `{tag}` off (it stays published as it was; the new one is a complete draft)"
            )))?;
    }
    let was = match api.tag_commit(tag).await {
        Ok(was) => was,
        Err(e) => {
            put_back(api, tag, old.as_ref(), None, reporter).await;
            return Err(api_err(format!("reading where tag `{tag}` points"))(e));
        }
    };
    if let Err(e) = api.set_tag(tag, commit, was.is_some()).await {
        put_back(api, tag, old.as_ref(), None, reporter).await;
        return Err(api_err(format!(
            "moving tag `{tag}` to {commit} (the previous release is back as it was)"
        ))(e));
    }
    let body = notes_with_table(plan, draft, rows, reporter);
    let update = ReleaseUpdate {
        tag_name: Some(tag),
        ..going_out(plan, publish, body.as_deref())
    };
    let rolled = match api.update_release(draft.id, &update).await {
        Ok(rolled) => rolled,
        Err(e) => {
            put_back(api, tag, old.as_ref(), was.as_deref(), reporter).await;
            return Err(api_err(format!(
                "publishing the new release of `{tag}` (the previous one is back as it was; the new one stays a complete draft)"
            ))(e));
        }
    };
    // Another job completing the same set at the same moment may have deleted it (404).
    if let Some(old) = &old
        && let Err(e) = api.delete_release(old.id).await
        && e.status() != Some(404)
    {
        reporter.event(&Event::warning(format!(
            "the previous release of `{tag}` (id {}) is a draft now and could not be deleted: {e}; delete it by hand",
            old.id
        )));
    }
    // Download URLs carry the tag: the ones the uploads answered name the stand-in.
    match api.assets(draft.id).await {
        Ok(listed) => {
            for (name, url) in &mut report.assets {
                if let Some(a) = listed.iter().find(|a| a.name == *name) {
                    url.clone_from(&a.browser_download_url);
                }
            }
        }
        Err(e) => reporter.event(&Event::warning(format!(
            "could not list the assets of `{tag}` after it rolled out: {e}; the `assets` output names the draft's addresses"
        ))),
    }
    report.tag = Some(tag.to_owned());
    report.url = Some(rolled.html_url.clone());
    report.published = publish;
    report.release_published = Some(publish);
    reporter.event(&Event::info(format!(
        "Release `{tag}` rolled to {commit}: {} asset(s){}",
        report.assets.len(),
        if publish {
            ", published"
        } else {
            ", left a draft (`draft: true`)"
        }
    )));
    Ok(())
}

/// Undoes a roll-out that failed half-way: the tag back where it was (`moved_from`, when
/// this run moved it; a tag this run created stays: deleting a tag is not this step's to
/// do), the old release published again. Failures are warnings: the error that got here
/// is the run's.
async fn put_back(
    api: &Api,
    tag: &str,
    old: Option<&Release>,
    moved_from: Option<&str>,
    reporter: &dyn Reporter,
) {
    if let Some(sha) = moved_from
        && let Err(e) = api.set_tag(tag, sha, true).await
    {
        reporter.event(&Event::warning(format!(
            "could not move tag `{tag}` back to {sha}: {e}; move it by hand (`git push --force origin {sha}:refs/tags/{tag}`)"
        )));
    }
    if let Some(old) = old {
        let republish = ReleaseUpdate {
            draft: Some(false),
            ..ReleaseUpdate::default()
        };
        if let Err(e) = api.update_release(old.id, &republish).await {
            reporter.event(&Event::warning(format!(
                "could not publish the previous release of `{tag}` (id {}) again: {e}; publish it by hand",
                old.id
            )));
        }
    }
}
