//! The parallel zip writer against real extractors: `unzip -t` and Python's `zipfile`
//! read back every entry byte for byte, with methods, modes and UTF-8 names as archiver
//! writes them.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use stevedore::pack::{Method, PackEntry, PackError, PackOptions, write_zip};

use crate::support::random_bytes;

fn text(n: usize) -> Vec<u8> {
    let line = b"stevedore ships build outputs: checksums, manifest, secret scan.\n";
    line.iter().copied().cycle().take(n).collect()
}

fn entries(dir: &Path) -> Vec<PackEntry> {
    let files: Vec<(&str, Vec<u8>, u32)> = vec![
        ("readme.txt", text(300_000), 0o644),
        ("random.bin", random_bytes(200_000, 1), 0o644),
        ("empty.txt", Vec::new(), 0o644),
        ("bin/tool.sh", b"#!/bin/sh\necho hi\n".to_vec(), 0o755),
        ("héllo wörld.txt", text(1000), 0o600),
        // Larger than one unit: deflated as sync-flushed pieces on several threads.
        ("big/log.txt", text(5 * (1 << 20) + 123), 0o644),
        ("big/blob.bin", random_bytes(3 * (1 << 20) + 7, 2), 0o644),
    ];
    files
        .into_iter()
        .map(|(name, bytes, mode)| {
            let path = dir.join("src").join(name);
            fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            fs::write(&path, &bytes).expect("write");
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod");
            PackEntry {
                path,
                name: name.to_owned(),
                size: bytes.len() as u64,
                mode,
                mtime: 1_795_323_037,
                crc32: None,
            }
        })
        .collect()
}

fn options(level: u32) -> PackOptions {
    PackOptions {
        level,
        threads: 3,
        chunk: 1 << 20,
        window: 3,
    }
}

fn pack_to_file(
    entries: &[PackEntry],
    level: u32,
    out: &Path,
) -> Result<stevedore::pack::Packed, PackError> {
    let mut file = fs::File::create(out).expect("create");
    write_zip(entries, &options(level), &mut |bytes| {
        io::Write::write_all(&mut file, bytes)
    })
}

/// Info-ZIP's `unzip -t` must find every entry intact.
fn unzip_test(zip: &Path) {
    let out = Command::new("unzip")
        .arg("-t")
        .arg(zip)
        .output()
        .expect("unzip runs");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && report.contains("No errors detected"),
        "{report}"
    );
}

/// Python's zipfile view of an archive: name -> (method, mode, utf8 flag, sha256).
fn python_view(zip: &Path) -> serde_json::Value {
    let script = r"
import hashlib, json, sys, zipfile
out = {}
with zipfile.ZipFile(sys.argv[1]) as z:
    assert z.testzip() is None
    for i in z.infolist():
        out[i.filename] = [i.compress_type, (i.external_attr >> 16) & 0o7777, bool(i.flag_bits & 0x800), hashlib.sha256(z.read(i)).hexdigest(), i.date_time[:3]]
print(json.dumps(out))
";
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(zip)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "python zipfile: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

fn sha(path: &PathBuf) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(fs::read(path).expect("read")))
}

#[test]
fn archive_reads_back_byte_for_byte() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let entries = entries(tmp.path());
    let zip = tmp.path().join("a.zip");
    let packed = pack_to_file(&entries, 6, &zip).expect("pack");
    assert_eq!(packed.bytes, fs::metadata(&zip).expect("meta").len());

    unzip_test(&zip);

    let view = python_view(&zip);
    for (e, method) in entries.iter().zip(&packed.methods) {
        let got = &view[e.name.as_str()];
        assert_eq!(got[3], sha(&e.path), "{}: bytes differ", e.name);
        assert_eq!(got[1], e.mode, "{}: mode", e.name);
        assert_eq!(got[2], !e.name.is_ascii(), "{}: UTF-8 flag", e.name);
        assert_eq!(
            got[4],
            serde_json::json!([2026, 11, 22]),
            "{}: DOS date from UTC",
            e.name
        );
        let expected = match e.name.as_str() {
            // Incompressible (also when larger than one unit), empty, or too small to shrink.
            "random.bin" | "big/blob.bin" | "empty.txt" | "bin/tool.sh" => Method::Stored,
            _ => Method::Deflated,
        };
        assert_eq!(*method, expected, "{}", e.name);
        assert_eq!(
            got[0],
            if expected == Method::Stored { 0 } else { 8 },
            "{}",
            e.name
        );
    }
    // Text compresses: the archive is far smaller than the input.
    let input: u64 = entries.iter().map(|e| e.size).sum();
    assert!(packed.bytes < input / 2, "{} of {input}", packed.bytes);
}

