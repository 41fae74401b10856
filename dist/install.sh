#!/usr/bin/env bash
# Installs the stevedore binary for this runner and prints `path=<binary>` to $GITHUB_OUTPUT.
#
# Fail closed: a downloaded binary runs only if its SHA-256 equals the value committed in
# dist/manifest.txt next to this script. No hash tool, no match, no download: no run.
#
# Environment:
#   GITHUB_ACTION_PATH          the action's directory (set by the runner)
#   RUNNER_OS, RUNNER_ARCH      platform (set by the runner)
#   RUNNER_TOOL_CACHE           cache root; binaries are kept under stevedore/<version>/<target>
#   RUNNER_TEMP                 scratch space
#   STEVEDORE_DOWNLOAD_BASE     override of https://github.com/<repository>/releases/download
#                               (mirrors, tests); http:// is accepted only for 127.0.0.1/localhost
# Works in bash on Linux and macOS and in Git Bash on Windows.
set -euo pipefail

say() { printf 'stevedore install: %s\n' "$*"; }
fail() {
  printf '::error title=stevedore install::%s\n' "$*"
  exit 1
}

action_dir=${GITHUB_ACTION_PATH:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
manifest="$action_dir/dist/manifest.txt"
[ -f "$manifest" ] || fail "missing $manifest"

field() { awk -v k="$1" '$1 == k { print $2; exit }' "$manifest"; }
repository=$(field repository)
version=$(field version)
[ -n "$version" ] || fail "no version in $manifest"

case "${RUNNER_OS:-$(uname -s)}/${RUNNER_ARCH:-$(uname -m)}" in
  Linux/X64 | Linux/x86_64) target=x86_64-unknown-linux-musl ;;
  Linux/ARM64 | Linux/aarch64) target=aarch64-unknown-linux-musl ;;
  macOS/X64 | Darwin/x86_64) target=x86_64-apple-darwin ;;
  macOS/ARM64 | Darwin/arm64) target=aarch64-apple-darwin ;;
  Windows/X64) target=x86_64-pc-windows-msvc ;;
  Windows/ARM64) target=aarch64-pc-windows-msvc ;;
  *) fail "no stevedore build for ${RUNNER_OS:-?}/${RUNNER_ARCH:-?}; supported: Linux, macOS and Windows on X64 or ARM64" ;;
esac
exe=stevedore
case "$target" in *windows*) exe=stevedore.exe ;; esac

# Chosen before anything else, so a runner without one fails here, loudly. The file is
# read from standard input: given a path holding a backslash (every Windows runner:
# D:\a\_temp), GNU sha256sum escapes its output line and prints `\<hex>`.
if command -v sha256sum >/dev/null 2>&1; then
  sha256_of() { sha256sum < "$1" | awk '{ print $1 }'; }
elif command -v shasum >/dev/null 2>&1; then
  sha256_of() { shasum -a 256 < "$1" | awk '{ print $1 }'; }
else
  fail "neither sha256sum nor shasum is available: cannot verify the stevedore binary, refusing to run it"
fi

emit() {
  say "using $1"
  if [ -n "${GITHUB_OUTPUT:-}" ]; then
    printf 'path=%s\n' "$1" >> "$GITHUB_OUTPUT"
  else
    printf '%s\n' "$1"
  fi
}

expected=$(awk -v t="$target" '$1 == t { print $2; exit }' "$manifest")

if [ -z "$expected" ]; then
  # No released binary for this commit: build it from the action's own sources.
  if command -v cargo >/dev/null 2>&1; then
    say "stevedore $version has no prebuilt binary for $target in this ref; building from source"
    build_dir="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/stevedore-build"
    cargo build --release --locked --quiet --manifest-path "$action_dir/Cargo.toml" --target-dir "$build_dir" >&2
    emit "$build_dir/release/$exe"
    exit 0
  fi
  fail "this ref of stevedore has no prebuilt binary for $target and cargo is not installed; use a release tag (uses: ${repository:-OWNER/stevedore}@v1) or install Rust on the runner"
fi
case "$expected" in
  *[!0-9a-f]* | "") fail "malformed SHA-256 for $target in $manifest" ;;
esac
[ ${#expected} -eq 64 ] || fail "malformed SHA-256 for $target in $manifest"

cache_root=${RUNNER_TOOL_CACHE:-${RUNNER_TEMP:-${TMPDIR:-/tmp}}}
cache_dir="$cache_root/stevedore/$version/$target"
cached="$cache_dir/$exe"
# A cached copy is reused only when complete and still matching: the cache is writable by
# earlier steps, so it is verified like a download.
if [ -f "$cache_dir/.complete" ] && [ -f "$cached" ] && [ "$(sha256_of "$cached")" = "$expected" ]; then
  emit "$cached"
  exit 0
fi

base=${STEVEDORE_DOWNLOAD_BASE:-https://github.com/$repository/releases/download}
base=${base%/}
protocols='=https'
case "$base" in
  https://*) ;;
  http://127.0.0.1:* | http://127.0.0.1/* | http://localhost:* | http://localhost/*) protocols='=http,https' ;;
  *) fail "STEVEDORE_DOWNLOAD_BASE must be an https:// URL (http:// only for 127.0.0.1 or localhost): $base" ;;
esac
url="$base/v$version/stevedore-$version-$target"
case "$target" in *windows*) url="$url.exe" ;; esac

command -v curl >/dev/null 2>&1 || fail "curl is required to download stevedore"
tmp_dir=$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/stevedore-download.XXXXXX")
trap 'rm -rf "$tmp_dir"' EXIT
download="$tmp_dir/$exe"
say "downloading $url"
curl --proto "$protocols" --tlsv1.2 --fail --silent --show-error --location \
  --retry 3 --retry-delay 2 --retry-connrefused --connect-timeout 20 --max-time 300 \
  --output "$download" "$url" || fail "download failed: $url"

actual=$(sha256_of "$download")
if [ "$actual" != "$expected" ]; then
  fail "SHA-256 mismatch for $url: expected $expected (dist/manifest.txt), got $actual; refusing to run it"
fi
say "verified SHA-256 $actual"
chmod +x "$download"
mkdir -p "$cache_dir"
# Replace, never append to, a previous attempt; mark complete only after the move.
rm -f "$cache_dir/.complete"
mv -f "$download" "$cached"
touch "$cache_dir/.complete"
emit "$cached"
