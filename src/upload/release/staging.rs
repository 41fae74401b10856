//! The replacement protocol: how a release's existing assets are sorted against the plan
//! ([`inventory`]: done, or a clash), what an earlier run left is removed
//! ([`remove_leftovers`]), replacements are staged ([`stage`]) and, once every upload
//! landed, swapped in or rolled back ([`settle`], [`swap_in`]); a release set's checksums
//! asset is replaced the same way ([`replace_checksums`]).
//!
//! Staged assets: a replacement (an `overwrite` clash, or a release set's checksums asset
//! being rewritten) is uploaded under a temporary name and swapped in only once it is
//! there, so a failed run never leaves a release without an asset it had. In a release set
//! (`expect-assets`) **every** upload of a job is staged, and the job's assets are renamed
//! into place together once all of them landed (issue 21): a job counts toward the set
//! whole or not at all, and while any job's staged assets are present no job completes
//! the set ([`in_flight`]), which covers the few requests the renames take.
//!
//! A staged asset is named `stevedore-<8 hex>-<name>` **and** carries the label
//! [`STAGED_LABEL`]. The name alone is one anyone may give a file (review finding 11, issue
//! 19: a user's `stevedore-0123abcd-x` was left out of the checksums and deleted as a
//! leftover). The label is set by the upload request itself (the upload URL takes it), so a
//! staged asset is marked from the moment it exists; a run killed at any point leaves
//! leftovers that any later run recognises, which a token known only to the run that
//! staged them could not do. GitHub shows a label in place of the name on the release
//! page: on a staged asset it says what the asset is, which is what someone looking at a
//! leftover needs to read; the swap clears it, so assets in place carry no label from
//! stevedore. Anyone who can set labels can also upload and delete assets, so the mark
//! guards against accidents (a file's name), not against people with write access.

use std::time::{Duration, SystemTime};

use super::asset::{AssetError, upload_asset};
use super::plan::{Plan, Planned};
use super::{ReleaseError, ReleaseReport, api_err};
use crate::events::{Event, Reporter};
use crate::github::api::{Api, ApiError, Asset, Release};

/// The label of every asset stevedore stages; see the module documentation.
pub(super) const STAGED_LABEL: &str = "stevedore: staged copy, not yet in place";

/// How long a staged asset may wait to be renamed into place before it is taken for the
/// leftover of a killed job: GitHub-hosted jobs stop at 6 hours, and a job renames its
/// staged assets as soon as its last upload landed. Younger ones hold a set back
/// ([`in_flight`]); older ones are ignored, and removed by the job that completes the set.
/// A killed job's re-run removes its own leftovers at once ([`remove_leftovers`]).
pub(super) const STALE_AFTER: Duration = Duration::from_hours(6);

/// A fresh temporary name for an asset that will become (or was) `name`.
pub(super) fn staged_name(name: &str) -> String {
    format!("stevedore-{}-{name}", &crate::secret::random_hex()[..8])
}

/// The name a staged asset stands for: only an asset stevedore staged (its name as
/// [`staged_name`] makes it, and [`STAGED_LABEL`]); a user's asset of such a name is an
/// asset like any other.
pub(super) fn staged_for(asset: &Asset) -> Option<&str> {
    let label = asset.label.as_deref()?;
    if label != STAGED_LABEL && labelled_attempt(asset).is_none() {
        return None;
    }
    let (token, rest) = asset.name.strip_prefix("stevedore-")?.split_at_checked(8)?;
    let original = rest.strip_prefix('-')?;
    token
        .bytes()
        .all(|b| b.is_ascii_hexdigit())
        .then_some(original)
}

/// The workflow run and attempt a job belongs to (`GITHUB_RUN_ID`, `GITHUB_RUN_ATTEMPT`),
/// written into the label of what it stages: a later attempt of the same run knows that
/// copies an earlier attempt staged belong to a job that is over, whatever their names (a
/// re-run may build other file names, so it cannot recognise its killed attempt's copies
/// by name; review 21, finding 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Attempt {
    pub(crate) run: u64,
    pub(crate) attempt: u32,
}

