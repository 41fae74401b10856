//! `dist/install.sh` on its own, as the action's install step runs it (bash, the runner's
//! variables, a release served over loopback HTTP), and the hand-over in `action.yml`
//! that decides whether the binary gets the artifact token.
//!
//! - Windows runner paths (`D:\a\_temp`, a tool cache with `\`) install and reuse the cache.
//! - What the action later executes is a private, verified copy, not the shared cache file.
//! - `STEVEDORE_DOWNLOAD_BASE` is parsed: hostile forms fail closed before any download.
//! - A `destination` the binary would resolve to `artifact` always gets the token.
//! - `download/action.yml` installs through the same script and root manifest, and hands
//!   the token over exactly when `stevedore download` reads this run's artifacts.

use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::support::install::{InstallStep, VERSION, asset_path, pinned_installer, release_asset};
use crate::support::servers::{serve, serve_on};
use crate::support::text::{annotations, redact_known};
use crate::support::{Ctx, STEVEDORE, owned, parse_outputs};

/// The platform the installer is told it runs on, with its target and executable name.
#[derive(Clone, Copy)]
struct Platform {
    os: &'static str,
    arch: &'static str,
    target: &'static str,
    exe: &'static str,
    /// Of the release asset's name.
    suffix: &'static str,
}

const WINDOWS: Platform = Platform {
    os: "Windows",
    arch: "X64",
    target: "x86_64-pc-windows-msvc",
    exe: "stevedore.exe",
    suffix: ".exe",
};

const LINUX: Platform = Platform {
    os: "Linux",
    arch: "X64",
    target: "x86_64-unknown-linux-musl",
    exe: "stevedore",
    suffix: "",
};

/// A release to install: the action's directory (install.sh and a manifest pinning
/// `payload`), and the release tree a server serves.
struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    action: PathBuf,
    release: PathBuf,
    platform: Platform,
    payload: Vec<u8>,
}

/// The bytes the release holds: a program that says which build it is. The installer
/// treats them as opaque bytes; a script makes "which bytes ran" visible in its output.
fn program(says: &str) -> Vec<u8> {
    format!("#!/bin/sh\necho '{says}'\n").into_bytes()
}

const GOOD: &str = "stevedore: the pinned build";
const EVIL: &str = "stevedore: REWRITTEN";

impl Fixture {
    fn new(platform: Platform) -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = fs::canonicalize(dir.path()).expect("canonical");
        let payload = program(GOOD);
        let action = root.join("action");
        pinned_installer(
            &action,
            platform.target,
            &hex::encode(Sha256::digest(&payload)),
        );
        let release = root.join("release");
        release_asset(&release, platform.target, platform.suffix, &payload);
        Fixture {
            _dir: dir,
            root,
            action,
            release,
            platform,
            payload,
        }
    }

    /// `RUNNER_TEMP` and `RUNNER_TOOL_CACHE` under the fixture root with these names, created.
    fn dirs(&self, temp: &str, tool_cache: &str) -> Dirs {
        let dirs = Dirs {
            temp: self.root.join(temp),
            tool_cache: self.root.join(tool_cache),
            output: self.root.join(format!("{temp}.github_output")),
            spy: None,
        };
        fs::create_dir_all(&dirs.temp).expect("mkdir temp");
        fs::create_dir_all(&dirs.tool_cache).expect("mkdir tool cache");
        dirs
    }

    /// Where a verified download is kept in `dirs`' tool cache.
    fn cached(&self, dirs: &Dirs) -> PathBuf {
        dirs.tool_cache
            .join("stevedore")
            .join(VERSION)
            .join(self.platform.target)
            .join(self.platform.exe)
    }

    /// Runs `bash dist/install.sh` as the action's install step does.
    fn install(&self, dirs: &Dirs, base: &str) -> Install {
        self.install_env(dirs, base, &[])
    }

    /// [`Fixture::install`] with extra environment variables.
    fn install_env(&self, dirs: &Dirs, base: &str, env: &[(&str, &Path)]) -> Install {
        fs::write(&dirs.output, "").expect("reset output");
        let mut cmd = dirs.step(self.platform, &self.action).command("bash");
        cmd.arg(self.action.join("dist/install.sh"))
            .current_dir(&self.root)
            .env("STEVEDORE_DOWNLOAD_BASE", base)
            .envs(env.iter().copied());
        if let Some(spy) = &dirs.spy {
            let path = std::env::var_os("PATH").unwrap_or_default();
            let mut paths = vec![spy.dir.clone()];
            paths.extend(std::env::split_paths(&path));
            cmd.env("PATH", std::env::join_paths(paths).expect("PATH"));
        }
        Install::read(&cmd.output().expect("install.sh runs"), dirs)
    }
}

