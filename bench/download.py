#!/usr/bin/env python3
"""Artifact download: `stevedore download` vs the official @actions/artifact client, one run.

Each corpus is uploaded once, by the official client (as upload-artifact does, compression
level 6), to the results-service emulator in front of a real Azurite
(tests/support/node/results-emulator.mjs); a few of its files are made executable first
(0755), as build outputs are. Then, in the same workflow run, the artifact is downloaded
REPEATS times by each downloader, alternating:

- the official client as download-artifact runs it: `downloadArtifact(id, {path,
  expectedHash})` through tests/support/node/artifact-client.mjs (ListArtifacts,
  GetSignedArtifactURL, the signed URL streamed through unzip-stream);
- `stevedore download` as download/action.yml runs it (`INPUT_NAME`, `INPUT_PATH`): the
  same three calls, the digest checked as bytes arrive, every entry's CRC-32, parallel
  extraction into a staging directory renamed into place.

Every run goes into a fresh directory and is checked afterwards (untimed): every file
byte-identical to the corpus, and for stevedore the corpus's file modes restored (0755
stays 0755; the official client drops them, upload-artifact#38). The first round warms up
node, Azurite and the page cache and is not counted. Prints median wall time, the ratio to
stevedore and peak RSS (GNU time) per downloader.

usage: download.py [--repeats N] [--only small-text|mixed-1g] [--binary LABEL=PATH ...]

--binary adds other stevedore builds (a musl release binary, an older commit), alternating
with the others in the same rounds.
"""
import argparse
import hashlib
import json
import os
import shutil
import stat
import statistics
import subprocess
import sys
import urllib.request

from artifact import CORPUS, HERE, NODE, STEVEDORE, Emulator, token
from timing import timed

RUN = "download-bench"
# Made executable before the upload (relative to the corpus's data directory).
EXECUTABLES = {
    "small-text": ["d00/f00000.txt", "d42/f04242.txt", "d99/f09999.txt"],
    "mixed-1g": ["bin/b0.bin", "logs/t07.log"],
}


def tree(root):
    """Relative path -> (sha256, permission bits) of every file under root."""
    out = {}
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            h = hashlib.sha256()
            with open(p, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
            out[os.path.relpath(p, root)] = (h.hexdigest(), stat.S_IMODE(os.lstat(p).st_mode))
    return out


def upload(emu, data, work):
    listing = os.path.join(work, "files.txt")
    files = sorted(os.path.join(d, n) for d, _, names in os.walk(data) for n in names)
    with open(listing, "w") as f:
        f.write("\n".join(files) + "\n")
    result = os.path.join(work, "upload.json")
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"),
           "ACTIONS_RUNTIME_TOKEN": token(RUN), "ACTIONS_RESULTS_URL": emu.url,
           "GITHUB_SERVER_URL": "https://github.com", "STEVEDORE_RESULT": result}
    subprocess.run(["node", os.path.join(NODE, "artifact-client.mjs"), "upload", "bench", data, "6",
                    "@" + listing], env=env, cwd=NODE, check=True, stdout=subprocess.DEVNULL)
    artifact_id = json.load(open(result))["id"]
    state = json.load(urllib.request.urlopen(f"{emu.url}_emulator/state?run={RUN}"))
    done = [a for a in state["artifacts"] if a["finalized"]]
    assert len(done) == 1 and done[0]["id"] == artifact_id, state
    return artifact_id, done[0]["digest"], done[0]["size"]


def run_official(emu, artifact_id, digest, into, work):
    result = os.path.join(work, "download.json")
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"),
           "ACTIONS_RUNTIME_TOKEN": token(RUN), "ACTIONS_RESULTS_URL": emu.url,
           "GITHUB_SERVER_URL": "https://github.com", "GITHUB_WORKSPACE": work,
           "STEVEDORE_RESULT": result}
    t, rss = timed(["node", os.path.join(NODE, "artifact-client.mjs"), "download", str(artifact_id), into,
                    digest], env, cwd=NODE)
    got = json.load(open(result))
    assert got["digestMismatch"] is False, got
    return t, rss


