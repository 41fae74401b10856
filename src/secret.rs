//! Values that must never be printed: [`Secret`], and the signature parameters of signed
//! URLs ([`signatures`]). A leaf: destinations and configuration hold credentials without
//! depending on the detectors the report uses.

use std::borrow::Cow;
use std::fmt;

/// A credential (a token, a secret key). `Debug` and `Display` print `***`; the value is
/// reachable only through [`Secret::expose`], so it cannot slip into a log line by accident.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(String);

impl Secret {
    /// Wraps a credential.
    #[must_use]
    pub(crate) fn new(value: String) -> Self {
        Secret(value)
    }

    /// The credential itself, for the one place that sends it (a header, `::add-mask::`).
    #[must_use]
    pub(crate) fn expose(&self) -> &str {
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
pub(crate) fn signatures(text: Cow<'_, str>) -> Cow<'_, str> {
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
    Cow::Owned(out)
}

/// 32 random hex digits (a fresh directory name, a fence token): unguessable by a file
/// name, even without OS randomness (then the clock and the process id).
#[must_use]
pub(crate) fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes.copy_from_slice(&(nanos ^ u128::from(std::process::id())).to_le_bytes());
    }
    hex::encode(bytes)
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
