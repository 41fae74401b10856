//! Test data: deterministic bytes and tokens, and the sample trees several topics ship.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;

use crate::support::Ctx;

/// Deterministic incompressible bytes (xorshift64), the same for every run.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Deterministic pseudo-random alphanumerics (xorshift), so tokens look random.
pub fn alnum(seed: u64, n: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            CHARS[(x % CHARS.len() as u64) as usize] as char
        })
        .collect()
}

/// A tree with an executable (0755), a multi-MiB binary, an empty file, a non-ASCII
/// name and nested directories, under `ws/<dir>`.
pub fn build_tree(ctx: &Ctx, dir: &str) -> PathBuf {
    ctx.file(&format!("{dir}/readme.txt"), "hello download\n".repeat(300));
    ctx.file(
        &format!("{dir}/bin/tool.bin"),
        random_bytes(3 * 1024 * 1024 + 17, 0x51_7CC1_B727_220A),
    );
    ctx.file(&format!("{dir}/empty.log"), "");
    let exe = ctx.file(&format!("{dir}/bin/run.sh"), "#!/bin/sh\necho hi\n");
    fs::set_permissions(exe, fs::Permissions::from_mode(0o755)).expect("chmod");
    ctx.file(&format!("{dir}/docs/héllo wörld.md"), "# unicode\n");
    ctx.ws.join(dir)
}
