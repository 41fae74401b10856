//! A release shared by matrix jobs (`expect-assets`): each job uploads its files to the one
//! draft under temporary names, renames them into place together once all landed
//! (`staging`), then lists the release. While a line of `expect-assets` matches no asset,
//! or another job's staged assets are there (it is still uploading or renaming: a line may
//! already match part of its set), the draft stays as it is for the jobs still to come. The job that finds every line matched
//! writes the release's single checksums asset, covering every asset (from GitHub's
//! `digest`, or the bytes streamed down and hashed where there is none), and publishes.
//!
//! Jobs that find the set complete at once compute the same document from the same
//! listing: an identical checksums asset already there is success, and an upload that
//! loses the race (422 `already_exists`) is re-listed and compared by the asset retry. A
//! job that runs after publication adds its new assets and swaps a checksums asset that no
//! longer covers every asset, as `overwrite` does (`staging::swap_in`). After writing, the
//! release is listed again: if it changed meanwhile (another job's asset arrived), the
//! document is written anew, so whichever job writes last leaves it covering everything.
//! The draft is published only after a listing found the document covering every asset
//! (review finding 11, issue 19: publishing first showed a stale document until the
//! rewrite). Only the gap between that listing and the publishing request remains, which
//! no API call closes; a job whose asset lands in it rewrites the document itself.

use std::fmt::Write as _;
use std::time::SystemTime;

use bytes::Bytes;

use super::asset::upload_asset;
use super::plan::{Plan, Planned};
use super::roll::roll_out;
use super::staging::{
    STALE_AFTER, checksums_failed, in_flight, is_stale, replace_checksums, staged_for,
};
use super::{ReleaseError, ReleaseReport, api_err, finalize};
use crate::events::{Event, Reporter};
use crate::github::api::{Api, Asset, AssetBody, Release};

/// Rounds of write-then-check before the checksums asset is left as last written (each
/// round needs another job to have changed the release in between).
const ROUNDS: usize = 5;

/// Completes the set if it can: see the module documentation.
pub(super) async fn complete(
    api: &Api,
    plan: &Plan,
    release: &Release,
    reporter: &dyn Reporter,
    report: &mut ReleaseReport,
) -> Result<(), ReleaseError> {
    let tag = &release.tag_name;
    let mut draft = release.draft;
    for _ in 0..ROUNDS {
        let listed = api
            .assets(release.id)
            .await
            .map_err(api_err("listing the release's assets"))?;
        let members = set_members(plan, &listed);
        check_own(plan, &members)?;
        report.present = members.iter().map(|a| a.name.clone()).collect();
        report.waiting = plan
            .expect
            .iter()
            .filter(|e| !members.iter().any(|a| e.matcher.is_match(&a.name)))
            .map(|e| e.line.clone())
            .collect();
        let clock = SystemTime::now();
        let busy = others_in_flight(plan, &listed, clock);
        if draft && !(busy.is_empty() && report.waiting.is_empty()) {
            // Another job may have published the set since this one opened the draft: this
            // job is then a late one, and completes the published release itself.
            draft = still_draft(api, release).await;
        }
        if report.waiting.is_empty() && !busy.is_empty() && draft {
            report.release_published = Some(false);
            wait_for_staged(tag, &busy, reporter);
            return Ok(());
        }
        if !report.waiting.is_empty() && draft {
            report.release_published = Some(false);
            wait_for_lines(plan, tag, &report.waiting, members.len(), reporter);
            return Ok(());
        }
        remove_stale(api, plan, &listed, clock, reporter).await;
        let (sums, rows, covered) = checksums(api, &members).await?;
        let document = format!(
            "sha256:{}",
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(sums.as_bytes()))
        );
        let current = listed.iter().find(|a| a.name == plan.checksums_name);
        let written = write_checksums(api, plan, release, current, sums, reporter).await?;
        report
            .assets
            .retain(|(name, _)| *name != plan.checksums_name);
        report
            .assets
            .push((written.name.clone(), written.browser_download_url.clone()));
        // Listed again: an asset that arrived while the document was written means it
        // must be written anew, before anyone sees the release.
        let after = api
            .assets(release.id)
            .await
            .map_err(api_err("listing the release's assets"))?;
        let now: Vec<(String, Option<String>)> = set_members(plan, &after)
            .iter()
            .map(|a| (a.name.clone(), a.digest.clone()))
            .collect();
        // The asset in place must be the document just computed: a swap that lost a race
        // may leave another job's document, or put the old one back.
        let sums_now = after.iter().find(|a| a.name == plan.checksums_name);
        let in_place = sums_now.is_some_and(|a| {
            a.id == written.id && a.digest.as_deref().is_none_or(|d| d == document)
        });
        if draft && held_by_staging(plan, &after, tag, reporter) {
            report.release_published = Some(false);
            return Ok(());
        }
        if now == covered && in_place {
            return go_out(api, plan, (release, draft), (report, reporter), &rows).await;
        }
    }
    report.release_published = Some(!draft);
    reporter.event(&Event::warning(format!(
        "Release `{tag}` kept changing while `{}` was written ({ROUNDS} rounds); {}",
        plan.checksums_name,
        if draft {
            "it stays a draft: the job whose assets changed it completes the set and publishes"
        } else {
            "the last job to finish rewrites it"
        }
    )));
    Ok(())
}