/// The label of a copy this job stages: [`STAGED_LABEL`], with the run and attempt where
/// the runner gives them.
pub(super) fn staged_label(attempt: Option<Attempt>) -> String {
    match attempt {
        Some(a) => format!("{STAGED_LABEL} (run {}, attempt {})", a.run, a.attempt),
        None => STAGED_LABEL.to_owned(),
    }
}

/// The run and attempt a staged copy's label names, if any.
fn labelled_attempt(asset: &Asset) -> Option<Attempt> {
    let rest = asset
        .label
        .as_deref()?
        .strip_prefix(STAGED_LABEL)?
        .strip_prefix(" (run ")?
        .strip_suffix(')')?;
    let (run, attempt) = rest.split_once(", attempt ")?;
    Some(Attempt {
        run: run.parse().ok()?,
        attempt: attempt.parse().ok()?,
    })
}

/// Whether a staged asset is a finished job's leftover: staged by an earlier attempt of
/// this job's run (`current`), or older than [`STALE_AFTER`] by its `updated_at`. An asset
/// without a readable time is young: waiting for a job is safer than completing a set
/// without it.
pub(super) fn is_stale(asset: &Asset, now: SystemTime, current: Option<Attempt>) -> bool {
    if let (Some(current), Some(theirs)) = (current, labelled_attempt(asset))
        && theirs.run == current.run
        && theirs.attempt < current.attempt
    {
        return true;
    }
    let Some(updated) = asset.updated_at.as_deref().and_then(|t| {
        time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
    }) else {
        return false;
    };
    let age = time::OffsetDateTime::from(now) - updated;
    age > STALE_AFTER
}

/// The staged assets of jobs still at work: uploading under temporary names, or renaming
/// their landed set into place. A set is not complete while there are any (see the
/// module documentation); [`is_stale`] ones are a killed job's and do not count.
pub(super) fn in_flight(
    listed: &[Asset],
    now: SystemTime,
    current: Option<Attempt>,
) -> Vec<&Asset> {
    listed
        .iter()
        .filter(|a| staged_for(a).is_some() && !is_stale(a, now, current))
        .collect()
}

/// The step of [`swap_in`] that failed. In every case `staged` is gone and the old asset
/// is back under its name, as far as GitHub let both happen.
#[derive(Debug)]
pub(super) enum SwapFailed {
    /// Moving the old asset off its name.
    Retire(ApiError),
    /// Renaming the staged asset into place.
    PutInPlace(ApiError),
}

impl SwapFailed {
    /// The release error, naming the asset.
    pub(super) fn into_error(self, name: &str) -> ReleaseError {
        match self {
            SwapFailed::Retire(e) => {
                api_err(format!("moving the replaced asset `{name}` aside"))(e)
            }
            SwapFailed::PutInPlace(e) => {
                api_err(format!("renaming the replacement of `{name}` into place"))(e)
            }
        }
    }
}

