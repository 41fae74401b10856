//! What a directory should hold: a `sha256sum`-style checksums file or a stevedore
//! manifest, read into one list of expected files.
//!
//! Checksums lines are read as GNU `sha256sum -c` reads them: `<hex>  <name>` (text mode),
//! `<hex> *<name>` (binary mode), the BSD form `sha256sum --tag` writes
//! (`SHA256 (<name>) = <hex>`), and either form behind a leading `\`, which marks a name
//! holding `\\`, `\n` or `\r` escapes. A trailing carriage return (a file written on
//! Windows) is dropped, as GNU does.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;

use super::VerifyError;
use crate::scan::manifest::SCHEMA;

/// One file the list vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Expected {
    /// Relative to the directory, `/`-separated, without `.` components.
    pub(crate) path: String,
    pub(crate) sha256: [u8; 32],
    /// Only a manifest records sizes.
    pub(crate) size: Option<u64>,
    /// Permission bits; only a manifest records them.
    pub(crate) mode: Option<u32>,
    /// A symbolic link a manifest records (`symlinks: preserve`), with its target: the
    /// path must be that link, not a file.
    pub(crate) link: Option<String>,
}

/// A list as read: what it vouches for, and (a manifest) the name of the checksums file
/// written beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct List {
    pub(crate) expected: Vec<Expected>,
    pub(crate) checksums_name: Option<String>,
}

/// Which kind of list, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Checksums,
    Manifest,
}

/// Reads a checksums file. `shown` is the file's name as the user gave it.
pub(crate) fn checksums(text: &[u8], shown: &Path) -> Result<Vec<Expected>, VerifyError> {
    let mut out = Vec::new();
    let mut seen = HashMap::new();
    for (index, raw) in text.split(|&b| b == b'\n').enumerate() {
        let line = index + 1;
        let bad = |reason: String| VerifyError::BadLine {
            list: shown.to_path_buf(),
            line,
            reason,
        };
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.is_empty() {
            continue;
        }
        let raw =
            std::str::from_utf8(raw).map_err(|_| bad("the line is not UTF-8 text".to_owned()))?;
        let (name, sha256) = checksums_line(raw).map_err(bad)?;
        let path = relative(&name).map_err(|reason| VerifyError::Escapes {
            list: shown.to_path_buf(),
            line,
            entry: name.clone(),
            reason,
        })?;
        if let Some(first) = seen.insert(path.clone(), line) {
            return Err(VerifyError::Duplicate {
                list: shown.to_path_buf(),
                entry: path,
                first,
                line,
            });
        }
        out.push(Expected {
            path,
            sha256,
            size: None,
            mode: None,
            link: None,
        });
    }
    Ok(out)
}

/// One non-empty line: the name (unescaped) and the digest.
fn checksums_line(line: &str) -> Result<(String, [u8; 32]), String> {
    let (escaped, rest) = match line.strip_prefix('\\') {
        Some(rest) => (true, rest),
        None => (false, line),
    };
    let (name, hex) = if let Some(tagged) = rest.strip_prefix("SHA256 (") {
        let (name, hex) = tagged
            .rsplit_once(") = ")
            .ok_or("a `SHA256 (` line lacks `) = <digest>`")?;
        (name, hex)
    } else {
        let hex = rest.get(..64).ok_or_else(not_a_line)?;
        let name = match rest.get(64..66) {
            Some("  " | " *") => &rest[66..],
            _ => return Err(not_a_line()),
        };
        (name, hex)
    };
    let mut sha256 = [0u8; 32];
    hex::decode_to_slice(hex, &mut sha256)
        .map_err(|_| format!("`{hex}` is not a SHA-256 digest (64 hexadecimal digits)"))?;
    let name = if escaped {
        unescape(name)?
    } else {
        name.to_owned()
    };
    if name.is_empty() {
        return Err("the line names no file".to_owned());
    }
    Ok((name, sha256))
}

fn not_a_line() -> String {
    "not a checksums line: expected `<64 hex digits>  <name>` (or ` *<name>`), as sha256sum writes"
        .to_owned()
}

/// Undoes GNU's escaping of a name on a line that starts with `\`.
fn unescape(name: &str) -> Result<String, String> {
    let mut out = String::with_capacity(name.len());
    let mut chars = name.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            other => {
                return Err(format!(
                    "`\\{}` is not an escape sha256sum writes (\\\\, \\n, \\r)",
                    other.map(String::from).unwrap_or_default()
                ));
            }
        }
    }
    Ok(out)
}

