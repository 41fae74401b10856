#!/usr/bin/env python3
"""Directory destination: stevedore's whole pipeline (select, SHA-256 + secret scan,
manifest, then the verified copy) into a fresh directory, beside `cp -r` of the same tree
as the reference, in one run.

Corpus: small-text (10,000 files, ~185 MB) by default, or many-small or few-large (--only). Each round
runs every command once (interleaved, so a change in load hits every row alike), the
corpus pulled into the page cache before each run. Every copy goes to a new directory on
the same file system and all of them are removed only at the end: removing a tree of many
files just before creating another made ext4's inode allocation scan the recently deleted
ones (bench/download.py has the same rule). Prints the median wall time, the ratio to
stevedore, the median CPU time and peak RSS, and checks that stevedore's last copy holds
the corpus byte for byte.

--xfs runs it all on XFS (a loop device, root; xfsprogs): the corpus copied there, each
copy made there, where stevedore's copies are reflinks of the files (and `cp -r`'s too:
coreutils 9 reflinks where it can).

usage: directory.py [--repeats N] [--only small-text|many-small|few-large] [--binary LABEL=PATH ...] [--xfs]

--binary adds other stevedore builds (a musl release binary, an older commit) to the
same rounds.
"""
import argparse
import filecmp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

from timing import timed_cpu

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CORPUS = os.path.join(HERE, "corpus")
STEVEDORE = os.path.join(ROOT, "target", "release", "stevedore")


# What stevedore writes into a directory destination beside the files.
DOCUMENTS = {"SHA256SUMS", "stevedore-manifest.json"}


def same_tree(a, b):
    """Whether every file under `a` is in `b` with the same bytes, and `b` holds nothing
    else but the two documents."""
    left = sorted(os.path.relpath(os.path.join(d, f), a) for d, _, fs in os.walk(a) for f in fs)
    right = sorted(os.path.relpath(os.path.join(d, f), b) for d, _, fs in os.walk(b) for f in fs)
    if [r for r in right if r not in DOCUMENTS] != left:
        return False
    _, mismatch, errors = filecmp.cmpfiles(a, b, left, shallow=False)
    return not mismatch and not errors


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--only", choices=["small-text", "many-small", "few-large"], default="small-text")
    p.add_argument("--binary", action="append", default=[], metavar="LABEL=PATH")
    p.add_argument("--xfs", action="store_true", help="corpus and copies on an XFS loop mount")
    a = p.parse_args()

    base = os.path.join(CORPUS, a.only)
    subprocess.run([sys.executable, os.path.join(HERE, "corpus.py"), a.only, base], check=True)
    data = os.path.join(base, "data")
    builds = [("stevedore", STEVEDORE)]
    for spec in a.binary:
        label, _, path = spec.partition("=")
        if not os.path.isfile(path):
            sys.exit(f"--binary {spec}: expected LABEL=PATH of an existing binary")
        builds.append((f"stevedore [{label}]", path))

    mount = None
    if a.xfs:
        mount, data = xfs_copy(base, data)
    out = tempfile.mkdtemp(prefix="stevedore-bench-dir-", dir=mount or base)
    env = dict(os.environ, TMPDIR=out)
    env.pop("GITHUB_ACTIONS", None)
    rows = {name: [] for name, _ in builds}
    rows["reference: cp -r"] = []
    n = 0
    try:
        for _ in range(a.repeats + 1):  # the first round warms up and is not counted
            for name, binary in builds + [("reference: cp -r", None)]:
                n += 1
                dest = os.path.join(out, f"copy-{n}")
                subprocess.run(["vmtouch", "-qt", data], check=True)
                if binary is None:
                    cmd = ["cp", "-r", data, dest]
                else:
                    cmd = [binary, "--path", data, "--destination", dest, "--summary", "false",
                           "--duplicates", "ignore"]
                rows[name].append(timed_cpu(cmd, env))
                if name == "stevedore":
                    ours_last = dest
        if not same_tree(data, ours_last):
            sys.exit("stevedore's copy differs from the corpus")
        files = sum(len(fs) for _, _, fs in os.walk(data))
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(data) for f in fs)
        print(f"\n## {a.only}: {files:,} files, {size / 1e6:,.0f} MB into a directory, "
              f"median of {a.repeats}, {os.cpu_count()} cores\n")
        print("| command | median s | vs stevedore | CPU s | peak RSS MiB |")
        print("|---|---:|---:|---:|---:|")
        ours = statistics.median(r[0] for r in rows["stevedore"][1:])
        for name, runs in rows.items():
            runs = runs[1:]
            wall = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[2] for r in runs)
            rss = statistics.median(r[1] for r in runs) / 2**20
            print(f"| {name} | {wall:.3f} | {wall / ours:.2f}x | {cpu:.2f} | {rss:.1f} |")
    finally:
        shutil.rmtree(out, ignore_errors=True)
        if mount:
            subprocess.run(["umount", mount], check=True)
            os.rmdir(mount)
            os.remove(mount + ".img")


def xfs_copy(base, data):
    """An XFS file system on a sparse image beside the corpus, mounted, with the corpus
    copied onto it (its own blocks: `--reflink=never`); returns the mount and the copy."""
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(data) for f in fs)
    mount = tempfile.mkdtemp(prefix="xfs-", dir=base)
    image = mount + ".img"
    with open(image, "wb") as f:
        f.truncate(max(40 * size, 512 << 20))
    subprocess.run(["mkfs.xfs", "-q", image], check=True)
    subprocess.run(["mount", "-o", "loop", image, mount], check=True)
    copy = os.path.join(mount, "data")
    subprocess.run(["cp", "-a", "--reflink=never", data, copy], check=True)
    return mount, copy


if __name__ == "__main__":
    main()