/// `RUNNER_TEMP`, `RUNNER_TOOL_CACHE` and `GITHUB_OUTPUT` of one simulated job.
struct Dirs {
    temp: PathBuf,
    tool_cache: PathBuf,
    output: PathBuf,
    spy: Option<CurlSpy>,
}

impl Dirs {
    /// The install step of `action_path` on `platform` in this job.
    fn step<'a>(&'a self, platform: Platform, action_path: &'a Path) -> InstallStep<'a> {
        InstallStep {
            action_path,
            os: platform.os,
            arch: platform.arch,
            temp: &self.temp,
            tool_cache: &self.tool_cache,
            output: &self.output,
        }
    }
}

/// A `curl` first on `PATH` that notes each call and then runs the real curl: it shows
/// whether the installer tried to download at all.
struct CurlSpy {
    dir: PathBuf,
    log: PathBuf,
}

impl CurlSpy {
    fn new(dir: PathBuf) -> CurlSpy {
        let out = Command::new("sh")
            .args(["-c", "command -v curl"])
            .output()
            .expect("sh");
        let real = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert!(real.starts_with('/'), "curl not found: {real:?}");
        fs::create_dir_all(&dir).expect("mkdir");
        let log = dir.join("calls.log");
        let script = dir.join("curl");
        fs::write(
            &script,
            format!(
                "#!/bin/sh\nprintf 'curl %s\\n' \"$*\" >> '{}'\nexec '{real}' \"$@\"\n",
                log.display()
            ),
        )
        .expect("spy");
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).expect("chmod");
        CurlSpy { dir, log }
    }

    fn calls(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

struct Install {
    ok: bool,
    log: String,
    stdout: String,
    /// The `path=` written to `$GITHUB_OUTPUT`.
    path: Option<PathBuf>,
}

impl Install {
    /// What the install step `out` printed and wrote to `dirs`' `$GITHUB_OUTPUT`.
    fn read(out: &std::process::Output, dirs: &Dirs) -> Install {
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let outputs = parse_outputs(&fs::read_to_string(&dirs.output).expect("output"));
        Install {
            ok: out.status.success(),
            log: format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)),
            stdout,
            path: outputs.get("path").map(PathBuf::from),
        }
    }

    /// The emitted path of a successful install.
    fn path(&self) -> &Path {
        assert!(self.ok, "install failed:\n{}", self.log);
        self.path.as_deref().unwrap_or_else(|| {
            panic!("no path= in $GITHUB_OUTPUT:\n{}", self.log);
        })
    }
}

/// Runs `path` and returns what it printed.
fn run(path: &Path) -> String {
    let out = Command::new(path)
        .output()
        .unwrap_or_else(|e| panic!("{} does not run: {e}", path.display()));
    assert!(out.status.success(), "{} failed", path.display());
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Directories under `dir` whose name starts with `stevedore.`: private copies the
/// installer left behind.
fn private_dirs(dir: &Path) -> Vec<String> {
    crate::support::tree::names_in(dir, "stevedore.")
}

#[test]
fn windows_paths_with_backslashes_install_and_reuse_the_cache() {
    // Every Windows runner: RUNNER_TEMP=D:\a\_temp, the tool cache C:\hostedtoolcache\windows.
    // On Linux a backslash is an ordinary file-name byte, and GNU sha256sum escapes its
    // output line for such a name exactly as in Git Bash.
    let fx = Fixture::new(WINDOWS);
    let server = serve(fx.release.clone());
    let dirs = fx.dirs(r"D:\a\_temp", r"C:\hostedtoolcache\windows");
    let sha = hex::encode(Sha256::digest(&fx.payload));

    let first = fx.install(&dirs, &server.url);
    let path = first.path();
    assert!(
        first.log.contains(&format!("verified SHA-256 {sha}\n")),
        "{}",
        first.log
    );
    assert_eq!(fs::read(path).expect("read"), fx.payload);
    assert_eq!(run(path), GOOD);
    assert_eq!(server.requests().len(), 1, "{:?}", server.requests());
    assert_eq!(
        fs::read(fx.cached(&dirs)).expect("cached copy"),
        fx.payload,
        "the verified download is kept in the tool cache"
    );

    // The second use in the job verifies the cached copy under the same paths: no download.
    let second = fx.install(&dirs, &server.url);
    let path = second.path();
    assert!(!second.log.contains("downloading"), "{}", second.log);
    assert_eq!(server.requests().len(), 1, "{:?}", server.requests());
    assert_eq!(run(path), GOOD);
}

/// The install step of `download/action.yml` (`uses: OWNER/stevedore/download@v1`), run as
/// the runner runs it: `GITHUB_ACTION_PATH` is the sub-action's directory, one below the
/// action's root where `dist/` is.
fn install_download_action(fx: &Fixture, dirs: &Dirs, base: &str) -> Install {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("download/action.yml");
    let text = fs::read_to_string(&src).expect("download/action.yml");
    let sub = fx.action.join("download");
    fs::create_dir_all(&sub).expect("mkdir");
    fs::write(sub.join("action.yml"), &text).expect("copy");
    let action = yaml_rust2::YamlLoader::load_from_str(&text)
        .expect("yaml")
        .remove(0);
    let script = action["runs"]["steps"]
        .as_vec()
        .expect("steps")
        .iter()
        .find(|s| s["id"].as_str() == Some("install"))
        .and_then(|s| s["run"].as_str())
        .expect("install step")
        .to_owned();
    fs::write(&dirs.output, "").expect("reset output");
    let out = dirs
        .step(fx.platform, &sub)
        .command("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", &script])
        .current_dir(&fx.root)
        .env("STEVEDORE_DOWNLOAD_BASE", base)
        .output()
        .expect("bash runs");
    Install::read(&out, dirs)
}

