//! Backend IDs from `ACTIONS_RUNTIME_TOKEN`, as `@actions/artifact` reads them
//! (reference/artifact-protocol.md section 1.2): the JWT payload is decoded without
//! checking the signature, and the `scp` claim must hold exactly one scope
//! `Actions.Results:<workflow run backend id>:<workflow job run backend id>`. The IDs are
//! opaque and come only from the token, never from `GITHUB_RUN_ID`.

use base64::Engine as _;

/// The two IDs every results-service request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BackendIds {
    /// `workflow_run_backend_id`.
    pub run: String,
    /// `workflow_job_run_backend_id`.
    pub job: String,
}

/// Why the token gave no IDs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not three dot-separated parts, or the payload is not base64url JSON.
    #[error(
        "ACTIONS_RUNTIME_TOKEN is not a JWT with a JSON payload; artifact uploads need the token the runner provides"
    )]
    Malformed,
    /// No usable `Actions.Results` scope (the official client's wording).
    #[error("Failed to get backend IDs: The provided JWT token is invalid and/or missing claims")]
    MissingClaims,
}

/// Reads the backend IDs from a runtime token.
pub(crate) fn backend_ids(token: &str) -> Result<BackendIds, TokenError> {
    let payload = token.split('.').nth(1).ok_or(TokenError::Malformed)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| TokenError::Malformed)?;
    let claims: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)?;
    let scopes = claims
        .get("scp")
        .and_then(serde_json::Value::as_str)
        .ok_or(TokenError::MissingClaims)?;
    for scope in scopes.split(' ') {
        let parts: Vec<&str> = scope.split(':').collect();
        if parts.first() == Some(&"Actions.Results") {
            return match parts.as_slice() {
                [_, run, job] if !run.is_empty() && !job.is_empty() => Ok(BackendIds {
                    run: (*run).to_owned(),
                    job: (*job).to_owned(),
                }),
                _ => Err(TokenError::MissingClaims),
            };
        }
    }
    Err(TokenError::MissingClaims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &str) -> String {
        let enc = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!(
            "{}.{}.{}",
            enc(r#"{"alg":"RS256","typ":"JWT"}"#),
            enc(claims),
            "c2lnbmF0dXJl"
        )
    }

    #[test]
    fn reads_the_results_scope() {
        let token = jwt(
            r#"{"scp":"Actions.GenericRead:00000000-0000-0000-0000-000000000000 Actions.UploadArtifacts:a:b Actions.Results:ce7f54c7-61c7-4aae-887f-30da475f5f1a:ca395085-040a-526b-2ce8-bdc85f692774"}"#,
        );
        assert_eq!(
            backend_ids(&token),
            Ok(BackendIds {
                run: "ce7f54c7-61c7-4aae-887f-30da475f5f1a".into(),
                job: "ca395085-040a-526b-2ce8-bdc85f692774".into()
            })
        );
        // Gitea uses small integers.
        assert_eq!(
            backend_ids(&jwt(r#"{"scp":"Actions.Results:4:7"}"#)).map(|ids| ids.job),
            Ok("7".into())
        );
    }

    #[test]
    fn refuses_what_the_official_client_refuses() {
        assert_eq!(backend_ids("not-a-jwt"), Err(TokenError::Malformed));
        assert_eq!(
            backend_ids(&format!("a.{}.c", "bm90IGpzb24")),
            Err(TokenError::Malformed)
        );
        assert_eq!(
            backend_ids(&jwt(r#"{"sub":"x"}"#)),
            Err(TokenError::MissingClaims)
        );
        assert_eq!(
            backend_ids(&jwt(r#"{"scp":"Actions.Results:only-one"}"#)),
            Err(TokenError::MissingClaims)
        );
        assert_eq!(
            backend_ids(&jwt(r#"{"scp":"Actions.Results:a:b:c"}"#)),
            Err(TokenError::MissingClaims)
        );
    }
}