#[test]
fn level_zero_stores_everything_and_threads_do_not_change_the_bytes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let entries = entries(tmp.path());
    let zip = tmp.path().join("stored.zip");
    let packed = pack_to_file(&entries, 0, &zip).expect("pack");
    assert!(packed.methods.iter().all(|m| *m == Method::Stored));
    unzip_test(&zip);

    // Deterministic output whatever the thread count and window.
    let mut one = Vec::new();
    write_zip(
        &entries,
        &PackOptions {
            level: 6,
            threads: 1,
            chunk: 1 << 20,
            window: 1,
        },
        &mut |b| {
            one.extend_from_slice(b);
            Ok(())
        },
    )
    .expect("pack");
    let mut many = Vec::new();
    write_zip(
        &entries,
        &PackOptions {
            level: 6,
            threads: 4,
            chunk: 1 << 20,
            window: 16,
        },
        &mut |b| {
            many.extend_from_slice(b);
            Ok(())
        },
    )
    .expect("pack");
    assert!(one == many, "archives differ between 1 and 4 threads");
}

#[test]
fn a_shorter_file_or_a_failing_sink_stops_cleanly() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut entries = entries(tmp.path());
    // The scan recorded more bytes than the file has now.
    entries[1].size += 10;
    let err = pack_to_file(&entries, 6, &tmp.path().join("x.zip")).unwrap_err();
    assert!(
        matches!(err, PackError::Changed { ref path } if path.ends_with("random.bin")),
        "{err}"
    );

    let entries = self::entries(tmp.path());
    let mut written = 0usize;
    let err = write_zip(&entries, &options(6), &mut |b| {
        written += b.len();
        if written > 2 << 20 {
            Err(io::Error::other("connection reset"))
        } else {
            Ok(())
        }
    })
    .unwrap_err();
    assert!(matches!(err, PackError::Sink(_)), "{err}");
}

#[test]
fn a_file_rewritten_to_the_same_length_fails_its_crc_check() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut entries = entries(tmp.path());
    // CRC-32 of what the scan read, then the build rewrites the bytes (same length).
    let multi = entries
        .iter()
        .position(|e| e.size > 1 << 20)
        .expect("a multi-unit entry");
    for (i, e) in entries.iter_mut().enumerate() {
        let bytes = fs::read(&e.path).expect("read");
        e.crc32 = Some(crc32fast::hash(&bytes));
        if i == multi {
            let mut changed = bytes;
            let last = changed.len() - 1;
            changed[last] ^= 0xff;
            fs::write(&e.path, changed).expect("rewrite");
        }
    }
    let err = pack_to_file(&entries, 6, &tmp.path().join("x.zip")).unwrap_err();
    assert!(
        matches!(err, PackError::Changed { ref path } if *path == entries[multi].path),
        "{err}"
    );
    // Unchanged files with their CRC-32 pack fine.
    entries.remove(multi);
    pack_to_file(&entries, 6, &tmp.path().join("y.zip")).expect("pack");
}