/// Puts `staged` in place as `name`, replacing `old`.
///
/// GitHub has no atomic replace: names are unique in a release and an asset changes one
/// request at a time, so the old asset must leave the name before the new one takes it.
/// The smallest gap is one request: the old asset is renamed aside (marked staged), and
/// the staged one renamed into place by the very next request, unpaced (a pair, not a
/// burst). Renaming aside rather than deleting first means a failure can put the old asset
/// back; it is deleted only once the new one is in place.
pub(super) async fn swap_in(
    api: &Api,
    old: Option<&Asset>,
    staged: &Asset,
    (name, label): (&str, &str),
    reporter: &dyn Reporter,
) -> Result<Asset, SwapFailed> {
    let mut retired = None;
    if let Some(old) = old {
        match api
            .update_asset(old.id, &staged_name(name), STAGED_LABEL)
            .await
        {
            Ok(aside) => retired = Some((old, aside)),
            // Another job of the matrix removed or replaced it first.
            Err(e) if e.status() == Some(404) => {}
            Err(e) => {
                discard(api, staged).await;
                return Err(SwapFailed::Retire(e));
            }
        }
    }
    let placed = match api.update_asset(staged.id, name, label).await {
        Ok(placed) => placed,
        Err(e) => {
            if let Some((old, aside)) = &retired {
                restore(api, old, aside, name, reporter).await;
            }
            discard(api, staged).await;
            return Err(SwapFailed::PutInPlace(e));
        }
    };
    if let Some((_, aside)) = retired {
        match api.delete_asset(aside.id).await {
            Ok(()) => {}
            Err(e) if e.status() == Some(404) => {}
            Err(e) => reporter.event(&Event::warning(format!(
                "could not remove the replaced `{name}` (now `{}`): {e}; the next run removes it",
                aside.name
            ))),
        }
    }
    Ok(placed)
}

/// Puts a retired asset back under `name` after its replacement failed to take the name.
/// When another job's replacement holds the name by now (422), the old asset is superseded
/// and removed instead.
async fn restore(api: &Api, old: &Asset, aside: &Asset, name: &str, reporter: &dyn Reporter) {
    let label = old.label.as_deref().unwrap_or_default();
    match api.update_asset(aside.id, name, label).await {
        Ok(_) => {}
        Err(e) if e.status() == Some(422) => discard(api, aside).await,
        Err(e) => reporter.event(&Event::warning(format!(
            "could not put `{name}` back after its replacement failed (it is `{}` now): {e}; rename it back by hand, or run the job again",
            aside.name
        ))),
    }
}

/// Deletes an asset this run no longer wants; a failure leaves a leftover the next run
/// removes ([`remove_leftovers`]).
async fn discard(api: &Api, asset: &Asset) {
    let _ = api.delete_asset(asset.id).await;
}

/// Half-created (`starter`) leftovers of an earlier run carry no content: removed before
/// uploading. So are assets an earlier run staged (a replacement, or an old asset moved
/// aside) and never finished swapping because it was killed or cancelled first: on a
/// published release they would stay in view for good. Assets being replaced stay until
/// their replacement has landed under a temporary name, so a failed run never leaves a
/// release without an asset it had.
pub(super) async fn remove_leftovers(
    api: &Api,
    plan: &Plan,
    existing: &[Asset],
) -> Result<(), ReleaseError> {
    let planned = |name: &str| plan.assets.iter().any(|p| p.name == name);
    // A release set's checksums asset is no job's planned asset, but a swap of it killed
    // half-way leaves a staged copy all the same.
    let set_checksums = |name: &str| !plan.expect.is_empty() && name == plan.checksums_name;
    for old in existing.iter().filter(|a| match staged_for(a) {
        Some(stands_for) => planned(stands_for) || set_checksums(stands_for),
        None => planned(&a.name) && a.state != "uploaded",
    }) {
        match api.delete_asset(old.id).await {
            Ok(()) => {}
            // Another job of the matrix removed it first.
            Err(e) if e.status() == Some(404) => {}
            Err(e) => {
                return Err(api_err(format!(
                    "deleting the half-created or staged asset `{}` an earlier run left",
                    old.name
                ))(e));
            }
        }
    }
    Ok(())
}

/// The uploads to make, each with the asset it stands for: every planned asset the release
/// does not already have, a replacement (a clash, under `overwrite`) staged under a
/// temporary name and marked (`staged`) until [`settle`] swaps it in; in a release set,
/// every upload staged, so the job's assets take their names together.
pub(super) fn stage<'p>(
    plan: &'p Plan,
    done: &[&Asset],
    clashes: &[&Asset],
) -> Vec<(&'p Planned, Planned)> {
    plan.assets
        .iter()
        .filter(|p| !done.iter().any(|a| a.name == p.name))
        .map(|p| {
            let mut upload = p.clone();
            if !plan.expect.is_empty() || clashes.iter().any(|c| c.name == p.name) {
                upload.name = staged_name(&p.name);
                upload.label = Some(staged_label(plan.attempt));
            }
            (p, upload)
        })
        .collect()
}

