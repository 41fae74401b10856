//! The zip's central directory, read by hand (APPNOTE 4.3.12-4.3.16, zip64 4.3.14/4.5.3).
//!
//! Why not the `zip` crate: its reader keeps entries in a map keyed by name, so a duplicate
//! entry disappears before we could name it, and a hostile archive must be refused naming the
//! entry. The records are few and fixed (`pack/layout.rs` writes the same ones), so reading them
//! here is a page of code; inflating is `flate2`'s, as for `pack`.

use std::fs::File;
use std::io::{self, Read};

/// End of central directory record.
const EOCD_SIG: u32 = 0x0605_4b50;
/// Zip64 end of central directory locator.
const LOCATOR_SIG: u32 = 0x0706_4b50;
/// Zip64 end of central directory record.
const EOCD64_SIG: u32 = 0x0606_4b50;
/// Central directory file header.
const CENTRAL_SIG: u32 = 0x0201_4b50;
/// Local file header.
const LOCAL_SIG: u32 = 0x0403_4b50;
/// The fixed parts of the records.
const EOCD_LEN: usize = 22;
const LOCATOR_LEN: usize = 20;
const EOCD64_LEN: usize = 56;
const CENTRAL_LEN: usize = 46;
const LOCAL_LEN: usize = 30;
/// A 32-bit field holding this means "see the zip64 extra field".
const SATURATED: u32 = 0xFFFF_FFFF;

/// One central directory entry, as declared.
#[derive(Debug, Clone)]
pub(super) struct CentralEntry {
    /// The name's bytes.
    pub(super) name: Vec<u8>,
    /// "Version made by" host byte (3 = Unix).
    pub(super) host: u8,
    /// General purpose flags (bit 0: encrypted; bit 11: UTF-8 name).
    pub(super) flags: u16,
    /// 0 stored, 8 deflated.
    pub(super) method: u16,
    /// Declared CRC-32.
    pub(super) crc: u32,
    /// Declared compressed size.
    pub(super) compressed: u64,
    /// Declared uncompressed size.
    pub(super) size: u64,
    /// External attributes (Unix mode in the high 16 bits when `host` is 3).
    pub(super) external: u32,
    /// Offset of the local header.
    pub(super) local_offset: u64,
}

/// Why the file is not a zip we can read (no entry to blame).
#[derive(Debug, thiserror::Error)]
pub(super) enum CentralError {
    /// Reading the file failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// A record is missing or inconsistent.
    #[error("{0}")]
    Malformed(&'static str),
    /// More entries than [`MAX_ENTRIES`].
    #[error("it declares {0} entries")]
    TooMany(u64),
}

/// Entries an artifact may hold. Each costs memory while it is checked (about 200 bytes)
/// and an inode when written; a zip of millions of empty entries is a few dozen MB to
/// download. A million is what the upload side is built and measured for (DESIGN's scale
/// target), and well past any artifact upload-artifact's own archiver makes in a job.
pub(crate) const MAX_ENTRIES: u64 = 1_000_000;

/// Reads exactly `buf.len()` bytes at `offset`.
pub(super) fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
    }
    #[cfg(windows)]
    {
        let mut done = 0;
        while done < buf.len() {
            let n = std::os::windows::fs::FileExt::seek_read(
                file,
                &mut buf[done..],
                offset + done as u64,
            )?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            done += n;
        }
        Ok(())
    }
}

/// A `Read` over `[pos, end)` of a file through positional reads, so every worker thread
/// reads its own entry from one shared handle without seeking.
pub(super) struct RangeReader<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl<'a> RangeReader<'a> {
    pub(super) fn new(file: &'a File, start: u64, len: u64) -> Self {
        RangeReader {
            file,
            pos: start,
            end: start.saturating_add(len),
        }
    }
}

impl Read for RangeReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = usize::try_from(self.end - self.pos).unwrap_or(usize::MAX);
        let want = buf.len().min(left);
        if want == 0 {
            return Ok(0);
        }
        read_exact_at(self.file, &mut buf[..want], self.pos)?;
        self.pos += want as u64;
        Ok(want)
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

/// Where the central directory is and how many entries it declares.
struct Directory {
    offset: u64,
    size: u64,
    count: u64,
    /// Where the end records begin: entries' data must end before the directory, the
    /// directory before this.
    end_records: u64,
}