/// The complete set's last step: a rolling draft is exchanged for the tag's release
/// (`roll`); any other draft is published (unless `draft: true`), and with
/// `checksums-in-body` the notes get the table (`finalize`).
async fn go_out(
    api: &Api,
    plan: &Plan,
    (release, mut draft): (&Release, bool),
    (report, reporter): (&mut ReleaseReport, &dyn Reporter),
    rows: &[(String, String)],
) -> Result<(), ReleaseError> {
    let publish = draft && !plan.keep_draft;
    if plan.rolling && draft {
        roll_out(api, plan, release, report, publish, rows, reporter).await?;
    } else {
        finalize(api, plan, release, (report, reporter), publish, rows).await?;
    }
    if publish {
        draft = false;
    }
    report.release_published = Some(!draft);
    reporter.event(&Event::info(format!(
        "Release `{}`: the set is complete ({} asset(s)); `{}` covers every asset{}",
        report.tag.as_deref().unwrap_or(&release.tag_name),
        rows.len(),
        plan.checksums_name,
        if report.published {
            "; published"
        } else if draft {
            "; left a draft (`draft: true`)"
        } else {
            "; the release was already published"
        }
    )));
    Ok(())
}

/// Whether `listed` (after the checksums asset was written) shows set members another job
/// staged meanwhile: that job renames them into place and completes the set itself, so
/// this one leaves the draft to it (said so). A completing job's staged checksums copy is
/// no member (jobs completing at once must not wait for each other).
fn held_by_staging(plan: &Plan, listed: &[Asset], tag: &str, reporter: &dyn Reporter) -> bool {
    let staging: Vec<&Asset> = others_in_flight(plan, listed, SystemTime::now())
        .into_iter()
        .filter(|a| staged_for(a) != Some(plan.checksums_name.as_str()))
        .collect();
    if !staging.is_empty() {
        wait_for_staged(tag, &staging, reporter);
    }
    !staging.is_empty()
}

/// [`in_flight`] but for copies standing for this job's own assets: all of the job's
/// uploads are in place by now, and such a copy is its own leftover (an asset it replaced
/// and could not delete) or an identical file's copy from another job; waiting for it
/// would be waiting for this job.
fn others_in_flight<'a>(plan: &Plan, listed: &'a [Asset], now: SystemTime) -> Vec<&'a Asset> {
    in_flight(listed, now, plan.attempt)
        .into_iter()
        .filter(|a| staged_for(a).is_none_or(|n| !plan.assets.iter().any(|p| p.name == n)))
        .collect()
}

