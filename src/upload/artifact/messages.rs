//! Results-service (Twirp JSON) messages, encoded as `@actions/artifact` encodes them and
//! parsed as leniently as it parses them (reference/artifact-protocol.md sections 2.2-2.4):
//! requests use the proto field names in field-number order, omit default values and
//! write int64 as strings; responses may use `snake_case` or `lowerCamelCase` keys, int64 as
//! strings or numbers, and `null` for defaults, while a wrongly typed value is an error.

use serde::{Deserialize, Serialize, Serializer};

use crate::github::results::messages::{int64, nullable};
use crate::github::results::token::BackendIds;

/// `version` for zip uploads: accepted by github.com, Gitea and act.
pub(crate) const VERSION_ZIP: i32 = 4;
/// `version` for raw (unzipped) uploads, which also send `mime_type`.
pub(crate) const VERSION_RAW: i32 = 7;

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes references"
)]
fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's serialize_with passes references"
)]
fn int64_string<S: Serializer>(n: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(n)
}

/// `CreateArtifact`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CreateArtifactRequest<'a> {
    /// From the token.
    #[serde(skip_serializing_if = "str::is_empty")]
    pub(crate) workflow_run_backend_id: &'a str,
    /// From the token.
    #[serde(skip_serializing_if = "str::is_empty")]
    pub(crate) workflow_job_run_backend_id: &'a str,
    /// Artifact name.
    pub(crate) name: &'a str,
    /// RFC 3339 expiry, when `retention-days` is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) expires_at: Option<String>,
    /// [`VERSION_ZIP`] or [`VERSION_RAW`].
    pub(crate) version: i32,
    /// Content type, raw uploads only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) mime_type: Option<&'a str>,
}

impl<'a> CreateArtifactRequest<'a> {
    /// A request for `name` with the IDs from the token.
    #[must_use]
    pub(crate) fn new(ids: &'a BackendIds, name: &'a str, version: i32) -> Self {
        CreateArtifactRequest {
            workflow_run_backend_id: &ids.run,
            workflow_job_run_backend_id: &ids.job,
            name,
            expires_at: None,
            version,
            mime_type: None,
        }
    }
}

/// `FinalizeArtifact`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FinalizeArtifactRequest<'a> {
    pub(crate) workflow_run_backend_id: &'a str,
    pub(crate) workflow_job_run_backend_id: &'a str,
    /// Artifact name.
    pub(crate) name: &'a str,
    /// Bytes uploaded (omitted when zero, as proto3 JSON omits defaults).
    #[serde(skip_serializing_if = "is_zero", serialize_with = "int64_string")]
    pub(crate) size: u64,
    /// `sha256:<hex>` of exactly the uploaded bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) hash: Option<String>,
}

/// `CreateArtifact` response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub(crate) struct CreateArtifactResponse {
    /// Must be true.
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) ok: bool,
    /// Where the blob goes (a SAS URL: its signature must be masked).
    #[serde(default, alias = "signedUploadUrl", deserialize_with = "nullable")]
    pub(crate) signed_upload_url: String,
}

/// `FinalizeArtifact` and `DeleteArtifact` responses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub(crate) struct ArtifactIdResponse {
    /// Must be true.
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) ok: bool,
    /// The artifact's id.
    #[serde(default, alias = "artifactId", deserialize_with = "int64")]
    pub(crate) artifact_id: u64,
}