#[test]
fn the_download_sub_action_installs_the_binary_its_root_manifest_pins() {
    let fx = Fixture::new(LINUX);
    let server = serve(fx.release.clone());
    let dirs = fx.dirs("temp-download", "cache-download");
    let got = install_download_action(&fx, &dirs, &server.url);
    let path = got.path();
    assert_eq!(fs::read(path).expect("read"), fx.payload);
    assert_eq!(run(path), GOOD);
    assert!(path.starts_with(&dirs.temp), "{}", path.display());

    // The pin it checks is the root's dist/manifest.txt: another hash there refuses the
    // same release bytes (in a fresh cache, so the download is checked, not a cached copy).
    let manifest = fx.action.join("dist/manifest.txt");
    let pinned = fs::read_to_string(&manifest).expect("manifest");
    let sha = hex::encode(Sha256::digest(&fx.payload));
    fs::write(&manifest, pinned.replace(&sha, &"0".repeat(64))).expect("manifest");
    let dirs = fx.dirs("temp-download-2", "cache-download-2");
    let refused = install_download_action(&fx, &dirs, &server.url);
    assert!(!refused.ok && refused.path.is_none(), "{}", refused.log);
    assert!(refused.log.contains("SHA-256 mismatch"), "{}", refused.log);
}

#[test]
fn the_emitted_binary_is_a_private_verified_copy() {
    let fx = Fixture::new(LINUX);
    let server = serve(fx.release.clone());
    let dirs = fx.dirs("runner-temp", "tool-cache");
    let cached = fx.cached(&dirs);

    let first = fx.install(&dirs, &server.url);
    let p1 = first.path().to_path_buf();
    assert!(
        !p1.starts_with(&dirs.tool_cache),
        "{} is inside the tool cache",
        p1.display()
    );
    let private = p1.parent().expect("parent");
    assert_eq!(
        private.parent(),
        Some(dirs.temp.as_path()),
        "{}",
        p1.display()
    );
    assert_eq!(
        fs::metadata(private).expect("stat").permissions().mode() & 0o777,
        0o700,
        "{}",
        private.display()
    );
    assert_eq!(fs::read(&p1).expect("read"), fx.payload);
    assert_eq!(fs::read(&cached).expect("cached"), fx.payload);

    // Another step rewrites the shared cache between the install and the run step: what
    // the run step executes is unchanged.
    fs::write(&cached, program(EVIL)).expect("tamper");
    assert_eq!(run(&p1), GOOD);
    assert_eq!(fs::read(&p1).expect("read"), fx.payload);

    // The next install refuses the tampered entry, downloads again, verifies, and replaces
    // the cache entry; its copy is a new private one.
    let second = fx.install(&dirs, &server.url);
    let p2 = second.path().to_path_buf();
    assert!(
        second.log.contains("does not match dist/manifest.txt"),
        "{}",
        second.log
    );
    assert_eq!(server.requests().len(), 2, "{:?}", server.requests());
    assert_ne!(p1, p2);
    assert!(!p2.starts_with(&dirs.tool_cache));
    assert_eq!(run(&p2), GOOD);
    assert_eq!(fs::read(&cached).expect("cached"), fx.payload);

    // A tampered cache and a tampered release: refused, nothing emitted, nothing left.
    fs::write(&cached, program(EVIL)).expect("tamper");
    let asset = fx.release.join(asset_path(LINUX.target, ""));
    fs::write(&asset, program(EVIL)).expect("tamper release");
    let before = private_dirs(&dirs.temp);
    let third = fx.install(&dirs, &server.url);
    assert!(!third.ok, "{}", third.log);
    assert!(third.path.is_none(), "{}", third.log);
    assert!(
        third
            .stdout
            .lines()
            .any(|l| l.starts_with("::error title=stevedore install::SHA-256 mismatch")),
        "{}",
        third.log
    );
    let root = fx.root.display().to_string();
    insta::assert_snapshot!(
        redact_known(
            &annotations(&third.stdout),
            &[(&root, "[ROOT]"), (&server.url, "[RELEASE HOST]")]
        ),
        @"::error title=stevedore install::SHA-256 mismatch for [RELEASE HOST]/v0.1.0/stevedore-0.1.0-x86_64-unknown-linux-musl: expected f1d5a2f4141cfbf33db452cb69e107c1a8692ec50b07a3cc67caed9bcfc7bda1 (dist/manifest.txt), got 26c46c8e19d4a615b53118a872d08dd4409995172b6804342ea4d95257ab4da8; refusing to run it"
    );
    assert_eq!(
        private_dirs(&dirs.temp),
        before,
        "a refused copy is removed"
    );
}