/// Whether the release is still a draft, as GitHub has it now (a failed look says yes: the
/// draft's rules are the careful ones).
async fn still_draft(api: &Api, release: &Release) -> bool {
    api.release(release.id).await.map_or(true, |r| r.draft)
}

/// Lines of `expect-assets` match no asset yet (`waiting`): the draft waits for the jobs
/// still to come.
fn wait_for_lines(
    plan: &Plan,
    tag: &str,
    waiting: &[String],
    present: usize,
    reporter: &dyn Reporter,
) {
    reporter.event(&Event::info(format!(
        "Release `{tag}`: {} of {} `expect-assets` line(s) still wait ({}); {present} asset(s) are there; the draft waits for the jobs still to come",
        waiting.len(),
        plan.expect.len(),
        quoted(waiting),
    )));
}

/// Another job's assets are staged (`busy`): it is uploading, or renaming its set into
/// place, and completes the set itself once they are in.
fn wait_for_staged(tag: &str, busy: &[&Asset], reporter: &dyn Reporter) {
    let names: Vec<String> = busy
        .iter()
        .filter_map(|a| staged_for(a).map(str::to_owned))
        .collect();
    reporter.event(&Event::info(format!(
        "Release `{tag}`: every `expect-assets` line matches, but {} asset(s) of another job are still staged ({}); the draft waits for that job, which completes the set once its assets are in place",
        busy.len(),
        quoted(&names)
    )));
}

/// Removes what killed jobs staged and never renamed ([`is_stale`]), so it does not stay in
/// view on the published release; a failure leaves it for the next completing job.
async fn remove_stale(
    api: &Api,
    plan: &Plan,
    listed: &[Asset],
    now: SystemTime,
    reporter: &dyn Reporter,
) {
    for stale in listed
        .iter()
        .filter(|a| staged_for(a).is_some() && is_stale(a, now, plan.attempt))
    {
        match api.delete_asset(stale.id).await {
            Ok(()) => reporter.event(&Event::info(format!(
                "Removed `{}`, staged by a job that is over (an earlier attempt of this run, or more than {} hours ago) and never put in place",
                stale.name,
                STALE_AFTER.as_secs() / 3600
            ))),
            Err(e) if e.status() == Some(404) => {}
            Err(e) => reporter.event(&Event::warning(format!(
                "could not remove the stale staged asset `{}`: {e}",
                stale.name
            ))),
        }
    }
}

/// The assets the set is made of: uploaded ones, not the checksums asset, not an asset
/// stevedore staged (`staged_for`: a user's file named like one is a member); sorted by
/// name.
fn set_members<'a>(plan: &Plan, listed: &'a [Asset]) -> Vec<&'a Asset> {
    let mut members: Vec<&Asset> = listed
        .iter()
        .filter(|a| {
            a.state == "uploaded" && a.name != plan.checksums_name && staged_for(a).is_none()
        })
        .collect();
    members.sort_by(|a, b| a.name.cmp(&b.name));
    members
}

/// This job's assets, as the release holds them, are the scanned bytes (checked on upload;
/// checked again here, as the document vouches for them).
fn check_own(plan: &Plan, members: &[&Asset]) -> Result<(), ReleaseError> {
    for planned in &plan.assets {
        let Some(held) = members.iter().find(|a| a.name == planned.name) else {
            continue;
        };
        if let Some(digest) = &held.digest
            && *digest != format!("sha256:{}", planned.sha256)
        {
            return Err(ReleaseError::Mismatch {
                name: planned.name.clone(),
                got: digest.clone(),
                expected: planned.sha256.clone(),
            });
        }
    }
    Ok(())
}

