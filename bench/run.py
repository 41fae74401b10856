#!/usr/bin/env python3
"""Times stevedore and its peers on the same warm corpus, in one run.

For each corpus, every command runs REPEATS times after one warm-up; before each timed
run the corpus is pulled into the page cache with `vmtouch -t` (this VM evicts idle page
cache within ~30 s). Prints the median wall time, the ratio to stevedore, and peak RSS as GNU time reports it
(the largest process of the command's tree, e.g. one `sha256sum` of an `xargs` pipeline).

usage: run.py [--repeats N] [--only many-small|few-large] [--binary LABEL=PATH ...]

--binary adds rows for other stevedore builds (a musl release binary, an older commit)
timed beside the host build on the same warm corpus.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys

from timing import timed

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CORPUS = os.path.join(HERE, "corpus")
STEVEDORE = os.path.join(ROOT, "target", "release", "stevedore")
FCLONES = os.path.join(HERE, "peers", "bin", "fclones")
# Other stevedore builds to time beside the host build: (label, path).
EXTRA = []


def commands(data, work):
    args = ["--path", data, "--destination", "none", "--duplicates", "ignore", "--summary", "false"]
    sd = [STEVEDORE] + args
    extra = [(f"stevedore [{label}] (sha256 + duplicates + secrets + manifest)", [path] + args, True)
             for label, path in EXTRA]
    return [
        ("stevedore (sha256 + duplicates + secrets + manifest)", sd, True),
        *extra,
        ("stevedore --secrets off", sd + ["--secrets", "off"], True),
        ("sha256sum via xargs -P2 (hashes all)", ["sh", "-c", f"find '{data}' -type f -print0 | xargs -0 -P2 -n 2000 sha256sum > /dev/null"], False),
        ("sha256sum via xargs, 1 process", ["sh", "-c", f"find '{data}' -type f -print0 | xargs -0 -n 2000 sha256sum > /dev/null"], False),
        ("rhash --sha256 -r (hashes all)", ["rhash", "--sha256", "-r", data, "-o", "/dev/null"], False),
        ("fclones group (duplicates only)", [FCLONES, "group", data, "-o", "/dev/null"], False),
        ("jdupes -r -q (duplicates only)", ["jdupes", "-r", "-q", data], False),
        ("reference: cat every file via xargs -P2 (read only, no hash)", ["sh", "-c", f"find '{data}' -type f -print0 | xargs -0 -P2 -n 2000 cat > /dev/null"], False),
    ]


def warm(data):
    subprocess.run(["vmtouch", "-qt", data], check=True)


def bench(kind, repeats):
    base = os.path.join(CORPUS, kind)
    subprocess.run([sys.executable, os.path.join(HERE, "corpus.py"), kind, base], check=True)
    data = os.path.join(base, "data")
    work = os.path.join(base, "work")
    os.makedirs(work, exist_ok=True)
    env = dict(os.environ, TMPDIR=work)
    env.pop("GITHUB_ACTIONS", None)
    rows = []
    for name, cmd, ours in commands(data, work):
        if not shutil.which(cmd[0]) and not os.path.exists(cmd[0]):
            rows.append((name, None, None, "not installed"))
            continue
        # jdupes is timed whatever its exit code; every other command must succeed.
        check = not name.startswith("jdupes")
        warm(data)
        timed(cmd, env, check=check)  # warm-up
        times, rss = [], []
        for _ in range(repeats):
            warm(data)
            t, m = timed(cmd, env, check=check)
            times.append(t)
            rss.append(m)
        rows.append((name, statistics.median(times), max(rss), ""))
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work, exist_ok=True)
        env["TMPDIR"] = work
    files = sum(len(f) for _, _, f in os.walk(data))
    size = sum(os.path.getsize(os.path.join(d, x)) for d, _, fs in os.walk(data) for x in fs)
    ref = rows[0][1]
    print(f"\n## {kind}: {files:,} files, {size / 1e9:.2f} GB, median of {repeats} warm runs, {os.cpu_count()} cores\n")
    print("| command | median s | vs stevedore | peak RSS MiB |")
    print("|---|---:|---:|---:|")
    for name, t, m, note in rows:
        if t is None:
            print(f"| {name} | {note} | | |")
        else:
            print(f"| {name} | {t:.3f} | {t / ref:.2f}x | {m / 2**20:.1f} |")
    sys.stdout.flush()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--only", choices=["many-small", "few-large"])
    p.add_argument("--binary", action="append", default=[], metavar="LABEL=PATH")
    a = p.parse_args()
    if not os.path.exists(STEVEDORE):
        raise SystemExit("build first: cargo build --release")
    for spec in a.binary:
        label, _, path = spec.partition("=")
        if not path or not os.path.exists(path):
            raise SystemExit(f"--binary {spec}: expected LABEL=PATH of an existing binary")
        EXTRA.append((label, os.path.abspath(path)))
    for kind in ["many-small", "few-large"]:
        if a.only in (None, kind):
            bench(kind, a.repeats)


if __name__ == "__main__":
    main()
