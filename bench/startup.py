"""Start-up time of `egpu-setup --help` and `egpu-setup matrix`: median of several fresh processes.

    .venv/bin/python bench/startup.py [--runs N]

Each run is a new interpreter (what a user waits for), output discarded. Goals: --help <= 0.3 s, matrix <= 0.5 s.
Exits 1 when a median misses its goal, so CI can run it as a check, and stops with the command's error when a
command fails (a crash is fast, not a result).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

CASES: tuple[tuple[str, list[str], float], ...] = (
    ("egpu-setup --help", ["--help"], 0.3),
    ("egpu-setup matrix", ["matrix"], 0.5),
)


def _command() -> list[str]:
    """The installed console script beside this interpreter, else `python -m egpu_setup`."""
    script = Path(sys.executable).with_name("egpu-setup")
    return [str(script)] if script.exists() else [sys.executable, "-m", "egpu_setup"]


def measure(argv: list[str], runs: int) -> list[float]:
    env = {**os.environ, "COLUMNS": "120"}
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, check=False)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:  # a command that fails fast would otherwise look fast
            raise SystemExit(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr.decode(errors='replace')}")
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per command (default 7)")
    args = parser.parse_args()
    base = _command()
    measure([*base, "--version"], 1)  # warm the file cache and .pyc files so run 1 is not an outlier
    missed = 0
    print(f"{'command':<22} {'median':>8} {'min':>8} {'max':>8}  goal")
    for label, extra, goal in CASES:
        times = measure([*base, *extra], args.runs)
        median = statistics.median(times)
        verdict = "ok" if median <= goal else "MISSED"
        missed += median > goal
        print(f"{label:<22} {median:8.3f} {min(times):8.3f} {max(times):8.3f}  <= {goal:.1f} s {verdict}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