/// The checksums document (`sha256sum -c` format, sorted by name) of `members`, and what
/// it covers (name and digest as listed).
async fn checksums(
    api: &Api,
    members: &[&Asset],
) -> Result<(String, Rows, Vec<(String, Option<String>)>), ReleaseError> {
    let mut sums = String::new();
    let mut rows = Vec::with_capacity(members.len());
    let mut covered = Vec::with_capacity(members.len());
    for a in members {
        let hex = match a.digest.as_deref().and_then(|d| d.strip_prefix("sha256:")) {
            Some(hex) => hex.to_owned(),
            None => hex::encode(api.asset_sha256(a.id).await.map_err(api_err(format!(
                "downloading asset `{}` to hash it (GitHub reports no digest)",
                a.name
            )))?),
        };
        let _ = writeln!(sums, "{hex}  {}", a.name);
        rows.push((a.name.clone(), hex));
        covered.push((a.name.clone(), a.digest.clone()));
    }
    Ok((sums, rows, covered))
}

/// (asset name, hex SHA-256) per line of the checksums document, for `checksums-in-body`.
type Rows = Vec<(String, String)>;

/// The release's checksums asset with `sums` as content: kept when identical, uploaded
/// when missing (a concurrent identical upload is accepted), else the new one is staged
/// under a temporary name and swapped in.
async fn write_checksums(
    api: &Api,
    plan: &Plan,
    release: &Release,
    current: Option<&Asset>,
    sums: String,
    reporter: &dyn Reporter,
) -> Result<Asset, ReleaseError> {
    let sums = Bytes::from(sums);
    let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&sums));
    let planned = Planned {
        name: plan.checksums_name.clone(),
        renamed_from: None,
        label: None,
        size: sums.len() as u64,
        sha256,
        body: AssetBody::Bytes(sums),
        content_type: "text/plain",
    };
    let failed = |e| checksums_failed(plan, e);
    let raced;
    let current = match current {
        Some(current) => current,
        None => match first_upload(api, release, &planned).await {
            Ok(Some(written)) => return Ok(written),
            // Another job wrote it first: re-listed, and compared below.
            Ok(None) => {
                let listed = api
                    .assets(release.id)
                    .await
                    .map_err(api_err("listing the release's assets"))?;
                raced = listed.into_iter().find(|a| a.name == plan.checksums_name);
                match &raced {
                    Some(found) => found,
                    None => {
                        return upload_asset(api, release, &planned).await.map_err(failed);
                    }
                }
            }
            Err(()) => {
                return upload_asset(api, release, &planned).await.map_err(failed);
            }
        },
    };
    let same = match current.digest.as_deref() {
        Some(d) => d == format!("sha256:{}", planned.sha256),
        None => api
            .asset_sha256(current.id)
            .await
            .is_ok_and(|h| hex::encode(h) == planned.sha256),
    };
    if same && current.state == "uploaded" {
        return Ok(current.clone());
    }
    replace_checksums(api, plan, release, current, planned, reporter).await
}

/// One plain attempt at the checksums asset: the asset when it landed as planned, `None`
/// when another job's upload of the same name got there first (422 `already_exists`:
/// compared at once, without the retry's wait), `Err` for anything the retried upload
/// handles.
async fn first_upload(
    api: &Api,
    release: &Release,
    planned: &Planned,
) -> Result<Option<Asset>, ()> {
    match api
        .upload(
            release,
            &planned.name,
            planned.label.as_deref(),
            planned.content_type,
            &planned.body,
        )
        .await
    {
        Ok((landed, _))
            if landed
                .digest
                .as_deref()
                .is_none_or(|d| d == format!("sha256:{}", planned.sha256)) =>
        {
            Ok(Some(landed))
        }
        Err(e) if e.code() == Some("already_exists") => Ok(None),
        _ => Err(()),
    }
}

/// Lines quoted for a message.
fn quoted(lines: &[String]) -> String {
    lines
        .iter()
        .map(|l| format!("`{l}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
