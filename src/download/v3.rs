//! One artifact of the v3 protocol (`github::pipelines`): a container of plain files, each
//! fetched on its own (gzip-decoded when the service sends it encoded) into the artifact's
//! empty directory in the staging tree. Every item name is checked as a zip entry's is
//! (`tree_path::check_entry_name`: no `..`, no absolute or drive paths, no `.git`, Windows
//! names on Windows) and the whole listing before the first byte: two items with one name
//! (or, where the file system folds case, names differing only in case) and an item below
//! another item's file are refused, naming both. There are no links and no modes to
//! restore; the staging directory is private, so nothing can redirect a write.

use std::collections::{BTreeSet, HashMap};
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use futures_util::StreamExt as _;

use crate::download::extract::{ExtractOptions, names::shown};
use crate::events::Progress;
use crate::github::pipelines::{Item, Pipelines, RETRY};
use crate::net::{Verdict, describe};

/// Files fetched at once within one artifact.
const FILES_AT_ONCE: usize = 4;

/// What one artifact became.
pub(super) struct Fetched {
    pub(super) files: u64,
    /// Bytes of the files, decoded.
    pub(super) bytes: u64,
    /// Bytes received.
    pub(super) received: u64,
    /// Its directories (relative), for the modes placed afterwards.
    pub(super) dirs: Vec<String>,
}

/// One file to fetch.
struct Planned {
    /// Relative to the artifact's directory, `/`-separated.
    rel: String,
    url: reqwest::Url,
    length: Option<u64>,
}

/// Fetches artifact `name`'s files (listed at `container`) into the empty directory `dir`.
pub(super) async fn fetch(
    pipelines: &Pipelines,
    name: &str,
    container: &str,
    dir: &Path,
    progress: &Progress,
) -> Result<Fetched, String> {
    let items = pipelines
        .items(container, name)
        .await
        .map_err(|e| e.to_string())?;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
    let case_insensitive = ExtractOptions::for_destination(dir).case_insensitive;
    let planned = plan(name, &items, case_insensitive)?;
    let mut dirs = BTreeSet::new();
    for p in &planned {
        for (at, _) in p.rel.match_indices('/') {
            dirs.insert(p.rel[..at].to_owned());
        }
    }
    for d in &dirs {
        let path = below(dir, d);
        std::fs::create_dir_all(&path)
            .map_err(|e| format!("cannot create `{}`: {e}", path.display()))?;
    }
    let results: Vec<Result<(u64, u64), String>> = futures_util::stream::iter(&planned)
        .map(|p| fetch_file(pipelines, p, dir, progress))
        .buffer_unordered(FILES_AT_ONCE)
        .collect()
        .await;
    let mut fetched = Fetched {
        files: 0,
        bytes: 0,
        received: 0,
        dirs: dirs.into_iter().collect(),
    };
    for result in results {
        let (bytes, received) = result?;
        fetched.files += 1;
        fetched.bytes += bytes;
        fetched.received += received;
    }
    Ok(fetched)
}

/// The artifact's files, checked as a whole before anything is fetched.
fn plan(name: &str, items: &[Item], case_insensitive: bool) -> Result<Vec<Planned>, String> {
    let mut planned: Vec<Planned> = Vec::new();
    let mut seen: HashMap<String, String> = HashMap::new();
    for item in items.iter().filter(|i| i.kind == "file") {
        // The official client keeps only items under `<name>/` (or `<name>\` from a
        // Windows uploader), and so does this.
        let Some(rest) = item
            .path
            .strip_prefix(name)
            .and_then(|r| r.strip_prefix(['/', '\\']))
        else {
            continue;
        };
        let refuse = |problem: String| {
            format!(
                "the artifact's file `{}` {problem}; nothing was placed",
                shown(item.path.as_bytes())
            )
        };
        let rel = rest.replace('\\', "/");
        let (rel, is_dir) = crate::tree_path::check_entry_name(rel.as_bytes())
            .map_err(|problem| refuse(problem.to_string()))?;
        if is_dir {
            continue;
        }
        let key = if case_insensitive {
            rel.to_lowercase()
        } else {
            rel.clone()
        };
        if let Some(first) = seen.insert(key, item.path.clone()) {
            return Err(refuse(format!(
                "has the same name as `{}` on this file system",
                shown(first.as_bytes())
            )));
        }
        let url = reqwest::Url::parse(&item.content_location)
            .map_err(|e| refuse(format!("has no usable location ({e})")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(refuse("has a location that is not an http(s) URL".into()));
        }
        planned.push(Planned {
            rel,
            url,
            length: item.file_length,
        });
    }
    for p in &planned {
        for (at, _) in p.rel.match_indices('/') {
            let parent = &p.rel[..at];
            let key = if case_insensitive {
                parent.to_lowercase()
            } else {
                parent.to_owned()
            };
            if let Some(file) = seen.get(&key) {
                return Err(format!(
                    "the artifact's file `{}/{}` lies below `{}`, which is a file; nothing was placed",
                    name,
                    shown(p.rel.as_bytes()),
                    shown(file.as_bytes())
                ));
            }
        }
    }
    Ok(planned)
}

fn below(dir: &Path, rel: &str) -> PathBuf {
    rel.split('/').fold(dir.to_owned(), |p, c| p.join(c))
}

/// One file, retried as the service's other requests are; returns its decoded length and
/// the bytes received.
async fn fetch_file(
    pipelines: &Pipelines,
    planned: &Planned,
    dir: &Path,
    progress: &Progress,
) -> Result<(u64, u64), String> {
    let path = below(dir, &planned.rel);
    // An empty item has no content to fetch: the official client and the runner create it.
    if planned.length == Some(0) {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| format!("`{}`: cannot create `{}`: {e}", planned.rel, path.display()))?;
        return Ok((0, 0));
    }
    RETRY
        .run(|n| {
            let path = path.clone();
            async move {
                let mut received = 0;
                let result =
                    attempt(pipelines, planned, &path, n == 0, progress, &mut received).await;
                if result.is_err() {
                    progress.bytes.fetch_sub(received, Ordering::Relaxed);
                }
                result
            }
        })
        .await
        .map_err(|v| {
            v.give_up(|last| {
                format!(
                    "`{}`: the download failed after {} attempts: {}",
                    planned.rel,
                    crate::github::pipelines::ATTEMPTS,
                    last.why()
                )
            })
        })
}

