"""The mxnet role's numpy (tasks/python_deps.yml) on a rehearsal Mac: check mode changes nothing, a wrong digest is
refused, a run installs the cached wheel offline, a second run changes nothing, rollback gives the tree back."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from egpu_lab import facts
from egpu_lab.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
VENV = "/usr/local/egpu-setup/venv"

pytestmark = [
    pytest.mark.lab,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap (bwrap) is not installed"),
]


def _play(lab: Path, tasks_from: str | None, *extra: str) -> tuple[int, dict[str, int], str]:
    """preflight (the plan), then the mxnet role's python_deps tasks, or python_bootstrap when tasks_from is None."""
    if tasks_from is None:
        roles = ["egpu.mac.preflight", "egpu.mac.python_bootstrap"]
        body = [{"name": "Bootstrap", "hosts": "all", "gather_facts": False, "roles": roles}]
    else:
        body = [{
            "name": "numpy for MXNet", "hosts": "all", "gather_facts": False, "roles": ["egpu.mac.preflight"],
            "tasks": [{"name": "Include the mxnet role's numpy tasks",
                       "ansible.builtin.include_role": {"name": "egpu.mac.mxnet", "tasks_from": tasks_from}}],
        }]  # fmt: skip
    playbook = lab / "play.yml"
    playbook.write_text(yaml.safe_dump(body))
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    done = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(lab / "inventory.yml"), str(playbook),
         "-e", f"egpu_mirror_url=file://{lab}/mirror", *extra],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    recap = re.search(r"mac1\s+:\s+(.*)", done.stdout.rsplit("PLAY RECAP", 1)[-1])
    counts = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", recap.group(1))} if recap else {}
    return done.returncode, counts, done.stdout + done.stderr


def _rollback(lab: Path) -> tuple[int, str]:
    playbook = lab / "rollback.yml"
    playbook.write_text(yaml.safe_dump([{"name": "Rollback", "hosts": "all", "gather_facts": False,
                                         "roles": ["egpu.mac.rollback"]}]))  # fmt: skip
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    done = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(lab / "inventory.yml"), str(playbook)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    return done.returncode, done.stdout + done.stderr


def _digest(lab: Path) -> dict[str, str]:
    spec = importlib.util.spec_from_file_location("provision_conftest", ROOT / "tests/provision/conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.host_digest(lab / "hosts/mac1")


def _numpy(lab: Path) -> str:
    done = Sandbox(lab / "hosts/mac1").run(f"{VENV}/bin/python3 -c 'import numpy; print(numpy.__version__)' 2>&1")
    return done.stdout.decode().strip().splitlines()[-1]


def test_numpy_check_refuse_apply_reapply_rollback(tmp_path: Path, cli: Callable[..., object]) -> None:
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

    rc, out = _rollback(lab)
    assert rc == 0, out
    assert _digest(lab) == bare
