//! The documents' long lists (a line or an object per file) rendered on every core and
//! written in order.

use std::io::{self, Write};
use std::ops::Range;

use rayon::prelude::*;

/// Entries rendered by one task.
const PER_BATCH: usize = 4096;

/// Writes `render(range)` for consecutive ranges covering `0..len`, in order. A few
/// batches per thread are rendered at a time, so memory stays bounded whatever `len` is.
/// Rendered by one thread, each document's list was a serial step after the scan (the
/// manifest's 40 ms, the checksums file's 35 ms per 100,000 files).
pub(crate) fn write_in_batches(
    out: &mut impl Write,
    len: usize,
    render: impl Fn(Range<usize>) -> io::Result<Vec<u8>> + Sync,
) -> io::Result<()> {
    let round = PER_BATCH * 2 * rayon::current_num_threads().max(1);
    let mut start = 0;
    while start < len {
        let end = (start + round).min(len);
        let rendered: Vec<io::Result<Vec<u8>>> = (start..end)
            .step_by(PER_BATCH)
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|from| render(from..(from + PER_BATCH).min(end)))
            .collect();
        for bytes in rendered {
            out.write_all(&bytes?)?;
        }
        start = end;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Batches come out in order and cover every index once, across several rounds.
    #[test]
    fn batches_cover_every_index_in_order() {
        let len = PER_BATCH * 2 * rayon::current_num_threads().max(1) * 3 + 17;
        let mut out = Vec::new();
        write_in_batches(&mut out, len, |range| {
            Ok(range.flat_map(|i| (i as u64).to_le_bytes()).collect())
        })
        .unwrap();
        let got: Vec<u64> = out
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(got, (0..len as u64).collect::<Vec<_>>());
    }
}
