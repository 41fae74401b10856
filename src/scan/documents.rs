//! The scan's two documents, written where the runner keeps temporary files: the checksums
//! file (`sha256sum -c`) and the JSON manifest, side by side in a fresh directory.

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use super::{Manifest, checksums};
use crate::config::MANIFEST_NAME;

/// Where the documents of this run are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Documents {
    /// The checksums file.
    pub checksums: PathBuf,
    /// The manifest.
    pub manifest: PathBuf,
}

/// A document could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write `{}`: {source}", path.display())]
pub struct DocumentError {
    /// The file or directory.
    pub path: PathBuf,
    /// The cause.
    pub source: std::io::Error,
}

/// Writes both documents into `dir`, in parallel, streamed through buffers so memory does
/// not grow with the number of files. With `replace`, what `dir` held (an earlier run's
/// documents) is removed first; otherwise `dir` is new.
pub(crate) fn write(
    manifest: &Manifest,
    dir: &Path,
    replace: bool,
    checksums_name: &str,
) -> Result<Documents, DocumentError> {
    let err = |source| DocumentError {
        path: dir.to_owned(),
        source,
    };
    if replace {
        match fs::remove_dir_all(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(err(e)),
            _ => {}
        }
    }
    fs::create_dir_all(dir).map_err(err)?;
    let documents = Documents {
        checksums: dir.join(checksums_name),
        manifest: dir.join(MANIFEST_NAME),
    };
    let (sums, json) = rayon::join(
        || write_whole(&documents.checksums, |out| checksums::write(manifest, out)),
        || {
            write_whole(&documents.manifest, |out| {
                manifest.write_json(out, checksums_name)
            })
        },
    );
    sums.and(json).map(|()| documents)
}

/// Writes `path` through `<path>.partial`, renamed once every byte is written, so a full
/// disk leaves no truncated checksums file that a later step could take for the real one;
/// the partial file is removed on failure.
fn write_whole(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<(), DocumentError> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let written = File::create(&partial).and_then(|file| {
        let mut out = BufWriter::with_capacity(1 << 20, file);
        fill(&mut out)?;
        out.into_inner()
            .map(drop)
            .map_err(std::io::IntoInnerError::into_error)
    });
    written
        .and_then(|()| fs::rename(&partial, path))
        .map_err(|source| {
            let _ = fs::remove_file(&partial);
            DocumentError {
                path: path.to_path_buf(),
                source,
            }
        })
}
