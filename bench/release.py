#!/usr/bin/env python3
"""Release upload: 50 assets of 1 MiB to the GitHub REST emulator (tests/support/node), in one
run: stevedore (draft, assets, checksums asset, publish) vs the naive approach (create, then
re-GET the release and POST each asset; sequential and all-at-once). Prints median time and
the number of API calls each made (from the emulator's log).

usage: release.py [--repeats N] [--binary LABEL=PATH ...] [--quick]

--binary adds other stevedore builds (a musl release binary, an older commit), timed in the
same rounds as the host build; --quick times only the stevedore builds.
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import urllib.request

from timing import timed

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
NODE = os.path.join(ROOT, "tests", "support", "node")
STEVEDORE = os.path.join(ROOT, "target", "release", "stevedore")
PYTHON = os.path.join(HERE, "peers", "venv-s3", "bin", "python")


def corpus():
    root = os.path.join(HERE, "corpus", "release-50")
    if not os.path.isdir(root):
        os.makedirs(root)
        rng = random.Random(20261122)
        for i in range(50):
            with open(os.path.join(root, f"asset-{i:02d}.bin"), "wb") as f:
                f.write(rng.randbytes(1024 * 1024))
    return root


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--binary", action="append", default=[], metavar="LABEL=PATH")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    others = []
    for spec in a.binary:
        label, _, path = spec.partition("=")
        if not label or not os.path.isfile(path):
            raise SystemExit(f"--binary {spec}: expected LABEL=PATH of an existing binary")
        others.append((label, path))
    data = corpus()
    emu = subprocess.Popen(["node", os.path.join(NODE, "github-emulator.mjs")], cwd=NODE,
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    api = json.loads(emu.stdout.readline())["url"]
    env = dict(os.environ, GITHUB_TOKEN="ghs_benchToken0000000000000000000000000", GITHUB_API_URL=api)
    env.pop("GITHUB_ACTIONS", None)
    def ship(binary):
        return lambda repo, tag: [
            binary, "--path", data, "--destination", "release", "--tag", tag,
            "--token", env["GITHUB_TOKEN"], "--summary", "false"]

    cmds = {
        "stevedore (draft, 50 assets + SHA256SUMS, publish)": ship(STEVEDORE),
        **{f"stevedore [{label}]": ship(path) for label, path in others},
        "naive sequential (re-GET per asset)": lambda repo, tag: [
            PYTHON, os.path.join(HERE, "release_naive.py"), api, repo, tag, data, "sequential"],
        "naive all-at-once (re-GET per asset)": lambda repo, tag: [
            PYTHON, os.path.join(HERE, "release_naive.py"), api, repo, tag, data, "parallel"],
    }
    if a.quick:
        cmds = {k: v for k, v in cmds.items() if k.startswith("stevedore")}
    times = {k: [] for k in cmds}
    api_calls = {}
    try:
        for r in range(a.repeats + 1):
            for i, (name, cmd) in enumerate(cmds.items()):
                repo = f"octo/bench-{r}-{i}"
                t, _ = timed(cmd(repo, f"v{r}.{i}"), dict(env, GITHUB_REPOSITORY=repo))
                state = json.load(urllib.request.urlopen(f"{api}/_emulator/state?repo={repo}"))
                assets = state["releases"][0]["assets"]
                assert len(assets) >= 50, (name, len(assets))
                api_calls[name] = len(state["calls"])
                if r > 0:
                    times[name].append(t)
    finally:
        emu.stdin.close()
        emu.wait(timeout=10)
    sd = statistics.median(times[next(iter(cmds))])
    print(f"\n## Release upload: 50 assets x 1 MiB, GitHub REST emulator on loopback, median of {a.repeats}\n")
    print("| uploader | median s | vs stevedore | API calls |")
    print("|---|---:|---:|---:|")
    for name in cmds:
        med = statistics.median(times[name])
        print(f"| {name} | {med:.3f} | {med / sd:.2f}x | {api_calls[name]} |")


if __name__ == "__main__":
    sys.exit(main())
