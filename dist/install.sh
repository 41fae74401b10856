#!/usr/bin/env bash
# Installs the stevedore binary for this runner and prints `path=<binary>` to $GITHUB_OUTPUT.
#
# Fail closed: a downloaded binary runs only if its SHA-256 equals the value committed in
# dist/manifest.txt next to this script. No hash tool, no match, no download: no run.
#
# The path printed is a private copy (a fresh directory under RUNNER_TEMP, mode 700) whose
# own bytes were hashed just before: the tool cache is shared and writable by earlier steps
# (and, on self-hosted runners, earlier jobs), so the binary that later runs with the token
# is never the cache file itself.
#
# Environment:
#   GITHUB_ACTION_PATH          the action's directory (set by the runner)
#   RUNNER_OS, RUNNER_ARCH      platform (set by the runner)
#   RUNNER_TOOL_CACHE           cache root; binaries are kept under stevedore/<version>/<target>
#   RUNNER_TEMP                 scratch space; the private copy is made here
#   STEVEDORE_DOWNLOAD_BASE     override of https://github.com/<repository>/releases/download
#                               (mirrors, tests); http:// is accepted only for 127.0.0.1,
#                               localhost or [::1]; user information (`user@`) never
# Works in bash 3.2+ on Linux and macOS and in Git Bash on Windows.
set -euo pipefail
# Byte-wise patterns and comparisons whatever the runner's locale.
LC_ALL=C
export LC_ALL

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

scratch=${RUNNER_TEMP:-${TMPDIR:-/tmp}}

# The private directory of this install: what runs is $run_copy and nothing else.
private=$(mktemp -d "$scratch/stevedore.XXXXXX") || fail "cannot create a directory under $scratch"
chmod 700 "$private"
run_copy="$private/$exe"
# Removed on any failure; kept (it is what runs) once emitted.
trap 'rm -rf "$private"' EXIT

# Emits the private copy, whose own bytes were just hashed and matched (or just built in
# the private directory).
emit_run_copy() {
  chmod 700 "$run_copy"
  trap - EXIT
  emit "$run_copy"
  exit 0
}

if [ -z "$expected" ]; then
  # No released binary for this commit: build it from the action's own sources, in the
  # private directory (a shared target directory could hold what an earlier step put
  # there, which cargo would take for its own build), and run only that build's copy.
  if command -v cargo >/dev/null 2>&1; then
    say "stevedore $version has no prebuilt binary for $target in this ref; building from source"
    build_dir="$private/build"
    cargo build --release --locked --quiet --manifest-path "$action_dir/Cargo.toml" --target-dir "$build_dir" >&2 ||
      fail "building stevedore from source failed (see above)"
    cp "$build_dir/release/$exe" "$run_copy" || fail "the build left no $build_dir/release/$exe"
    rm -rf "$build_dir"
    emit_run_copy
  fi
  fail "this ref of stevedore has no prebuilt binary for $target and cargo is not installed; use a release tag (uses: ${repository:-OWNER/stevedore}@v1) or install Rust on the runner"
fi
case "$expected" in
  *[!0-9a-f]* | "") fail "malformed SHA-256 for $target in $manifest" ;;
