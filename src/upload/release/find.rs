//! Finding the release, or creating it as a draft. Matrix jobs race to create the same
//! release: a create that wins may still find an older draft (converge on it), and one
//! that loses (`already_exists`) re-fetches what the other job created.

use std::time::Duration;

use super::{Plan, ReleaseError, Target, api_err};
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
    if let Some(found) = find_existing(api, tag, reporter).await? {
        return Ok(found);
    }
    let name = plan.name.as_deref().unwrap_or(tag);
    let body = notes(plan, api, tag).await?;
    let draft = Draft {
        tag,
        name,
        body: body.as_deref(),
        target_commitish: plan.target_commitish.as_deref(),
        prerelease: plan.prerelease,
    };
    match api.create_draft(&draft).await {
        Ok(created) => converge_on_oldest_draft(api, tag, created, reporter).await,
        Err(e) if e.code() == Some("already_exists") => {
            created_elsewhere(api, tag, e, reporter).await
        }
        Err(e) => Err(api_err(format!("creating release `{tag}`"))(e)),
    }
}

/// The body of the release about to be created: `body` (or `body-path`), then, with
/// `generate-release-notes`, GitHub's generated notes for the tag.
async fn notes(plan: &Plan, api: &Api, tag: &str) -> Result<Option<String>, ReleaseError> {
    if !plan.generate_notes {
        return Ok(plan.body.clone());
    }
    let generated = api
        .generate_notes(tag, plan.target_commitish.as_deref())
        .await
        .map_err(api_err(format!("generating release notes for `{tag}`")))?;
    Ok(Some(match plan.body.as_deref() {
        Some(body) if !body.trim().is_empty() => format!("{}\n\n{generated}", body.trim_end()),
        _ => generated,
    }))
}

/// The published release of `tag`, else the oldest draft with it (drafts are invisible by
/// tag, so the list is searched).
async fn find_existing(
    api: &Api,
    tag: &str,
    reporter: &dyn Reporter,
) -> Result<Option<Release>, ReleaseError> {
    if let Some(r) = api
        .release_by_tag(tag)
        .await
        .map_err(api_err(format!("looking up release `{tag}`")))?
    {
        return Ok(Some(r));
    }
    let draft = oldest_draft(api, tag).await?;
    if let Some(r) = &draft {
        reporter.event(&Event::info(format!(
            "Using the existing draft release `{tag}` (id {})",
            r.id
        )));
    }
    Ok(draft)
}

/// The draft with this tag that every job settles on: the oldest (lowest id).
async fn oldest_draft(api: &Api, tag: &str) -> Result<Option<Release>, ReleaseError> {
    Ok(api
        .drafts_with_tag(tag)
        .await
        .map_err(api_err("listing releases"))?
        .into_iter()
        .next())
}

/// Our draft was created, but matrix jobs may each have created a draft an instant apart
/// (drafts may share a tag): all converge on the oldest, and a newer duplicate of ours is
/// removed.
async fn converge_on_oldest_draft(
    api: &Api,
    tag: &str,
    created: Release,
    reporter: &dyn Reporter,
) -> Result<Release, ReleaseError> {
    match oldest_draft(api, tag).await? {
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
