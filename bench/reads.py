#!/usr/bin/env python3
"""Disk reads per byte shipped (issue 25): each destination run in a memory cgroup smaller
than the tree, after the page cache is dropped, so every byte a second pass reads comes
from the disk again. The physical floor is one read per byte (plus the file system's
metadata).

The tree is the small-text corpus (bench/corpus.py: 10,000 text files, ~156 MB); the cgroup
limit is 150 MiB by default. The command runs as `/usr/bin/time -f "%I ..."` inside the
cgroup: `%I` is the file system inputs of the process (getrusage `ru_inblock`, 512-byte
blocks read from the block device). The servers (results emulator + in-memory Azurite,
s3s-fs) run outside the cgroup and are not counted. cgroup v1 (`memory.limit_in_bytes`) and
v2 (`memory.max`) are both handled; root is needed (cgroups, drop_caches).

Prints, per destination: disk bytes read / bytes shipped, wall seconds, peak RSS.

usage: reads.py [--limit-mib N] [--binary PATH] [--only none,directory,artifact,s3]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

from artifact import Emulator, token

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CORPUS = os.path.join(HERE, "corpus", "small-text")
STEVEDORE = os.path.join(ROOT, "target", "release", "stevedore")
S3_SERVER = os.path.join(ROOT, "target", "release", "examples", "s3_server")
ACCESS, SECRET = "AKIABENCHSTEVEDORE01", "bench/secret/key/0123456789abcdefghij"
NAME = "stevedore-bench-reads"


def cgroup(limit):
    """A memory cgroup limited to `limit` bytes; returns its directory."""
    v2 = "/sys/fs/cgroup/cgroup.controllers"
    if os.path.exists(v2) and "memory" in open(v2).read().split():
        path = os.path.join("/sys/fs/cgroup", NAME)
        os.makedirs(path, exist_ok=True)
        with open(os.path.join(path, "memory.max"), "w") as f:
            f.write(str(limit))
        return path
    path = os.path.join("/sys/fs/cgroup/memory", NAME)
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "memory.limit_in_bytes"), "w") as f:
        f.write(str(limit))
    return path


def drop_caches():
    subprocess.run(["sync"], check=True)
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3")


def measured(group, cmd, env):
    """Runs `cmd` inside `group` after dropping the page cache: (bytes read from disk,
    wall seconds, peak RSS bytes)."""
    drop_caches()
    with tempfile.NamedTemporaryFile() as out:
        script = 'echo $$ > "$0/cgroup.procs" && exec /usr/bin/time -f "%I %e %M" -o "$1" "${@:2}"'
        proc = subprocess.run(["bash", "-c", script, group, out.name, *cmd], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if proc.returncode != 0:
            sys.exit(f"{cmd[:4]} failed ({proc.returncode}):\n{proc.stderr.decode(errors='replace')[-3000:]}")
        blocks, wall, kib = open(out.name).read().strip().splitlines()[-1].split()
    return int(blocks) * 512, float(wall), int(kib) * 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit-mib", type=int, default=150)
    ap.add_argument("--binary", default=STEVEDORE)
    ap.add_argument("--only", default="none,directory,artifact,s3")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("reads.py needs root (memory cgroups, drop_caches)")
    subprocess.run([sys.executable, os.path.join(HERE, "corpus.py"), "small-text", CORPUS], check=True)
    data = os.path.join(CORPUS, "data")
    shipped = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(data) for f in fs)
    group = cgroup(a.limit_mib * 2**20)
    work = tempfile.mkdtemp(prefix="reads-bench-")
    base_env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), "RUNNER_TEMP": work,
                "TMPDIR": work}
    # How much of the compressed artifact stevedore holds in memory (its default: 64 MiB).
    if "STEVEDORE_SPOOL_MEMORY" in os.environ:
        base_env["STEVEDORE_SPOOL_MEMORY"] = os.environ["STEVEDORE_SPOOL_MEMORY"]
    common = [a.binary, "--path", data, "--duplicates", "ignore", "--summary", "false"]
    rows = []
    try:
        for dest in a.only.split(","):
            if dest == "none":
                rows.append((dest, measured(group, [*common, "--destination", "none"], base_env)))
            elif dest == "directory":
                out = os.path.join(work, "out")
                rows.append((dest, measured(group, [*common, "--destination", out], base_env)))
                shutil.rmtree(out)
            elif dest == "artifact":
                with Emulator() as emu:
                    env = dict(base_env, ACTIONS_RUNTIME_TOKEN=token("reads"), ACTIONS_RESULTS_URL=emu.url)
                    rows.append((dest, measured(group, [*common, "--destination", "artifact", "--name", "reads"], env)))
            elif dest == "s3":
                store = tempfile.mkdtemp(prefix="reads-s3-", dir=work)
                os.makedirs(os.path.join(store, "bench"))
                server = subprocess.Popen([S3_SERVER, store, ACCESS, SECRET], stdout=subprocess.PIPE)
                endpoint = server.stdout.readline().decode().strip()
                env = dict(base_env, AWS_ACCESS_KEY_ID=ACCESS, AWS_SECRET_ACCESS_KEY=SECRET, AWS_REGION="us-east-1")
                try:
                    rows.append((dest, measured(group, [*common, "--destination", "s3://bench/reads", "--s3-endpoint",
                                                        endpoint, "--s3-path-style", "true"], env)))
                finally:
                    server.terminate()
            else:
                sys.exit(f"--only: unknown destination {dest}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        try:
            os.rmdir(group)
        except OSError:
            pass
    print(f"\n## Disk reads per byte shipped: small-text ({shipped / 1e6:.0f} MB, 10,000 files), "
          f"memory cgroup of {a.limit_mib} MiB, page cache dropped before each run\n")
    print("| destination | disk MB read | read / shipped | wall s | peak RSS MiB |")
    print("|---|---:|---:|---:|---:|")
    for dest, (read, wall, rss) in rows:
        print(f"| {dest} | {read / 1e6:.0f} | {read / shipped:.2f} | {wall:.2f} | {rss / 2**20:.0f} |")
    print(json.dumps({d: {"read": r, "shipped": shipped, "wall": w} for d, (r, w, _) in rows}), file=sys.stderr)


if __name__ == "__main__":
    main()