/// The end records: the last EOCD whose comment reaches exactly the end of the file, then
/// the zip64 locator and record when present.
fn find_directory(file: &File, len: u64) -> Result<Directory, CentralError> {
    let tail_len = len.min((EOCD_LEN + 0xFFFF + LOCATOR_LEN) as u64);
    let tail_start = len - tail_len;
    let mut tail =
        vec![0u8; usize::try_from(tail_len).map_err(|_| CentralError::Malformed("too large"))?];
    read_exact_at(file, &mut tail, tail_start)?;
    let mut at = tail
        .len()
        .checked_sub(EOCD_LEN)
        .ok_or(CentralError::Malformed(
            "no end of central directory record (not a zip, or truncated)",
        ))?;
    loop {
        if u32_at(&tail, at) == EOCD_SIG
            && at + EOCD_LEN + usize::from(u16_at(&tail, at + 20)) == tail.len()
        {
            break;
        }
        at = at.checked_sub(1).ok_or(CentralError::Malformed(
            "no end of central directory record (not a zip, or truncated)",
        ))?;
    }
    let eocd = &tail[at..at + EOCD_LEN];
    if u16_at(eocd, 4) != 0 || u16_at(eocd, 6) != 0 {
        return Err(CentralError::Malformed("a multi-disk (split) zip"));
    }
    let eocd_pos = tail_start + at as u64;
    let mut dir = Directory {
        offset: u64::from(u32_at(eocd, 16)),
        size: u64::from(u32_at(eocd, 12)),
        count: u64::from(u16_at(eocd, 10)),
        end_records: eocd_pos,
    };
    if at >= LOCATOR_LEN && u32_at(&tail, at - LOCATOR_LEN) == LOCATOR_SIG {
        let locator = &tail[at - LOCATOR_LEN..at];
        let record_at = u64_at(locator, 8);
        if record_at
            .checked_add(EOCD64_LEN as u64)
            .is_none_or(|end| end > eocd_pos)
        {
            return Err(CentralError::Malformed("zip64 end record outside the file"));
        }
        let mut record = [0u8; EOCD64_LEN];
        read_exact_at(file, &mut record, record_at)?;
        if u32_at(&record, 0) != EOCD64_SIG {
            return Err(CentralError::Malformed("zip64 end record missing"));
        }
        dir = Directory {
            offset: u64_at(&record, 48),
            size: u64_at(&record, 40),
            count: u64_at(&record, 32),
            end_records: record_at,
        };
    }
    if dir
        .offset
        .checked_add(dir.size)
        .is_none_or(|end| end > dir.end_records)
    {
        return Err(CentralError::Malformed(
            "the central directory lies outside the file (truncated?)",
        ));
    }
    Ok(dir)
}

/// Every central directory entry, in directory order, and the directory's offset (entries'
/// data must end before it).
pub(super) fn read_central(file: &File) -> Result<(Vec<CentralEntry>, u64), CentralError> {
    let len = file.metadata()?.len();
    let dir = find_directory(file, len)?;
    if dir.count > MAX_ENTRIES {
        return Err(CentralError::TooMany(dir.count));
    }
    let mut bytes =
        vec![0u8; usize::try_from(dir.size).map_err(|_| CentralError::Malformed("too large"))?];
    read_exact_at(file, &mut bytes, dir.offset)?;
    // Each entry takes at least 46 bytes: a declared count beyond that is a lie, and a bound
    // for the allocation.
    let mut entries = Vec::with_capacity(
        usize::try_from(dir.count)
            .unwrap_or(0)
            .min(bytes.len() / CENTRAL_LEN),
    );
    let mut at = 0;
    while at < bytes.len() {
        let fixed = bytes
            .get(at..at + CENTRAL_LEN)
            .ok_or(CentralError::Malformed(
                "a central directory entry is cut short",
            ))?;
        if u32_at(fixed, 0) != CENTRAL_SIG {
            return Err(CentralError::Malformed(
                "a central directory entry has a bad signature",
            ));
        }
        let name_len = usize::from(u16_at(fixed, 28));
        let extra_len = usize::from(u16_at(fixed, 30));
        let comment_len = usize::from(u16_at(fixed, 32));
        let end = at + CENTRAL_LEN + name_len + extra_len + comment_len;
        let name = bytes
            .get(at + CENTRAL_LEN..at + CENTRAL_LEN + name_len)
            .ok_or(CentralError::Malformed(
                "a central directory entry is cut short",
            ))?
            .to_vec();
        let extra = bytes
            .get(at + CENTRAL_LEN + name_len..at + CENTRAL_LEN + name_len + extra_len)
            .ok_or(CentralError::Malformed(
                "a central directory entry is cut short",
            ))?;
        if end > bytes.len() {
            return Err(CentralError::Malformed(
                "a central directory entry is cut short",
            ));
        }
        let mut entry = CentralEntry {
            name,
            host: fixed[5],
            flags: u16_at(fixed, 8),
            method: u16_at(fixed, 10),
            crc: u32_at(fixed, 16),
            compressed: u64::from(u32_at(fixed, 20)),
            size: u64::from(u32_at(fixed, 24)),
            external: u32_at(fixed, 38),
            local_offset: u64::from(u32_at(fixed, 42)),
        };
        apply_zip64(&mut entry, fixed, extra)?;
        entries.push(entry);
        at = end;
    }
    if entries.len() as u64 != dir.count {
        return Err(CentralError::Malformed(
            "the central directory holds a different number of entries than the end record declares",
        ));
    }
    Ok((entries, dir.offset))
}

