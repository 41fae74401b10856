//! Groups of files with identical content, from the hashes already computed.

use crate::select::Selection;

use super::FileRecord;

/// Files sharing one content. Empty files are never grouped: they are identical by
/// definition and flagging every empty `__init__.py` helps nobody.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateGroup {
    /// Shared SHA-256.
    pub sha256: [u8; 32],
    /// Size of each copy.
    pub size: u64,
    /// Indices into the selection, in path order (the first is the "original").
    pub files: Vec<usize>,
}

impl DuplicateGroup {
    /// Bytes that would be saved by keeping one copy.
    #[must_use]
    pub fn redundant_bytes(&self) -> u64 {
        self.size * (self.files.len() as u64 - 1)
    }
}

/// Groups by hash; groups are ordered by their first path.
pub(crate) fn group(selection: &Selection, records: &[FileRecord]) -> Vec<DuplicateGroup> {
    let mut order: Vec<usize> = (0..records.len())
        // A preserved link's "content" is its target: not a copy of anything.
        .filter(|&i| records[i].size > 0 && selection.files[i].link().is_none())
        .collect();
    // Files are already in path order, so a stable sort by hash keeps paths sorted within a group.
    order.sort_by_key(|&i| records[i].sha256);
    let mut groups: Vec<DuplicateGroup> = order
        .chunk_by(|&a, &b| records[a].sha256 == records[b].sha256)
        .filter(|run| run.len() > 1)
        .map(|run| DuplicateGroup {
            sha256: records[run[0]].sha256,
            size: records[run[0]].size,
            files: run.to_vec(),
        })
        .collect();
    groups.sort_by(|a, b| {
        selection.files[a.files[0]]
            .rel()
            .cmp(selection.files[b.files[0]].rel())
    });
    groups
}
