//! `SigV4` request signing with `aws-sigv4`, the AWS SDK for Rust's own signer (kept in step
//! with the service by AWS, and small: no SDK runtime). Object bodies are sent as
//! `UNSIGNED-PAYLOAD` with a *signed* `x-amz-checksum-sha256` header holding the scan's
//! SHA-256, as the AWS SDKs send them: the server checks the body against that value and
//! answers `BadDigest` when they differ, and nobody can change the value without breaking
//! the signature. Small bodies (XML) sign their own hash.

use std::time::SystemTime;

use aws_credential_types::Credentials as AwsCredentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

use crate::secret::Secret;

/// What the signature says about the body.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Payload<'a> {
    /// `UNSIGNED-PAYLOAD`: integrity comes from a signed checksum header.
    Unsigned,
    /// The hex SHA-256 of the body.
    Sha256(&'a str),
}

/// SHA-256 of an empty payload.
pub(crate) const EMPTY_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Credentials from the standard `AWS_*` variables.
#[derive(Debug, Clone)]
pub(crate) struct Credentials {
    /// `AWS_ACCESS_KEY_ID`.
    pub(crate) access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub(crate) secret_access_key: Secret,
    /// `AWS_SESSION_TOKEN` (temporary credentials, e.g. from OIDC).
    pub(crate) session_token: Option<Secret>,
}

/// Signs requests for one region.
#[derive(Debug)]
pub(crate) struct Signer {
    identity: Identity,
    region: String,
}

impl Signer {
    /// A signer for `region`.
    #[must_use]
    pub(crate) fn new(credentials: &Credentials, region: &str) -> Self {
        let identity: Identity = AwsCredentials::new(
            credentials.access_key_id.clone(),
            credentials.secret_access_key.expose().to_owned(),
            credentials
                .session_token
                .as_ref()
                .map(|t| t.expose().to_owned()),
            None,
            "stevedore",
        )
        .into();
        Signer {
            identity,
            region: region.to_owned(),
        }
    }

    /// The headers to add to a request: `authorization`, `x-amz-date`,
    /// `x-amz-content-sha256` and, with temporary credentials, `x-amz-security-token`.
    /// `url` must already be percent-encoded; `headers` are the ones that will be sent and
    /// should be signed (`x-amz-*`, `content-type`).
    pub(crate) fn sign(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        payload: Payload<'_>,
        now: SystemTime,
    ) -> Result<Vec<(&'static str, String)>, String> {
        let mut settings = SigningSettings::default();
        // S3 signs the path as sent: encoded once, never normalized.
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name("s3")
            .time(now)
            .settings(settings)
            .build()
            .map_err(|e| format!("cannot sign: {e}"))?
            .into();
        let request = SignableRequest::new(
            method,
            url,
            headers.iter().copied(),
            match payload {
                Payload::Unsigned => SignableBody::UnsignedPayload,
                Payload::Sha256(hex) => SignableBody::Precomputed(hex.to_owned()),
            },
        )
        .map_err(|e| format!("cannot sign: {e}"))?;
        let (instructions, _signature) = sign(request, &params)
            .map_err(|e| format!("cannot sign: {e}"))?
            .into_parts();
        let (signed, _query) = instructions.into_parts();
        Ok(signed
            .into_iter()
            .map(|h| (h.name(), h.value().to_owned()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's documented example (S3 "Signature Calculations for the Authorization Header",
    /// GET Object with a Range header): the signature must be the published one.
    #[test]
    fn matches_the_aws_documentation_example() {
        let signer = Signer::new(
            &Credentials {
                access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
                secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into()),
                session_token: None,
            },
            "us-east-1",
        );
        // 20130524T000000Z
        let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_hours(380_376);
        let headers = signer
            .sign(
                "GET",
                "https://examplebucket.s3.amazonaws.com/test.txt",
                &[("range", "bytes=0-9")],
                Payload::Sha256(EMPTY_SHA256),
                now,
            )
            .expect("sign");
        let auth = headers
            .iter()
            .find(|(k, _)| *k == "authorization")
            .expect("authorization")
            .1
            .clone();
        assert!(
            auth.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            ) && auth.contains("SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,")
                && auth.ends_with(
                    "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
                ),
            "{auth}"
        );
    }
}
