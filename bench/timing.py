"""Shared by the upload benchmarks: one timed run of a command under GNU time."""
import subprocess
import sys
import tempfile
import time


def timed(cmd, env, cwd=None, check=True):
    """Wall seconds and peak RSS bytes of one run; exits with its stderr if it fails.

    check=False accepts any exit code: the run is timed whatever it returns (run.py's
    jdupes)."""
    with tempfile.NamedTemporaryFile() as rss:
        start = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name, *cmd], cwd=cwd, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        elapsed = time.perf_counter() - start
        with open(rss.name) as f:
            kib = int(f.read().strip().splitlines()[-1])
    if check and proc.returncode != 0:
        sys.exit(f"{cmd[:3]} failed ({proc.returncode}):\n{proc.stderr.decode(errors='replace')[-3000:]}")
    return elapsed, kib * 1024