/// Zip64 extra field (id 1): the 64-bit values of exactly the fields saturated in the fixed
/// part, in the order size, compressed size, offset.
fn apply_zip64(
    entry: &mut CentralEntry,
    fixed: &[u8],
    mut extra: &[u8],
) -> Result<(), CentralError> {
    let wants = [
        u32_at(fixed, 24) == SATURATED,
        u32_at(fixed, 20) == SATURATED,
        u32_at(fixed, 42) == SATURATED,
    ];
    if !wants.contains(&true) {
        return Ok(());
    }
    while extra.len() >= 4 {
        let id = u16_at(extra, 0);
        let len = usize::from(u16_at(extra, 2));
        let data = extra
            .get(4..4 + len)
            .ok_or(CentralError::Malformed("an extra field is cut short"))?;
        if id == 1 {
            let mut values = data.chunks_exact(8).map(|c| u64_at(c, 0));
            let mut next = || {
                values
                    .next()
                    .ok_or(CentralError::Malformed("a zip64 extra field is cut short"))
            };
            if wants[0] {
                entry.size = next()?;
            }
            if wants[1] {
                entry.compressed = next()?;
            }
            if wants[2] {
                entry.local_offset = next()?;
            }
            return Ok(());
        }
        extra = &extra[4 + len..];
    }
    Err(CentralError::Malformed(
        "a saturated size or offset has no zip64 extra field",
    ))
}

/// What the local header says: where the data starts, and its name.
pub(super) struct Local {
    pub(super) data_start: u64,
    pub(super) name: Vec<u8>,
}

