#!/usr/bin/env python3
"""Deterministic benchmark corpora (DESIGN.md, "Performance targets").

  many-small: 100,000 files of 1-64 KiB, sizes log-uniform, 10% duplicates of earlier
              files, in 256 directories (~1.56 GB)
  few-large:  200 files of 500 KiB and 8 of 64 MiB (~640 MB)

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


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("kind", choices=["many-small", "few-large"])
    p.add_argument("dir")
    p.add_argument("--seed", type=int, default=20261122)
    a = p.parse_args()
    marker = os.path.join(a.dir, f".complete-{a.kind}-{a.seed}")
    if os.path.exists(marker):
        return
    rng = random.Random(a.seed)
    root = os.path.join(a.dir, "data")
    {"many-small": many_small, "few-large": few_large}[a.kind](root, rng)
    open(marker, "w").close()
    print(f"built {a.kind} in {root}", file=sys.stderr)


if __name__ == "__main__":
    main()
