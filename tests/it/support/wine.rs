//! The binary under test as a runner of either platform starts it: [`Exe::Linux`], this
//! test binary's own build run natively, or [`Exe::Windows`], the `x86_64-pc-windows-gnu`
//! release build (`scripts/build-release`) run by wine 10 inside the Debian trixie chroot
//! `scripts/wine-chroot` prepares (bookworm's wine 8 cannot load current Rust binaries).
//!
//! The tests still run on Linux: under wine, a test's files live in the chroot (its
//! [`Ctx`] is made under the chroot's `/w`, so no bind mount is needed) and the binary is
//! given them as a Windows runner would: `RUNNER_TEMP=D:\.tmpXXXX\runner-temp`, `D:` being
//! wine's drive letter for `/w` (`$WINEPREFIX/dosdevices/d: -> /w`). [`Exe::name`] spells a
//! test's path for the binary, [`Exe::host`] reads one the binary wrote back.
//!
//! The chroot is prepared by the test itself, through the idempotent `scripts/wine-chroot`
//! (instant once prepared; about 90 s the first time, as root with deb.debian.org
//! reachable): `cargo test` alone runs the Windows tests or fails saying why, never skips.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::support::install::release_binary;
use crate::support::{Ctx, Run, STEVEDORE};

/// The Rust target of the Windows build the lane runs.
pub const WINDOWS_TARGET: &str = "x86_64-pc-windows-gnu";
/// wine's loader inside the chroot.
const WINE: &str = "/usr/lib/wine/wine64";
/// Where the chroot holds its copy of the `.exe` (a copy: the target directory is outside).
const EXE_IN_ROOT: &str = "/w/bin/stevedore.exe";
/// The same, as Windows names it (`D:` is the chroot's `/w`).
const EXE_ON_D: &str = r"D:\bin\stevedore.exe";
/// What `cmd /c` would read as its own syntax rather than an argument.
const CMD_SYNTAX: &[char] = &['&', '|', '<', '>', '^', '%', '!', '"', '(', ')'];

/// Which build runs, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exe {
    /// The Linux build, natively: what every other topic runs.
    Linux,
    /// The Windows build under wine in the trixie chroot.
    Windows,
}

/// The prepared chroot: `scripts/wine-chroot` run once per test process (it returns at once
/// when its marker says the root is complete), and the release `.exe` copied in.
fn root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let out = Command::new(repo.join("scripts/wine-chroot"))
            .output()
            .expect("run scripts/wine-chroot");
        assert!(
            out.status.success(),
            "the Windows lane needs the wine chroot, and `scripts/wine-chroot` (run by \
             scripts/test; root and deb.debian.org needed) failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let root = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        // Built by scripts/test (`scripts/build-release x86_64-pc-windows-gnu`); missing or
        // older than the sources, release_binary fails saying so.
        let exe = release_binary(WINDOWS_TARGET);
        let inside = root.join(EXE_IN_ROOT.trim_start_matches('/'));
        fs::create_dir_all(inside.parent().expect("bin")).expect("mkdir /w/bin");
        // Copied under a private name, then renamed: another test process may be running
        // the previous copy.
        let fresh = inside.with_extension(format!("{}.exe", std::process::id()));
        fs::copy(&exe, &fresh).expect("copy the .exe into the chroot");
        fs::rename(&fresh, &inside).expect("rename the .exe");
        root
    })
}

impl Exe {
    /// A fresh runner context where this build sees it.
    pub fn ctx(self) -> Ctx {
        match self {
            Exe::Linux => Ctx::new(),
            Exe::Windows => Ctx::new_in(&root().join("w")),
        }
    }

    /// `path` (a test's, on the host) as this build names it: itself on Linux; under wine,
    /// `D:\...` below the chroot's `/w`, `Z:\...` elsewhere in the chroot.
    pub fn name(self, path: &Path) -> String {
        let text = path.to_str().expect("utf-8 test path");
        match self {
            Exe::Linux => text.to_owned(),
            Exe::Windows => {
                let root = root();
                let (drive, rel) = if let Ok(rel) = path.strip_prefix(root.join("w")) {
                    ("D:", rel)
                } else if let Ok(rel) = path.strip_prefix(root) {
                    ("Z:", rel)
                } else {
                    panic!("{text} is outside the wine chroot: the Windows build cannot see it")
                };
                let rel = rel.to_str().expect("utf-8").replace('/', "\\");
                format!("{drive}\\{rel}")
            }
        }
    }