/// Where a file's decoded bytes go: the file itself, or a gzip decoder in front of it.
enum Sink {
    Plain(Bounded),
    Gzip(Box<flate2::write::GzDecoder<Bounded>>),
}

/// The file, refusing to grow past the length the service lists: a gzip-encoded item
/// (whose `x-tfs-filelength` any uploader chooses) must not inflate without bound.
struct Bounded {
    file: File,
    written: u64,
    limit: Option<u64>,
}

/// The error of a write past [`Bounded`]'s limit.
#[derive(Debug, thiserror::Error)]
#[error("longer than listed")]
struct Overrun;

impl std::io::Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self
            .limit
            .is_some_and(|limit| self.written + buf.len() as u64 > limit)
        {
            return Err(std::io::Error::other(Overrun));
        }
        let n = self.file.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// Whether `e` is a write past the listed length.
fn overrun(e: &std::io::Error) -> bool {
    matches!(e.get_ref(), Some(inner) if inner.is::<Overrun>())
}

impl Sink {
    /// `file`, through a gzip decoder when `gzip`, taking at most `limit` decoded bytes.
    fn new(file: File, gzip: bool, limit: Option<u64>) -> Self {
        let file = Bounded {
            file,
            written: 0,
            limit,
        };
        if gzip {
            Sink::Gzip(Box::new(flate2::write::GzDecoder::new(file)))
        } else {
            Sink::Plain(file)
        }
    }

    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Sink::Plain(f) => f.write_all(bytes),
            Sink::Gzip(d) => d.write_all(bytes),
        }
    }

    /// Ends the stream; returns the file.
    fn finish(self) -> std::io::Result<File> {
        match self {
            Sink::Plain(f) => Ok(f.file),
            Sink::Gzip(d) => d.finish().map(|b| b.file),
        }
    }
}