#[test]
#[allow(
    clippy::too_many_lines,
    reason = "the inline snapshot of every refusal"
)]
fn hostile_download_bases_fail_closed_before_any_download() {
    let fx = Fixture::new(LINUX);
    let good = serve(fx.release.clone());
    // Another loopback address that is not on the allow-list: a host the old prefix match
    // let through (`http://127.0.0.1:80@127.0.0.2:port` is the host 127.0.0.2).
    let other = serve_on("127.0.0.2", fx.release.clone());
    let other_authority = other.url.trim_start_matches("http://").to_owned();
    let good_port = good.url.rsplit(':').next().expect("port").to_owned();
    let secret = "hunter2-not-for-logs";

    let hostile = [
        format!("http://127.0.0.1:80@{other_authority}"),
        format!("http://127.0.0.1:{good_port}@evil.example"),
        format!("http://127.0.0.1@{other_authority}/"),
        "http://127.0.0.1.evil.example/releases".to_owned(),
        "http://localhost.evil/releases".to_owned(),
        "http://127.0.0.1:abc/".to_owned(),
        "http://127.0.0.1:/".to_owned(),
        "http://127.0.0.1:80:90/".to_owned(),
        format!("http://127.0.0.1#@{other_authority}/"),
        format!("http://127.0.0.1?@{other_authority}/"),
        format!("http://[::1]@{other_authority}/"),
        "http://[::1]x/".to_owned(),
        "http://127.0.0.1%2eevil.example/".to_owned(),
        "http://127.0.0.1 /".to_owned(),
        format!("https://user:{secret}@{other_authority}/"),
        format!("https://{secret}@github.com/o/r/releases/download"),
        "ftp://127.0.0.1/".to_owned(),
        "http://mirror.example.com/releases".to_owned(),
        "https:///releases".to_owned(),
    ];
    // What the install step says for each base, ports shown as [PORT].
    let mut said = Vec::new();
    let port_of_good = format!(":{good_port}");
    let known = [
        (other_authority.as_str(), "127.0.0.2:[PORT]"),
        (port_of_good.as_str(), ":[PORT]"),
    ];
    for (i, base) in hostile.iter().enumerate() {
        let mut dirs = fx.dirs(&format!("temp-{i}"), &format!("cache-{i}"));
        let spy = CurlSpy::new(fx.root.join(format!("spy-{i}")));
        dirs.spy = Some(spy);
        let out = fx.install(&dirs, base);
        assert!(!out.ok, "{base}: must be refused\n{}", out.log);
        assert!(
            out.stdout.lines().any(|l| l
                .starts_with("::error title=stevedore install::STEVEDORE_DOWNLOAD_BASE ")),
            "{base}: no ::error line naming STEVEDORE_DOWNLOAD_BASE\n{}",
            out.log
        );
        let calls = dirs.spy.as_ref().expect("spy").calls();
        assert!(calls.is_empty(), "{base}: curl ran:\n{calls}");
        assert!(!out.log.contains("downloading"), "{base}\n{}", out.log);
        assert!(out.path.is_none(), "{base}\n{}", out.log);
        assert!(
            !out.log.contains(secret),
            "{base}: user information printed\n{}",
            out.log
        );
        assert!(
            private_dirs(&dirs.temp).is_empty(),
            "{base}: left a directory"
        );
        said.push(redact_known(
            &format!("{base}\n  {}", annotations(&out.stdout)),
            &known,
        ));
    }
    insta::assert_snapshot!(said.join("\n"), @r#"
    http://127.0.0.1:80@127.0.0.2:[PORT]
      ::error title=stevedore install::STEVEDORE_DOWNLOAD_BASE must not contain user information (`user@` before the host); the URL is not shown, as that part may be a credential
    http://127.0.0.1:[PORT]@evil.example
      ::error title=stevedore install::STEVEDORE_DOWNLOAD_BASE must not contain user information (`user@` before the host); the URL is not shown, as that part may be a credential
    http://127.0.0.1@127.0.0.2:[PORT]/
      ::error title=stevedore install::STEVEDORE_DOWNLOAD_BASE must not contain user information (`user@` before the host); the URL is not shown, as that part may be a credential
    http://127.0.0.1.evil.example/releases
      ::error title=stevedore install::STEVEDORE_DOWNLOAD_BASE must be an https:// URL (http:// only for 127.0.0.1, localhost or [::1]): http://127.0.0.1.evil.example/releases
    http://localhost.evil/releases
      ::error title=stevedore install::STEVEDORE_DOWNLOAD_BASE must be an https:// URL (http:// only for 127.0.0.1, localhost or [::1]): http://localhost.evil/releases
    http://127.0.0.1:abc/
      ::error title=stevedore install::STEVEDORE_DOWNLOAD_BASE has a port that is not a number (abc): http://127.0.0.1:abc
    http://127.0.0.1:/
      ::error title=stevedore install::STEVEDORE_DOWNLOAD_BASE has a port that is not a number (): http://127.0.0.1:
    http://127.0.0.1:80:90/
      ::error title=stevedore install::STEVEDORE_DOWNLOAD_BASE has a port that is not a number (80:90): http://127.0.0.1:80:90
    http://127.0.0.1#@127.0.0.2:[PORT]/
      ::error title=stevedore install::STEVEDORE_DOWNLOAD_BASE must not contain user information (`user@` before the host); the URL is not shown, as that part may be a credential
    http://127.0.0.1?@127.0.0.2:[PORT]/
      ::error title=stevedore install::STEVEDORE_DOWNLOAD_BASE must not contain user information (`user@` before the host); the URL is not shown, as that part may be a credential
    http://[::1]@127.0.0.2:[PORT]/
      ::error title=stevedore install::STEVEDORE_DOWNLOAD_BASE must not contain user information (`user@` before the host); the URL is not shown, as that part may be a credential
    http://[::1]x/
      ::error title=stevedore install::STEVEDORE_DOWNLOAD_BASE has a port that is not a number (:1]x): http://[::1]x
    http://127.0.0.1%2eevil.example/
      ::error title=stevedore install::STEVEDORE_DOWNLOAD_BASE has characters that do not belong in a host name (127.0.0.1%2eevil.example): http://127.0.0.1%2eevil.example
    http://127.0.0.1 /
      ::error title=stevedore install::STEVEDORE_DOWNLOAD_BASE must not contain spaces or control characters
    https://user:hunter2-not-for-logs@127.0.0.2:[PORT]/
      ::error title=stevedore install::STEVEDORE_DOWNLOAD_BASE must not contain user information (`user@` before the host); the URL is not shown, as that part may be a credential
    https://hunter2-not-for-logs@github.com/o/r/releases/download
      ::error title=stevedore install::STEVEDORE_DOWNLOAD_BASE must not contain user information (`user@` before the host); the URL is not shown, as that part may be a credential
    ftp://127.0.0.1/
      ::error title=stevedore install::STEVEDORE_DOWNLOAD_BASE must be an https:// URL (http:// only for 127.0.0.1, localhost or [::1]): ftp://127.0.0.1
    http://mirror.example.com/releases
      ::error title=stevedore install::STEVEDORE_DOWNLOAD_BASE must be an https:// URL (http:// only for 127.0.0.1, localhost or [::1]): http://mirror.example.com/releases
    https:///releases
      ::error title=stevedore install::STEVEDORE_DOWNLOAD_BASE has no host: https:///releases
    "#);
    assert!(good.requests().is_empty(), "{:?}", good.requests());
    assert!(other.requests().is_empty(), "{:?}", other.requests());

    // A warm cache does not skip the check: a bad setting fails every run.
    let dirs = fx.dirs("temp-warm", "cache-warm");
    fx.install(&dirs, &good.url).path();
    let out = fx.install(&dirs, &hostile[0]);
    assert!(!out.ok && out.path.is_none(), "{}", out.log);
}

