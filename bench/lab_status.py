"""Print the wall time of `egpu-setup status` on a lab of 8 rehearsal Macs (goal: <= 5 s here).

Usage: python bench/lab_status.py [--hosts N]. Brings up a lab of bare Macs (status reads them as it reads
provisioned ones: one mac_facts call each, gather_facts off), runs status three times and prints each wall time,
then the start of ansible-playbook alone (`--version`), a floor under what status can reach.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=8)
    args = parser.parse_args()
    from egpu_lab.lab import Lab, LabOptions
    from egpu_setup.cli import main as cli

    with tempfile.TemporaryDirectory(prefix="bench-status-") as tmp:
        os.environ["XDG_DATA_HOME"] = str(Path(tmp) / "data")
        lab = Lab(Path(tmp) / "lab")
        started = time.monotonic()
        lab.up(LabOptions(hosts=args.hosts, sip="kext-off", reboot_seconds=0.0))
        print(f"lab up, {args.hosts} Macs: {time.monotonic() - started:.1f} s")
        try:
            for attempt in range(3):
                started = time.monotonic()
                code = cli(["status", "-i", str(lab.dir / "inventory.yml"), "--json"], io.StringIO(), io.StringIO())
                print(f"status, {args.hosts} Macs, run {attempt + 1}: {time.monotonic() - started:.2f} s (exit {code})")
            started = time.monotonic()
            subprocess.run([str(Path(sys.executable).with_name("ansible-playbook")), "--version"],
                           capture_output=True, check=True)  # fmt: skip
            print(f"ansible-playbook --version alone: {time.monotonic() - started:.2f} s")
        finally:
            lab.down()


if __name__ == "__main__":
    main()
