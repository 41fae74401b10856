//! The release binaries and the install step: what `dist/install.sh` is given by the
//! runner, written once ([`InstallStep`]).

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use crate::support::tree::walk;

/// The version `dist/manifest.txt` pins, which names the release assets.
pub const VERSION: &str = "0.1.0";

/// Where the release host keeps the asset of `target`: `v<VERSION>/stevedore-<VERSION>-<target><suffix>`.
pub fn asset_path(target: &str, suffix: &str) -> String {
    format!("v{VERSION}/stevedore-{VERSION}-{target}{suffix}")
}

/// Writes `binary` as the asset of `target` below `release` (a release host's root,
/// created); returns its path.
pub fn release_asset(release: &Path, target: &str, suffix: &str, binary: &[u8]) -> PathBuf {
    let asset = release.join(asset_path(target, suffix));
    fs::create_dir_all(asset.parent().expect("parent")).expect("mkdir");
    fs::write(&asset, binary).expect("asset");
    asset
}

/// `dir/dist/install.sh` and `dir/dist/manifest.txt` as a release commit holds them: this
/// tree's installer, and its manifest (which must pin [`VERSION`]) with the line
/// `<target> <sha256>` added.
pub fn pinned_installer(dir: &Path, target: &str, sha256: &str) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"));
    fs::create_dir_all(dir.join("dist")).expect("mkdir");
    fs::copy(src.join("dist/install.sh"), dir.join("dist/install.sh")).expect("copy install.sh");
    let manifest = fs::read_to_string(src.join("dist/manifest.txt")).expect("manifest");
    let version_line = manifest
        .lines()
        .find(|l| l.starts_with("version "))
        .expect("version line");
    assert_eq!(version_line, format!("version {VERSION}"));
    assert!(
        manifest.contains(&format!("\nversion {VERSION}\n")),
        "{manifest}"
    );
    fs::write(
        dir.join("dist/manifest.txt"),
        format!("{manifest}{target} {sha256}\n"),
    )
    .expect("write manifest");
}

/// The release binary `scripts/build-release TARGET` built (`scripts/test` builds the two
/// Linux targets before the tests), in the target directory of this test binary. Absent
/// or older than a source file, it is not what this tree would ship: the test fails and
/// says how to build it, rather than test another build.
pub fn release_binary(target: &str) -> PathBuf {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_stevedore"));
    let target_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the binary is in <target dir>/<profile>/");
    let name = if target.contains("windows") {
        "stevedore.exe"
    } else {
        "stevedore"
    };
    let bin = target_dir.join(target).join("release").join(name);
    let built = fs::metadata(&bin)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| {
            panic!(
                "no release binary for {target} at {} ({e}): run `scripts/build-release {target}` (scripts/test does)",
                bin.display()
            )
        });
    let src = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sources: Vec<PathBuf> = walk(&src.join("src"))
        .into_iter()
        .filter(|f| !f.is_dir())
        .map(|f| f.path)
        .collect();
    sources.extend([src.join("Cargo.toml"), src.join("Cargo.lock")]);
    let mut newest = (SystemTime::UNIX_EPOCH, PathBuf::new());
    for path in sources {
        let modified = fs::metadata(&path)
            .and_then(|m| m.modified())
            .expect("source mtime");
        if modified > newest.0 {
            newest = (modified, path);
        }
    }
    assert!(
        built >= newest.0,
        "the release binary {} is older than {}: run `scripts/build-release {target}` (scripts/test does)",
        bin.display(),
        newest.1.display()
    );
    bin
}

/// What the runner gives the action's install step: `GITHUB_ACTION_PATH`, `RUNNER_OS`,
/// `RUNNER_ARCH`, `RUNNER_TEMP`, `RUNNER_TOOL_CACHE` and `GITHUB_OUTPUT`.
pub struct InstallStep<'a> {
    /// `GITHUB_ACTION_PATH`: the directory of the action (or sub-action) being run.
    pub action_path: &'a Path,
    pub os: &'a str,
    pub arch: &'a str,
    pub temp: &'a Path,
    pub tool_cache: &'a Path,
    pub output: &'a Path,
}

impl InstallStep<'_> {
    /// `program` with the install step's variables on top of this process's environment.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("GITHUB_ACTION_PATH", self.action_path)
            .env("RUNNER_OS", self.os)
            .env("RUNNER_ARCH", self.arch)
            .env("RUNNER_TEMP", self.temp)
            .env("RUNNER_TOOL_CACHE", self.tool_cache)
            .env("GITHUB_OUTPUT", self.output);
        cmd
    }
}

/// Runs dist/install.sh as the action's install step does on a Linux runner of `arch`
/// (`RUNNER_ARCH`: `X64`, `ARM64`), with its own tool cache.
pub fn run_installer(repo: &Path, cache: &Path, base: &str, arch: &str) -> std::process::Output {
    fs::create_dir_all(cache).expect("cache");
    let output = cache.join("github_output");
    let step = InstallStep {
        action_path: repo,
        os: "Linux",
        arch,
        temp: cache,
        tool_cache: cache,
        output: &output,
    };
    step.command("bash")
        .arg("dist/install.sh")
        .current_dir(repo)
        .env("STEVEDORE_DOWNLOAD_BASE", base)
        .output()
        .expect("install.sh runs")
}