#[test]
fn loopback_forms_are_accepted_over_http() {
    let fx = Fixture::new(LINUX);
    let v4 = serve(fx.release.clone());
    let v6 = serve_on("::1", fx.release.clone());
    let v4_port = v4.url.rsplit(':').next().expect("port").to_owned();
    let asset = asset_path(LINUX.target, "");

    for (i, (base, server)) in [
        (v4.url.clone(), &v4),
        (format!("{}/", v4.url), &v4),
        (format!("http://localhost:{v4_port}"), &v4),
        (v6.url.clone(), &v6),
    ]
    .into_iter()
    .enumerate()
    {
        let before = server.requests().len();
        let dirs = fx.dirs(&format!("temp-{i}"), &format!("cache-{i}"));
        let out = fx.install(&dirs, &base);
        assert_eq!(run(out.path()), GOOD, "{base}");
        assert_eq!(
            server.requests()[before..],
            [asset.as_str()],
            "{base}: one download of the asset"
        );
    }
}

/// `openssl s_server -WWW` serving `root` over TLS on `ip`, with a fresh self-signed
/// certificate for `localhost`, 127.0.0.1 and 127.0.0.2; stopped when dropped.
struct TlsServer {
    child: std::process::Child,
    port: u16,
    ca: PathBuf,
}

