#!/usr/bin/env python3
"""Per-task cost of reaching a rehearsal Mac over SSH, next to entering its sandbox directly (what the removed
connection plugin egpu.lab.sandbox did for every command). Prints figures; asserts nothing.

    .venv/bin/python bench/ssh_cost.py [--tasks 20]

Brings up a one-host lab in a temporary directory (not timed), then times:
- sandbox: `Sandbox.run("true")` N times (one bwrap per command, the old connection's cost floor);
- ssh: one `ansible-playbook` of N `ansible.builtin.raw: true` tasks with become (ControlPersist reuses one
  connection; each task is an ssh session entering the sandbox), minus an empty playbook's run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from egpu_lab.lab import Lab, LabOptions

PLAY = """- name: Cost
  hosts: all
  gather_facts: false
  tasks:
{tasks}
"""
TASK = """    - name: Task {i}
      ansible.builtin.raw: "true"
      changed_when: false
"""


def playbook_seconds(lab: Lab, work: Path, tasks: int) -> float:
    book = work / f"play{tasks}.yml"
    book.write_text(PLAY.format(tasks="".join(TASK.format(i=i) for i in range(tasks)) or "    []"))
    exe = str(Path(sys.executable).with_name("ansible-playbook"))
    started = time.monotonic()
    r = subprocess.run([exe, "-i", str(lab.inventory), str(book)], cwd=work, capture_output=True, text=True,
                       env=dict(os.environ, ANSIBLE_NOCOLOR="1"))  # fmt: skip
    if r.returncode != 0:
        raise SystemExit(r.stdout + r.stderr)
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ssh-cost-") as tmp:
        work = Path(tmp)
        lab = Lab(work / "lab")
        lab.up(LabOptions(hosts=1, mirror=False, reboot_seconds=0.0))
        try:
            sandbox = lab.sandbox("mac1")
            started = time.monotonic()
            for _ in range(args.tasks):
                sandbox.run("true")
            direct = (time.monotonic() - started) / args.tasks
            empty = playbook_seconds(lab, work, 0)
            full = playbook_seconds(lab, work, args.tasks)
            over_ssh = (full - empty) / args.tasks
        finally:
            lab.down()
    print(f"sandbox (bwrap per command):       {direct * 1000:7.1f} ms per command")
    print(f"ssh (Ansible raw task, become):    {over_ssh * 1000:7.1f} ms per task ({args.tasks} tasks)")
    print(f"ratio ssh / sandbox:               {over_ssh / direct:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
