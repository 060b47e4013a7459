#!/usr/bin/env python3
"""Per-task cost of reaching a rehearsal Mac over SSH, next to the connection plugin it replaced
(egpu.lab.sandbox, removed in 5b22298) running the same Ansible task. Prints figures; asserts nothing.

    .venv/bin/python bench/ssh_cost.py [--tasks 20]

Brings up a one-host lab in a temporary directory (not timed), then times:
- sandbox: `Sandbox.run("true")` N times (one bwrap per command: either connection's cost floor);
- ssh: one `ansible-playbook` of N `ansible.builtin.raw: true` tasks with become (ControlPersist reuses one
  connection; each task is an ssh session entering the sandbox), minus an empty playbook's run;
- old plugin: the same playbooks with `ansible_connection: egpu.lab.sandbox`, the plugin taken from git at
  5b22298^ into a temporary collections path (needs a git checkout; skipped, and said so, without one).
Both playbooks run with egpu-setup's own ansible.cfg (pipelining on, as in a provision).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from egpu_lab.lab import Lab, LabOptions

ROOT = Path(__file__).resolve().parents[1]
OLD_PLUGIN_COMMIT = "5b22298^"
OLD_PLUGIN = "lab/ansible_collections/egpu/lab/plugins/connection/sandbox.py"

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


def playbook_seconds(
    lab: Lab, work: Path, tasks: int, extra: list[str] | None = None, env: dict[str, str] | None = None
) -> float:
    book = work / f"play{tasks}.yml"
    book.write_text(PLAY.format(tasks="".join(TASK.format(i=i) for i in range(tasks)) or "    []"))
    exe = str(Path(sys.executable).with_name("ansible-playbook"))
    config = str(ROOT / "egpu_setup/runner/ansible.cfg")
    started = time.monotonic()
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_CONFIG=config, **(env or {}))
    r = subprocess.run([exe, "-i", str(lab.inventory), *(extra or []), str(book)], cwd=work, capture_output=True,
                       text=True, env=env)  # fmt: skip
    if r.returncode != 0:
        raise SystemExit(r.stdout + r.stderr)
    return time.monotonic() - started


def per_task(
    lab: Lab, work: Path, tasks: int, extra: list[str] | None = None, env: dict[str, str] | None = None
) -> float:
    """Seconds per task: N tasks' playbook minus an empty one's (Ansible's start-up and the play's set-up)."""
    empty = playbook_seconds(lab, work, 0, extra, env)
    return (playbook_seconds(lab, work, tasks, extra, env) - empty) / tasks


def old_plugin(work: Path) -> Path | None:
    """A collections path holding egpu.lab with the removed connection plugin, from git; None without git."""
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        text = subprocess.run(["git", "-C", str(ROOT), "show", f"{OLD_PLUGIN_COMMIT}:{OLD_PLUGIN}"],
                              capture_output=True, text=True, check=True).stdout  # fmt: skip
        base = work / "old-collections"
        target = base / "ansible_collections/egpu/lab/plugins/connection/sandbox.py"
        target.parent.mkdir(parents=True)
        target.write_text(text)
        return base
    return None


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
            over_ssh = per_task(lab, work, args.tasks)
            collections = old_plugin(work)
            old = None
            if collections is not None:
                host_vars = ["-e", "ansible_connection=egpu.lab.sandbox",
                             "-e", f"egpu_rehearsal_host_dir={lab.hosts_dir / 'mac1'}"]  # fmt: skip
                old = per_task(lab, work, args.tasks, host_vars, {"ANSIBLE_COLLECTIONS_PATH": str(collections)})
        finally:
            lab.down()
    rows = [("sandbox (bwrap per command)", f"{direct * 1000:7.1f} ms per command"),
            ("ssh (Ansible raw task, become)", f"{over_ssh * 1000:7.1f} ms per task ({args.tasks} tasks)")]  # fmt: skip
    if old is None:
        rows.append(("old plugin egpu.lab.sandbox", "not measured (no git checkout to take it from)"))
    else:
        rows.append(
            (f"old plugin egpu.lab.sandbox ({OLD_PLUGIN_COMMIT})", f"{old * 1000:7.1f} ms per task (same task)")
        )
        rows.append(("ratio ssh / old plugin", f"{over_ssh / old:7.2f}"))
    rows.append(("ratio ssh / sandbox", f"{over_ssh / direct:7.2f}"))
    for label, value in rows:
        print(f"{label + ':':<42}{value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