esac
[ ${#expected} -eq 64 ] || fail "malformed SHA-256 for $target in $manifest"

# Validates STEVEDORE_DOWNLOAD_BASE and sets `protocols`. The authority (up to the first
# `/`) is parsed, not matched by prefix: `http://127.0.0.1:80@evil.example` is the host
# evil.example. User information is refused for every scheme (and never printed: it may
# be a credential); plain http only for a loopback host with an optional numeric port.
check_base() {
  local url=$1 scheme rest authority host port has_port
  case "$url" in
    *[[:cntrl:][:space:]]*) fail "STEVEDORE_DOWNLOAD_BASE must not contain spaces or control characters" ;;
    https://*) scheme=https ;;
    http://*) scheme=http ;;
    *) fail "STEVEDORE_DOWNLOAD_BASE must be an https:// URL (http:// only for 127.0.0.1, localhost or [::1]): $url" ;;
  esac
  rest=${url#*://}
  authority=${rest%%/*}
  case "$authority" in
    *@*) fail "STEVEDORE_DOWNLOAD_BASE must not contain user information (\`user@\` before the host); the URL is not shown, as that part may be a credential" ;;
    *[!]A-Za-z0-9.:[_-]*) fail "STEVEDORE_DOWNLOAD_BASE has characters that do not belong in a host name ($authority): $url" ;;
  esac
  has_port=no
  port=
  case "$authority" in
    \[*\]) host=$authority ;;
    \[*\]:*) host="${authority%%]*}]" port=${authority#*]:} has_port=yes ;;
    *:*) host=${authority%%:*} port=${authority#*:} has_port=yes ;;
    *) host=$authority ;;
  esac
  [ -n "$host" ] || fail "STEVEDORE_DOWNLOAD_BASE has no host: $url"
  if [ "$has_port" = yes ]; then
    case "$port" in
      "" | *[!0-9]*) fail "STEVEDORE_DOWNLOAD_BASE has a port that is not a number ($port): $url" ;;
    esac
  fi
  protocols='=https'
  if [ "$scheme" = http ]; then
    case "$host" in
      127.0.0.1 | localhost | '[::1]') protocols='=http,https' ;;
      *) fail "STEVEDORE_DOWNLOAD_BASE must be an https:// URL (http:// only for 127.0.0.1, localhost or [::1]): $url" ;;
    esac
  fi
}

# Checked before the cache is looked at: a bad setting fails every run, not only the
# next download.
base=${STEVEDORE_DOWNLOAD_BASE:-https://github.com/$repository/releases/download}
base=${base%/}
protocols=
check_base "$base"

cache_root=${RUNNER_TOOL_CACHE:-$scratch}
cache_dir="$cache_root/stevedore/$version/$target"
cached="$cache_dir/$exe"
# The cache is writable by earlier steps, so a cached copy is trusted no more than a
# download: on every use it is copied, and the copy is verified and run.
if [ -f "$cache_dir/.complete" ] && [ -f "$cached" ] && cp "$cached" "$run_copy" 2>/dev/null; then
  actual=$(sha256_of "$run_copy")
  if [ "$actual" = "$expected" ]; then
    say "verified SHA-256 $actual (cached in $cache_dir)"
    emit_run_copy
  fi
  rm -f "$run_copy"
  say "the cached copy in $cache_dir does not match dist/manifest.txt (got $actual); downloading again"
fi

url="$base/v$version/stevedore-$version-$target"
case "$target" in *windows*) url="$url.exe" ;; esac

command -v curl >/dev/null 2>&1 || fail "curl is required to download stevedore"
say "downloading $url"
# --globoff: `[::1]` is a host, not a curl range; redirects (GitHub sends one to its
# object store) are followed over https only.
curl --proto "$protocols" --proto-redir '=https' --tlsv1.2 --globoff --fail --silent --show-error --location \
  --retry 3 --retry-delay 2 --retry-connrefused --connect-timeout 20 --max-time 300 \
  --output "$run_copy" "$url" || fail "download failed: $url"

actual=$(sha256_of "$run_copy")
if [ "$actual" != "$expected" ]; then
  fail "SHA-256 mismatch for $url: expected $expected (dist/manifest.txt), got $actual; refusing to run it"
fi
say "verified SHA-256 $actual"
# Kept for the next use, which verifies its own copy again. Best effort: a read-only tool
# cache does not stop the run. Replace, never append to, a previous attempt; mark
# complete only after the rename.
if mkdir -p "$cache_dir" 2>/dev/null && rm -f "$cache_dir/.complete" 2>/dev/null &&
  cp "$run_copy" "$cache_dir/.$exe.$$.partial" 2>/dev/null &&
  mv -f "$cache_dir/.$exe.$$.partial" "$cached" 2>/dev/null && touch "$cache_dir/.complete" 2>/dev/null; then
  :
else
  rm -f "$cache_dir/.$exe.$$.partial" 2>/dev/null || true
  say "could not keep a copy in $cache_dir; the next use downloads again"
fi
emit_run_copy
