//! Zip records, laid out byte for byte as upload-artifact's archiver (compress-commons)
//! writes them (reference/artifact-protocol.md section 5.2): local headers with a data
//! descriptor and zero sizes, UTF-8 flag only for non-ASCII names, Unix modes in the
//! central directory, zip64 only where a size or offset needs it.

/// Sizes and offsets above this need zip64 fields.
pub(crate) const ZIP64_LIMIT: u64 = 0xFFFF_FFFF;
/// Entry counts above this need a zip64 end record.
const ENTRY_LIMIT: usize = 0xFFFF;

/// Compression method of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// 0: the bytes as they are.
    Stored,
    /// 8: raw deflate.
    Deflated,
}

impl Method {
    fn code(self) -> u16 {
        match self {
            Method::Stored => 0,
            Method::Deflated => 8,
        }
    }
}

/// MS-DOS date and time (2-second resolution), from UTC like archiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DosTime {
    pub(crate) time: u16,
    pub(crate) date: u16,
}

impl DosTime {
    /// From seconds since the Unix epoch; clamped to the DOS range 1980..=2043.
    pub(crate) fn from_unix(secs: i64) -> Self {
        let days = secs.div_euclid(86_400);
        let in_day = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        if year < 1980 {
            return DosTime::new(1980, 1, 1, 0, 0, 0);
        }
        if year > 2043 {
            return DosTime::new(2043, 12, 31, 23, 59, 58);
        }
        DosTime::new(
            year,
            month,
            day,
            in_day / 3600,
            in_day % 3600 / 60,
            in_day % 60,
        )
    }

    /// Packs date and time fields (year 1980-2107, seconds halved).
    fn new(year: i64, month: i64, day: i64, hour: i64, minute: i64, second: i64) -> Self {
        let time = u16::try_from(hour * 2048 + minute * 32 + second / 2).unwrap_or(0);
        let date = u16::try_from((year - 1980) * 512 + month * 32 + day).unwrap_or(0);
        DosTime { time, date }
    }
}

/// Days since 1970-01-01 -> (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// General-purpose flags: data descriptor always, UTF-8 only when the name needs it.
fn flags(name: &str) -> u16 {
    if name.is_ascii() { 0x0008 } else { 0x0808 }
}

