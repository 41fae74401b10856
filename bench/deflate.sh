#!/usr/bin/env bash
# Deflate backends side by side (issue 25): zlib-rs (shipped), zlib-ng, libdeflate, on the
# small-text corpus, same units, same level. zlib-ng's build needs cmake (Debian's).
#
# usage: bench/deflate.sh [--level N] [--threads N] [--repeats N]
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v cmake >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cmake >/dev/null
fi
python3 corpus.py small-text corpus/small-text
(cd deflate && cargo build --release --locked)
exec deflate/target/release/deflate-backends corpus/small-text/data "$@"
