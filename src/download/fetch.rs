//! One artifact's bytes: a GET on its blob URL (only a User-Agent header, as the official
//! client sends), streamed into a spool file while SHA-256 is computed, with the
//! `Content-Length` checked at the end, so memory stays flat whatever the size. Dropped
//! connections, truncated bodies, stalls (`STEVEDORE_HTTP_TIMEOUT`), 429 and 5xx are retried;
//! a 403 means the signed URL expired (or was refused), so the next attempt asks the source
//! for a fresh one. Whether the bytes are a zip follows reference/artifact-protocol.md
//! section 9: a zip `Content-Type`, or a URL path ending in `.zip`; otherwise the artifact
//! is one raw file named by its `Content-Disposition`.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::StreamExt as _;
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt as _;

use super::source::{Listed, Source};
use crate::events::Progress;
use crate::net::{Http, Retry, Verdict, describe, random_unit};

/// Attempts per artifact (the official client makes 5).
pub(crate) const ATTEMPTS: u32 = 5;
/// Waits 1, 2, 4, 8 s (+ up to 25 % jitter) between attempts.
const RETRY: Retry = Retry {
    attempts: ATTEMPTS,
    delay: |n, _| {
        Duration::from_secs_f64(f64::from(1u32 << (n - 1).min(4)) * (1.0 + random_unit() * 0.25))
    },
};

/// What the bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A zip archive to extract.
    Zip,
    /// One file, saved under this name (a bare file name, never a path).
    Raw(String),
}

/// A complete download in its spool file.
#[derive(Debug, Clone)]
pub(crate) struct Fetched {
    /// Bytes received.
    pub(crate) bytes: u64,
    /// Their SHA-256, `sha256:<hex>`.
    pub(crate) digest: String,
    /// Zip or raw.
    pub(crate) kind: Kind,
    /// Attempts made.
    pub(crate) attempts: u32,
}

/// How one attempt failed.
enum Failure {
    /// The blob store refused the URL (403): ask for a fresh one, then retry.
    Expired(String),
    /// Worth another attempt with the same URL.
    Retry(String),
    /// Retrying cannot help.
    Fail(String),
}

/// Downloads `artifact` into `spool` (replaced on each attempt); `progress.bytes` advances
/// as bytes arrive (and goes back when an attempt is abandoned).
pub(crate) async fn fetch(
    http: &Http,
    source: &Source,
    artifact: &Listed,
    spool: &Path,
    progress: &Progress,
) -> Result<Fetched, String> {
    let url: Mutex<Option<String>> = Mutex::new(None);
    let url = &url;
    RETRY
        .run(|n| async move {
            let cached = url.lock().ok().and_then(|u| u.clone());
            let current = if let Some(u) = cached {
                u
            } else {
                // A failure to get a URL is the service's answer after its own retries.
                let fresh = source.blob_url(artifact).await.map_err(Verdict::Fail)?;
                if let Ok(mut slot) = url.lock() {
                    *slot = Some(fresh.clone());
                }
                fresh
            };
            match attempt(http, &current, spool, progress).await {
                Ok(mut fetched) => {
                    fetched.attempts = n + 1;
                    Ok(fetched)
                }
                Err(Failure::Expired(why)) => {
                    if let Ok(mut slot) = url.lock() {
                        *slot = None;
                    }
                    Err(Verdict::Retry(why))
                }
                Err(Failure::Retry(why)) => Err(Verdict::Retry(why)),
                Err(Failure::Fail(why)) => Err(Verdict::Fail(why)),
            }
        })
        .await
        .map_err(|v| {
            v.give_up(|last| format!("the download failed after {ATTEMPTS} attempts: {last}"))
        })
}

/// One GET into `spool`; progress made by an abandoned attempt is taken back.
async fn attempt(
    http: &Http,
    url: &str,
    spool: &Path,
    progress: &Progress,
) -> Result<Fetched, Failure> {
    let mut received = 0u64;
    let result = stream_to(http, url, spool, progress, &mut received).await;
    if result.is_err() {
        progress.bytes.fetch_sub(received, Ordering::Relaxed);
    }
    result
}