/// RFC 3339 UTC with milliseconds, as JavaScript's `Date` renders a protobuf Timestamp.
#[must_use]
pub(crate) fn rfc3339_millis(unix_millis: i64) -> String {
    let secs = unix_millis.div_euclid(1000);
    let millis = unix_millis.rem_euclid(1000);
    let (y, m, d) = crate::pack::layout::civil_from_days(secs.div_euclid(86_400));
    let t = secs.rem_euclid(86_400);
    let base = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        t / 3600,
        t % 3600 / 60,
        t % 60
    );
    if millis == 0 {
        format!("{base}Z")
    } else {
        format!("{base}.{millis:03}Z")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> BackendIds {
        BackendIds {
            run: "ce7f54c7-61c7-4aae-887f-30da475f5f1a".into(),
            job: "ca395085-040a-526b-2ce8-bdc85f692774".into(),
        }
    }

    /// The captured requests of reference section 2.4, byte for byte.
    #[test]
    fn requests_match_the_captured_wire_format() {
        let ids = ids();
        let mut create = CreateArtifactRequest::new(&ids, "my-art", VERSION_RAW);
        create.expires_at = Some(rfc3339_millis(1_795_746_868_543));
        create.mime_type = Some("application/zip");
        assert_eq!(
            serde_json::to_string(&create).expect("json"),
            r#"{"workflow_run_backend_id":"ce7f54c7-61c7-4aae-887f-30da475f5f1a","workflow_job_run_backend_id":"ca395085-040a-526b-2ce8-bdc85f692774","name":"my-art","expires_at":"2026-11-27T02:34:28.543Z","version":7,"mime_type":"application/zip"}"#
        );
        let finalize = FinalizeArtifactRequest {
            workflow_run_backend_id: &ids.run,
            workflow_job_run_backend_id: &ids.job,
            name: "my-art",
            size: 591,
            hash: Some(
                "sha256:228c971e3ffd37068a2aa801297bc83b387207d6386dec740c99ad79a70a55ee".into(),
            ),
        };
        assert_eq!(
            serde_json::to_string(&finalize).expect("json"),
            r#"{"workflow_run_backend_id":"ce7f54c7-61c7-4aae-887f-30da475f5f1a","workflow_job_run_backend_id":"ca395085-040a-526b-2ce8-bdc85f692774","name":"my-art","size":"591","hash":"sha256:228c971e3ffd37068a2aa801297bc83b387207d6386dec740c99ad79a70a55ee"}"#
        );
    }

    #[test]
    fn defaults_are_omitted() {
        let ids = ids();
        let zip = CreateArtifactRequest::new(&ids, "a", VERSION_ZIP);
        let json = serde_json::to_string(&zip).expect("json");
        assert!(
            !json.contains("expires_at")
                && !json.contains("mime_type")
                && json.ends_with(r#""version":4}"#),
            "{json}"
        );
        let empty = FinalizeArtifactRequest {
            workflow_run_backend_id: "r",
            workflow_job_run_backend_id: "j",
            name: "a",
            size: 0,
            hash: None,
        };
        assert_eq!(
            serde_json::to_string(&empty).expect("json"),
            r#"{"workflow_run_backend_id":"r","workflow_job_run_backend_id":"j","name":"a"}"#
        );
    }

    #[test]
    fn responses_in_either_spelling() {
        let snake: CreateArtifactResponse =
            serde_json::from_str(r#"{"ok":true,"signed_upload_url":"https://blob/x?sig=s"}"#)
                .expect("snake");
        let camel: CreateArtifactResponse = serde_json::from_str(
            r#"{"ok":true,"signedUploadUrl":"https://blob/x?sig=s","extra":1}"#,
        )
        .expect("camel");
        assert_eq!(snake, camel);
        let f: ArtifactIdResponse =
            serde_json::from_str(r#"{"ok":true,"artifact_id":"12345"}"#).expect("string id");
        assert_eq!(f.artifact_id, 12345);
        let f: ArtifactIdResponse =
            serde_json::from_str(r#"{"ok":true,"artifactId":5}"#).expect("number id");
        assert_eq!(f.artifact_id, 5);
        let f: ArtifactIdResponse =
            serde_json::from_str(r#"{"ok":null,"artifact_id":null}"#).expect("nulls");
        assert_eq!(f, ArtifactIdResponse::default());
        assert!(
            serde_json::from_str::<ArtifactIdResponse>(r#"{"ok":"yes"}"#).is_err(),
            "wrong type is an error"
        );
    }

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339_millis(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339_millis(1_795_746_868_543),
            "2026-11-27T02:34:28.543Z"
        );
    }
}
