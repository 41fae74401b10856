//! A second, independent S3 server: moto 5.2.5 (`moto_server`, pinned in
//! `tests/support/python`), which stores and answers what AWS documents for object
//! metadata (`Cache-Control`, `Content-Type`, ACLs, storage classes, server-side
//! encryption), `ListMultipartUploads` and conditional writes. It does not check `SigV4`
//! signatures; s3s-fs (`s3server`) stays the server for those.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Ctx, Run, Running, owned};

/// The bucket every server has.
pub const BUCKET: &str = "builds";
/// The credentials uploads and reads use: moto keeps objects per account, and an
/// object is private to the account that wrote it.
const ACCESS_KEY: &str = "AKIAMOTOTEST0000001";
const SECRET_KEY: &str = "moto/test/secret";

/// A running `moto_server`, stopped when dropped.
pub struct Moto {
    /// `s3-endpoint`.
    pub endpoint: String,
    child: Child,
}

impl Moto {
    /// Starts moto on a free loopback port and creates [`BUCKET`].
    pub fn start() -> Moto {
        let port = crate::support::free_port();
        let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-test/bin/moto_server");
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "{}: {e} (scripts/test installs moto into .venv-test)",
                    bin.display()
                )
            });
        let moto = Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if curl(&["-X", "PUT", &moto.url("")]).0 == 200 {
                break;
            }
            assert!(Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    /// The URL of `key` in [`BUCKET`] (path style).
    pub fn url(&self, key: &str) -> String {
        format!("{}/{BUCKET}/{key}", self.endpoint)
    }

    /// The response headers of `HEAD key`, lower-case names; `None` when it is missing.
    pub fn head(&self, key: &str) -> Option<BTreeMap<String, String>> {
        let (status, headers, _) = curl(&["-I", &self.url(key)]);
        (status == 200).then_some(headers)
    }

    /// The bytes of `key`.
    pub fn get(&self, key: &str) -> Vec<u8> {
        let (status, _, body) = curl(&[&self.url(key)]);
        assert_eq!(status, 200, "GET {key}");
        body
    }

    /// The upload ids of the incomplete multipart uploads of `key` (`ListMultipartUploads`).
    pub fn open_uploads(&self, key: &str) -> Vec<String> {
        let (status, _, body) = curl(&[&format!(
            "{}/{BUCKET}?uploads&prefix={}",
            self.endpoint,
            key.replace('/', "%2F")
        )]);
        assert_eq!(status, 200, "ListMultipartUploads");
        String::from_utf8(body)
            .expect("xml")
            .split("<Upload>")
            .skip(1)
            .filter(|u| u.contains(&format!("<Key>{key}</Key>")))
            .filter_map(|u| u.split("<UploadId>").nth(1))
            .filter_map(|u| u.split("</UploadId>").next())
            .map(str::to_owned)
            .collect()
    }

    /// Starts a multipart upload of `key` and leaves it incomplete; its upload id.
    pub fn start_upload(&self, key: &str) -> String {
        let (status, _, body) = curl(&["-X", "POST", &format!("{}?uploads", self.url(key))]);
        assert_eq!(status, 200, "CreateMultipartUpload");
        let text = String::from_utf8(body).expect("xml");
        text.split("<UploadId>")
            .nth(1)
            .and_then(|u| u.split("</UploadId>").next())
            .expect("an upload id")
            .to_owned()
    }

    /// Every key under `prefix`, sorted.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        let (status, _, body) = curl(&[&format!(
            "{}/{BUCKET}?list-type=2&prefix={}",
            self.endpoint,
            prefix.replace('/', "%2F")
        )]);
        assert_eq!(status, 200, "ListObjectsV2");
        let mut keys: Vec<String> = String::from_utf8(body)
            .expect("xml")
            .split("<Key>")
            .skip(1)
            .filter_map(|s| s.split("</Key>").next())
            .map(str::to_owned)
            .collect();
        keys.sort();
        keys
    }

    /// The object's ACL document (`GET ?acl`).
    pub fn acl(&self, key: &str) -> String {
        let (status, _, body) = curl(&[&format!("{}?acl", self.url(key))]);
        assert_eq!(status, 200, "GET {key}?acl");
        String::from_utf8(body).expect("xml")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `curl` with `args`: status, headers (lower-case names) and body.
fn curl(args: &[&str]) -> (u16, BTreeMap<String, String>, Vec<u8>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let head = dir.path().join("head");
    let out = Command::new("curl")
        .args(["-s", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user"])
        .arg(format!("{ACCESS_KEY}:{SECRET_KEY}"))
        .arg("-D")
        .arg(&head)
        .args(args)
        .output()
        .expect("curl");
    let text = std::fs::read_to_string(&head).unwrap_or_default();
    let mut lines = text.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, out.stdout)
}

/// The S3 credentials of [`ACCESS_KEY`], as `AWS_*` variables.
fn credentials() -> Vec<(String, String)> {
    owned(&[
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
    ])
}

/// The action's inputs for shipping `dist` to `destination` on `moto`, then `extra`.
fn inputs<'a>(
    moto: &'a Moto,
    destination: &'a str,
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut all = vec![
        ("path", "dist"),
        ("destination", destination),
        ("s3-endpoint", moto.endpoint.as_str()),
        ("s3-path-style", "true"),
        ("s3-region", "us-east-1"),
    ];
    all.extend_from_slice(extra);
    all
}

/// Runs as the action does against `moto` under `prefix`, with `extra` inputs.
pub fn ship(ctx: &Ctx, moto: &Moto, prefix: &str, extra: &[(&str, &str)]) -> Run {
    let destination = format!("s3://{BUCKET}/{prefix}");
    ctx.action_env(&inputs(moto, &destination, extra), &credentials())
}

/// [`ship`], started and left running.
pub fn spawn(ctx: &Ctx, moto: &Moto, prefix: &str) -> Running {
    let destination = format!("s3://{BUCKET}/{prefix}");
    ctx.spawn_action_env(&inputs(moto, &destination, &[]), &credentials())
}