/// What the uploads left: replacements under temporary names, new assets, and whether any
/// asset failed.
pub(super) struct Landed<'p> {
    pub(super) staged: Vec<(&'p Planned, Asset)>,
    pub(super) fresh: Vec<(&'p Planned, Asset)>,
    pub(super) failed: bool,
}

/// After the uploads: on failure, removes the staged replacements (and, on a published
/// release, this run's new assets); on success, swaps the replacements in.
pub(super) async fn settle(
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
        // A release set's new assets are all staged, so none of them is left to count.
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
        // Every upload landed: swap each replacement in ([`swap_in`]: the old asset moved
        // aside, the new one renamed into place by the next request, the old deleted);
        // a release set's staged new assets are renamed into place. New assets go first: a
        // rename that fails then finds no replacement swapped in, which could not be taken
        // back and would leave the set's checksums asset vouching for the replaced bytes.
        let mut order = landed.staged;
        order.sort_by_key(|(asset, _)| clashes.iter().any(|c| c.name == asset.name));
        let mut placed_new = Vec::new();
        for (i, (asset, staged)) in order.iter().enumerate() {
            let old = clashes.iter().find(|c| c.name == asset.name).copied();
            let label = asset.label.as_deref().unwrap_or_default();
            let swapped = match swap_in(api, old, staged, (&asset.name, label), reporter).await {
                // A new asset of a set whose name another job of the matrix took first (422),
                // or whose staged copy that job removed as a leftover of its own (404): the
                // same file shipped by both (a shared `LICENSE`) is in place all the same.
                Err(SwapFailed::PutInPlace(e))
                    if old.is_none() && matches!(e.status(), Some(404 | 422)) =>
                {
                    identical_in_place(api, release, asset)
                        .await
                        .ok_or(SwapFailed::PutInPlace(e))
                }
                other => other,
            };
            match swapped {
                Ok(placed) => {
                    if old.is_none() {
                        placed_new.push(placed.clone());
                    }
                    report
                        .assets
                        .push((placed.name, placed.browser_download_url));
                }
                Err(e) => {
                    // Half a job's set must not count: its new assets already in place
                    // and its staged ones not yet renamed go (the replaced ones stay).
                    let rest = order[i + 1..].iter().map(|(_, s)| s);
                    for gone in placed_new.iter().chain(rest) {
                        discard(api, gone).await;
                    }
                    report
                        .assets
                        .retain(|(name, _)| !placed_new.iter().any(|p| p.name == *name));
                    return Err(match (e, old) {
                        // A set's new asset replaces nothing: its staged copy did not take
                        // the name.
                        (SwapFailed::PutInPlace(e), None) => {
                            api_err(format!("renaming the staged `{}` into place", asset.name))(e)
                        }
                        (e, _) => e.into_error(&asset.name),
                    });
                }
            }
        }
    }
    Ok(())
}

/// The asset in place under `asset`'s name when it holds the planned bytes (put there by
/// another job shipping the same file).
async fn identical_in_place(api: &Api, release: &Release, asset: &Planned) -> Option<Asset> {
    let expected = format!("sha256:{}", asset.sha256);
    api.assets(release.id).await.ok()?.into_iter().find(|a| {
        a.name == asset.name
            && a.state == "uploaded"
            && a.size == asset.size
            && a.digest.as_deref() == Some(expected.as_str())
    })
}

/// Sorts the release's existing assets against the plan: the same name with the same bytes
/// is already done (a re-run); the same name with other bytes is a clash, refused unless
/// `overwrite`.
pub(super) fn inventory<'a>(
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

