//! Zips written byte by byte: what the central directory declares can be made to lie
//! (names, sizes, CRCs, modes, overlapping entries), for the extractor's refusals.

use std::io::Write as _;
use std::path::Path;

use stevedore::download::extract::{ExtractError, ExtractOptions, Extracted, extract_zip};

/// `download::extract` of `zip` into the empty directory `dest`, onto a file system that
/// folds case or not.
pub fn extract(zip: &Path, dest: &Path, case_insensitive: bool) -> Result<Extracted, ExtractError> {
    extract_zip(
        zip,
        dest,
        &ExtractOptions {
            case_insensitive,
            ..ExtractOptions::default()
        },
        &|_| {},
    )
}

/// One entry as the test writes it: what the central directory declares can be made to lie.
#[derive(Clone)]
pub struct Raw {
    pub name: Vec<u8>,
    /// The bytes stored after the local header.
    pub data: Vec<u8>,
    pub method: u16,
    pub crc: u32,
    pub size: u64,
    /// External attributes; `host` 3 makes the high half a Unix mode.
    pub external: u32,
    pub host: u8,
}

impl Raw {
    /// A stored file with a Unix mode (archiver's attributes: `(S_IFREG|mode) << 16 | 0x20`).
    pub fn file(name: &str, content: &[u8], mode: u32) -> Raw {
        Raw {
            name: name.as_bytes().to_vec(),
            data: content.to_vec(),
            method: 0,
            crc: crc32fast::hash(content),
            size: content.len() as u64,
            external: ((0o100_000 | mode) << 16) | 0x20,
            host: 3,
        }
    }

    /// A deflated file.
    pub fn deflated(name: &str, content: &[u8], mode: u32) -> Raw {
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(6));
        enc.write_all(content).expect("ok");
        Raw {
            data: enc.finish().expect("ok"),
            method: 8,
            ..Raw::file(name, content, mode)
        }
    }

    /// A directory entry (trailing slash).
    pub fn dir(name: &str, mode: u32) -> Raw {
        Raw {
            external: ((0o040_000 | mode) << 16) | 0x10,
            ..Raw::file(name, b"", 0)
        }
    }

    /// A link as Info-ZIP stores it: mode `S_IFLNK|0777`, the target as content.
    pub fn link(name: &str, target: &str) -> Raw {
        Raw {
            external: (0o120_777 << 16),
            ..Raw::file(name, target.as_bytes(), 0)
        }
    }
}

/// Local headers, data, central directory, end record (no data descriptors: the sizes are
/// in the local header; the reader uses the central directory's).
pub fn build(entries: &[Raw]) -> Vec<u8> {
    let placed: Vec<(Raw, Option<u32>)> = entries.iter().map(|e| (e.clone(), None)).collect();
    build_at(&placed)
}

/// As `build`; an entry with `Some(offset)` writes no local entry of its own: its central
/// record points at `offset` (overlapping entries).
pub fn build_at(entries: &[(Raw, Option<u32>)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (e, at) in entries {
        let offset = at.unwrap_or(out.len() as u32);
        if at.is_none() {
            write_local(&mut out, e);
        }
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&[0x2d, e.host]);
        central.extend_from_slice(&20u16.to_le_bytes());
        central.extend_from_slice(&0x0800u16.to_le_bytes());
        central.extend_from_slice(&e.method.to_le_bytes());
        central.extend_from_slice(&[0, 0, 0x21, 0]);
        central.extend_from_slice(&e.crc.to_le_bytes());
        central.extend_from_slice(&(e.data.len() as u32).to_le_bytes());
        central.extend_from_slice(&(e.size as u32).to_le_bytes());
        central.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
        central.extend_from_slice(&[0; 8]);
        central.extend_from_slice(&e.external.to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(&e.name);
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

pub fn write_local(out: &mut Vec<u8>, e: &Raw) {
    out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
    out.extend_from_slice(&20u16.to_le_bytes());
    out.extend_from_slice(&0x0800u16.to_le_bytes());
    out.extend_from_slice(&e.method.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0x21, 0]);
    out.extend_from_slice(&e.crc.to_le_bytes());
    out.extend_from_slice(&(e.data.len() as u32).to_le_bytes());
    out.extend_from_slice(&(e.size as u32).to_le_bytes());
    out.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&e.name);
    out.extend_from_slice(&e.data);
}
