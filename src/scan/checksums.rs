//! The checksums file, in the format `sha256sum -c` reads.

use super::Manifest;

/// One line per file: `<hex>  <path>`. Names holding `\`, a line feed or a carriage
/// return are escaped the GNU way (the line starts with `\`, then `\\`, `\n`, `\r`), which
/// `sha256sum -c` undoes.
#[must_use]
pub fn render(manifest: &Manifest) -> String {
    let mut out = String::with_capacity(manifest.records.len() * 100);
    for (file, record) in manifest.files() {
        let name = &file.rel;
        let needs_escape = name.contains(['\\', '\n', '\r']);
        if needs_escape {
            out.push('\\');
        }
        out.push_str(&hex::encode(record.sha256));
        out.push_str("  ");
        if needs_escape {
            for c in name.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    c => out.push(c),
                }
            }
        } else {
            out.push_str(name);
        }
        out.push('\n');
    }
    out
}

/// The SLSA provenance "subjects" form: base64 of the checksums file.
#[must_use]
pub fn hashes_output(checksums: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(checksums)
}
