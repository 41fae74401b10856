#!/usr/bin/env python3
"""S3 upload: stevedore vs the usual tools, same server (s3s-fs 0.14.1, or moto 5.2.5 with
--server moto, on loopback), one run.

Corpus: 200 files x 500 KiB (few-large/data/small). Every command uploads it under its own
prefix, REPEATS times (after one warm-up round), alternating order; the corpus is pulled
into the page cache before each run. Peers:
  - Python asyncio + httpx PUTs to URLs presigned by botocore, concurrency 50 and 100;
  - `aws s3 cp --recursive` (awscli 1.46.3, its default 10 concurrent requests);
  (the presigning uses botocore 1.43.62, the version awscli 1.46.3 vendors)
  - `rclone copy` (Debian's 1.60.1), default 4 transfers and --transfers 32.
stevedore runs its whole pipeline (select, SHA-256 + secret scan, manifest, upload of the
files and then SHA256SUMS + manifest).

usage: s3.py [--repeats N] [--binary LABEL=PATH ...] [--quick] [--server s3s-fs|moto]

--binary adds other stevedore builds (a musl release binary, an older commit), timed in
the same rounds as the host build; --quick times only the stevedore builds and the server
floor (the presigned PUTs at concurrency 50: the least any client can do against that server).
moto (from the test tools, .venv-test) is a Python server and much slower than s3s-fs:
compare each client with the floor on the same server, not across servers.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import socket
import time

from timing import timed

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
STEVEDORE = os.path.join(ROOT, "target", "release", "stevedore")
SERVER = os.path.join(ROOT, "target", "release", "examples", "s3_server")
VENV = os.path.join(HERE, "peers", "venv-s3", "bin")
ACCESS, SECRET = "AKIABENCHSTEVEDORE01", "bench/secret/key/0123456789abcdefghij"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--binary", action="append", default=[], metavar="LABEL=PATH")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--server", choices=["s3s-fs", "moto"], default="s3s-fs")
    a = ap.parse_args()
    binaries = [("stevedore", STEVEDORE)]
    for spec in a.binary:
        label, _, path = spec.partition("=")
        if not path or not os.path.exists(path):
            raise SystemExit(f"--binary {spec}: expected LABEL=PATH of an existing binary")
        binaries.append((f"stevedore [{label}]", os.path.abspath(path)))
    subprocess.run([sys.executable, os.path.join(HERE, "corpus.py"), "few-large", os.path.join(HERE, "corpus", "few-large")], check=True)
    data = os.path.join(HERE, "corpus", "few-large", "data", "small")
    files = sorted(os.listdir(data))
    total = sum(os.path.getsize(os.path.join(data, f)) for f in files)
    store = tempfile.mkdtemp(prefix="s3-bench-")
    os.makedirs(os.path.join(store, "bench"))
    if a.server == "moto":
        server, endpoint = start_moto()
    else:
        server = subprocess.Popen([SERVER, store, ACCESS, SECRET], stdout=subprocess.PIPE)
        endpoint = server.stdout.readline().decode().strip()
    env = dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS, AWS_SECRET_ACCESS_KEY=SECRET, AWS_REGION="us-east-1",
               AWS_EC2_METADATA_DISABLED="true", RCLONE_S3_PROVIDER="Other", RCLONE_S3_ENDPOINT=endpoint,
               RCLONE_S3_ACCESS_KEY_ID=ACCESS, RCLONE_S3_SECRET_ACCESS_KEY=SECRET, RCLONE_S3_FORCE_PATH_STYLE="true",
               RCLONE_CONFIG="/dev/null")
    env.pop("GITHUB_ACTIONS", None)
    # The endpoint is plain http on loopback; a CA bundle setting makes rclone's AWS SDK fail.
    env.pop("AWS_CA_BUNDLE", None)
    commands = {
        label: (lambda binary: lambda p: [binary, "--path", data, "--destination", f"s3://bench/{p}", "--s3-endpoint",
                                          endpoint, "--s3-path-style", "true", "--summary", "false"])(binary)
        for label, binary in binaries
    }
    commands.update({
        "python asyncio + httpx, presigned, 50": lambda p: [os.path.join(VENV, "python"), os.path.join(HERE, "s3_httpx.py"), data, endpoint, "bench", p, "50"],
        "python asyncio + httpx, presigned, 100": lambda p: [os.path.join(VENV, "python"), os.path.join(HERE, "s3_httpx.py"), data, endpoint, "bench", p, "100"],
        "aws s3 cp --recursive": lambda p: [os.path.join(VENV, "aws"), "s3", "cp", "--recursive", "--quiet", "--endpoint-url", endpoint, data, f"s3://bench/{p}"],
        "rclone copy (4 transfers)": lambda p: ["rclone", "copy", data, f":s3:bench/{p}"],
        "rclone copy --transfers 32": lambda p: ["rclone", "copy", "--transfers", "32", data, f":s3:bench/{p}"],
    })
    if a.quick:
        floor = "python asyncio + httpx, presigned, 50"
        commands = {k: v for k, v in commands.items() if k.startswith("stevedore") or k == floor}
    times = {k: [] for k in commands}
    rss = {k: 0 for k in commands}
    try:
        for r in range(a.repeats + 1):
            order = list(commands) if r % 2 == 0 else list(reversed(commands))
            for name in order:
                subprocess.run(["vmtouch", "-qt", data], check=True)
                prefix = f"r{r}-{abs(hash(name)) % 10**8}"
                t, m = timed(commands[name](prefix), env)
                if a.server == "moto":
                    n = moto_count(endpoint, prefix)
                else:
                    stored = os.path.join(store, "bench", prefix)
                    n = len([f for f in os.listdir(stored) if not f.startswith(".")]) if os.path.isdir(stored) else 0
                assert n >= len(files), f"{name}: {n} objects stored"
                if r > 0:
                    times[name].append(t)
                rss[name] = max(rss[name], m)
    finally:
        server.terminate()
        subprocess.run(["rm", "-rf", store])
    sd = statistics.median(times["stevedore"])
    print(f"\n## S3 upload: {len(files)} files, {total / 1e6:.1f} MB, {a.server} on loopback, median of {a.repeats}\n")
    print("| uploader | median s | vs stevedore | peak RSS MiB |")
    print("|---|---:|---:|---:|")
    for name in commands:
        med = statistics.median(times[name])
        print(f"| {name} | {med:.3f} | {med / sd:.2f}x | {rss[name] / 2**20:.1f} |")


def start_moto():
    """moto_server from the test tools on a free port, with the bucket `bench`."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    binary = os.path.join(ROOT, ".venv-test", "bin", "moto_server")
    if not os.path.exists(binary):
        raise SystemExit("--server moto needs the test tools: run scripts/test once (it installs moto)")
    server = subprocess.Popen([binary, "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if moto_curl(["-X", "PUT", f"{endpoint}/bench"]).returncode == 0:
                return server, endpoint
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("moto_server did not start")


def moto_curl(args):
    return subprocess.run(["curl", "-sf", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", f"{ACCESS}:{SECRET}", *args],
                          capture_output=True)


def moto_count(endpoint, prefix):
    out = moto_curl([f"{endpoint}/bench?list-type=2&prefix={prefix}/"]).stdout.decode()
    return out.count("<Key>")


if __name__ == "__main__":
    main()