/// The manifest fields verify reads; the rest of the document is not needed.
#[derive(Deserialize)]
struct ManifestDoc {
    schema: String,
    #[serde(default)]
    checksums: Option<String>,
    files: Vec<ManifestFile>,
}

#[derive(Deserialize)]
struct ManifestFile {
    path: String,
    size: u64,
    sha256: String,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    target: Option<String>,
}

/// Reads a stevedore manifest (`docs/manifest.md`).
pub(crate) fn manifest(text: &[u8], shown: &Path) -> Result<List, VerifyError> {
    let bad = |reason: String| VerifyError::BadManifest {
        list: shown.to_path_buf(),
        reason,
    };
    let doc: ManifestDoc = serde_json::from_slice(text).map_err(|e| {
        bad(format!(
            "not a stevedore manifest ({e}); a sha256sum-style file goes with --checksums"
        ))
    })?;
    if doc.schema != SCHEMA {
        return Err(bad(format!(
            "schema `{}` is not `{SCHEMA}`, the one this stevedore reads",
            doc.schema
        )));
    }
    let mut out = Vec::with_capacity(doc.files.len());
    let mut seen = HashMap::new();
    for (index, file) in doc.files.into_iter().enumerate() {
        let entry = index + 1;
        let path = relative(&file.path).map_err(|reason| VerifyError::Escapes {
            list: shown.to_path_buf(),
            line: entry,
            entry: file.path.clone(),
            reason,
        })?;
        let mut sha256 = [0u8; 32];
        hex::decode_to_slice(&file.sha256, &mut sha256).map_err(|_| {
            bad(format!(
                "files[{entry}] (`{}`): `{}` is not a SHA-256 digest",
                file.path, file.sha256
            ))
        })?;
        let mode = match file.mode.as_deref() {
            None => None,
            Some(text) => Some(
                u32::from_str_radix(text, 8)
                    .ok()
                    .filter(|m| *m <= 0o7777)
                    .ok_or_else(|| {
                        bad(format!(
                            "files[{entry}] (`{}`): mode `{text}` is not four octal digits",
                            file.path
                        ))
                    })?,
            ),
        };
        if let Some(first) = seen.insert(path.clone(), entry) {
            return Err(VerifyError::Duplicate {
                list: shown.to_path_buf(),
                entry: path,
                first,
                line: entry,
            });
        }
        let link = match (file.kind.as_deref(), file.target) {
            (Some("symlink"), Some(target)) => Some(target),
            (Some("symlink"), None) => {
                return Err(bad(format!(
                    "files[{entry}] (`{}`): a symlink without a `target`",
                    file.path
                )));
            }
            _ => None,
        };
        out.push(Expected {
            path,
            sha256,
            size: Some(file.size),
            mode,
            link,
        });
    }
    Ok(List {
        expected: out,
        checksums_name: doc.checksums,
    })
}

/// A listed name as a path relative to the directory: `.` components dropped, anything
/// that could leave the directory (a root, a drive, `..`) refused with the reason.
pub(crate) fn relative(name: &str) -> Result<String, &'static str> {
    let mut parts = Vec::new();
    for component in Path::new(name).components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str().ok_or("not UTF-8")?),
            Component::CurDir => {}
            Component::ParentDir => return Err("`..` leaves the directory"),
            Component::RootDir | Component::Prefix(_) => {
                return Err("an absolute path is outside the directory");
            }
        }
    }
    if parts.is_empty() {
        return Err("names the directory itself, not a file");
    }
    Ok(parts.join("/"))
}

/// The lists of a directory when none is named: its stevedore manifest, else the
/// manifests of a `job-key` layout (`stevedore-manifest-<key>.json`, one per job), else
/// `SHA256SUMS`, else the checksums files of a `job-key` layout (`SHA256SUMS-<key>`).
/// A manifest also checks sizes, modes and links, so it is preferred.
pub(crate) fn default_for(dir: &Path) -> Result<Vec<(Kind, PathBuf)>, VerifyError> {
    let manifest = dir.join(super::DEFAULT_MANIFEST);
    if manifest.is_file() {
        return Ok(vec![(Kind::Manifest, manifest)]);
    }
    let names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|source| VerifyError::Directory {
            dir: dir.to_path_buf(),
            source,
        })?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    let keyed = |prefix: &str, suffix: &str| {
        let mut found: Vec<PathBuf> = names
            .iter()
            .filter(|n| {
                n.strip_prefix(prefix)
                    .and_then(|rest| rest.strip_suffix(suffix))
                    .is_some_and(|key| !key.is_empty())
            })
            .map(|n| dir.join(n))
            .filter(|p| p.is_file())
            .collect();
        found.sort();
        found
    };
    let manifests = keyed("stevedore-manifest-", ".json");
    if !manifests.is_empty() {
        return Ok(manifests.into_iter().map(|p| (Kind::Manifest, p)).collect());
    }
    let checksums = dir.join(super::DEFAULT_CHECKSUMS);
    if checksums.is_file() {
        return Ok(vec![(Kind::Checksums, checksums)]);
    }
    let sums = keyed(&format!("{}-", super::DEFAULT_CHECKSUMS), "");
    if !sums.is_empty() {
        return Ok(sums.into_iter().map(|p| (Kind::Checksums, p)).collect());
    }
    Err(VerifyError::NoDefault {
        dir: dir.to_path_buf(),
    })
}