    /// A path this build wrote (an output, a message), back on the host: [`Exe::name`]'s
    /// inverse, accepting either separator after a drive letter; `C:` is the prefix's
    /// `drive_c` (the user profile is there).
    pub fn host(self, name: &str) -> PathBuf {
        match self {
            Exe::Linux => PathBuf::from(name),
            Exe::Windows => {
                let root = root();
                let rest = |drive: &str| {
                    name.get(..2)
                        .filter(|d| d.eq_ignore_ascii_case(drive))
                        .map(|_| name[2..].trim_start_matches(['\\', '/']).replace('\\', "/"))
                };
                if let Some(rel) = rest("D:") {
                    root.join("w").join(rel)
                } else if let Some(rel) = rest("Z:") {
                    root.join(rel)
                } else if let Some(rel) = rest("C:") {
                    root.join("wine/drive_c").join(rel)
                } else {
                    panic!("{name:?} is not a path under C:, D: or Z:")
                }
            }
        }
    }

    /// The command a runner starts for a step in `ctx`: [`Ctx::runner_command`] natively;
    /// under wine, `chroot ROOT env -C <workspace> wine64 cmd /c stevedore.exe` (with `/proc`) with the runner's
    /// paths spelled the Windows way, a UTF-8 locale (wine decodes names, arguments and
    /// the environment with it) and wine's own chatter off (`WINEDEBUG=-all`).
    pub fn runner_command(self, ctx: &Ctx) -> Command {
        match self {
            Exe::Linux => ctx.runner_command(STEVEDORE),
            Exe::Windows => {
                let root = root();
                let ws = Path::new("/").join(ctx.ws.strip_prefix(root).expect("ws in the chroot"));
                // wine needs /proc (it finds its own files through /proc/self/exe):
                // mounted in a private mount namespace that ends with the run, so no mount
                // outlives a test (as scripts/wine-chroot starts wine).
                let mut cmd = Command::new("unshare");
                cmd.args(["--mount", "--propagation", "private", "sh", "-c"])
                    .arg(r#"mount -t proc proc "$0/proc" && exec chroot "$0" "$@""#)
                    .arg(root)
                    .arg("/usr/bin/env")
                    .arg("-C")
                    .arg(ws)
                    .arg(WINE)
                    // Through `cmd /c`: wine 10 sometimes ends its own (Unix) process with
                    // status 0 when a multi-threaded Windows program exits with another code
                    // (a shutdown race: measured 1 to 20 runs in 100 of `verify` exiting 3),
                    // while the Windows exit code a parent reads is right (0 misses in 80).
                    // `cmd` is single-threaded and exits with its child's code.
                    .args(["cmd", "/c", EXE_ON_D])
                    .env_clear()
                    .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
                    .env("LC_ALL", "C.UTF-8")
                    .env("WINEPREFIX", "/wine")
                    .env("WINEDEBUG", "-all")
                    .envs(ctx.runner_env(|p| OsString::from(self.name(p))));
                cmd
            }
        }
    }

    /// Runs as the action does: `INPUT_*`, `env`, no arguments.
    pub fn action(self, ctx: &Ctx, inputs: &[(&str, &str)], env: &[(String, String)]) -> Run {
        ctx.finish(Ctx::as_step(self.runner_command(ctx), inputs, env))
    }

    /// Runs `stevedore download` as `download/action.yml` does: `INPUT_*`, no flags.
    pub fn download(self, ctx: &Ctx, inputs: &[(&str, &str)], env: &[(String, String)]) -> Run {
        let mut cmd = Ctx::as_step(self.runner_command(ctx), inputs, env);
        cmd.arg("download");
        ctx.finish(cmd)
    }

    /// Runs as a CLI with `args` (under wine, none holding `cmd`'s syntax: see
    /// [`Exe::runner_command`]).
    pub fn cli(self, ctx: &Ctx, args: &[&str]) -> Run {
        if self == Exe::Windows {
            for arg in args {
                assert!(
                    !arg.contains(CMD_SYNTAX),
                    "{arg:?}: `cmd /c` would read its syntax; pass it in an INPUT_* variable"
                );
            }
        }
        let mut cmd = self.runner_command(ctx);
        cmd.args(args);
        ctx.finish(cmd)
    }
}
