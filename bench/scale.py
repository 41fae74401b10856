#!/usr/bin/env python3
"""Scan time and peak RSS against the number of files (issue 12: a million files in at most
256 MiB, time linear in the count).

Grows one tree of small files (1-256 bytes, log-uniform, seeded; 1,000 files per
directory) under bench/corpus/scale to each count in turn, warms it with `vmtouch -t`,
and times `stevedore --destination none` on it (median of REPEATS, interleaved with the
floor, examples/floor.rs). The tree is deleted at the end, also on failure: a million
files take about 4 GB of disk (one block each).

usage: scale.py [--counts 100000,300000,1000000] [--repeats N] [--binary LABEL=PATH ...]
"""
import argparse
import math
import os
import random
import shutil
import statistics
import subprocess
import sys

from timing import timed_cpu

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TREE = os.path.join(HERE, "corpus", "scale")
STEVEDORE = os.path.join(ROOT, "target", "release", "stevedore")
FLOOR = os.path.join(ROOT, "target", "release", "examples", "floor")
PER_DIR = 1000


def grow(data, have, want, rng):
    """Adds files have..want-1; file i's bytes depend only on i and the seed."""
    for i in range(have, want):
        d = os.path.join(data, f"d{i // PER_DIR:04d}")
        if i % PER_DIR == 0:
            os.makedirs(d, exist_ok=True)
        r = random.Random(rng * 1_000_003 + i)
        size = int(math.exp(r.uniform(0, math.log(256))))
        with open(os.path.join(d, f"f{i:07d}.txt"), "wb") as f:
            f.write(r.randbytes(size))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--counts", default="100000,300000,1000000")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seed", type=int, default=20261130)
    p.add_argument("--binary", action="append", default=[], metavar="LABEL=PATH")
    a = p.parse_args()
    counts = sorted(int(c) for c in a.counts.split(","))
    bins = [("stevedore", STEVEDORE)]
    for spec in a.binary:
        label, _, path = spec.partition("=")
        if not path or not os.path.exists(path):
            raise SystemExit(f"--binary {spec}: expected LABEL=PATH of an existing binary")
        bins.append((f"stevedore [{label}]", os.path.abspath(path)))
    for _, path in bins + [("floor", FLOOR)]:
        if not os.path.exists(path):
            raise SystemExit(f"{path} is missing: cargo build --release --bin stevedore --example floor")
    data = os.path.join(TREE, "data")
    work = os.path.join(TREE, "work")
    shutil.rmtree(TREE, ignore_errors=True)
    os.makedirs(data)
    env = dict(os.environ, TMPDIR=work)
    env.pop("GITHUB_ACTIONS", None)
    results = []
    try:
        have = 0
        for n in counts:
            grow(data, have, n, a.seed)
            have = n
            cmds = [(label, [path, "--path", data, "--destination", "none", "--summary", "false"])
                    for label, path in bins] + [("floor", [FLOOR, data])]
            samples = {label: ([], [], []) for label, _ in cmds}
            for _ in range(a.repeats):
                for label, cmd in cmds:
                    subprocess.run(["vmtouch", "-qt", data], check=True)
                    os.makedirs(work, exist_ok=True)
                    t, m, cpu = timed_cpu(cmd, env)
                    shutil.rmtree(work, ignore_errors=True)
                    for values, v in zip(samples[label], (t, m, cpu)):
                        values.append(v)
            for label, (ts, ms, cs) in samples.items():
                results.append((n, label, statistics.median(ts), statistics.median(cs), max(ms)))
            print(f"scale: {n:,} files done", file=sys.stderr)
        # Printed before the (slow) deletion of the tree.
        print(f"\n## scale: small files (1-256 bytes), median of {a.repeats}, {os.cpu_count()} cores\n")
        print("| files | command | median s | CPU s | CPU us per file | peak RSS MiB |")
        print("|---:|---|---:|---:|---:|---:|")
        for n, label, t, cpu, m in results:
            print(f"| {n:,} | {label} | {t:.2f} | {cpu:.2f} | {cpu / n * 1e6:.1f} | {m / 2**20:.1f} |")
        sys.stdout.flush()
    finally:
        shutil.rmtree(TREE, ignore_errors=True)


if __name__ == "__main__":
    main()