async fn stream_to(
    http: &Http,
    url: &str,
    spool: &Path,
    progress: &Progress,
    received: &mut u64,
) -> Result<Fetched, Failure> {
    let watch = http.watch();
    watch.describe("GET", url);
    let io = |what: &str, e: std::io::Error| {
        Failure::Fail(format!(
            "cannot {what} the spool file `{}`: {e}",
            spool.display()
        ))
    };
    let response = match watch.run(http.client.get(url).send()).await {
        Err(stalled) => return Err(Failure::Retry(stalled.to_string())),
        Ok(Err(e)) => return Err(Failure::Retry(describe(e))),
        Ok(Ok(response)) => response,
    };
    let status = response.status();
    watch.answered(status);
    match status.as_u16() {
        200 => {}
        403 => {
            return Err(Failure::Expired(
                "the blob store answered 403 (the signed URL expired or was refused); asked for a fresh URL".into(),
            ));
        }
        408 | 429 | 500..=599 => {
            return Err(Failure::Retry(format!("the blob store answered {status}")));
        }
        _ => {
            return Err(Failure::Fail(format!(
                "the blob store answered {status}; expected 200"
            )));
        }
    }
    let length = response.content_length();
    let kind = kind(&response, url).map_err(Failure::Fail)?;
    // Private until it is extracted or moved into place (the staging directory is too).
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(spool).await.map_err(|e| io("create", e))?;
    let mut hasher = Sha256::new();
    let mut body = response.bytes_stream();
    loop {
        let next = match watch.run(body.next()).await {
            Err(stalled) => return Err(Failure::Retry(stalled.to_string())),
            Ok(next) => next,
        };
        let Some(piece) = next else { break };
        let piece = piece.map_err(|e| {
            let of = length.map(|l| format!(" of {l}")).unwrap_or_default();
            Failure::Retry(format!(
                "the body was truncated after {received}{of} bytes ({})",
                describe(e)
            ))
        })?;
        watch.touch();
        hasher.update(&piece);
        file.write_all(&piece).await.map_err(|e| io("write", e))?;
        *received += piece.len() as u64;
        progress
            .bytes
            .fetch_add(piece.len() as u64, Ordering::Relaxed);
    }
    file.flush().await.map_err(|e| io("write", e))?;
    file.sync_all().await.map_err(|e| io("write", e))?;
    if let Some(length) = length.filter(|&l| l != *received) {
        return Err(Failure::Retry(format!(
            "the body ended after {received} of {length} bytes (truncated)"
        )));
    }
    Ok(Fetched {
        bytes: *received,
        digest: format!("sha256:{}", hex::encode(hasher.finalize())),
        kind,
        attempts: 1,
    })
}

/// Zip or raw, as `@actions/artifact` decides (reference section 9); a raw file's name must
/// be one the staging directory can hold as a file of its own.
fn kind(response: &reqwest::Response, url: &str) -> Result<Kind, String> {
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    let mime = header(reqwest::header::CONTENT_TYPE)
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let zip_path =
        reqwest::Url::parse(url).is_ok_and(|u| u.path().to_ascii_lowercase().ends_with(".zip"));
    if zip_path
        || matches!(
            mime.as_str(),
            "application/zip" | "application/x-zip-compressed" | "application/zip-compressed"
        )
    {
        Ok(Kind::Zip)
    } else {
        file_name(header(reqwest::header::CONTENT_DISPOSITION)).map(Kind::Raw)
    }
}

/// The file name a `Content-Disposition` gives (`filename*=UTF-8''…` first, then
/// `filename=`), reduced to its last path component; `artifact` when there is none (or
/// only `.`/`..`). A name that cannot be a file of its own (a drive letter, a control
/// character, `.git`, a Windows device name on Windows) is refused: upload-artifact
/// cannot make one, so the service or something between is hostile.
pub(crate) fn file_name(disposition: &str) -> Result<String, String> {
    let mut star = None;
    let mut plain = None;
    for part in disposition.split(';').map(str::trim) {
        let Some((key, value)) = part.split_once('=') else {
            continue;
        };
        match key.trim().to_ascii_lowercase().as_str() {
            "filename*" => {
                let value = value.trim();
                if value.len() >= 7 && value[..7].eq_ignore_ascii_case("UTF-8''") {
                    star = Some(percent_decode(&value[7..]));
                }
            }
            "filename" => plain = Some(value.trim().trim_matches(['"', '\'']).to_owned()),
            _ => {}
        }
    }
    let raw = star.or(plain).unwrap_or_default();
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default().trim();
    if base.is_empty() || base == "." || base == ".." {
        return Ok("artifact".to_owned());
    }
    crate::tree_path::check_component(base).map_err(|problem| {
        format!(
            "the service names the raw file `{}` (Content-Disposition), which {problem}; it was not saved",
            super::extract::names::shown(base.as_bytes())
        )
    })?;
    Ok(base.to_owned())
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_from_content_disposition() {
        let name = |d: &str| file_name(d).expect("a usable name");
        assert_eq!(
            name("attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.txt; filename=\"resume.txt\""),
            "résumé.txt"
        );
        assert_eq!(name("attachment; filename=\"tool.bin\""), "tool.bin");
        assert_eq!(name("attachment; filename=../../etc/passwd"), "passwd");
        assert_eq!(name("attachment; filename*=UTF-8''..%2F.."), "artifact");
        assert_eq!(name(""), "artifact");
    }

    #[test]
    fn raw_names_that_are_not_a_file_of_their_own_are_refused() {
        for (disposition, shown) in [
            ("attachment; filename=\"D:name\"", "D:name"),
            ("attachment; filename*=UTF-8''a%1B%5B31mb", "a\\u{1b}[31mb"),
            ("attachment; filename*=UTF-8''line%0Abreak", "line\\nbreak"),
            ("attachment; filename=\".git\"", ".git"),
        ] {
            let e = file_name(disposition).expect_err(disposition);
            assert!(e.contains(&format!("`{shown}`")), "{e}");
        }
    }
}
