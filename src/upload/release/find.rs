//! Finding the release, or creating it as a draft. Matrix jobs race to create the same
//! release: a create that wins may still find an older draft (converge on it), and one
//! that loses (`already_exists`) re-fetches what the other job created.
//!
//! A release set (`expect-assets`) belongs to one commit (review finding 6, issue 19): its
//! draft is created with the commit as `target_commitish` (where GitHub creates the tag at
//! publication, so the tag also points at what was built), and only drafts that record
//! this commit are joined. A draft of another commit (an earlier run on a branch with a
//! fixed `tag`, or the commit a tag pointed at before it moved) is left as it is and a new
//! draft is made for this commit: it may still belong to a run in progress, so it is
//! neither joined (its assets would be vouched for and published) nor deleted (that run
//! would fail). Assets carry no mark of their own: only jobs of the commit find its draft,
//! so every asset stevedore puts there is from that commit, and a label (shown on the
//! release page in place of the name) would be noise to every reader that protects
//! against nobody who could not also set it.

use std::time::Duration;

use super::plan::{Plan, Target};
use super::{ReleaseError, api_err};
use crate::events::{Event, Reporter};
use crate::github::api::{Api, ApiError, Draft, Release};

/// The release of `release-id`, or of the tag: found, else created as a draft. Matrix
/// jobs race to create it; the two ways a create can lose are handled apart.
pub(super) async fn find_or_create(
    plan: &Plan,
    api: &Api,
    reporter: &dyn Reporter,
) -> Result<Release, ReleaseError> {
    let tag = match &plan.target {
        Target::Id(id) => {
            return api
                .release(*id)
                .await
                .map_err(api_err(format!("getting release {id}")));
        }
        Target::Tag(tag) => tag,
    };
    // A rolling release is built as a draft under a stand-in tag name (`roll`), unless
    // this commit's release is already out (a re-run), which is used as it is.
    let stand_in;
    let lookup = if plan.rolling {
        if let Some(out) = rolled_out(plan, api, tag).await? {
            return Ok(out);
        }
        stand_in = super::roll::draft_tag(tag);
        stand_in.as_str()
    } else {
        tag.as_str()
    };
    if let Some(found) = find_existing(api, lookup, plan.commit.as_deref(), reporter).await? {
        return Ok(found);
    }
    let name = plan.name.as_deref().unwrap_or(tag);
    let body = notes(plan, api, tag).await?;
    let draft = Draft {
        tag: lookup,
        name,
        body: body.as_deref(),
        target_commitish: target(plan),
        prerelease: plan.prerelease,
        discussion_category: plan.discussion_category.as_deref(),
    };
    match api.create_draft(&draft).await {
        Ok(created) => {
            converge_on_oldest_draft(api, lookup, plan.commit.as_deref(), created, reporter).await
        }
        Err(e) if e.code() == Some("already_exists") => {
            created_elsewhere(api, lookup, e, reporter).await
        }
        Err(e) => Err(api_err(format!("creating release `{tag}`"))(e)),
    }
}

/// For `rolling`: the published release of `tag` when it was made for this commit (an
/// earlier run of the commit rolled it out already). An immutable one cannot roll: refused
/// here, before anything is uploaded.
async fn rolled_out(plan: &Plan, api: &Api, tag: &str) -> Result<Option<Release>, ReleaseError> {
    let current = api
        .release_by_tag(tag)
        .await
        .map_err(api_err(format!("looking up release `{tag}`")))?;
    if current.as_ref().is_some_and(|r| r.immutable) {
        return Err(ReleaseError::RollingImmutable {
            tag: tag.to_owned(),
        });
    }
    Ok(current.filter(|r| {
        plan.commit
            .as_deref()
            .is_some_and(|c| recorded_commit(r).is_some_and(|rc| rc.eq_ignore_ascii_case(c)))
    }))
}

/// The body of the release about to be created: `body` (or `body-path`), then, with
/// `generate-release-notes`, GitHub's generated notes for the tag.
async fn notes(plan: &Plan, api: &Api, tag: &str) -> Result<Option<String>, ReleaseError> {
    if !plan.generate_notes {
        return Ok(plan.body.clone());
    }
    let generated = api
        .generate_notes(tag, target(plan), plan.previous_tag.as_deref())
        .await
        .map_err(api_err(format!("generating release notes for `{tag}`")))?;
    Ok(Some(match plan.body.as_deref() {
        Some(body) if !body.trim().is_empty() => format!("{}\n\n{generated}", body.trim_end()),
        _ => generated,
    }))
}

