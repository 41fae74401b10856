#!/usr/bin/env python3
"""Artifact upload: stevedore vs the official @actions/artifact client, same server, one run.

Both upload the same corpus as a zip artifact to the results-service emulator in front of a
real Azurite (tests/support/node/results-emulator.mjs), at compression level 6 and 0. The
official client is run as upload-artifact runs it (uploadArtifact with the file list and
root directory), through tests/support/node/artifact-client.mjs. stevedore runs its whole
pipeline (select, SHA-256 + secret scan, manifest, then pack and upload).

Each command runs REPEATS times, alternating, after the corpus is pulled into the page
cache; every run is a fresh workflow run (its own token), so no name conflicts. A fresh
emulator (in-memory Azurite) serves each corpus and level. Prints median wall time, the
ratio to stevedore, peak RSS (GNU time) and the artifact size.

usage: artifact.py [--repeats N] [--only small-text|mixed-1g] [--levels 6,0] [--binary LABEL=PATH ...]

--binary adds other stevedore builds (a musl release binary, an older commit), alternating
with the others in the same rounds.
"""
import argparse
import base64
import json
import os
import statistics
import subprocess
import sys

from timing import timed

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CORPUS = os.path.join(HERE, "corpus")
NODE = os.path.join(ROOT, "tests", "support", "node")
STEVEDORE = os.path.join(ROOT, "target", "release", "stevedore")


def token(run):
    b = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
    return b({"alg": "none", "typ": "JWT"}) + "." + b({"scp": f"Actions.Results:{run}:job"}) + ".sig"


class Emulator:
    def __enter__(self):
        self.proc = subprocess.Popen(["node", os.path.join(NODE, "results-emulator.mjs")], cwd=NODE,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.url = json.loads(self.proc.stdout.readline())["url"]
        return self

    def __exit__(self, *exc):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def run_stevedore(emu, run, data, level, work, binary=STEVEDORE):
    out = os.path.join(work, "github_output")
    open(out, "w").close()
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), "TMPDIR": work,
           "ACTIONS_RUNTIME_TOKEN": token(run), "ACTIONS_RESULTS_URL": emu.url, "GITHUB_OUTPUT": out}
    t, rss = timed([binary, "--path", data, "--destination", "artifact", "--name", "bench",
                    "--compression-level", str(level), "--duplicates", "ignore", "--summary", "false"], env)
    text = open(out).read()
    size = artifact_size(emu, run)
    assert "artifact-digest" in text, text
    return t, rss, size


def run_official(emu, run, data, level, work, listing):
    result = os.path.join(work, "result.json")
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"),
           "ACTIONS_RUNTIME_TOKEN": token(run), "ACTIONS_RESULTS_URL": emu.url,
           "GITHUB_SERVER_URL": "https://github.com", "STEVEDORE_RESULT": result}
    t, rss = timed(["node", os.path.join(NODE, "artifact-client.mjs"), "upload", "bench", data, str(level),
                    "@" + listing], env, cwd=NODE)
    json.load(open(result))["id"]
    return t, rss, artifact_size(emu, run)


def artifact_size(emu, run):
    import urllib.request
    state = json.load(urllib.request.urlopen(f"{emu.url}_emulator/state?run={run}"))
    done = [a for a in state["artifacts"] if a["finalized"]]
    assert len(done) == 1, state
    return done[0]["size"]


def bench(kind, levels, repeats, extra):
    base = os.path.join(CORPUS, kind)
    subprocess.run([sys.executable, os.path.join(HERE, "corpus.py"), kind, base], check=True)
    data = os.path.join(base, "data")
    work = os.path.join(base, "work-artifact")
    os.makedirs(work, exist_ok=True)
    listing = os.path.join(work, "files.txt")
    files = []
    for d, _, names in os.walk(data):
        files += [os.path.join(d, n) for n in names if not n.startswith(".")]
    files.sort()
    with open(listing, "w") as f:
        f.write("\n".join(files) + "\n")
    total = sum(os.path.getsize(p) for p in files)
    print(f"\n## {kind}: {len(files):,} files, {total / 1e6:,.0f} MB")
    for level in levels:
        whos = ["stevedore"] + [label for label, _ in extra] + ["official"]
        binaries = dict(extra, stevedore=STEVEDORE)
        times = {who: [] for who in whos}
        rss = {who: 0 for who in whos}
        size = {}
        with Emulator() as emu:
            for r in range(repeats + 1):
                for who in whos if r % 2 == 0 else reversed(whos):
                    subprocess.run(["vmtouch", "-qt", data], check=True)
                    run = f"{kind}-{level}-{who}-{r}"
                    if who != "official":
                        t, m, s = run_stevedore(emu, run, data, level, work, binaries[who])
                    else:
                        t, m, s = run_official(emu, run, data, level, work, listing)
                    if r > 0:  # the first round warms up node, Azurite and the JIT
                        times[who].append(t)
                    rss[who] = max(rss[who], m)
                    size[who] = s
        sd = statistics.median(times["stevedore"])
        print(f"\n### compression-level {level}\n")
        print("| uploader | median s | vs stevedore | peak RSS MiB | artifact MB |")
        print("|---|---:|---:|---:|---:|")
        for who in whos:
            med = statistics.median(times[who])
            label = {"stevedore": "stevedore", "official": "@actions/artifact 6.2.1 (official)"}.get(who, f"stevedore [{who}]")
            print(f"| {label} | {med:.2f} | "
                  f"{med / sd:.2f}x | {rss[who] / 2**20:.1f} | {size[who] / 1e6:,.1f} |")
        sys.stdout.flush()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--only", choices=["small-text", "mixed-1g"])
    p.add_argument("--levels", default="6,0")
    p.add_argument("--binary", action="append", default=[], metavar="LABEL=PATH")
    a = p.parse_args()
    levels = [int(x) for x in a.levels.split(",")]
    extra = []
    for spec in a.binary:
        label, _, path = spec.partition("=")
        if not path or not os.path.exists(path) or label in ("stevedore", "official"):
            raise SystemExit(f"--binary {spec}: expected LABEL=PATH of an existing binary")
        extra.append((label, os.path.abspath(path)))
    for kind in [a.only] if a.only else ["small-text", "mixed-1g"]:
        bench(kind, levels, a.repeats, extra)


if __name__ == "__main__":
    main()
