//! Deflate backends on the units stevedore's zip writer compresses (issue 25): the same
//! bytes, the same level, raw deflate ended as a final block, on a pool of N threads.
//! Prints, per backend: CPU seconds (user + system of this process), wall seconds and the
//! compressed size, median of the repeats.
//!
//! usage: deflate-backends DIR [--level N] [--threads N] [--repeats N]
//!
//! Two cuts of the tree: every file as one unit (what most files of a build are: smaller
//! than the writer's 1 MiB unit), and the files concatenated and cut into 1 MiB pieces
//! (what a large file becomes).

use std::io::Write as _;
use std::path::Path;
use std::time::Instant;

use rayon::prelude::*;

fn files(dir: &Path, out: &mut Vec<Vec<u8>>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("readable corpus")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files(&path, out);
        } else if path.is_file() {
            out.push(std::fs::read(&path).expect("readable file"));
        }
    }
}

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// zlib-rs through flate2's raw deflate: stevedore's `pack::deflate` for a last unit, with
/// its per-thread compressor reset between units.
fn zlib_rs(input: &[u8], level: u32) -> usize {
    use flate2::{Compress, Compression};
    thread_local! {
        static Z: std::cell::RefCell<Option<Compress>> = const { std::cell::RefCell::new(None) };
    }
    Z.with_borrow_mut(|slot| {
        let z = match slot {
            Some(z) => {
                z.reset();
                z
            }
            None => slot.insert(Compress::new(Compression::new(level), false)),
        };
        zlib_rs_with(z, input)
    })
}

fn zlib_rs_with(z: &mut flate2::Compress, input: &[u8]) -> usize {
    use flate2::{FlushCompress, Status};
    let mut out = Vec::with_capacity(input.len() + input.len() / 1000 + 64);
    loop {
        let consumed = z.total_in() as usize;
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity() / 2 + 64);
        }
        match z.compress_vec(&input[consumed..], &mut out, FlushCompress::Finish) {
            Ok(Status::StreamEnd) => return out.len(),
            Ok(_) => {}
            Err(e) => panic!("zlib-rs: {e}"),
        }
    }
}

/// zlib-ng in native mode, raw deflate (window bits -15), default memory level; one stream
/// per thread, reset between units (`deflateReset`), as zlib-rs's.
fn zlib_ng(input: &[u8], level: u32) -> usize {
    use libz_ng_sys as z;
    thread_local! {
        static S: std::cell::RefCell<Option<Box<libz_ng_sys::z_stream>>> = const { std::cell::RefCell::new(None) };
    }
    let bound = input.len() + input.len() / 1000 + 1024;
    let mut out = vec![0u8; bound];
    S.with_borrow_mut(|slot| {
        let stream = match slot {
            Some(stream) => {
                // SAFETY: an initialised stream, reset for the next unit.
                unsafe { z::deflateReset(&mut **stream) };
                stream
            }
            None => slot.insert(new_stream(level)),
        };
        // SAFETY: the input and output pointers stay valid for the whole call.
        unsafe {
            stream.next_in = input.as_ptr().cast_mut();
            stream.avail_in = input.len() as _;
            stream.next_out = out.as_mut_ptr();
            stream.avail_out = out.len() as _;
            let rc = z::deflate(&mut **stream, z::Z_FINISH);
            assert_eq!(rc, z::Z_STREAM_END, "deflate");
            stream.total_out as usize
        }
    })
}

fn new_stream(level: u32) -> Box<libz_ng_sys::z_stream> {
    use libz_ng_sys as z;
    // SAFETY: the stream is initialised by deflateInit2_ before any other use; it is boxed
    // so its address (which zlib-ng keeps) never moves.
    unsafe {
        let mut stream = Box::new(z::z_stream {
            next_in: std::ptr::null_mut(),
            avail_in: 0,
            total_in: 0,
            next_out: std::ptr::null_mut(),
            avail_out: 0,
            total_out: 0,
            msg: std::ptr::null_mut(),
            state: std::ptr::null_mut(),
            zalloc,
            zfree,
            opaque: std::ptr::null_mut(),
            data_type: 0,
            adler: 0,
            reserved: 0,
        });
        let version = z::zlibVersion();
        let rc = z::deflateInit2_(
            &mut *stream,
            level as i32,
            z::Z_DEFLATED,
            -15,
            8,
            z::Z_DEFAULT_STRATEGY,
            version,
            std::mem::size_of::<z::z_stream>() as i32,
        );
        assert_eq!(rc, z::Z_OK, "deflateInit2");
        stream
    }
}

