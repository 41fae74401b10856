//! Packs a directory into a zip (discarding the bytes) and reports throughput, to measure
//! the parallel writer (`cargo run --release --example pack -- DIR LEVEL THREADS`).

use std::path::Path;
use std::time::Instant;

use stevedore::pack::{PackEntry, PackOptions, write_zip};

fn collect(dir: &Path, root: &Path, out: &mut Vec<PackEntry>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, root, out)?;
        } else {
            let meta = std::fs::metadata(&path)?;
            let name = path
                .strip_prefix(root)
                .map_err(std::io::Error::other)?
                .to_string_lossy()
                .into_owned();
            out.push(PackEntry {
                path,
                name,
                size: meta.len(),
                mode: 0o644,
                mtime: 0,
                crc32: None,
            });
        }
    }
    Ok(())
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (dir, level, threads) = match args.as_slice() {
        [_, dir, level, threads] => (
            dir,
            level.parse().unwrap_or(6),
            threads.parse().unwrap_or(1),
        ),
        _ => return Err(std::io::Error::other("usage: pack DIR LEVEL THREADS")),
    };
    let root = Path::new(dir);
    let mut entries = Vec::new();
    collect(root, root, &mut entries)?;
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let input: u64 = entries.iter().map(|e| e.size).sum();
    let mut options = PackOptions::new(level);
    options.threads = threads;
    options.window = threads * 4;
    let started = Instant::now();
    let packed = write_zip(&entries, &options, &mut |_| Ok(())).map_err(std::io::Error::other)?;
    let secs = started.elapsed().as_secs_f64();
    let summary = format!(
        "{} files, {:.1} MB -> {:.1} MB in {secs:.3} s ({:.0} MB/s), level {level}, {threads} thread(s)\n",
        entries.len(),
        input as f64 / 1e6,
        packed.bytes as f64 / 1e6,
        input as f64 / 1e6 / secs
    );
    std::io::Write::write_all(&mut std::io::stderr(), summary.as_bytes())
}
