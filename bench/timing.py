"""Shared by the upload benchmarks: one timed run of a command under GNU time."""
import subprocess
import sys
import tempfile
import time


def timed(cmd, env, cwd=None, check=True):
    """Wall seconds and peak RSS bytes of one run; exits with its stderr if it fails.

    check=False accepts any exit code: the run is timed whatever it returns (run.py's
    jdupes)."""
    elapsed, rss, _ = timed_cpu(cmd, env, cwd, check)
    return elapsed, rss


def timed_cpu(cmd, env, cwd=None, check=True):
    """timed() plus the CPU seconds (user + system) of the command and its children: on a
    machine shared with other work, CPU time stays comparable where wall time does not."""
    with tempfile.NamedTemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", "-o", out.name, *cmd], cwd=cwd, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        elapsed = time.perf_counter() - start
        with open(out.name) as f:
            kib, user, system = f.read().strip().splitlines()[-1].split()
    if check and proc.returncode != 0:
        sys.exit(f"{cmd[:3]} failed ({proc.returncode}):\n{proc.stderr.decode(errors='replace')[-3000:]}")
    return elapsed, int(kib) * 1024, float(user) + float(system)
