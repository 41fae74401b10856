#!/usr/bin/env python3
"""Artifact upload over the v3 protocol (GitHub Enterprise Server's): stevedore vs the
official v3 client (@actions/artifact 1.1.2, upload-artifact v3's library), same server,
one run.

The server is act's own artifact server (act 0.2.89 from the test venv), kept up by a
one-step workflow that waits (as tests/it/support/actserver.rs does). Both upload the
small-text corpus (bench/corpus.py) as one artifact, each run under its own artifact name,
alternating, after the corpus is pulled into the page cache. stevedore runs its whole
pipeline (select, SHA-256 + secret scan, manifest, then gzip and upload); the official
client is run as upload-artifact v3 runs it (uploadArtifact with the file list and root),
through tests/support/node/artifact-v1-client.mjs. Prints median wall time, the ratio to
stevedore and peak RSS.

usage: artifact_v3.py [--repeats N] [--binary PATH]
"""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from timing import timed

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
NODE = os.path.join(ROOT, "tests", "support", "node")
ACT = os.path.join(ROOT, ".venv-test", "bin", "act")
WORKFLOW = """name: serve
on: push
jobs:
  serve:
    runs-on: ubuntu-latest
    steps:
      - run: |
          printf '%s\\n%s\\n%s\\n' "$ACTIONS_RUNTIME_URL" "$GITHUB_RUN_ID" "$ACTIONS_RUNTIME_TOKEN" > "$READY.tmp"
          mv "$READY.tmp" "$READY"
          while [ ! -e "$STOP" ]; do sleep 0.1; done
"""


class ActServer:
    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="stevedore-act-")
        repo = os.path.join(self.dir, "repo")
        os.makedirs(os.path.join(repo, ".github", "workflows"))
        with open(os.path.join(repo, ".github", "workflows", "serve.yml"), "w") as f:
            f.write(WORKFLOW)
        git = ["git", "-c", "user.name=b", "-c", "user.email=b@example.com"]
        for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "serve"]):
            subprocess.run(git + args, cwd=repo, check=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.ready = os.path.join(self.dir, "ready")
        self.stop = os.path.join(self.dir, "stop")
        os.makedirs(os.path.join(self.dir, "home"))
        self.proc = subprocess.Popen(
            [ACT, "push", "-W", ".github/workflows/serve.yml", "-P", "ubuntu-latest=-self-hosted",
             "--action-offline-mode", "--artifact-server-addr", "127.0.0.1", "--artifact-server-port", str(port),
             "--artifact-server-path", os.path.join(self.dir, "artifacts"),
             "--env", f"READY={self.ready}", "--env", f"STOP={self.stop}"],
            cwd=repo, env={**os.environ, "HOME": os.path.join(self.dir, "home")},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(600):
            if os.path.exists(self.ready):
                break
            time.sleep(0.1)
        else:
            sys.exit("act's artifact server did not come up")
        self.url, self.run_id, self.token = open(self.ready).read().split("\n")[:3]
        return self

    def __exit__(self, *exc):
        open(self.stop, "w").close()
        self.proc.wait(timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)

    def env(self, work):
        return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), "TMPDIR": work,
                "ACTIONS_RUNTIME_URL": self.url, "ACTIONS_RUNTIME_TOKEN": self.token,
                "GITHUB_RUN_ID": self.run_id}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "stevedore"))
    args = p.parse_args()
    base = os.path.join(HERE, "corpus", "small-text")
    subprocess.run([sys.executable, os.path.join(HERE, "corpus.py"), "small-text", base], check=True)
    data = os.path.join(base, "data")
    work = os.path.join(base, "work-artifact-v3")
    os.makedirs(work, exist_ok=True)
    files = sorted(os.path.join(d, n) for d, _, names in os.walk(data) for n in names if not n.startswith("."))
    total = sum(os.path.getsize(f) for f in files)
    print(f"## small-text over v3 (act {subprocess.run([ACT, '--version'], capture_output=True, text=True).stdout.strip()}): "
          f"{len(files):,} files, {total / 1e6:,.0f} MB\n")
    times = {"stevedore": [], "official": []}
    rss = {"stevedore": 0, "official": 0}
    with ActServer() as server:
        env = server.env(work)
        for r in range(args.repeats + 1):
            for who in ("stevedore", "official") if r % 2 == 0 else ("official", "stevedore"):
                subprocess.run(["vmtouch", "-qt", data], check=True)
                name = f"bench-{who}-{r}"
                if who == "stevedore":
                    t, m = timed([args.binary, "--path", data, "--destination", "artifact", "--name", name,
                                  "--duplicates", "ignore", "--summary", "false"], env)
                else:
                    t, m = timed(["node", os.path.join(NODE, "artifact-v1-client.mjs"), "upload", name, data, *files],
                                 {**env, "STEVEDORE_RESULT": os.path.join(work, "result.json")}, cwd=NODE)
                if r > 0:  # the first round warms up node and the server
                    times[who].append(t)
                rss[who] = max(rss[who], m)
    sd = statistics.median(times["stevedore"])
    print("| uploader | median s | vs stevedore | peak RSS MiB |")
    print("|---|---:|---:|---:|")
    for who, label in (("stevedore", "stevedore"), ("official", "@actions/artifact 1.1.2 (official v3)")):
        med = statistics.median(times[who])
        print(f"| {label} | {med:.2f} | {med / sd:.2f}x | {rss[who] / 2**20:.1f} |")


if __name__ == "__main__":
    main()