/// The manifest a checksums file (its file name) was written beside: `SHA256SUMS-<key>`
/// (a `job-key` layout) goes with `stevedore-manifest-<key>.json`, any other name with
/// `stevedore-manifest.json`.
pub(crate) fn sibling_manifest(checksums_file: &str) -> String {
    match checksums_file
        .strip_prefix(super::DEFAULT_CHECKSUMS)
        .and_then(|rest| rest.strip_prefix('-'))
    {
        Some(key) if !key.is_empty() => format!("stevedore-manifest-{key}.json"),
        _ => super::DEFAULT_MANIFEST.to_owned(),
    }
}

/// The checksums file a manifest at `manifest` (its file name) was written beside: the
/// name it records (`SHA256SUMS` for manifests older than the field), with the manifest's
/// `job-key` suffix (`stevedore-manifest-<key>.json` goes with `<checksums>-<key>`).
pub(crate) fn sibling_checksums(manifest_file: &str, recorded: Option<&str>) -> String {
    let name = recorded.unwrap_or(super::DEFAULT_CHECKSUMS);
    match manifest_file
        .strip_prefix("stevedore-manifest-")
        .and_then(|rest| rest.strip_suffix(".json"))
    {
        Some(key) if !key.is_empty() => format!("{name}-{key}"),
        _ => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb";

    fn parse(text: &str) -> Result<Vec<Expected>, VerifyError> {
        checksums(text.as_bytes(), Path::new("SUMS"))
    }

    #[test]
    fn text_binary_tagged_and_escaped_lines() {
        let text = format!(
            "{A}  a.txt\n{A} *bin/b.exe\r\nSHA256 (c d.txt) = {}\n\\{A}  new\\nline\\\\x\n\n",
            A.to_uppercase()
        );
        let paths: Vec<_> = parse(&text)
            .expect("parses")
            .into_iter()
            .map(|e| e.path)
            .collect();
        assert_eq!(paths, ["a.txt", "bin/b.exe", "c d.txt", "new\nline\\x"]);
    }

    #[test]
    fn bad_lines_are_named_by_number() {
        let err = parse(&format!("{A}  a\nnonsense\n")).expect_err("refused");
        assert!(matches!(err, VerifyError::BadLine { line: 2, .. }), "{err}");
        let err = parse(&format!("\\{A}  a\\tb\n")).expect_err("refused");
        assert!(err.to_string().contains("\\t"), "{err}");
    }

    #[test]
    fn names_leaving_the_directory_are_refused() {
        for name in ["../x", "a/../../x", "/etc/passwd", "a/.."] {
            let err = parse(&format!("{A}  {name}\n")).expect_err(name);
            assert!(
                matches!(&err, VerifyError::Escapes { entry, .. } if entry == name),
                "{name}: {err}"
            );
        }
        let ok = parse(&format!("{A}  ./a//b\n")).expect("dot components are fine");
        assert_eq!(ok[0].path, "a/b");
    }

    #[test]
    fn a_path_listed_twice_is_refused() {
        let err = parse(&format!("{A}  a\n{A}  ./a\n")).expect_err("refused");
        assert!(
            matches!(
                err,
                VerifyError::Duplicate {
                    first: 1,
                    line: 2,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn manifest_modes_and_sizes() {
        let doc = format!(
            r#"{{"schema":"{SCHEMA}","generator":"stevedore 0","root":"/r","files":[{{"path":"x","size":1,"sha256":"{A}","mode":"0755"}}]}}"#
        );
        let list = manifest(doc.as_bytes(), Path::new("m.json"))
            .expect("parses")
            .expected;
        assert_eq!(list[0].mode, Some(0o755));
        assert_eq!(list[0].size, Some(1));
        let other = doc.replace(SCHEMA, "other/v9");
        assert!(manifest(other.as_bytes(), Path::new("m.json")).is_err());
    }
}