extern "C" fn zalloc(_: *mut libc::c_void, items: u32, size: u32) -> *mut libc::c_void {
    // SAFETY: calloc with the sizes zlib-ng asks for.
    unsafe { libc::calloc(items as usize, size as usize) }
}

extern "C" fn zfree(_: *mut libc::c_void, p: *mut libc::c_void) {
    // SAFETY: `p` came from `zalloc`.
    unsafe { libc::free(p) }
}

/// libdeflate: whole-buffer only, and every output ends with a final block.
fn libdeflate(input: &[u8], level: u32) -> usize {
    thread_local! {
        static C: std::cell::RefCell<Option<(u32, libdeflater::Compressor)>> = const { std::cell::RefCell::new(None) };
    }
    C.with_borrow_mut(|slot| {
        if slot.as_ref().is_none_or(|(l, _)| *l != level) {
            let lvl = libdeflater::CompressionLvl::new(level as i32).expect("level");
            *slot = Some((level, libdeflater::Compressor::new(lvl)));
        }
        let (_, c) = slot.as_mut().expect("compressor");
        let mut out = vec![0u8; c.deflate_compress_bound(input.len())];
        c.deflate_compress(input, &mut out).expect("libdeflate")
    })
}

type Backend = (&'static str, fn(&[u8], u32) -> usize);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opt = |name: &str, default: usize| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map_or(default, |v| v.parse().expect("a number"))
    };
    let dir = args.first().expect("usage: deflate-backends DIR [--level N] [--threads N] [--repeats N]");
    let level = opt("--level", 6) as u32;
    let threads = opt("--threads", 2);
    let repeats = opt("--repeats", 3);
    rayon::ThreadPoolBuilder::new().num_threads(threads).build_global().expect("pool");

    let mut whole = Vec::new();
    files(Path::new(dir), &mut whole);
    let all: Vec<u8> = whole.concat();
    let pieces: Vec<Vec<u8>> = all.chunks(1 << 20).map(<[u8]>::to_vec).collect();
    let total = all.len();
    let backends: [Backend; 3] = [
        ("zlib-rs (flate2, shipped)", zlib_rs),
        ("zlib-ng (libz-ng-sys, native)", zlib_ng),
        ("libdeflate (libdeflater)", libdeflate),
    ];
    let mut stdout = std::io::stdout().lock();
    for (cut, units) in [("every file one unit", &whole), ("1 MiB pieces", &pieces)] {
        let _ = writeln!(
            stdout,
            "\n### {cut}: {} units, {:.1} MB, level {level}, {threads} threads, median of {repeats}\n",
            units.len(),
            total as f64 / 1e6
        );
        let _ = writeln!(stdout, "| backend | CPU s | CPU vs zlib-rs | wall s | compressed MB | ratio | size vs zlib-rs |");
        let _ = writeln!(stdout, "|---|---:|---:|---:|---:|---:|---:|");
        let mut reference: Option<(f64, usize)> = None;
        for (name, f) in backends {
            let mut cpu = Vec::new();
            let mut wall = Vec::new();
            let mut size = 0;
            for _ in 0..repeats {
                let (c0, t0) = (cpu_seconds(), Instant::now());
                size = units.par_iter().with_max_len(1).map(|u| f(u, level)).sum::<usize>();
                wall.push(t0.elapsed().as_secs_f64());
                cpu.push(cpu_seconds() - c0);
            }
            cpu.sort_by(f64::total_cmp);
            wall.sort_by(f64::total_cmp);
            let (c, w) = (cpu[repeats / 2], wall[repeats / 2]);
            let (rc, rs) = *reference.get_or_insert((c, size));
            let _ = writeln!(
                stdout,
                "| {name} | {c:.2} | {:.2}x | {w:.2} | {:.1} | {:.3} | {:+.1}% |",
                c / rc,
                size as f64 / 1e6,
                size as f64 / total as f64,
                (size as f64 / rs as f64 - 1.0) * 100.0
            );
        }
    }
}