impl TlsServer {
    fn start(ip: &str, root: &Path, dir: &Path) -> TlsServer {
        fs::create_dir_all(dir).expect("mkdir");
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        let status = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
            ])
            .args([
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=stevedore-test",
                "-addext",
            ])
            .arg("subjectAltName=DNS:localhost,IP:127.0.0.1,IP:127.0.0.2")
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("openssl req");
        assert!(status.success(), "openssl req failed");
        let port = TcpListener::bind((ip, 0))
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let child = Command::new("openssl")
            .args(["s_server", "-quiet", "-WWW", "-accept"])
            .arg(format!("{ip}:{port}"))
            .arg("-cert")
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .current_dir(root)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("openssl s_server");
        let server = TlsServer {
            child,
            port,
            ca: cert,
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect((ip, port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "openssl s_server did not listen"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        server
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn https_is_accepted_for_any_host() {
    // 127.0.0.2 is refused over http (not on the loopback allow-list) but, like any host,
    // accepted over https, where the certificate (trusted here through CURL_CA_BUNDLE)
    // vouches for it.
    let fx = Fixture::new(LINUX);
    let tls = TlsServer::start("127.0.0.2", &fx.release, &fx.root.join("tls"));
    for (i, base) in [
        format!("https://127.0.0.2:{}", tls.port),
        format!("https://127.0.0.2:{}/", tls.port),
    ]
    .iter()
    .enumerate()
    {
        let dirs = fx.dirs(&format!("temp-{i}"), &format!("cache-{i}"));
        let out = fx.install_env(&dirs, base, &[("CURL_CA_BUNDLE", &tls.ca)]);
        assert!(
            out.log.contains(&format!(
                "downloading https://127.0.0.2:{}/v{VERSION}/",
                tls.port
            )),
            "{}",
            out.log
        );
        assert_eq!(run(out.path()), GOOD, "{base}");
    }
    let dirs = fx.dirs("temp-http", "cache-http");
    let out = fx.install(&dirs, &format!("http://127.0.0.2:{}", tls.port));
    assert!(!out.ok && out.path.is_none(), "{}", out.log);
}

/// The `if:` of action.yml's credentials step, which alone hands `ACTIONS_RUNTIME_TOKEN`
/// to the binary: it reads the `destinations` step's answer.
const CREDENTIALS_IF: &str = "steps.destinations.outputs.artifact == 'true'";

/// Whether action.yml hands the token over for `destination`: its `destinations` step
/// itself, run with bash as the runner runs it (`DESTINATION` from `env:`), read back from
/// its `$GITHUB_OUTPUT`.
fn credentials_handed_over(destination: &str) -> bool {
    let text = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("action.yml"))
        .expect("action.yml");
    let action = yaml_rust2::YamlLoader::load_from_str(&text).expect("yaml");
    let steps = action[0]["runs"]["steps"].as_vec().expect("steps");
    let step = steps
        .iter()
        .find(|s| s["id"].as_str() == Some("destinations"))
        .expect("the destinations step");
    let script = step["run"].as_str().expect("its run");
    let dir = tempfile::tempdir().expect("tmp");
    let output = dir.path().join("output");
    fs::write(&output, "").expect("touch");
    let status = Command::new("bash")
        .args(["-e", "-c", script])
        .env("DESTINATION", destination)
        .env("GITHUB_OUTPUT", &output)
        .status()
        .expect("bash");
    assert!(status.success(), "{destination:?}");
    parse_outputs(&fs::read_to_string(&output).expect("outputs"))["artifact"] == "true"
}

#[test]
fn a_destination_that_resolves_to_artifact_always_gets_the_token() {
    let action = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("action.yml"))
        .expect("action.yml");
    assert!(
        action.contains(&format!("if: {CREDENTIALS_IF}\n")),
        "action.yml's credentials step condition changed; update CREDENTIALS_IF"
    );

    let ctx = Ctx::new();
    ctx.file("dist/a.txt", "a");
    for destination in [
        "",
        " ",
        "  \n",
        "\t\n\n",
        "# none yet",
        "\n# artifact, later\n",
        "none",
        "./out",
        "artifact",
        "\n  artifact  \n",
        "./out\n# artifact",
        "./out\nartifact",
        "./artifacts",
        "s3://bucket/artifact",
        "release\n./artifact-staging",
    ] {
        // With the credentials step skipped, the run step's env holds empty values.
        let run = ctx.action_env(
            &[("path", "dist"), ("destination", destination)],
            &[
                ("ACTIONS_RUNTIME_TOKEN".into(), String::new()),
                ("ACTIONS_RESULTS_URL".into(), String::new()),
            ],
        );
        let wants_artifact = run.log().contains("ACTIONS_RUNTIME_TOKEN");
        let handed = credentials_handed_over(destination);
        assert_eq!(
            handed,
            wants_artifact || destination.is_empty(),
            "destination {destination:?}: the token goes exactly to a run that uploads an artifact\n{}",
            run.log()
        );
        let no_destination_line = !destination.is_empty()
            && destination.lines().all(|l| {
                let l = l.trim();
                l.is_empty() || l.starts_with('#')
            });
        if no_destination_line {
            assert_eq!(run.code, 2, "{destination:?}\n{}", run.log());
            assert!(
                run.stdout.contains(
                    "input `destination`: holds no destination, only blanks or `#` comments"
                ),
                "{destination:?}\n{}",
                run.log()
            );
        }
    }
}

/// The `if:` of download/action.yml's credentials step.
const DOWNLOAD_CREDENTIALS_IF: &str = "inputs.github-token == ''";

/// [`DOWNLOAD_CREDENTIALS_IF`] as the runner evaluates it.
fn download_credentials_handed_over(github_token: &str) -> bool {
    github_token.is_empty()
}

#[test]
fn the_download_sub_action_hands_the_token_over_exactly_when_this_runs_artifacts_are_read() {
    let action =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("download/action.yml"))
            .expect("download/action.yml");
    assert!(
        action.contains(&format!("if: {DOWNLOAD_CREDENTIALS_IF}\n")),
        "download/action.yml's credentials step condition changed; update DOWNLOAD_CREDENTIALS_IF"
    );
    let github = crate::support::github::github();
    let ctx = Ctx::new();
    // The action's defaults are this run; the others name another run or repository.
    for (token, repository, run_id) in [
        ("", "octo/this", "4242"),
        ("", "octo/other", "17"),
        ("ghs_given", "octo/this", "4242"),
        ("ghs_given", "octo/other", "17"),
    ] {
        let path = ctx.ws.join("out");
        let out = ctx
            .step_command(
                STEVEDORE,
                &[
                    ("name", "anything"),
                    ("path", path.to_str().expect("utf-8")),
                    ("github-token", token),
                    ("repository", repository),
                    ("run-id", run_id),
                    ("merge-multiple", "false"),
                    ("digest-mismatch", "error"),
                ],
                &owned(&[
                    ("GITHUB_REPOSITORY", "octo/this"),
                    ("GITHUB_RUN_ID", "4242"),
                    ("GITHUB_API_URL", &github.url),
                    // With the credentials step skipped, the run step's env holds empty values.
                    ("ACTIONS_RUNTIME_TOKEN", ""),
                    ("ACTIONS_RESULTS_URL", ""),
                ]),
            )
            .arg("download")
            .output()
            .expect("stevedore download");
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_ne!(out.status.code(), Some(0), "nothing to download:\n{log}");
        let wants_runtime_token = log.contains("ACTIONS_RUNTIME_TOKEN");
        assert_eq!(
            wants_runtime_token,
            download_credentials_handed_over(token),
            "github-token {token:?}, repository {repository}, run {run_id}: the binary \
             {} this run's token but download/action.yml {} it over\n{log}",
            if wants_runtime_token {
                "needs"
            } else {
                "does not need"
            },
            if download_credentials_handed_over(token) {
                "hands"
            } else {
                "does not hand"
            },
        );
        assert!(!ctx.ws.join("out").exists(), "{log}");
    }
}

