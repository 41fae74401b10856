//! Results-service (Twirp JSON) messages that upload and download share, encoded as
//! `@actions/artifact` encodes them and parsed as leniently as it parses them
//! (reference/artifact-protocol.md sections 2.2-2.3): requests use the proto field names in
//! field-number order, omit default values and write int64 as strings; responses may use
//! `snake_case` or `lowerCamelCase` keys, int64 as strings or numbers, and `null` for
//! defaults, while a wrongly typed value is an error.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[expect(
    clippy::ref_option,
    reason = "serde's serialize_with passes a reference to the field"
)]
fn int64_option_string<S: Serializer>(n: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
    match n {
        Some(n) => s.collect_str(n),
        None => s.serialize_none(),
    }
}

/// `ListArtifacts`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ListArtifactsRequest<'a> {
    pub(crate) workflow_run_backend_id: &'a str,
    pub(crate) workflow_job_run_backend_id: &'a str,
    /// Only artifacts with this name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) name_filter: Option<&'a str>,
    /// Only the artifact with this id.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "int64_option_string"
    )]
    pub(crate) id_filter: Option<u64>,
}

/// `DeleteArtifact` and `GetSignedArtifactURL`, which have the same fields.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct NamedArtifactRequest<'a> {
    /// From the token (for a signed URL: the listed artifact's own IDs, as the official
    /// client sends them, since another job of the run may have uploaded it).
    pub(crate) workflow_run_backend_id: &'a str,
    /// As `workflow_run_backend_id`.
    pub(crate) workflow_job_run_backend_id: &'a str,
    /// Artifact name.
    pub(crate) name: &'a str,
}

/// Deserializes `null` (or absence, with `#[serde(default)]`) as the default value.
pub(crate) fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// int64 as a JSON string or number; `null` is 0.
pub(crate) fn int64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Int64 {
        Number(u64),
        Text(String),
    }
    match Option::<Int64>::deserialize(d)? {
        None => Ok(0),
        Some(Int64::Number(n)) => Ok(n),
        Some(Int64::Text(s)) => s
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("`{s}` is not an int64"))),
    }
}

/// One artifact of a `ListArtifacts` response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub(crate) struct ListedArtifact {
    /// The run that holds it.
    #[serde(default, alias = "workflowRunBackendId", deserialize_with = "nullable")]
    pub(crate) workflow_run_backend_id: String,
    /// The job that uploaded it.
    #[serde(
        default,
        alias = "workflowJobRunBackendId",
        deserialize_with = "nullable"
    )]
    pub(crate) workflow_job_run_backend_id: String,
    /// Its id (the REST API's artifact id).
    #[serde(default, alias = "databaseId", deserialize_with = "int64")]
    pub(crate) database_id: u64,
    /// Its name.
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) name: String,
    /// Stored bytes.
    #[serde(default, deserialize_with = "int64")]
    pub(crate) size: u64,
    /// `sha256:<hex>` of the stored bytes, where the service records one.
    #[serde(default)]
    pub(crate) digest: Option<String>,
}

/// `ListArtifacts` response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub(crate) struct ListArtifactsResponse {
    /// The artifacts that passed the filters.
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) artifacts: Vec<ListedArtifact>,
}

/// `GetSignedArtifactURL` response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub(crate) struct SignedUrlResponse {
    /// A short-lived read URL for the blob (a credential: its signature is masked).
    #[serde(default, alias = "signedUrl", deserialize_with = "nullable")]
    pub(crate) signed_url: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_request_omits_defaults_and_writes_int64_as_text() {
        let list = ListArtifactsRequest {
            workflow_run_backend_id: "r",
            workflow_job_run_backend_id: "j",
            name_filter: Some("a"),
            id_filter: Some(12),
        };
        assert_eq!(
            serde_json::to_string(&list).expect("json"),
            r#"{"workflow_run_backend_id":"r","workflow_job_run_backend_id":"j","name_filter":"a","id_filter":"12"}"#
        );
        let all = ListArtifactsRequest {
            name_filter: None,
            id_filter: None,
            ..list
        };
        assert_eq!(
            serde_json::to_string(&all).expect("json"),
            r#"{"workflow_run_backend_id":"r","workflow_job_run_backend_id":"j"}"#
        );
    }

    #[test]
    fn listings_in_either_spelling() {
        let list: ListArtifactsResponse =
            serde_json::from_str(r#"{"artifacts":[{"databaseId":"7","name":"a","size":3,"digest":"sha256:ab","workflowJobRunBackendId":"j2"},{"database_id":"8","name":"b","size":0,"digest":null,"workflow_run_backend_id":"r"}]}"#)
                .expect("list");
        assert_eq!(
            list.artifacts[0],
            ListedArtifact {
                database_id: 7,
                name: "a".into(),
                size: 3,
                digest: Some("sha256:ab".into()),
                workflow_job_run_backend_id: "j2".into(),
                ..ListedArtifact::default()
            }
        );
        assert_eq!(list.artifacts[1].digest, None);
        assert_eq!(list.artifacts[1].workflow_run_backend_id, "r");
        let signed: SignedUrlResponse =
            serde_json::from_str(r#"{"signedUrl":"http://b/x.zip?sig=s"}"#).expect("camel");
        assert_eq!(signed.signed_url, "http://b/x.zip?sig=s");
    }
}
