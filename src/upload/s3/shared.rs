//! The documents on a prefix other jobs or runs may share (no `job-key`): each is written
//! only where no object is (`If-None-Match: *`, which S3 checks atomically with the
//! write), so no job replaces what another wrote. When one is there:
//!
//! - the checksums file is merged: read with its `ETag`, this run's lines put in place of
//!   the same paths' and the others kept, written back only if it is still that version
//!   (`If-Match`), read and merged again when another job got there first. Together the
//!   jobs leave one file that lists every object, each with its SHA-256.
//! - the manifest is kept beside it under a name of this run's
//!   (`stevedore-manifest-<8 hex>.json`, also written with `If-None-Match`): manifests
//!   hold a run's whole record and are not merged.
//!
//! A server that ignores the conditions (s3s-fs 0.14.1 checks them before it writes, not
//! with the write) gives the old answer: the last writer's documents. `job-key` needs no
//! server support at all; `overwrite: true` replaces the documents as before.

use bytes::Bytes;
use sha2::{Digest as _, Sha256};

use super::client::{Body, RequestError};
use super::sign::{EMPTY_SHA256, Payload};
use super::{Ctx, Object, file_body, put_body};
use crate::events::Event;

/// Rounds of read, merge and conditional write before giving up.
const ROUNDS: usize = 8;