/// Where a release this run creates puts its tag: a set's commit, else `target-commitish`
/// (none: the default branch).
fn target(plan: &Plan) -> Option<&str> {
    plan.commit.as_deref().or(plan.target_commitish.as_deref())
}

/// The commit a release records as its `target_commitish`, when that is a full commit SHA
/// (a branch name records no commit).
pub(super) fn recorded_commit(release: &Release) -> Option<&str> {
    release
        .target_commitish
        .as_deref()
        .filter(|t| matches!(t.len(), 40 | 64) && t.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Whether a draft may be joined: any, for a single job; for a set, only one made for the
/// set's commit.
fn made_for(draft: &Release, commit: Option<&str>) -> bool {
    commit.is_none_or(|c| recorded_commit(draft).is_some_and(|r| r.eq_ignore_ascii_case(c)))
}

/// The published release of `tag`, else the oldest draft with it that this run may join
/// (drafts are invisible by tag, so the list is searched).
async fn find_existing(
    api: &Api,
    tag: &str,
    commit: Option<&str>,
    reporter: &dyn Reporter,
) -> Result<Option<Release>, ReleaseError> {
    if let Some(r) = api
        .release_by_tag(tag)
        .await
        .map_err(api_err(format!("looking up release `{tag}`")))?
    {
        return Ok(Some(r));
    }
    let (draft, others) = oldest_draft(api, tag, commit).await?;
    if let Some(r) = &draft {
        reporter.event(&Event::info(format!(
            "Using the existing draft release `{tag}` (id {})",
            r.id
        )));
    }
    if let Some(commit) = commit {
        for other in &others {
            reporter.event(&Event::warning(format!(
                "Draft release `{tag}` (id {}) was made for {}, not for {commit}, this run's commit: it is left as it is and not joined{}; delete it once no run of that commit uses it",
                other.id,
                recorded_commit(other).map_or_else(
                    || "no recorded commit".to_owned(),
                    |c| format!("commit {c}")
                ),
                if draft.is_none() {
                    "; a new draft is made for this commit"
                } else {
                    ""
                }
            )));
        }
    }
    Ok(draft)
}

/// The draft with this tag that every job of the set (or of the single job) settles on:
/// the oldest (lowest id) of those it may join; and the drafts with the tag it may not.
async fn oldest_draft(
    api: &Api,
    tag: &str,
    commit: Option<&str>,
) -> Result<(Option<Release>, Vec<Release>), ReleaseError> {
    let (mine, others): (Vec<Release>, Vec<Release>) = api
        .drafts_with_tag(tag)
        .await
        .map_err(api_err("listing releases"))?
        .into_iter()
        .partition(|d| made_for(d, commit));
    Ok((mine.into_iter().next(), others))
}

/// Our draft was created, but matrix jobs may each have created a draft an instant apart
/// (drafts may share a tag): all converge on the oldest, and a newer duplicate of ours is
/// removed.
async fn converge_on_oldest_draft(
    api: &Api,
    tag: &str,
    commit: Option<&str>,
    created: Release,
    reporter: &dyn Reporter,
) -> Result<Release, ReleaseError> {
    match oldest_draft(api, tag, commit).await?.0 {
        Some(first) if first.id < created.id => {
            api.delete_release(created.id)
                .await
                .map_err(api_err("deleting a duplicate draft"))?;
            reporter.event(&Event::info(format!(
                "Release `{tag}` was created concurrently; using draft {}",
                first.id
            )));
            Ok(first)
        }
        _ => {
            reporter.event(&Event::info(format!(
                "Created draft release `{tag}` (id {})",
                created.id
            )));
            Ok(created)
        }
    }
}

/// The create answered 422 `already_exists`: another job created the release first. It
/// may take a moment to be visible by tag, so the lookup is retried (1 s, 2 s, 4 s)
/// before the refusal stands.
async fn created_elsewhere(
    api: &Api,
    tag: &str,
    refused: ApiError,
    reporter: &dyn Reporter,
) -> Result<Release, ReleaseError> {
    for delay in [1, 2, 4] {
        if let Some(r) = api
            .release_by_tag(tag)
            .await
            .map_err(api_err(format!("looking up release `{tag}`")))?
        {
            reporter.event(&Event::info(format!(
                "Release `{tag}` was created concurrently; using it (id {})",
                r.id
            )));
            return Ok(r);
        }
        tokio::time::sleep(Duration::from_secs(delay)).await;
    }
    Err(api_err(format!("creating release `{tag}`"))(refused))
}