def run_stevedore(emu, into, work, binary):
    out = os.path.join(work, "github_output")
    open(out, "w").close()
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), "TMPDIR": work,
           "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": work, "GITHUB_OUTPUT": out,
           "ACTIONS_RUNTIME_TOKEN": token(RUN), "ACTIONS_RESULTS_URL": emu.url,
           "GITHUB_SERVER_URL": "https://github.com",
           "INPUT_NAME": "bench", "INPUT_PATH": into, "INPUT_DIGEST_MISMATCH": "error"}
    t, rss = timed([binary, "download"], env)
    text = open(out).read()
    assert "download-path" in text, text
    return t, rss


def check(into, want, modes):
    got = tree(into)
    assert got.keys() == want.keys(), f"{into}: files differ: {sorted(got.keys() ^ want.keys())[:10]}"
    bad = [p for p in want if got[p][0] != want[p][0]]
    assert not bad, f"{into}: contents differ: {bad[:10]}"
    if modes:
        bad = [p for p in want if got[p][1] != want[p][1]]
        assert not bad, f"{into}: modes differ: {[(p, oct(want[p][1]), oct(got[p][1])) for p in bad[:10]]}"
    executables = sum(1 for _, m in got.values() if m & 0o111)
    return executables


def bench(kind, repeats, extra):
    base = os.path.join(CORPUS, kind)
    subprocess.run([sys.executable, os.path.join(HERE, "corpus.py"), kind, base], check=True)
    data = os.path.join(base, "data")
    for rel in EXECUTABLES[kind]:
        os.chmod(os.path.join(data, rel), 0o755)
    work = os.path.join(base, "work-download")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    want = tree(data)
    total = sum(os.path.getsize(os.path.join(data, p)) for p in want)
    whos = ["stevedore"] + [label for label, _ in extra] + ["official"]
    binaries = dict(extra, stevedore=STEVEDORE)
    times = {who: [] for who in whos}
    rss = {who: 0 for who in whos}
    executables = {}
    with Emulator() as emu:
        artifact_id, digest, size = upload(emu, data, work)
        print(f"\n## {kind}: {len(want):,} files, {total / 1e6:,.0f} MB "
              f"({size / 1e6:,.0f} MB zip, {len(EXECUTABLES[kind])} of them 0755)")
        # ext4 skips an inode deleted in the last half minute when it allocates one
        # (`recently_deleted`), scanning past each: right after a 10,000-file tree is
        # removed, whoever creates the next 10,000 files pays a quadratic scan (measured:
        # 0.9 s becoming 3-6 s, all of it in the kernel). Trees of many files are kept
        # until the corpus is done; a few large files are removed at once (their dirty
        # pages would otherwise be written back under the next run).
        keep = len(want) > 1000
        for r in range(repeats + 1):
            for who in whos if r % 2 == 0 else reversed(whos):
                into = os.path.join(work, f"restored-{who}-{r}")
                if who == "official":
                    t, m = run_official(emu, artifact_id, digest, into, work)
                else:
                    t, m = run_stevedore(emu, into, work, binaries[who])
                executables[who] = check(into, want, modes=who != "official")
                if not keep:
                    shutil.rmtree(into)
                if r > 0:
                    times[who].append(t)
                rss[who] = max(rss[who], m)
    shutil.rmtree(work, ignore_errors=True)
    sd = statistics.median(times["stevedore"])
    print("\n| downloader | median s | vs stevedore | peak RSS MiB | files 0755 after |")
    print("|---|---:|---:|---:|---:|")
    for who in whos:
        med = statistics.median(times[who])
        label = {"stevedore": "stevedore download",
                 "official": "@actions/artifact 6.2.1 downloadArtifact (official)"}.get(who, f"stevedore [{who}]")
        print(f"| {label} | {med:.2f} | {med / sd:.2f}x | {rss[who] / 2**20:.1f} | "
              f"{executables[who]} of {len(EXECUTABLES[kind])} |")
    sys.stdout.flush()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--only", choices=["small-text", "mixed-1g"])
    p.add_argument("--binary", action="append", default=[], metavar="LABEL=PATH")
    a = p.parse_args()
    extra = []
    for spec in a.binary:
        label, _, path = spec.partition("=")
        if not path or not os.path.exists(path) or label in ("stevedore", "official"):
            raise SystemExit(f"--binary {spec}: expected LABEL=PATH of an existing binary")
        extra.append((label, os.path.abspath(path)))
    for kind in [a.only] if a.only else ["small-text", "mixed-1g"]:
        bench(kind, a.repeats, extra)


if __name__ == "__main__":
    main()