/// Writes `document` (the checksums file or the manifest) as the module says; returns the
/// key it landed under and its size.
pub(super) async fn write(
    ctx: &Ctx<'_>,
    document: &Object,
    bucket: &str,
) -> Result<(String, u64), RequestError> {
    let body = file_body(document);
    match put_body(ctx, document, &body, &[("if-none-match", "*".to_owned())]).await {
        Ok(_) => return Ok((document.key.clone(), document.size)),
        Err(e) if !is_taken(&e) => return Err(e),
        Err(_) => {}
    }
    // Read only now: the comparison and the merge need this run's bytes in memory.
    let ours = std::fs::read(&document.path).map_err(|e| RequestError::Read {
        path: document.path.clone(),
        message: e.to_string(),
    })?;
    let is_manifest = document.rel == crate::config::MANIFEST_NAME;
    for round in 0..ROUNDS {
        if round > 0 {
            // Jobs that finish together take turns rather than colliding in step.
            let wait = 50.0 * f64::from(1u32 << round.min(6)) * (0.5 + crate::net::random_unit());
            tokio::time::sleep(std::time::Duration::from_secs_f64(wait / 1000.0)).await;
        }
        let (etag, theirs) = match get(ctx, &document.key).await {
            Ok(found) => found,
            // Gone since the 412 (a conflicting write that failed, or a delete): try to
            // be the first again.
            Err(RequestError::Refused { status: 404, .. }) => {
                match put_body(ctx, document, &body, &[("if-none-match", "*".to_owned())]).await {
                    Ok(_) => return Ok((document.key.clone(), document.size)),
                    Err(e) if is_taken(&e) => continue,
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        if theirs == ours {
            // Ours already (an attempt whose answer was lost), or the same documents.
            return Ok((document.key.clone(), document.size));
        }
        if is_manifest {
            return keep_beside(ctx, document, &body, bucket).await;
        }
        if etag.is_empty() || etag.starts_with("W/") {
            return Err(RequestError::Refused {
                status: 412,
                code: "NoStrongETag".into(),
                message: format!(
                    "`{}` is there already and the server gave no strong ETag to merge it safely; set `job-key` so each job writes its own documents",
                    document.key
                ),
            });
        }
        let merged = merge(&theirs, &ours);
        let object = Object {
            size: merged.len() as u64,
            sha256: Sha256::digest(&merged).into(),
            crc32: Some(crc32fast::hash(&merged)),
            crc32c: Some(crc32c::crc32c(&merged)),
            ..document.clone()
        };
        let put = put_body(
            ctx,
            &object,
            &Body::Bytes(Bytes::from(merged)),
            &[("if-match", etag)],
        )
        .await;
        match put {
            Ok(_) => {
                ctx.reporter.event(&Event::warning(format!(
                    "s3://{bucket}/{} was there already (another job or run shipped to this prefix): this run's files were merged into it, so it lists every object; set `job-key` to give each job documents of its own",
                    document.key
                )));
                return Ok((object.key, object.size));
            }
            Err(e) if is_taken(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Err(RequestError::Exhausted {
        last: format!(
            "`{}` kept changing under concurrent writers; set `job-key` so each job writes its own",
            document.key
        ),
    })
}

/// The manifest under a name of this run's, beside the one another run wrote.
async fn keep_beside(
    ctx: &Ctx<'_>,
    document: &Object,
    body: &Body,
    bucket: &str,
) -> Result<(String, u64), RequestError> {
    let (dir, _) = document
        .key
        .rsplit_once('/')
        .map_or(("", document.key.as_str()), |(d, n)| (d, n));
    let name = format!(
        "stevedore-manifest-{}.json",
        &crate::secret::random_hex()[..8]
    );
    let key = if dir.is_empty() {
        name
    } else {
        format!("{dir}/{name}")
    };
    let object = Object {
        key: key.clone(),
        ..document.clone()
    };
    match put_body(ctx, &object, body, &[("if-none-match", "*".to_owned())]).await {
        // The name is this run's own: a 412 is our earlier attempt, whose answer was lost.
        Ok(_) => {}
        Err(e) if is_taken(&e) => {}
        Err(e) => return Err(e),
    }
    ctx.reporter.event(&Event::warning(format!(
        "s3://{bucket}/{} was there already (another job or run shipped to this prefix): this run's manifest is s3://{bucket}/{key}; set `job-key` to give each job documents of its own",
        document.key
    )));
    Ok((key, document.size))
}

/// Another writer got there first: the object exists (`If-None-Match`) or changed
/// (`If-Match`), or S3 is settling a concurrent conditional write.
fn is_taken(e: &RequestError) -> bool {
    matches!(
        e,
        RequestError::Refused {
            status: 412 | 409,
            ..
        }
    )
}

/// The object's `ETag` and bytes.
async fn get(ctx: &Ctx<'_>, key: &str) -> Result<(String, Vec<u8>), RequestError> {
    let reply = ctx
        .client
        .send(
            reqwest::Method::GET,
            &ctx.client.url(key, ""),
            &[],
            &Body::Empty,
            Payload::Sha256(EMPTY_SHA256),
        )
        .await?;
    let etag = reply
        .headers
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    Ok((etag, reply.body.to_vec()))
}

/// `theirs` with this run's lines in place of the same paths' and the rest of ours added,
/// sorted by path as every checksums file is.
fn merge(theirs: &[u8], ours: &[u8]) -> Vec<u8> {
    let mut lines: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
    for text in [theirs, ours] {
        for line in String::from_utf8_lossy(text).lines() {
            if line.is_empty() {
                continue;
            }
            lines.insert(path_of(line).to_owned(), line.to_owned());
        }
    }
    let mut out = String::new();
    for line in lines.values() {
        out.push_str(line);
        out.push('\n');
    }
    out.into_bytes()
}

/// The path part of a `sha256sum` line (`<hash>  <path>` or `<hash> *<path>`, a leading
/// `\` marking an escaped name), as the merge's key.
fn path_of(line: &str) -> &str {
    let line = line.strip_prefix('\\').unwrap_or(line);
    line.split_once(' ').map_or(line, |(_, rest)| {
        rest.strip_prefix([' ', '*']).unwrap_or(rest)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_checksums_list_both_runs_files_this_runs_line_winning() {
        let theirs = b"aaaa  a.bin\nbbbb  shared.txt\n";
        let ours = b"cccc  c.bin\ndddd  shared.txt\n\\eeee  odd\\nname\n";
        let merged = String::from_utf8(merge(theirs, ours)).expect("utf-8");
        assert_eq!(
            merged,
            "aaaa  a.bin\ncccc  c.bin\n\\eeee  odd\\nname\ndddd  shared.txt\n"
        );
    }
}
