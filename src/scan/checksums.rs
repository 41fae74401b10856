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
pub(crate) fn write(manifest: &Manifest, out: &mut impl Write) -> io::Result<()> {
    let mut hex = [0u8; 64];
    for (file, record) in manifest.files().filter(|(file, _)| file.link().is_none()) {
        let name = file.rel();
        let needs_escape = memchr::memchr3(b'\\', b'\n', b'\r', name.as_bytes()).is_some();
        if needs_escape {
            out.write_all(b"\\")?;
        }
        hex::encode_to_slice(record.sha256, &mut hex).map_err(io::Error::other)?;
        out.write_all(&hex)?;
        out.write_all(b"  ")?;
        if needs_escape {
            let escaped = name
                .replace('\\', "\\\\")
                .replace('\n', "\\n")
                .replace('\r', "\\r");
            out.write_all(escaped.as_bytes())?;
        } else {
            out.write_all(name.as_bytes())?;
        }
        out.write_all(b"\n")?;
    }
    Ok(())
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
