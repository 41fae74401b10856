//! The scan's result and its JSON form (schema `stevedore.manifest/v1`, documented in
//! `docs/manifest.md` and `docs/manifest.schema.json`).

use std::time::Duration;

use serde::Serialize;
use serde::ser::{SerializeSeq, Serializer};

use super::secrets::Finding;
use super::{DuplicateGroup, FileRecord};
use crate::select::{SelectedFile, Selection};

/// Schema id written into every manifest. Bump on incompatible changes.
pub(crate) const SCHEMA: &str = "stevedore.manifest/v1";

/// Everything the scan learned.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The selection scanned (files in path order).
    pub(crate) selection: Selection,
    /// One record per selected file, same order.
    pub(crate) records: Vec<FileRecord>,
    /// Duplicate groups.
    pub(crate) duplicates: Vec<DuplicateGroup>,
    /// Credential findings, by path then line.
    pub(crate) findings: Vec<Finding>,
    /// Sum of file sizes.
    pub(crate) total_bytes: u64,
    /// Time spent scanning.
    pub(crate) elapsed: Duration,
}

impl Manifest {
    pub(crate) fn new(
        selection: Selection,
        records: Vec<FileRecord>,
        duplicates: Vec<DuplicateGroup>,
        findings: Vec<Finding>,
        elapsed: Duration,
    ) -> Self {
        let total_bytes = records.iter().map(|r| r.size).sum();
        Manifest {
            selection,
            records,
            duplicates,
            findings,
            total_bytes,
            elapsed,
        }
    }

    /// Files with their records.
    #[must_use]
    pub(crate) fn files(&self) -> impl ExactSizeIterator<Item = (&SelectedFile, &FileRecord)> {
        self.selection.files.iter().zip(&self.records)
    }

    /// Files whose content repeats an earlier file (group members beyond the first).
    #[must_use]
    pub(crate) fn duplicate_files(&self) -> usize {
        self.duplicates.iter().map(|g| g.files.len() - 1).sum()
    }

    /// Findings not accepted by `secrets-allow`.
    #[must_use]
    pub(crate) fn open_findings(&self) -> usize {
        self.findings.iter().filter(|f| !f.allowed).count()
    }

    /// Writes the JSON document (compact; one object per file, no per-file allocation).
    ///
    /// The `files` array, most of the document, is rendered on every core
    /// ([`super::batches`]). The bytes are those `serde_json::to_writer` writes for the
    /// whole document.
    pub(crate) fn write_json(
        &self,
        out: &mut impl std::io::Write,
        checksums_name: &str,
    ) -> std::io::Result<()> {
        let head = Head {
            schema: SCHEMA,
            generator: concat!("stevedore ", env!("CARGO_PKG_VERSION")),
            root: self.selection.root.to_string_lossy(),
            checksums: checksums_name,
            totals: Totals {
                files: self.records.len(),
                bytes: self.total_bytes,
                duplicate_groups: self.duplicates.len(),
                duplicate_files: self.duplicate_files(),
                findings: self.open_findings(),
                allowed_findings: self.findings.len() - self.open_findings(),
            },
        };
        let mut head = serde_json::to_vec(&head)?;
        // The head object stays open: the arrays follow as its next members.
        head.pop();
        out.write_all(&head)?;
        out.write_all(b",\"files\":[")?;
        super::batches::write_in_batches(out, self.records.len(), |range| {
            self.render_files(range).map_err(std::io::Error::from)
        })?;
        out.write_all(b"],\"duplicates\":")?;
        serde_json::to_writer(&mut *out, &Groups(self))?;
        out.write_all(b",\"findings\":")?;
        serde_json::to_writer(&mut *out, &self.findings)?;
        out.write_all(b"}")?;
        Ok(())
    }

    /// The `files` entries in `range`, each preceded by a comma but the very first.
    fn render_files(&self, range: std::ops::Range<usize>) -> serde_json::Result<Vec<u8>> {
        let mut buf = Vec::with_capacity(range.len() * 160);
        for i in range {
            if i > 0 {
                buf.push(b',');
            }
            let (file, record) = (&self.selection.files[i], &self.records[i]);
            serde_json::to_writer(
                &mut buf,
                &FileJson {
                    path: file.rel(),
                    size: record.size,
                    sha256: Hex(record.sha256),
                    mode: Mode(record.mode),
                    kind: file.link().map(|_| "symlink"),
                    target: file.link(),
                },
            )?;
        }
        Ok(buf)
    }
}

/// The document's members before its arrays, in the order the schema lists them.
#[derive(Serialize)]
struct Head<'a> {
    schema: &'static str,
    generator: &'static str,
    root: std::borrow::Cow<'a, str>,
    /// The name of the checksums file written beside this manifest, so `verify` knows it
    /// for one of the documents and not an extra file.
    checksums: &'a str,
    totals: Totals,
}

#[derive(Serialize)]
struct Totals {
    files: usize,
    bytes: u64,
    duplicate_groups: usize,
    duplicate_files: usize,
    findings: usize,
    allowed_findings: usize,
}

#[derive(Serialize)]
struct FileJson<'a> {
    path: &'a str,
    size: u64,
    sha256: Hex,
    mode: Mode,
    /// `"symlink"` for a preserved link; absent for a regular file (manifests written
    /// before links existed stay valid).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    /// A preserved link's target; `size` and `sha256` are those of this string.
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<&'a str>,
}

/// The `duplicates` array.
struct Groups<'a>(&'a Manifest);

impl Serialize for Groups<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let m = self.0;
        let mut seq = s.serialize_seq(Some(m.duplicates.len()))?;
        for g in &m.duplicates {
            let paths: Vec<&str> = g
                .files
                .iter()
                .map(|&i| m.selection.files[i].rel())
                .collect();
            seq.serialize_element(&GroupJson {
                sha256: Hex(g.sha256),
                size: g.size,
                paths,
            })?;
        }
        seq.end()
    }
}

#[derive(Serialize)]
struct GroupJson<'a> {
    sha256: Hex,
    size: u64,
    paths: Vec<&'a str>,
}

/// A SHA-256 as lower-case hex, formatted on the stack.
struct Hex([u8; 32]);

impl Serialize for Hex {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 64];
        hex::encode_to_slice(self.0, &mut buf).map_err(serde::ser::Error::custom)?;
        s.serialize_str(std::str::from_utf8(&buf).map_err(serde::ser::Error::custom)?)
    }
}

/// Permission bits as four octal digits.
struct Mode(u32);

impl Serialize for Mode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let m = self.0 & 0o7777;
        let digits =
            [3u32, 2, 1, 0].map(|shift| b'0' + u8::try_from((m >> (shift * 3)) & 7).unwrap_or(0));
        s.serialize_str(std::str::from_utf8(&digits).map_err(serde::ser::Error::custom)?)
    }
}
