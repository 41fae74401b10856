//! The scan's result and its JSON form (schema `stevedore.manifest/v1`, documented in
//! `docs/manifest.md` and `docs/manifest.schema.json`).

use std::time::Duration;

use serde::Serialize;

use super::secrets::Finding;
use super::{DuplicateGroup, FileRecord};
use crate::select::{SelectedFile, Selection};

/// Schema id written into every manifest. Bump on incompatible changes.
pub const SCHEMA: &str = "stevedore.manifest/v1";

/// Everything the scan learned.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The selection scanned (files in path order).
    pub selection: Selection,
    /// One record per selected file, same order.
    pub records: Vec<FileRecord>,
    /// Duplicate groups.
    pub duplicates: Vec<DuplicateGroup>,
    /// Credential findings, by path then line.
    pub findings: Vec<Finding>,
    /// Sum of file sizes.
    pub total_bytes: u64,
    /// Time spent scanning.
    pub elapsed: Duration,
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
    pub fn files(&self) -> impl ExactSizeIterator<Item = (&SelectedFile, &FileRecord)> {
        self.selection.files.iter().zip(&self.records)
    }

    /// Files whose content repeats an earlier file (group members beyond the first).
    #[must_use]
    pub fn duplicate_files(&self) -> usize {
        self.duplicates.iter().map(|g| g.files.len() - 1).sum()
    }

    /// Findings not accepted by `secrets-allow`.
    #[must_use]
    pub fn open_findings(&self) -> usize {
        self.findings.iter().filter(|f| !f.allowed).count()
    }

    /// The JSON document.
    pub fn to_json(&self) -> serde_json::Result<String> {
        let doc = Document {
            schema: SCHEMA,
            generator: concat!("stevedore ", env!("CARGO_PKG_VERSION")),
            root: self.selection.root.to_string_lossy(),
            totals: Totals {
                files: self.records.len(),
                bytes: self.total_bytes,
                duplicate_groups: self.duplicates.len(),
                duplicate_files: self.duplicate_files(),
                findings: self.open_findings(),
                allowed_findings: self.findings.len() - self.open_findings(),
            },
            files: self
                .files()
                .map(|(f, r)| FileJson {
                    path: &f.rel,
                    size: r.size,
                    sha256: hex::encode(r.sha256),
                    mode: format!("{:04o}", r.mode),
                })
                .collect(),
            duplicates: self
                .duplicates
                .iter()
                .map(|g| GroupJson {
                    sha256: hex::encode(g.sha256),
                    size: g.size,
                    paths: g
                        .files
                        .iter()
                        .map(|&i| self.selection.files[i].rel.as_str())
                        .collect(),
                })
                .collect(),
            findings: &self.findings,
        };
        serde_json::to_string_pretty(&doc)
    }
}

#[derive(Serialize)]
struct Document<'a> {
    schema: &'static str,
    generator: &'static str,
    root: std::borrow::Cow<'a, str>,
    totals: Totals,
    files: Vec<FileJson<'a>>,
    duplicates: Vec<GroupJson<'a>>,
    findings: &'a [Finding],
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
    sha256: String,
    mode: String,
}

#[derive(Serialize)]
struct GroupJson<'a> {
    sha256: String,
    size: u64,
    paths: Vec<&'a str>,
}