/// Reads the local header at `offset`.
pub(super) fn read_local(file: &File, offset: u64) -> Result<Local, CentralError> {
    let mut fixed = [0u8; LOCAL_LEN];
    read_exact_at(file, &mut fixed, offset)?;
    if u32_at(&fixed, 0) != LOCAL_SIG {
        return Err(CentralError::Malformed(
            "no local header where the central directory points",
        ));
    }
    let name_len = u16_at(&fixed, 26);
    let extra_len = u16_at(&fixed, 28);
    let mut name = vec![0u8; usize::from(name_len)];
    read_exact_at(file, &mut name, offset + LOCAL_LEN as u64)?;
    Ok(Local {
        data_start: offset + LOCAL_LEN as u64 + u64::from(name_len) + u64::from(extra_len),
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// One stored entry whose central record saturates size, compressed size and offset,
    /// with the real values in a zip64 extra field, and zip64 end records (APPNOTE 4.5.3,
    /// as archiver writes them beyond 4 GiB: reference/artifact-protocol.md section 5.2).
    fn zip64(content: &[u8]) -> Vec<u8> {
        let name = b"big.bin";
        let crc = crc32fast::hash(content);
        let mut out = Vec::new();
        out.extend_from_slice(&LOCAL_SIG.to_le_bytes());
        out.extend_from_slice(&[45, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&7u16.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(name);
        out.extend_from_slice(content);
        let cd_at = out.len() as u64;
        let mut cd = Vec::new();
        cd.extend_from_slice(&CENTRAL_SIG.to_le_bytes());
        cd.extend_from_slice(&[0x2d, 3, 45, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        cd.extend_from_slice(&crc.to_le_bytes());
        cd.extend_from_slice(&u32::MAX.to_le_bytes());
        cd.extend_from_slice(&u32::MAX.to_le_bytes());
        cd.extend_from_slice(&7u16.to_le_bytes());
        cd.extend_from_slice(&28u16.to_le_bytes());
        // Comment length, disk, internal attributes.
        cd.extend_from_slice(&[0; 6]);
        cd.extend_from_slice(&((0o100_755u32 << 16) | 0x20).to_le_bytes());
        cd.extend_from_slice(&u32::MAX.to_le_bytes());
        cd.extend_from_slice(name);
        cd.extend_from_slice(&1u16.to_le_bytes());
        cd.extend_from_slice(&24u16.to_le_bytes());
        for v in [content.len() as u64, content.len() as u64, 0] {
            cd.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&cd);
        let eocd64_at = out.len() as u64;
        out.extend_from_slice(&EOCD64_SIG.to_le_bytes());
        out.extend_from_slice(&44u64.to_le_bytes());
        out.extend_from_slice(&[45, 0, 45, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        for v in [1u64, 1, cd.len() as u64, cd_at] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&LOCATOR_SIG.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&eocd64_at.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(&EOCD_SIG.to_le_bytes());
        out.extend_from_slice(&[0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
        out.extend_from_slice(&[0xff; 8]);
        out.extend_from_slice(&0u16.to_le_bytes());
        out
    }

    fn file_of(bytes: &[u8]) -> (tempfile::NamedTempFile, File) {
        let mut tmp = tempfile::NamedTempFile::new().expect("temp");
        tmp.write_all(bytes).expect("write");
        let file = File::open(tmp.path()).expect("open");
        (tmp, file)
    }

    #[test]
    fn zip64_sizes_and_end_records_are_read() {
        let content = b"zip64 content";
        let (_tmp, file) = file_of(&zip64(content));
        let (entries, cd_at) = read_central(&file).expect("a valid zip64 zip");
        assert_eq!(entries.len(), 1);
        let e = &entries[0];
        assert_eq!((e.size, e.compressed, e.local_offset), (13, 13, 0));
        assert_eq!(e.external >> 16, 0o100_755);
        let local = read_local(&file, e.local_offset).expect("local header");
        assert_eq!(local.name, b"big.bin");
        let mut data = Vec::new();
        RangeReader::new(&file, local.data_start, e.compressed)
            .read_to_end(&mut data)
            .expect("read");
        assert_eq!(data, content);
        assert!(local.data_start + e.compressed <= cd_at);
    }

    #[test]
    fn a_saturated_field_without_its_zip64_extra_is_refused() {
        let mut bytes = zip64(b"x");
        // Rename the extra field's id from 1 to 9: the saturated values have no source.
        let at = bytes
            .windows(4)
            .position(|w| w == [1, 0, 24, 0])
            .expect("extra");
        bytes[at] = 9;
        let (_tmp, file) = file_of(&bytes);
        let err = read_central(&file).expect_err("refused");
        assert!(err.to_string().contains("zip64"), "{err}");
    }

    #[test]
    fn a_count_that_disagrees_with_the_directory_is_refused() {
        let mut bytes = zip64(b"x");
        let n = bytes.len();
        // The zip64 record's entry counts (two u64 after the 24 fixed bytes).
        let eocd64 = n - 22 - 20 - 56;
        bytes[eocd64 + 24..eocd64 + 40]
            .copy_from_slice(&[2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]);
        let (_tmp, file) = file_of(&bytes);
        assert!(read_central(&file).is_err());
    }

    #[test]
    fn more_entries_than_the_bound_are_refused_before_the_directory_is_read() {
        let mut bytes = zip64(b"x");
        let n = bytes.len();
        let eocd64 = n - 22 - 20 - 56;
        let count = (MAX_ENTRIES + 1).to_le_bytes();
        bytes[eocd64 + 24..eocd64 + 32].copy_from_slice(&count);
        bytes[eocd64 + 32..eocd64 + 40].copy_from_slice(&count);
        let (_tmp, file) = file_of(&bytes);
        let err = read_central(&file).expect_err("refused");
        assert!(
            matches!(err, CentralError::TooMany(c) if c == MAX_ENTRIES + 1),
            "{err}"
        );
    }
}
