"""The mxnet role's numpy (tasks/python_deps.yml) on a rehearsal Mac: check mode changes nothing, a wrong digest is
refused, a run installs the cached wheel offline, a second run changes nothing, rollback gives the tree back."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from egpu_lab import facts
from egpu_lab.sandbox import Sandbox

VENV = "/usr/local/egpu-setup/venv"

pytestmark = [
    pytest.mark.lab,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap (bwrap) is not installed"),
]


def _plays(tasks_from: str | None) -> list[dict[str, Any]]:
    """preflight (the plan), then the mxnet role's python_deps tasks, or python_bootstrap when tasks_from is None."""
    if tasks_from is None:
        roles = ["egpu.mac.preflight", "egpu.mac.python_bootstrap"]
        return [{"name": "Bootstrap", "hosts": "all", "gather_facts": False, "roles": roles}]
    return [{
        "name": "numpy for MXNet", "hosts": "all", "gather_facts": False, "roles": ["egpu.mac.preflight"],
        "tasks": [{"name": "Include the mxnet role's numpy tasks",
                   "ansible.builtin.include_role": {"name": "egpu.mac.mxnet", "tasks_from": tasks_from}}],
    }]  # fmt: skip


ROLLBACK = [{"name": "Rollback", "hosts": "all", "gather_facts": False, "roles": ["egpu.mac.rollback"]}]


def _numpy(lab: Path) -> str:
    done = Sandbox(lab / "hosts/mac1").run(f"{VENV}/bin/python3 -c 'import numpy; print(numpy.__version__)' 2>&1")
    return done.stdout.decode().strip().splitlines()[-1]


def test_numpy_check_refuse_apply_reapply_rollback(
    tmp_path: Path, cli: Callable[..., object], lab_playbook: Callable[..., Any], digest_of: Callable[..., Any]
) -> None:
    def _play(lab: Path, tasks_from: str | None, *extra: str) -> tuple[int, dict[str, int], str]:
        return lab_playbook(lab, _plays(tasks_from), *extra)

    def _digest(lab: Path) -> dict[str, str]:
        return digest_of(lab / "hosts/mac1")

    lab = tmp_path / "lab"
    up = cli("lab", "up", "--dir", str(lab), "--hosts", "1", "--reboot-seconds", "0", "--sip", "kext-off")
    assert up.code == 0, up.err
    bare = _digest(lab)
    rc, _, out = _play(lab, None)
    assert rc == 0, out
    assert _numpy(lab) == "ModuleNotFoundError: No module named 'numpy'"  # the tools venv as python_bootstrap makes it
    bootstrapped = _digest(lab)

    rc, counts, out = _play(lab, "python_deps", "--check", "--diff")
    assert rc == 0 and counts["changed"] >= 1, out
    assert _digest(lab) == bootstrapped, "check mode changed the host"

    rc, counts, out = _play(lab, "python_deps", "-e", f"mxnet_numpy_sha256={'0' * 64}")
    assert rc != 0 and counts["failed"] == 1, out
    assert "0" * 64 in out
    assert _numpy(lab) == "ModuleNotFoundError: No module named 'numpy'"

    rc, counts, out = _play(lab, "python_deps")
    assert rc == 0 and counts["changed"] >= 1, out
    assert "Ensure pip installs numpy from that wheel only" in out
    assert _numpy(lab) == facts.value("numpy", "version")
    site = lab / "hosts/mac1/root" / VENV.lstrip("/") / "lib/python3.11/site-packages"
    assert (site / facts.value("numpy", "dist_info")).is_dir()
    uploaded = lab / "hosts/mac1/root/private/var/tmp/egpu-setup" / facts.value("numpy", "wheel_filename")
    requirement = (uploaded.parent / "mxnet-python-requirements.txt").read_text()
    assert requirement.startswith(f"/private/var/tmp/egpu-setup/{uploaded.name} --hash=sha256:")

    rc, counts, out = _play(lab, "python_deps")
    assert rc == 0 and counts["changed"] == 0, out

    rc, _, out = lab_playbook(lab, ROLLBACK)
    assert rc == 0, out
    assert _digest(lab) == bare
