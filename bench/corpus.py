#!/usr/bin/env python3
"""Deterministic benchmark corpora (DESIGN.md, "Performance targets").

  many-small: 100,000 files of 1-64 KiB, sizes log-uniform, 10% duplicates of earlier
              files, in 256 directories (~1.56 GB)
  few-large:  200 files of 500 KiB and 8 of 64 MiB (~640 MB)
  small-text: 10,000 text files of 1-64 KiB, log-uniform (~185 MB; compressible, like
              source maps, bundles, reports), for the artifact upload benchmark
  mixed-1g:   ~1 GiB mixed: 48 text files of 10 MiB (compressible) and 8 random binaries
              of 64 MiB (incompressible), for the artifact upload benchmark

Content is pseudo-random bytes from a seeded generator, so every run and every machine
builds the same bytes. A corpus is rebuilt only when its marker file is missing.

usage: corpus.py many-small|few-large DIR [--seed N]
"""
import argparse
import math
import os
import random
import sys

KIB = 1024


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def many_small(root, rng):
    files = 100_000
    sizes = []
    for i in range(files):
        # Log-uniform between 1 KiB and 64 KiB.
        sizes.append(int(math.exp(rng.uniform(math.log(KIB), math.log(64 * KIB)))))
    # A pool of random bytes to slice from keeps generation fast; each file gets its own
    # offset and a unique 16-byte header, so no two non-duplicate files are equal.
    pool = rng.randbytes(8 * 1024 * KIB)
    written = []
    for i, size in enumerate(sizes):
        path = os.path.join(root, f"d{i % 256:03d}", f"f{i:06d}.bin")
        if written and rng.random() < 0.10:
            # A duplicate of an earlier file (same bytes, same size).
            src = written[rng.randrange(len(written))]
            with open(src, "rb") as f:
                data = f.read()
        else:
            off = rng.randrange(len(pool) - size)
            header = i.to_bytes(8, "little") + rng.randbytes(8)
            data = (header + pool[off:off + size])[:size]
            written.append(path)
        write(path, data)


def few_large(root, rng):
    for i in range(200):
        write(os.path.join(root, "small", f"s{i:03d}.bin"), rng.randbytes(500 * KIB))
    for i in range(8):
        write(os.path.join(root, "large", f"l{i}.bin"), rng.randbytes(64 * 1024 * KIB))


WORDS = (
    "const let return function value error warning index build release artifact upload "
    "stevedore checksum manifest module import export default async await string number "
    "true false null undefined object array length push map filter reduce 0 1 2 42 256 "
    "src dist target debug info trace span event path name size hash digest url"
).split()


def text_pool(rng, size):
    """Log- and code-like lines: compresses about 3-4x with deflate, as real text does."""
    out = []
    total = 0
    n = 0
    while total < size:
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(4, 14)))
        line = f"{n:08d} [{rng.choice(('INFO', 'WARN', 'DEBUG'))}] {words} {rng.getrandbits(32):08x}\n"
        out.append(line)
        total += len(line)
        n += 1
    return "".join(out).encode()[:size]


def small_text(root, rng):
    pool = text_pool(rng, 16 * 1024 * KIB)
    for i in range(10_000):
        size = int(math.exp(rng.uniform(math.log(KIB), math.log(64 * KIB))))
        off = rng.randrange(len(pool) - size)
        write(os.path.join(root, f"d{i % 100:02d}", f"f{i:05d}.txt"), pool[off:off + size])


def mixed_1g(root, rng):
    pool = text_pool(rng, 64 * 1024 * KIB)
    for i in range(48):
        off = rng.randrange(len(pool) - 10 * 1024 * KIB)
        write(os.path.join(root, "logs", f"t{i:02d}.log"), pool[off:off + 10 * 1024 * KIB])
    for i in range(8):
        write(os.path.join(root, "bin", f"b{i}.bin"), rng.randbytes(64 * 1024 * KIB))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("kind", choices=["many-small", "few-large", "small-text", "mixed-1g"])
    p.add_argument("dir")
    p.add_argument("--seed", type=int, default=20261122)
    a = p.parse_args()
    marker = os.path.join(a.dir, f".complete-{a.kind}-{a.seed}")
    if os.path.exists(marker):
        return
    rng = random.Random(a.seed)
    root = os.path.join(a.dir, "data")
    {"many-small": many_small, "few-large": few_large, "small-text": small_text, "mixed-1g": mixed_1g}[a.kind](root, rng)
    open(marker, "w").close()
    print(f"built {a.kind} in {root}", file=sys.stderr)


if __name__ == "__main__":
    main()
