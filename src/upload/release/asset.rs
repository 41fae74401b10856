//! One asset's upload, retried idempotently: a retry first looks at what the failed
//! attempt left (an asset that landed after all is accepted, a half-created or mismatching
//! one deleted), and what landed is checked against the scan.

use super::Planned;
use crate::github::api::{Api, ApiError, Asset, RETRY, Release};
use crate::net::Verdict;

/// One asset, retried idempotently ([`RETRY`], the client's policy): before each retry the asset list
/// says whether the previous attempt landed after all (accepted when size and digest match)
/// or left a `starter`/mismatching asset (deleted). When every attempt failed, the last
/// failure is the asset's error.
pub(super) async fn upload_asset(
    api: &Api,
    release: &Release,
    asset: &Planned,
) -> Result<Asset, AssetError> {
    RETRY
        .run(|attempt| upload_attempt(api, release, asset, attempt))
        .await
        .map_err(|verdict| verdict.give_up(AssetError::from))
}

/// Attempt `attempt` of one asset's upload.
async fn upload_attempt(
    api: &Api,
    release: &Release,
    asset: &Planned,
    attempt: u32,
) -> Result<Asset, Verdict<AssetError, ApiError>> {
    if attempt > 0
        && let Some(found) = landed_earlier(api, release, asset)
            .await
            .map_err(Verdict::Fail)?
    {
        return Ok(found);
    }
    // Uploads go to the uploads host and are bounded by `upload-concurrency`; the pace
    // applies to the API's mutative calls (create, publish, delete).
    match api
        .upload(
            release,
            &asset.name,
            asset.label.as_deref(),
            asset.content_type,
            &asset.body,
        )
        .await
    {
        Ok((landed, sent)) => verify_landed(api, asset, landed, sent)
            .await
            .map_err(Verdict::Fail),
        Err(e) if retryable(&e) => Err(Verdict::Retry(e)),
        Err(e) => Err(Verdict::Fail(e.into())),
    }
}

/// What a failed attempt left under the asset's name: the asset, when it landed after all
/// (uploaded, with the planned size and digest); otherwise a leftover is deleted and
/// `None` says to upload again.
async fn landed_earlier(
    api: &Api,
    release: &Release,
    asset: &Planned,
) -> Result<Option<Asset>, AssetError> {
    let listed = api.assets(release.id).await?;
    let Some(found) = listed.iter().find(|a| a.name == asset.name) else {
        return Ok(None);
    };
    let digest_ok = found
        .digest
        .as_deref()
        .is_none_or(|d| d == format!("sha256:{}", asset.sha256));
    if found.state == "uploaded" && found.size == asset.size && digest_ok {
        return Ok(Some(found.clone()));
    }
    api.delete_asset(found.id).await?;
    Ok(None)
}

/// Worth another attempt: what the client retries its own calls on, or an
/// `already_exists` that the asset list before the retry resolves.
fn retryable(e: &ApiError) -> bool {
    e.retryable() || e.code() == Some("already_exists")
}

/// The scan vouches for an asset only if what was sent, and what GitHub stored, are the
/// scanned bytes: a file the build rewrote after the scan would otherwise ship while the
/// checksums asset lists its old hash (and its new content was never scanned for secrets).
/// A mismatching asset is removed at once, so no re-run or publication can accept it.
async fn verify_landed(
    api: &Api,
    asset: &Planned,
    landed: Asset,
    sent: Option<[u8; 32]>,
) -> Result<Asset, AssetError> {
    let expected = format!("sha256:{}", asset.sha256);
    let mismatch = match (sent.map(hex::encode), landed.digest.as_deref()) {
        (Some(sent), _) if sent != asset.sha256 => {
            Some(("the bytes sent", format!("sha256:{sent}")))
        }
        (_, Some(stored)) if stored != expected => Some(("GitHub's copy", stored.to_owned())),
        _ => None,
    };
    let Some((what, got)) = mismatch else {
        return Ok(landed);
    };
    let aftermath = match api.delete_asset(landed.id).await {
        Ok(()) => "the asset was removed".to_owned(),
        Err(e) => format!("removing the asset failed ({e}): delete it by hand"),
    };
    Err(AssetError::Changed {
        name: asset.name.clone(),
        what,
        got,
        expected,
        aftermath,
    })
}

/// Why one asset did not land.
#[derive(Debug, thiserror::Error)]
pub(super) enum AssetError {
    /// A call failed.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The asset's bytes are not the scanned bytes.
    #[error(
        "`{name}` changed after it was scanned: {what} has {got}, the scan {expected}; {aftermath}; run again once the build has finished writing"
    )]
    Changed {
        name: String,
        what: &'static str,
        got: String,
        expected: String,
        aftermath: String,
    },
}
