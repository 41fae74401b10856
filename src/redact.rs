//! Values that must never be printed, and the one filter everything shown to people
//! passes through (log lines, the job summary, annotations, the check run, outputs).

use std::borrow::Cow;
use std::fmt;
use std::sync::{OnceLock, RwLock};

use crate::scan::secrets::SecretScanner;

/// The credential detectors, built once for every text shown.
fn detectors() -> &'static SecretScanner {
    static SCANNER: OnceLock<SecretScanner> = OnceLock::new();
    SCANNER.get_or_init(SecretScanner::new)
}

/// Values registered with [`add_mask`]: like the runner's secret masker, one list for the
/// whole process, so every text rendered anywhere is filtered by the same values.
static MASKS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Registers a credential: from now on [`text`] replaces it with `***` wherever it appears.
pub fn add_mask(value: &str) {
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
pub fn text(raw: &str) -> Cow<'_, str> {
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

/// A credential (a token, a secret key). `Debug` and `Display` print `***`; the value is
/// reachable only through [`Secret::expose`], so it cannot slip into a log line by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    #[must_use]
    pub fn new(value: String) -> Self {
        Secret(value)
    }

    /// The credential itself, for the one place that sends it (a header, `::add-mask::`).
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Query parameters whose value is a signature (Azure SAS `sig`, S3 presigned URLs).
const SIGNATURE_KEYS: [&str; 3] = ["sig=", "X-Amz-Signature=", "X-Amz-Credential="];

/// Replaces the value of every signature parameter in `text` with `***`, so a signed URL
/// that reaches a message (an error, say) is useless to whoever reads the log.
#[must_use]
pub fn signatures(text: std::borrow::Cow<'_, str>) -> std::borrow::Cow<'_, str> {
    if !SIGNATURE_KEYS.iter().any(|k| text.contains(k)) {
        return text;
    }
    let mut out = String::with_capacity(text.len());
    let mut rest: &str = &text;
    loop {
        let next = SIGNATURE_KEYS
            .iter()
            .filter_map(|k| {
                rest.match_indices(k)
                    .map(|(at, _)| at)
                    .find(|&at| at == 0 || matches!(rest.as_bytes()[at - 1], b'?' | b'&' | b';'))
                    .map(|at| (at, k.len()))
            })
            .min();
        let Some((at, key_len)) = next else {
            out.push_str(rest);
            break;
        };
        let value_at = at + key_len;
        out.push_str(&rest[..value_at]);
        let end = rest[value_at..]
            .find(|c: char| c.is_whitespace() || "&#\"')>".contains(c))
            .map_or(rest.len(), |e| value_at + e);
        if end > value_at {
            out.push_str("***");
        }
        rest = &rest[end..];
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_in_urls_are_replaced() {
        let url =
            "PUT https://acct.blob.core.windows.net/c/a.zip?se=2026&sig=abc%2Bdef&sp=cw failed";
        assert_eq!(
            signatures(url.into()),
            "PUT https://acct.blob.core.windows.net/c/a.zip?se=2026&sig=***&sp=cw failed"
        );
        assert_eq!(signatures("design=1 sig=".into()), "design=1 sig=");
        assert_eq!(
            signatures("a?design=1&sig=xyz".into()),
            "a?design=1&sig=***"
        );
        assert_eq!(signatures("no url".into()), "no url");
    }

    #[test]
    fn never_formats_the_value() {
        let s = Secret::new("ghp_hunter2".into());
        assert!(!format!("{s} {s:?}").contains("hunter2"));
        assert_eq!(s.expose(), "ghp_hunter2");
    }
}
