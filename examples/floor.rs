//! The floor of a scan: walk a directory, read every regular file once and SHA-256 it on
//! N threads, nothing else (no patterns, no secret scan, no manifest). `bench/run` times it
//! beside stevedore on the same warm corpus and prints stevedore / floor: what stevedore
//! spends beyond reading and hashing is the ratio above 1.
//!
//! `cargo build --release --example floor && target/release/examples/floor DIR [THREADS]
//! [--levels]` prints the file count, the bytes and an XOR of every digest (so nothing is
//! skipped). `--levels` walks level by level instead (issue 25's floor): every directory
//! of one depth listed with `read_dir` on the pool, then that level's files read and hashed
//! on the pool, then the next depth.
//! Same `sha2` as stevedore (runtime SHA-NI detection), same rayon pool size by default.

use std::cell::RefCell;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

/// Same read size as stevedore's scan (`src/scan/read.rs`).
const CHUNK: usize = 256 * 1024;

thread_local! {
    static BUFFER: RefCell<Vec<u8>> = RefCell::new(vec![0; CHUNK]);
}

#[derive(Default)]
struct Totals {
    files: u64,
    bytes: u64,
    xor: [u8; 32],
}

impl Totals {
    fn add(&mut self, other: &Totals) {
        self.files += other.files;
        self.bytes += other.bytes;
        self.xor
            .iter_mut()
            .zip(other.xor)
            .for_each(|(a, b)| *a ^= b);
    }

    fn hashed(&mut self, size: u64, digest: [u8; 32]) {
        self.add(&Totals {
            files: 1,
            bytes: size,
            xor: digest,
        });
    }
}

fn hash(path: &Path) -> io::Result<(u64, [u8; 32])> {
    let mut file = File::open(path)?;
    BUFFER.with_borrow_mut(|buf| {
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        loop {
            match file.read(buf) {
                Ok(0) => break,
                Ok(n) => {
                    hasher.update(&buf[..n]);
                    size += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok((size, hasher.finalize().into()))
    })
}

/// Files are hashed as the walk finds them: each directory's files become rayon tasks,
/// each sub-directory another walk task.
fn walk<'s>(
    scope: &rayon::Scope<'s>,
    dir: &Path,
    totals: &'s Mutex<Totals>,
    errors: &'s Mutex<Vec<String>>,
) {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            lock(errors).push(format!("{}: {e}", dir.display()));
            return;
        }
    };
    let mut files = Vec::new();
    for entry in entries {
        let (path, kind) = match entry.and_then(|e| Ok((e.path(), e.file_type()?))) {
            Ok(x) => x,
            Err(e) => {
                lock(errors).push(format!("{}: {e}", dir.display()));
                continue;
            }
        };
        if kind.is_dir() {
            scope.spawn(move |s| walk(s, &path, totals, errors));
        } else if kind.is_file() {
            files.push(path);
        }
    }
    // A batch per task amortizes scheduling; one file per task for large files would
    // balance better, but this corpus shape is what stevedore is compared on.
    for batch in files.chunks(16).map(<[PathBuf]>::to_vec) {
        scope.spawn(move |_| {
            let mut local = Totals::default();
            for path in batch {
                match hash(&path) {
                    Ok((size, digest)) => local.hashed(size, digest),
                    Err(e) => lock(errors).push(format!("{}: {e}", path.display())),
                }
            }
            lock(totals).add(&local);
        });
    }
}

/// Level by level: the directories of one depth listed in parallel, then their files
/// hashed in parallel (one file per task), then the next depth.
fn walk_levels(root: &Path, totals: &Mutex<Totals>, errors: &Mutex<Vec<String>>) {
    use rayon::prelude::*;
    let mut level = vec![root.to_path_buf()];
    while !level.is_empty() {
        let listed: Vec<(Vec<PathBuf>, Vec<PathBuf>)> = level
            .par_iter()
            .map(|dir| {
                let (mut dirs, mut files) = (Vec::new(), Vec::new());
                match fs::read_dir(dir) {
                    Ok(entries) => {
                        for entry in entries {
                            match entry.and_then(|e| Ok((e.path(), e.file_type()?))) {
                                Ok((path, kind)) if kind.is_dir() => dirs.push(path),
                                Ok((path, kind)) if kind.is_file() => files.push(path),
                                Ok(_) => {}
                                Err(e) => lock(errors).push(format!("{}: {e}", dir.display())),
                            }
                        }
                    }
                    Err(e) => lock(errors).push(format!("{}: {e}", dir.display())),
                }
                (dirs, files)
            })
            .collect();
        let files: Vec<&PathBuf> = listed.iter().flat_map(|(_, f)| f).collect();
        let local = files
            .par_iter()
            .with_max_len(1)
            .fold(Totals::default, |mut t, path| {
                match hash(path) {
                    Ok((size, digest)) => t.hashed(size, digest),
                    Err(e) => lock(errors).push(format!("{}: {e}", path.display())),
                }
                t
            })
            .reduce(Totals::default, |mut a, b| {
                a.add(&b);
                a
            });
        lock(totals).add(&local);
        level = listed.into_iter().flat_map(|(d, _)| d).collect();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn main() -> std::process::ExitCode {
    let mut args: Vec<_> = std::env::args_os().skip(1).collect();
    let levels = args.iter().any(|a| a == "--levels");
    args.retain(|a| a != "--levels");
    let mut args = args.into_iter();
    let Some(root) = args.next().map(PathBuf::from) else {
        let _ = writeln!(io::stderr(), "usage: floor DIR [THREADS] [--levels]");
        return std::process::ExitCode::from(2);
    };
    if let Some(threads) = args.next().and_then(|t| t.to_str()?.parse::<usize>().ok()) {
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global();
    }
    let totals = Mutex::new(Totals::default());
    let errors = Mutex::new(Vec::new());
    if levels {
        walk_levels(&root, &totals, &errors);
    } else {
        rayon::scope(|s| walk(s, &root, &totals, &errors));
    }
    let errors = errors.into_inner().unwrap_or_default();
    for e in &errors {
        let _ = writeln!(io::stderr(), "floor: {e}");
    }
    let t = totals.into_inner().unwrap_or_default();
    let _ = writeln!(
        io::stdout(),
        "{} files, {} bytes, xor {}",
        t.files,
        t.bytes,
        hex::encode(t.xor)
    );
    if errors.is_empty() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