/// A ref without released binaries is built from source: in the install's private
/// directory, and what runs is that build's copy, never a shared target directory an
/// earlier step could have filled (a `cargo` that keeps what it finds stands in for
/// cargo's own up-to-date check).
#[test]
fn a_build_from_source_runs_only_its_own_private_build() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = fs::canonicalize(dir.path()).expect("canonical");
    let src = Path::new(env!("CARGO_MANIFEST_DIR"));
    let action = root.join("action");
    fs::create_dir_all(action.join("dist")).expect("mkdir");
    for file in ["dist/install.sh", "dist/manifest.txt"] {
        fs::copy(src.join(file), action.join(file)).expect("copy");
    }
    let manifest = fs::read_to_string(action.join("dist/manifest.txt")).expect("manifest");
    assert!(
        !manifest.contains(LINUX.target),
        "this test needs a manifest without a binary for {}",
        LINUX.target
    );
    let bin = root.join("bin");
    fs::create_dir(&bin).expect("mkdir");
    let cargo = bin.join("cargo");
    fs::write(
        &cargo,
        "#!/bin/sh\nwhile [ $# -gt 0 ]; do [ \"$1\" = --target-dir ] && dir=$2; shift; done\n\
         [ -x \"$dir/release/stevedore\" ] && exit 0\n\
         mkdir -p \"$dir/release\" && printf '%s' \"$PROGRAM\" > \"$dir/release/stevedore\" && chmod 755 \"$dir/release/stevedore\"\n",
    )
    .expect("cargo");
    fs::set_permissions(&cargo, fs::Permissions::from_mode(0o755)).expect("chmod");
    let temp = root.join("runner-temp");
    // What an earlier step of the job left where the old installer built.
    let planted = temp.join("stevedore-build/release/stevedore");
    fs::create_dir_all(planted.parent().expect("parent")).expect("mkdir");
    fs::write(&planted, program(EVIL)).expect("plant");
    fs::set_permissions(&planted, fs::Permissions::from_mode(0o755)).expect("chmod");
    let output = root.join("github_output");
    fs::write(&output, "").expect("touch");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![bin];
    paths.extend(std::env::split_paths(&path));
    let tool_cache = root.join("tool-cache");
    let step = InstallStep {
        action_path: &action,
        os: LINUX.os,
        arch: LINUX.arch,
        temp: &temp,
        tool_cache: &tool_cache,
        output: &output,
    };
    let out = step
        .command("bash")
        .arg(action.join("dist/install.sh"))
        .env("PROGRAM", String::from_utf8(program(GOOD)).expect("utf-8"))
        .env("PATH", std::env::join_paths(paths).expect("PATH"))
        .output()
        .expect("install.sh");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{log}");
    assert!(log.contains("building from source"), "{log}");
    let emitted = PathBuf::from(&parse_outputs(&fs::read_to_string(&output).expect("out"))["path"]);
    assert_eq!(
        run(&emitted),
        GOOD,
        "the private build runs, not the planted one"
    );
    let private = emitted.parent().expect("its directory");
    assert!(
        private.parent() == Some(temp.as_path())
            && private
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("stevedore.")),
        "{}",
        emitted.display()
    );
    assert_eq!(
        fs::metadata(private).expect("meta").permissions().mode() & 0o777,
        0o700
    );
    assert!(
        !private.join("build").exists(),
        "the build directory is gone"
    );
}
