#!/usr/bin/env python3
"""Matrix release: 6 concurrent jobs x 10 assets of 256 KiB to one tag on the GitHub REST
emulator (tests/support/node), the whole matrix timed from the first job's start to the last
job's end. Compares the `expect-assets` recipe (one shared draft, the job completing the set
writes the single SHA256SUMS and publishes) with the README's previous recipe (per-job
`SHA256SUMS-<job>`, the first job to finish publishes), and a rolling release (`rolling`
with `expect-assets`: a first commit's matrix makes the release of `nightly`, the timed
second commit's matrix replaces it; its calls are the second matrix's). Prints median wall time, total API
calls of the matrix (from the emulator's log), how many draft -> published transitions
happened and how many assets the release had when it was published.

usage: matrix.py [--repeats N] [--binary PATH]
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
NODE = os.path.join(ROOT, "tests", "support", "node")
JOBS = 6
ASSETS = 10


def corpus():
    """One directory per job, its 10 assets named after it (`job<j>-asset-<i>.bin`)."""
    root = os.path.join(HERE, "corpus", "matrix-6x10")
    if not os.path.isdir(root):
        rng = random.Random(20261130)
        for j in range(JOBS):
            os.makedirs(os.path.join(root, f"job{j}"))
            for i in range(ASSETS):
                with open(os.path.join(root, f"job{j}", f"job{j}-asset-{i}.bin"), "wb") as f:
                    f.write(rng.randbytes(256 * 1024))
    return root


def run_matrix(binary, data, env, tag, recipe):
    """All jobs at once; returns the matrix's wall seconds."""
    procs = []
    start = time.perf_counter()
    for j in range(JOBS):
        cmd = [binary, "--path", os.path.join(data, f"job{j}"), "--destination", "release",
               "--tag", tag, "--token", env["GITHUB_TOKEN"], "--summary", "false"]
        if recipe in ("expect-assets", "rolling"):
            # One line per job: a job's assets count only once all of them are in.
            for k in range(JOBS):
                cmd += ["--expect-assets", f"job{k}-asset-*"]
            if recipe == "rolling":
                cmd += ["--rolling"]
        else:
            cmd += ["--checksums", f"SHA256SUMS-job{j}"]
        # Each job its own RUNNER_TEMP, as each runner has (the command line's default,
        # ~/.cache/stevedore/last-run, is one per machine).
        job_env = dict(env, RUNNER_TEMP=tempfile.mkdtemp(prefix=f"matrix-job{j}-"))
        procs.append(subprocess.Popen(cmd, env=job_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"a job failed ({p.returncode}):\n{err.decode(errors='replace')[-3000:]}")
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "stevedore"))
    a = ap.parse_args()
    data = corpus()
    emu = subprocess.Popen(["node", os.path.join(NODE, "github-emulator.mjs")], cwd=NODE,
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    api = json.loads(emu.stdout.readline())["url"]
    # A release set belongs to one commit: `expect-assets` needs GITHUB_SHA.
    env = dict(os.environ, GITHUB_TOKEN="ghs_benchToken0000000000000000000000000", GITHUB_API_URL=api,
               GITHUB_SHA="5f0c6e1d9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e")
    env.pop("GITHUB_ACTIONS", None)
    recipes = {
        "expect-assets (one SHA256SUMS, publish when complete)": "expect-assets",
        "previous recipe (SHA256SUMS-<job>, first finisher publishes)": "previous",
        "rolling (expect-assets; a second commit replaces the first's release)": "rolling",
    }
    times = {k: [] for k in recipes}
    facts = {}
    try:
        for r in range(a.repeats + 1):
            for i, (name, recipe) in enumerate(recipes.items()):
                repo = f"octo/matrix-{r}-{i}"
                job_env = dict(env, GITHUB_REPOSITORY=repo)
                tag = f"v{r}.{i}"
                before_calls, before_transitions = 0, 0
                if recipe == "rolling":
                    # The first commit's release, then the timed roll to the next commit.
                    tag = "nightly"
                    run_matrix(a.binary, data, dict(job_env, GITHUB_SHA="0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"), tag, recipe)
                    first = json.load(urllib.request.urlopen(f"{api}/_emulator/state?repo={repo}"))
                    before_calls, before_transitions = len(first["calls"]), len(first["transitions"])
                t = run_matrix(a.binary, data, job_env, tag, recipe)
                state = json.load(urllib.request.urlopen(f"{api}/_emulator/state?repo={repo}"))
                assert len(state["releases"]) == 1, (name, len(state["releases"]))
                if recipe == "rolling":
                    assert state["refs"]["refs/tags/nightly"] == env["GITHUB_SHA"], state["refs"]
                transitions = [t for t in state["transitions"][before_transitions:] if not t.get("unpublished")]
                facts[name] = (len(state["calls"]) - before_calls, len(transitions),
                               len(transitions[0]["assets"]) if transitions else 0,
                               len(state["releases"][0]["assets"]))
                if r > 0:
                    times[name].append(t)
    finally:
        emu.stdin.close()
        emu.wait(timeout=10)
    print(f"\n## Matrix release: {JOBS} jobs x {ASSETS} assets x 256 KiB, one tag, GitHub REST emulator on loopback, median of {a.repeats}\n")
    print("| recipe | matrix wall s | API calls | publications | assets when published | assets at the end |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in recipes:
        calls, pubs, at_pub, final = facts[name]
        print(f"| {name} | {statistics.median(times[name]):.3f} | {calls} | {pubs} | {at_pub} | {final} |")


if __name__ == "__main__":
    main()
