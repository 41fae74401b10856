//! The checksums file, in the format `sha256sum -c` reads.

use std::io::{self, Write};

use super::Manifest;

/// Writes one line per file: `<hex>  <path>`. Names holding `\`, a line feed or a
/// carriage return are escaped the GNU way (the line starts with `\`, then `\\`, `\n`,
/// `\r`), which `sha256sum -c` undoes.
///
/// Preserved links (`symlinks: preserve`) are left out: `sha256sum -c` follows a link and
/// hashes the file it points to, which that file's own line already covers; the manifest
/// lists each link with its target.
///
/// The lines are rendered on every core ([`super::batches`]).
pub(crate) fn write(manifest: &Manifest, out: &mut impl Write) -> io::Result<()> {
    super::batches::write_in_batches(out, manifest.records.len(), |range| {
        let mut buf = Vec::with_capacity(range.len() * 100);
        for i in range {
            let file = &manifest.selection.files[i];
            if file.link().is_none() {
                line(&mut buf, file.rel(), &manifest.records[i].sha256);
            }
        }
        Ok(buf)
    })
}

/// One line: `<hex>  <name>`, escaped when the name needs it.
fn line(buf: &mut Vec<u8>, name: &str, sha256: &[u8; 32]) {
    let needs_escape = memchr::memchr3(b'\\', b'\n', b'\r', name.as_bytes()).is_some();
    if needs_escape {
        buf.push(b'\\');
    }
    let start = buf.len();
    buf.resize(start + 64, 0);
    // 64 bytes for 32: encoding cannot fail.
    let _ = hex::encode_to_slice(sha256, &mut buf[start..]);
    buf.extend_from_slice(b"  ");
    if needs_escape {
        for &b in name.as_bytes() {
            match b {
                b'\\' => buf.extend_from_slice(b"\\\\"),
                b'\n' => buf.extend_from_slice(b"\\n"),
                b'\r' => buf.extend_from_slice(b"\\r"),
                _ => buf.push(b),
            }
        }
    } else {
        buf.extend_from_slice(name.as_bytes());
    }
    buf.push(b'\n');
}

/// The SLSA provenance "subjects" form: base64 of the checksums file.
#[must_use]
pub(crate) fn hashes_output(checksums: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(checksums)
}

/// Length of the base64 form of `n` bytes, to decide without encoding.
#[must_use]
pub(crate) fn base64_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}
