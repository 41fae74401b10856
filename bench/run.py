#!/usr/bin/env python3
"""Times stevedore and its peers on the same warm corpus, in one run.

For each corpus, every command runs REPEATS times after one warm-up, interleaved (one run
of each command per round, so a change in load hits every row alike); before each timed
run the corpus is pulled into the page cache with `vmtouch -t` (this VM evicts idle page
cache within ~30 s). Prints the median wall time, the ratios to stevedore and to the floor
(examples/floor.rs: walk + read + SHA-256 and nothing else), the median CPU time (user +
system: what stays comparable when other work shares the machine) and peak RSS as GNU
time reports it (the largest process of the command's tree, e.g. one `sha256sum` of an
`xargs` pipeline).

usage: run.py [--repeats N] [--only many-small|few-large] [--binary LABEL=PATH ...] [--quick]

--quick times only the stevedore rows and the floor.

--binary adds rows for other stevedore builds (a musl release binary, an older commit)
timed beside the host build on the same warm corpus.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys

from timing import timed_cpu

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CORPUS = os.path.join(HERE, "corpus")
STEVEDORE = os.path.join(ROOT, "target", "release", "stevedore")
FCLONES = os.path.join(HERE, "peers", "bin", "fclones")
# examples/floor.rs: walk, read and SHA-256 every file on one thread per core, nothing else.
FLOOR = os.path.join(ROOT, "target", "release", "examples", "floor")
FLOOR_NAME = "floor: walk + read + SHA-256, nothing else (examples/floor.rs)"
# The floor issue 25 was measured against: level by level (each depth's directories listed
# with read_dir, then its files hashed), one thread per core.
LEVELS_NAME = "floor, level by level (examples/floor.rs --levels)"
# Other stevedore builds to time beside the host build: (label, path).
EXTRA = []
# --quick: only stevedore's rows and the floor.
QUICK = False


def commands(data, work):
    args = ["--path", data, "--destination", "none", "--duplicates", "ignore", "--summary", "false"]
    sd = [STEVEDORE] + args
    extra = [(f"stevedore [{label}] (sha256 + duplicates + secrets + manifest)", [path] + args, True)
             for label, path in EXTRA]
    return [
        ("stevedore (sha256 + duplicates + secrets + manifest)", sd, True),
        *extra,
        ("stevedore --secrets off", sd + ["--secrets", "off"], True),
        (FLOOR_NAME, [FLOOR, data], False),
        (LEVELS_NAME, [FLOOR, data, "--levels"], False),
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
    # Runs are interleaved (every command once per round) so that a change in the machine's
    # load hits every row alike and the ratios stay meaningful.
    cmds = []
    rows = {}
    for name, cmd, ours in commands(data, work):
        if QUICK and not ours and name not in (FLOOR_NAME, LEVELS_NAME):
            continue
        if not shutil.which(cmd[0]) and not os.path.exists(cmd[0]):
            rows[name] = "not installed"
        else:
            cmds.append((name, cmd))
            rows[name] = ([], [], [])
    for round_ in range(repeats + 1):
        for name, cmd in cmds:
            # jdupes is timed whatever its exit code; every other command must succeed.
            check = not name.startswith("jdupes")
            warm(data)
            t, m, cpu = timed_cpu(cmd, env, check=check)
            if round_ > 0:  # round 0 is the warm-up
                for values, v in zip(rows[name], (t, m, cpu)):
                    values.append(v)
            shutil.rmtree(work, ignore_errors=True)
            os.makedirs(work, exist_ok=True)
    rows = [(name, None, None, None, v) if isinstance(v, str)
            else (name, statistics.median(v[0]), max(v[1]), statistics.median(v[2]), "")
            for name, v in rows.items()]
    files = sum(len(f) for _, _, f in os.walk(data))
    size = sum(os.path.getsize(os.path.join(d, x)) for d, _, fs in os.walk(data) for x in fs)
    ref = rows[0][1]
    floor = next(((t, c) for name, t, _, c, _ in rows if name == FLOOR_NAME), None)
    levels = next(((t, c) for name, t, _, c, _ in rows if name == LEVELS_NAME), None)
    print(f"\n## {kind}: {files:,} files, {size / 1e9:.2f} GB, median of {repeats} warm runs, {os.cpu_count()} cores\n")
    print("| command | median s | vs stevedore | vs floor | vs level floor | CPU s | CPU vs floor | CPU vs level floor | peak RSS MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    ratio = lambda a, b: f"{a / b:.2f}x" if b else ""
    for name, t, m, cpu, note in rows:
        if t is None:
            print(f"| {name} | {note} | | | | | | | |")
        else:
            print(f"| {name} | {t:.3f} | {t / ref:.2f}x | {ratio(t, floor and floor[0])} | {ratio(t, levels and levels[0])} "
                  f"| {cpu:.2f} | {ratio(cpu, floor and floor[1])} | {ratio(cpu, levels and levels[1])} | {m / 2**20:.1f} |")
    sys.stdout.flush()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--only", choices=["many-small", "few-large"])
    p.add_argument("--binary", action="append", default=[], metavar="LABEL=PATH")
    p.add_argument("--quick", action="store_true")
    a = p.parse_args()
    global QUICK
    QUICK = a.quick
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
