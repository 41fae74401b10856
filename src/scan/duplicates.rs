//! Groups of files with identical content, from the hashes already computed.

use rayon::slice::ParallelSliceMut;

use crate::select::Selection;

use super::FileRecord;

/// Files sharing one content. Empty files are never grouped: they are identical by
/// definition and flagging every empty `__init__.py` helps nobody.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DuplicateGroup {
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
    pub(crate) fn redundant_bytes(&self) -> u64 {
        self.size * (self.files.len() as u64 - 1)
    }
}

/// Groups by hash; groups are ordered by their first path.
///
/// Sorted as 16-byte (hash prefix, index) pairs on every core: sorting indices by the
/// whole hash read each 64-byte record at random, a serial 17 ms per 100,000 files
/// between the scan and the documents. Files sharing a prefix are then split by the
/// whole hash, so two contents that merely share 8 bytes are never grouped.
pub(crate) fn group(selection: &Selection, records: &[FileRecord]) -> Vec<DuplicateGroup> {
    let prefix = |r: &FileRecord| {
        let mut head = [0u8; 8];
        head.copy_from_slice(&r.sha256[..8]);
        u64::from_be_bytes(head)
    };
    // Sized once: grown by doubling, each step is a new allocation and a copy, and with
    // mimalloc (the musl builds) a new mapping whose pages the kernel zeroes again (1.35%
    // of the musl build's 100,000-file scan).
    let mut keyed: Vec<(u64, usize)> = Vec::with_capacity(records.len());
    keyed.extend(
        records
            .iter()
            .enumerate()
            // A preserved link's "content" is its target: not a copy of anything.
            .filter(|&(i, r)| r.size > 0 && selection.files[i].link().is_none())
            .map(|(i, r)| (prefix(r), i)),
    );
    // Within one prefix, indices stay in path order: the first is the "original".
    keyed.par_sort_unstable();
    let mut groups: Vec<DuplicateGroup> = Vec::new();
    let mut run: Vec<usize> = Vec::new();
    for same_prefix in keyed
        .chunk_by(|a, b| a.0 == b.0)
        .filter(|run| run.len() > 1)
    {
        run.clear();
        run.extend(same_prefix.iter().map(|&(_, i)| i));
        // Stable: path order is kept among equal hashes.
        run.sort_by_key(|&i| records[i].sha256);
        for same in run.chunk_by(|&a, &b| records[a].sha256 == records[b].sha256) {
            if same.len() > 1 {
                groups.push(DuplicateGroup {
                    sha256: records[same[0]].sha256,
                    size: records[same[0]].size,
                    files: same.to_vec(),
                });
            }
        }
    }
    // The selection is in path order, so a group's first index orders it by its first
    // path: no string comparisons (they were most of this step's time).
    groups.par_sort_unstable_by_key(|g| g.files[0]);
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::select::SelectedFile;

    fn record(sha256: [u8; 32]) -> FileRecord {
        FileRecord {
            size: 10,
            sha256,
            mode: 0o644,
            mtime: 0,
            crc32: None,
            crc32c: None,
        }
    }

    /// Contents that share the 8-byte prefix the sort uses are told apart by the whole
    /// hash; copies stay in path order and groups come in order of their first path.
    #[test]
    fn a_shared_prefix_is_not_a_shared_content() {
        let names = ["a", "b", "c", "d", "e", "f"];
        let selection = Selection {
            root: "/w".into(),
            search_paths: vec!["/w".into()],
            files: names
                .iter()
                .map(|n| SelectedFile::new(format!("/w/{n}"), "/w", None))
                .collect(),
            unmatched: Vec::new(),
        };
        let mut x = [7u8; 32];
        let mut y = [7u8; 32];
        x[31] = 1;
        y[31] = 2;
        let z = [1u8; 32];
        // a:x b:y c:x d:z e:y f:z
        let records: Vec<FileRecord> = [x, y, x, z, y, z].map(record).to_vec();
        let groups = group(&selection, &records);
        let got: Vec<([u8; 32], Vec<usize>)> =
            groups.into_iter().map(|g| (g.sha256, g.files)).collect();
        assert_eq!(got, vec![(x, vec![0, 2]), (y, vec![1, 4]), (z, vec![3, 5])]);
    }
}
