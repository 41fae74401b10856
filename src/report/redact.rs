//! The one filter everything shown to people passes through (log lines, the job summary,
//! annotations, the check run, outputs): registered values, the credential detectors and
//! URL signatures become `***`.

use std::borrow::Cow;
use std::sync::{OnceLock, RwLock};

use crate::scan::secrets::SecretScanner;
use crate::secret::signatures;

/// The credential detectors, built once for every text shown.
fn detectors() -> &'static SecretScanner {
    static SCANNER: OnceLock<SecretScanner> = OnceLock::new();
    SCANNER.get_or_init(SecretScanner::new)
}

/// Values registered with [`add_mask`]: like the runner's secret masker, one list for the
/// whole process, so every text rendered anywhere is filtered by the same values.
static MASKS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Registers a credential: from now on [`text`] replaces it with `***` wherever it appears.
pub(crate) fn add_mask(value: &str) {
    if value.is_empty() {
        return;
    }
    if let Ok(mut masks) = MASKS.write()
        && !masks.iter().any(|m| m == value)
    {
        masks.push(value.to_owned());
    }
}

/// `text` with every credential replaced by `***`: the values registered with
/// [`add_mask`], anything the credential detectors recognise, and signature parameters of
/// URLs. Run it on raw text, before any escaping: escaping can split a token (markdown
/// turns `ghp_` into `ghp\_`) so that the detectors no longer see it.
#[must_use]
pub(crate) fn text(raw: &str) -> Cow<'_, str> {
    let mut out = signatures(detectors().redact(raw));
    if let Ok(masks) = MASKS.read() {
        for mask in masks.iter() {
            if out.contains(mask.as_str()) {
                out = Cow::Owned(out.replace(mask.as_str(), "***"));
            }
        }
    }
    out
}