fn u16le(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn u32le(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn u64le(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn clamp32(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

fn len16(s: &[u8]) -> u16 {
    u16::try_from(s.len()).unwrap_or(u16::MAX)
}

/// Local file header: sizes and CRC are zero, the data descriptor carries them.
pub(crate) fn local_header(out: &mut Vec<u8>, name: &str, method: Method, time: DosTime) {
    u32le(out, 0x0403_4b50);
    u16le(out, 20);
    u16le(out, flags(name));
    u16le(out, method.code());
    u16le(out, time.time);
    u16le(out, time.date);
    u32le(out, 0);
    u32le(out, 0);
    u32le(out, 0);
    u16le(out, len16(name.as_bytes()));
    u16le(out, 0);
    out.extend_from_slice(name.as_bytes());
}

/// Data descriptor; 8-byte sizes when either size passes 4 GiB.
pub(crate) fn data_descriptor(out: &mut Vec<u8>, crc: u32, compressed: u64, size: u64) {
    u32le(out, 0x0807_4b50);
    u32le(out, crc);
    if compressed > ZIP64_LIMIT || size > ZIP64_LIMIT {
        u64le(out, compressed);
        u64le(out, size);
    } else {
        u32le(out, clamp32(compressed));
        u32le(out, clamp32(size));
    }
}

/// Everything the central directory records about one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CentralEntry {
    pub(crate) name: String,
    pub(crate) method: Method,
    pub(crate) time: DosTime,
    pub(crate) crc: u32,
    pub(crate) compressed: u64,
    pub(crate) size: u64,
    pub(crate) offset: u64,
    pub(crate) mode: u32,
}

/// Central directory header. Made by Unix 4.5; external attributes carry the mode
/// (`S_IFREG | mode`) so executable bits survive for extractors that honour them, or
/// `S_IFLNK | 0777` for a preserved link, as Info-ZIP's `zip -y` writes it.
pub(crate) fn central_entry(out: &mut Vec<u8>, e: &CentralEntry) {
    let zip64 = e.size > ZIP64_LIMIT || e.compressed > ZIP64_LIMIT || e.offset > ZIP64_LIMIT;
    u32le(out, 0x0201_4b50);
    u16le(out, 0x032D);
    u16le(out, if zip64 { 45 } else { 20 });
    u16le(out, flags(&e.name));
    u16le(out, e.method.code());
    u16le(out, e.time.time);
    u16le(out, e.time.date);
    u32le(out, e.crc);
    let (compressed, size, offset) = if zip64 {
        (u32::MAX, u32::MAX, u32::MAX)
    } else {
        (clamp32(e.compressed), clamp32(e.size), clamp32(e.offset))
    };
    u32le(out, compressed);
    u32le(out, size);
    u16le(out, len16(e.name.as_bytes()));
    u16le(out, if zip64 { 28 } else { 0 });
    u16le(out, 0);
    u16le(out, 0);
    u16le(out, 0);
    let unix = if e.mode & 0o170_000 == 0o120_000 {
        0o120_777
    } else {
        0o100_000 | (e.mode & 0o7777)
    };
    u32le(out, (unix << 16) | 0x20);
    u32le(out, offset);
    out.extend_from_slice(e.name.as_bytes());
    if zip64 {
        u16le(out, 0x0001);
        u16le(out, 24);
        u64le(out, e.size);
        u64le(out, e.compressed);
        u64le(out, e.offset);
    }
}

/// End of central directory, preceded by the zip64 end record and locator when the entry
/// count, the directory's size or its offset need them.
pub(crate) fn end_records(out: &mut Vec<u8>, entries: usize, cd_offset: u64, cd_size: u64) {
    let zip64 = entries > ENTRY_LIMIT || cd_offset > ZIP64_LIMIT || cd_size > ZIP64_LIMIT;
    if zip64 {
        let eocd64_offset = cd_offset + cd_size;
        u32le(out, 0x0606_4b50);
        u64le(out, 44);
        u16le(out, 45);
        u16le(out, 45);
        u32le(out, 0);
        u32le(out, 0);
        u64le(out, entries as u64);
        u64le(out, entries as u64);
        u64le(out, cd_size);
        u64le(out, cd_offset);
        u32le(out, 0x0706_4b50);
        u32le(out, 0);
        u64le(out, eocd64_offset);
        u32le(out, 1);
    }
    u32le(out, 0x0605_4b50);
    u16le(out, 0);
    u16le(out, 0);
    let count = if zip64 {
        u16::MAX
    } else {
        u16::try_from(entries).unwrap_or(u16::MAX)
    };
    u16le(out, count);
    u16le(out, count);
    u32le(out, if zip64 { u32::MAX } else { clamp32(cd_size) });
    u32le(out, if zip64 { u32::MAX } else { clamp32(cd_offset) });
    u16le(out, 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dos_time_from_utc_with_clamping() {
        // 2026-11-22 04:50:37 UTC
        let t = DosTime::from_unix(1_795_323_037);
        assert_eq!(t.date >> 9, 2026 - 1980);
        assert_eq!((t.date >> 5) & 0xF, 11);
        assert_eq!(t.date & 0x1F, 22);
        assert_eq!(t.time >> 11, 4);
        assert_eq!((t.time >> 5) & 0x3F, 50);
        assert_eq!(t.time & 0x1F, 18, "seconds are halved");
        assert_eq!(
            DosTime::from_unix(0),
            DosTime {
                time: 0,
                date: (1 << 5) | 1
            },
            "before 1980 -> 1980-01-01"
        );
        let late = DosTime::from_unix(2_600_000_000);
        assert_eq!(
            (late.date >> 9, (late.date >> 5) & 0xF, late.date & 0x1F),
            (63, 12, 31)
        );
    }

    #[test]
    fn local_header_matches_archiver() {
        let mut out = Vec::new();
        local_header(
            &mut out,
            "héllo.txt",
            Method::Deflated,
            DosTime {
                time: 0x1234,
                date: 0x5678,
            },
        );
        assert_eq!(&out[..4], b"PK\x03\x04");
        assert_eq!(&out[4..6], &[20, 0], "version needed 2.0");
        assert_eq!(
            &out[6..8],
            &[0x08, 0x08],
            "data descriptor + UTF-8 for a non-ASCII name"
        );
        assert_eq!(&out[8..10], &[8, 0]);
        assert_eq!(&out[14..26], &[0; 12], "crc and sizes are zero");
        assert_eq!(&out[28..30], &[0, 0], "no extra field, ever");
        let mut ascii = Vec::new();
        local_header(
            &mut ascii,
            "a.txt",
            Method::Stored,
            DosTime { time: 0, date: 0 },
        );
        assert_eq!(&ascii[6..8], &[0x08, 0x00]);
    }

    #[test]
    fn zip64_fields_appear_only_when_needed() {
        let mut dd = Vec::new();
        data_descriptor(&mut dd, 7, 10, 10);
        assert_eq!(dd.len(), 16);
        let mut dd64 = Vec::new();
        data_descriptor(&mut dd64, 7, 10, 5 << 30);
        assert_eq!(dd64.len(), 24);

        let entry = |offset, size| CentralEntry {
            name: "x".into(),
            method: Method::Stored,
            time: DosTime { time: 0, date: 0 },
            crc: 1,
            compressed: size,
            size,
            offset,
            mode: 0o755,
        };
        let mut small = Vec::new();
        central_entry(&mut small, &entry(0, 5));
        assert_eq!(&small[6..8], &[20, 0]);
        assert_eq!(
            &small[38..42],
            &0x81ED_0020u32.to_le_bytes(),
            "0755 regular file, as archiver writes it"
        );
        assert_eq!(small.len(), 46 + 1);

        let mut far = Vec::new();
        central_entry(&mut far, &entry(5 << 30, 5));
        assert_eq!(&far[6..8], &[45, 0], "version needed 4.5");
        assert_eq!(&far[20..28], &[0xFF; 8]);
        assert_eq!(&far[42..46], &[0xFF; 4]);
        assert_eq!(
            &far[47..51],
            &[0x01, 0x00, 0x18, 0x00],
            "all three values, always"
        );
        assert_eq!(far.len(), 46 + 1 + 28);

        let mut end = Vec::new();
        end_records(&mut end, 3, 100, 50);
        assert_eq!(end.len(), 22);
        let mut end64 = Vec::new();
        end_records(&mut end64, 70_000, 100, 50);
        assert_eq!(&end64[..4], b"PK\x06\x06");
        assert_eq!(&end64[56..60], b"PK\x06\x07");
        assert_eq!(
            &end64[64..72],
            &150u64.to_le_bytes(),
            "locator points at the zip64 end record"
        );
        assert_eq!(end64.len(), 56 + 20 + 22);
    }
}