/// A writer that stops (a refused sink, a changed file) must wake every worker waiting for
/// the window to move, whenever it stops: a wake-up lost between a worker's check and its
/// wait left CI hanging for its whole time limit. Many short archives with a one-unit
/// window make workers wait at the moment the writer gives up.
#[test]
fn a_writer_that_stops_never_leaves_a_worker_waiting() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let entries: Vec<PackEntry> = (0..32)
        .map(|i| {
            let path = tmp.path().join(format!("f{i}"));
            fs::write(&path, text(2048)).expect("write");
            PackEntry {
                path,
                name: format!("f{i}"),
                size: 2048,
                mode: 0o644,
                mtime: 1_795_323_037,
                crc32: None,
            }
        })
        .collect();
    let options = PackOptions {
        level: 1,
        threads: 4,
        chunk: 512,
        window: 1,
    };
    let rounds = 4000usize;
    let finished = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&finished);
    std::thread::spawn(move || {
        for round in 0..rounds {
            let stop_after = round % 7;
            let mut writes = 0usize;
            let err = write_zip(&entries, &options, &mut |_| {
                writes += 1;
                if writes > stop_after {
                    Err(io::Error::other("connection reset"))
                } else {
                    Ok(())
                }
            })
            .unwrap_err();
            assert!(matches!(err, PackError::Sink(_)), "{err}");
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    // A round takes about a millisecond; twenty seconds without one finishing is a hang,
    // not a slow machine.
    let mut last = (0, std::time::Instant::now());
    loop {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let now = finished.load(std::sync::atomic::Ordering::SeqCst);
        if now == rounds {
            break;
        }
        if now != last.0 {
            last = (now, std::time::Instant::now());
        }
        assert!(
            last.1.elapsed() < std::time::Duration::from_secs(20),
            "write_zip round {now} never returned: a worker was left waiting for the window"
        );
    }
}

/// The archive streamed from the scan's reads (issue 25: one read per byte) is the same
/// zip, byte for byte, as the one written by reading the files again: same units, same
/// probe, same methods. Held in memory, spooled to a file, or split between the two.
#[test]
fn the_prepacked_zip_is_the_two_read_zip_byte_for_byte() {
    use stevedore::pack::prepack::Prepack;
    let tmp = tempfile::tempdir().expect("tempdir");
    let entries = entries(tmp.path());
    for level in [0, 1, 6, 9] {
        let reference = tmp.path().join(format!("reference-{level}.zip"));
        pack_to_file(&entries, level, &reference).expect("pack");
        let reference = fs::read(&reference).expect("read");
        for memory in [0, 4 << 20, u64::MAX] {
            let spool = tempfile::tempdir().expect("spool dir");
            let prepack = Prepack::new(level, spool.path().to_owned(), memory, entries.len());
            for (slot, e) in entries.iter().enumerate().rev() {
                prepack.add_file(slot, &e.path);
            }
            let mut zip = Vec::new();
            let packed = prepack
                .write_zip(&entries, &mut |b| {
                    zip.extend_from_slice(b);
                    Ok(())
                })
                .expect("prepacked zip");
            assert_eq!(packed.bytes, zip.len() as u64);
            assert!(
                zip == reference,
                "level {level}, {memory} bytes in memory: the zips differ"
            );
            // The spool file has no name: nothing is left in its directory, even now.
            assert_eq!(fs::read_dir(spool.path()).expect("ls").count(), 0);
        }
    }
}

/// An entry stored as it is (incompressible) is not copied into the spool: its bytes are
/// read again from the file when the zip is streamed, and checked against the CRC-32 of
/// the first read, so a rewrite that kept the metadata still cannot ship other bytes.
#[test]
fn a_stored_entry_read_again_is_checked_against_its_first_read() {
    use stevedore::pack::prepack::Prepack;
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("packed.gz");
    let bytes = random_bytes(3 * (1 << 20) + 5, 21);
    fs::write(&path, &bytes).expect("write");
    let entry = PackEntry {
        path: path.clone(),
        name: "packed.gz".into(),
        size: bytes.len() as u64,
        mode: 0o644,
        mtime: 1_795_323_037,
        crc32: None,
    };
    let spool = tempfile::tempdir().expect("spool");
    let prepack = Prepack::new(6, spool.path().to_owned(), 0, 1);
    prepack.add_file(0, &path);
    let mut zip = Vec::new();
    prepack
        .write_zip(std::slice::from_ref(&entry), &mut |b| {
            zip.extend_from_slice(b);
            Ok(())
        })
        .expect("zip");
    let reference = tmp.path().join("reference.zip");
    pack_to_file(std::slice::from_ref(&entry), 6, &reference).expect("pack");
    assert!(
        zip == fs::read(&reference).expect("read"),
        "the zips differ"
    );

    let mut changed = bytes.clone();
    changed[2 << 20] ^= 0xff;
    fs::write(&path, &changed).expect("rewrite");
    let result = prepack.write_zip(std::slice::from_ref(&entry), &mut |_| Ok(()));
    assert!(
        matches!(result, Err(PackError::Changed { ref path }) if path.ends_with("packed.gz")),
        "{result:?}"
    );
}