async fn attempt(
    pipelines: &Pipelines,
    planned: &Planned,
    path: &Path,
    first: bool,
    progress: &Progress,
    received: &mut u64,
) -> Result<(u64, u64), Verdict<String, crate::github::pipelines::Again>> {
    use crate::github::pipelines::Again;
    let fail = |why: String| Verdict::Fail(format!("`{}`: {why}", planned.rel));
    let again = |why: String| Verdict::Retry(Again::new(why));
    // The first attempt creates the file; a later one starts it over.
    let file = if first {
        OpenOptions::new().write(true).create_new(true).open(path)
    } else {
        File::create(path)
    }
    .map_err(|e| fail(format!("cannot create `{}`: {e}", path.display())))?;
    let http = pipelines.http();
    let watch = http.watch();
    watch.describe("GET", planned.url.as_str());
    let request = pipelines.item_request(&planned.url);
    let response = watch
        .run(request.send())
        .await
        .map_err(|stalled| again(stalled.to_string()))?
        .map_err(|e| again(describe(e)))?;
    watch.answered(response.status());
    let status = response.status();
    if !status.is_success() {
        let why = format!("HTTP {}", status.as_u16());
        return Err(
            if matches!(status.as_u16(), 413 | 429 | 500 | 502 | 503 | 504) {
                again(why)
            } else {
                fail(why)
            },
        );
    }
    let gzip = response
        .headers()
        .get("content-encoding")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    let announced = response.content_length();
    let mut sink = Sink::new(file, gzip, planned.length);
    // Longer than listed is what the service sent, not a transfer fault: not retried.
    let longer = || {
        fail(format!(
            "is longer than the {} bytes the service lists; nothing was placed",
            planned.length.unwrap_or(0)
        ))
    };
    let mut stream = response.bytes_stream();
    loop {
        let next = watch
            .run(stream.next())
            .await
            .map_err(|stalled| again(stalled.to_string()))?;
        let Some(chunk) = next else { break };
        let chunk = chunk.map_err(|e| again(describe(e)))?;
        watch.touch();
        *received += chunk.len() as u64;
        progress
            .bytes
            .fetch_add(chunk.len() as u64, Ordering::Relaxed);
        sink.write(&chunk).map_err(|e| {
            if overrun(&e) {
                longer()
            } else if gzip {
                again(format!("the gzip stream is damaged ({e})"))
            } else {
                fail(format!("cannot write `{}`: {e}", path.display()))
            }
        })?;
    }
    if announced.is_some_and(|n| n != *received) {
        return Err(again(format!(
            "{} of {} announced bytes arrived",
            received,
            announced.unwrap_or(0)
        )));
    }
    let file = sink.finish().map_err(|e| {
        if overrun(&e) {
            longer()
        } else {
            again(format!("the gzip stream is damaged ({e})"))
        }
    })?;
    let length = file
        .metadata()
        .map_err(|e| fail(format!("cannot read `{}`: {e}", path.display())))?
        .len();
    if planned.length.is_some_and(|want| want != length) {
        return Err(again(format!(
            "{length} bytes arrived where the service lists {}",
            planned.length.unwrap_or(0)
        )));
    }
    Ok((length, *received))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(path: &str) -> Item {
        Item {
            path: path.into(),
            kind: "file".into(),
            content_location: "http://127.0.0.1/x".into(),
            file_length: None,
        }
    }

    #[test]
    fn hostile_item_names_are_refused_before_anything_is_fetched() {
        for bad in ["a/../../x", "a/.git/config", "a//etc", "a/x/../../y"] {
            let e = plan("a", &[item("a/ok"), item(bad)], false)
                .err()
                .unwrap_or_else(|| panic!("{bad} was accepted"));
            assert!(e.contains("nothing was placed"), "{e}");
        }
        // A Windows uploader's separators are separators.
        let p = plan("a", &[item("a\\d\\f.txt")], false).expect("plan");
        assert_eq!(p[0].rel, "d/f.txt");
        // A location that is not http(s) is refused with the listing, not retried.
        let mut odd = item("a/x");
        odd.content_location = "file:///etc/passwd".into();
        let e = plan("a", &[odd], false).err().expect("file: refused");
        assert!(e.contains("not an http(s) URL"), "{e}");
        // Items of another artifact are not this one's.
        assert!(plan("a", &[item("ab/x")], false).expect("plan").is_empty());
    }

    /// A gzip stream that decodes to more than the listed length stops at the length.
    #[tokio::test]
    async fn a_gzip_bomb_stops_at_the_listed_length() {
        use std::io::Write as _;
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&vec![0u8; 4 << 20]).expect("gzip");
        let bomb = encoder.finish().expect("gzip");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut buf = vec![0u8; 4096];
            let _ = socket.read(&mut buf).await;
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                bomb.len()
            );
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(&bomb).await;
        });
        let http = crate::net::Http::new(std::time::Duration::from_secs(5)).expect("http");
        let pipelines = Pipelines::new(
            http,
            &format!("http://{addr}/"),
            "1",
            crate::secret::Secret::new("t".into()),
        )
        .expect("client");
        let dir = tempfile::tempdir().expect("dir");
        let planned = Planned {
            rel: "f".into(),
            url: reqwest::Url::parse(&format!("http://{addr}/f")).expect("url"),
            length: Some(1000),
        };
        let progress = Progress::default();
        let mut received = 0;
        let path = dir.path().join("f");
        let result = attempt(&pipelines, &planned, &path, true, &progress, &mut received).await;
        let Err(Verdict::Fail(why)) = result else {
            panic!("the bomb was not refused for good");
        };
        assert!(why.contains("longer than the 1000 bytes"), "{why}");
        let written = std::fs::metadata(&path).expect("file").len();
        assert!(written <= 1000, "{written} bytes written");
    }

    #[test]
    fn collisions_are_refused_naming_both() {
        let e = plan("a", &[item("a/X.txt"), item("a/x.txt")], true)
            .err()
            .expect("case collision");
        assert!(e.contains("a/x.txt") && e.contains("a/X.txt"), "{e}");
        assert!(plan("a", &[item("a/X.txt"), item("a/x.txt")], false).is_ok());
        let e = plan("a", &[item("a/f"), item("a/f/g")], false)
            .err()
            .expect("file under file");
        assert!(e.contains("lies below"), "{e}");
    }
}
