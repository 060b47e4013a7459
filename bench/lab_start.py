#!/usr/bin/env python3
"""How long a rehearsal High Sierra Mac takes to start, and what one command inside it costs.

    .venv/bin/python bench/lab_start.py [--hosts N] [--runs R] [--json]

For each run, in a fresh temporary directory: `Lab.up` with N hosts (tree, shims, machine state, kext cache, first
boot; no stand-in mirror), then the first `sw_vers` in mac1 through the sandbox. Then R further commands
(`sw_vers`, a shim: Python start-up inside bubblewrap; `true`, a plain Linux tool) give the per-command cost, and
a `shutdown -r now` + next command the cost of an (instant) reboot. Goal: a host starts in under 2 s (per host:
up time / N + first command). Exits 1 when the goal is missed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from egpu_lab.lab import Lab, LabOptions

GOAL_S = 2.0


def timed(func: Callable[[], object]) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def one_run(hosts: int, repeat: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="egpu-lab-bench-") as tmp:
        lab = Lab(Path(tmp) / "lab")
        up = timed(lambda: lab.up(LabOptions(hosts=hosts, reboot_seconds=0.0, mirror=False)))
        sandbox = lab.sandbox("mac1")
        first = timed(lambda: _ok(sandbox.run("sw_vers")))
        shim = [timed(lambda: _ok(sandbox.run("sw_vers"))) for _ in range(repeat)]
        plain = [timed(lambda: _ok(sandbox.run("true"))) for _ in range(repeat)]
        reboot = timed(lambda: (_ok(sandbox.run("shutdown -r now", user="root")), _ok(sandbox.run("who -b"))))
        lab.down()
    return {
        "up_s": up,
        "per_host_start_s": up / hosts + first,
        "first_command_s": first,
        "shim_command_median_s": statistics.median(shim),
        "plain_command_median_s": statistics.median(plain),
        "reboot_s": reboot,
    }


def _ok(result: subprocess.CompletedProcess[bytes]) -> None:
    if result.returncode != 0:
        raise SystemExit(f"command failed in the sandbox: {result.stderr.decode(errors='replace')}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    runs = [one_run(args.hosts, args.repeat) for _ in range(args.runs)]
    summary = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    ok = summary["per_host_start_s"] < GOAL_S
    if args.json:
        print(json.dumps({"hosts": args.hosts, "runs": args.runs, "median": summary, "goal_s": GOAL_S, "ok": ok}))
    else:
        print(f"rehearsal lab start, {args.hosts} host(s), median of {args.runs} runs:")
        print(f"  lab up                      {summary['up_s']:.3f} s")
        print(f"  first command (sw_vers)     {summary['first_command_s']:.3f} s")
        print(
            f"  host start (up/N + first)   {summary['per_host_start_s']:.3f} s   goal < {GOAL_S:.0f} s: "
            f"{'met' if ok else 'MISSED'}"
        )
        print(f"  command via a shim          {summary['shim_command_median_s'] * 1000:.0f} ms (median)")
        print(f"  plain Linux tool            {summary['plain_command_median_s'] * 1000:.0f} ms (median)")
        print(f"  reboot + next command       {summary['reboot_s'] * 1000:.0f} ms")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
