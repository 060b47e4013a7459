#!/usr/bin/env python3
"""First-run and re-run wall times of `egpu-setup provision` on rehearsal High Sierra Macs, and their ratio.

    .venv/bin/python bench/provision_rerun.py [--hosts N] [--keep] [--json]

Brings up a lab of N hosts (default 1) in a temporary directory (`egpu-setup lab up --hosts N --sip kext-off`; one
host is the lab that `provision --rehearse` makes; not timed), reached over SSH as every lab is, provisions the bare
hosts in one run (first run), provisions them again (re-run: nothing to change), each with `egpu-setup provision
--rehearse --lab-dir LAB --json`. Run it with --hosts 1 and --hosts 8 for the figures of a lab against one Mac.
Reboots keep a host down for the lab's default 3 s, as with --rehearse.
Goal: the re-run takes at most 25% of the first run. Exits 1 when a run fails or the goal is missed.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from egpu_setup.cli import main

GOAL = 0.25


def run(argv: list[str]) -> tuple[int, str, float, str]:
    out, err = io.StringIO(), io.StringIO()
    started = time.monotonic()
    code = main(argv, stdout=out, stderr=err)
    return code, out.getvalue(), time.monotonic() - started, err.getvalue()


def main_bench() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the lab and the run directories")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--hosts", type=int, default=1, help="rehearsal Macs provisioned in one run (default 1)")
    args = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="egpu-bench-provision-"))
    os.environ["XDG_DATA_HOME"] = str(base / "data")
    os.environ["XDG_CACHE_HOME"] = str(base / "cache")
    lab = base / "lab"
    try:
        started = time.monotonic()
        # the one-host lab `provision --rehearse` brings up: a bare 10.13.2 Mac with kext signing off
        code, _, _, err = run(["lab", "up", "--dir", str(lab), "--hosts", str(args.hosts), "--sip", "kext-off"])
        lab_up = time.monotonic() - started
        if code != 0:
            print(f"lab up failed ({code}):\n{err}", file=sys.stderr)
            return 1
        figures: dict[str, float | int | str] = {"hosts": args.hosts, "lab_up_s": round(lab_up, 2)}
        for name in ("first_run", "re_run"):
            code, out, elapsed, err = run(["provision", "--rehearse", "--lab-dir", str(lab), "--json"])
            report = json.loads(out) if code == 0 else None
            if report is None:
                print(f"{name} failed ({code}); see the log:\n{err}", file=sys.stderr)
                return 1
            hosts = report["hosts"].values()
            figures[f"{name}_s"] = round(elapsed, 2)
            figures[f"{name}_changed"] = sum(host["changed"] for host in hosts)
            figures[f"{name}_tasks"] = sum(host["ok"] + host["skipped"] for host in hosts)
            figures[f"{name}_log"] = report["log"]
        ratio = float(figures["re_run_s"]) / float(figures["first_run_s"])
        figures["ratio"] = round(ratio, 3)
        figures["goal"] = GOAL
        if args.json:
            print(json.dumps(figures, indent=2))
        else:
            print(f"rehearsal Macs             {args.hosts:8d}")
            print(f"lab up (not timed below)   {figures['lab_up_s']:8.1f} s")
            print(f"first run (bare hosts)     {figures['first_run_s']:8.1f} s  changed={figures['first_run_changed']}")
            print(f"re-run (converged hosts)   {figures['re_run_s']:8.1f} s  changed={figures['re_run_changed']}")
            print(f"re-run / first run         {ratio:8.1%}  (goal <= {GOAL:.0%})")
            if args.keep:
                print(f"logs: {figures['first_run_log']} {figures['re_run_log']}")
        return 0 if ratio <= GOAL and figures["re_run_changed"] == 0 else 1
    finally:
        if args.keep:
            sys.stdout.flush()
            print(f"kept: {base}", file=sys.stderr)
        else:
            main(["lab", "down", "--dir", str(lab)], stdout=io.StringIO(), stderr=io.StringIO())
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main_bench())