/// Replaces the checksums asset `current` with `planned`: staged under a temporary name,
/// then swapped in ([`swap_in`]), as `overwrite` does.
pub(super) async fn replace_checksums(
    api: &Api,
    plan: &Plan,
    release: &Release,
    current: &Asset,
    planned: Planned,
    reporter: &dyn Reporter,
) -> Result<Asset, ReleaseError> {
    let name = plan.checksums_name.as_str();
    let mut staged = planned.clone();
    staged.name = staged_name(name);
    staged.label = Some(staged_label(plan.attempt));
    let staged = upload_asset(api, release, &staged)
        .await
        .map_err(|e| checksums_failed(plan, e))?;
    match swap_in(api, Some(current), &staged, (name, ""), reporter).await {
        Ok(placed) => Ok(placed),
        // Another job's replacement took the name (422), or another job removed our staged
        // copy as a leftover (404): ours is gone; the document there, else a fresh upload,
        // stands, and the check after the write decides whether it covers every asset.
        Err(SwapFailed::PutInPlace(e)) if matches!(e.status(), Some(404 | 422)) => {
            let listed = api
                .assets(release.id)
                .await
                .map_err(api_err("listing the release's assets"))?;
            if let Some(there) = listed.into_iter().find(|a| a.name == name) {
                return Ok(there);
            }
            upload_asset(api, release, &planned)
                .await
                .map_err(|e| checksums_failed(plan, e))
        }
        Err(e) => Err(e.into_error(name)),
    }
}

/// The checksums asset's upload failed for good.
pub(super) fn checksums_failed(plan: &Plan, e: AssetError) -> ReleaseError {
    ReleaseError::Api {
        what: format!("uploading the checksums asset `{}`", plan.checksums_name),
        source: match e {
            AssetError::Api(e) => e,
            other @ AssetError::Changed { .. } => {
                crate::github::api::ApiError::Decode(other.to_string())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::{STAGED_LABEL, staged_for, staged_name};
    use crate::github::api::Asset;

    fn asset(name: &str, label: Option<&str>) -> Asset {
        Asset {
            id: 1,
            name: name.to_owned(),
            state: "uploaded".into(),
            size: 1,
            digest: None,
            browser_download_url: String::new(),
            label: label.map(str::to_owned),
            updated_at: None,
        }
    }

    #[test]
    fn an_earlier_attempt_of_this_run_is_over_another_run_is_not() {
        use super::{Attempt, is_stale, staged_label};
        let now = std::time::SystemTime::now();
        let current = Some(Attempt {
            run: 88,
            attempt: 2,
        });
        let by = |run, attempt| {
            let label = staged_label(Some(Attempt { run, attempt }));
            asset(&staged_name("a.bin"), Some(&label))
        };
        assert_eq!(staged_for(&by(88, 1)), Some("a.bin"));
        assert!(is_stale(&by(88, 1), now, current));
        assert!(!is_stale(&by(88, 2), now, current));
        assert!(!is_stale(&by(99, 1), now, current));
        assert!(!is_stale(&by(88, 1), now, None));
        // A label that only starts like one is no staged copy.
        let forged = asset(&staged_name("a.bin"), Some(&format!("{STAGED_LABEL} (x)")));
        assert_eq!(staged_for(&forged), None);
    }

    #[test]
    fn only_assets_stevedore_staged_are_staged() {
        let name = staged_name("SHA256SUMS");
        assert_eq!(
            staged_for(&asset(&name, Some(STAGED_LABEL))),
            Some("SHA256SUMS")
        );
        // A user's file of that name: no label (API upload) or `null` (web upload).
        assert_eq!(staged_for(&asset(&name, Some(""))), None);
        assert_eq!(staged_for(&asset(&name, None)), None);
        assert_eq!(
            staged_for(&asset("stevedore-0123abcd-x", Some("Linux build"))),
            None
        );
        // The label on a name stevedore never makes.
        assert_eq!(
            staged_for(&asset("stevedore-xyz-x", Some(STAGED_LABEL))),
            None
        );
    }
}
