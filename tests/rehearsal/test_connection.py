"""The egpu.lab.sandbox connection plugin: its documentation, unreachable hosts, and nothing left running."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from egpu_lab.lab import Lab, LabOptions

pytestmark = pytest.mark.lab


def test_plugin_documentation_parses(tmp_path):
    exe = str(Path(sys.executable).with_name("ansible-doc"))
    r = subprocess.run([exe, "-t", "connection", "--json", "egpu.lab.sandbox"], cwd=tmp_path, capture_output=True,
                       text=True)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert '"egpu_rehearsal_host_dir"' in r.stdout and '"pipelining"' in r.stdout


def test_a_missing_host_is_unreachable_with_a_clear_message(tmp_path, ansible):
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(
        "all:\n  hosts:\n    ghost:\n      ansible_connection: egpu.lab.sandbox\n"
        f"      egpu_rehearsal_host_dir: {tmp_path}/nowhere\n"
    )
    r = ansible("ghost", "-i", str(inventory), "-m", "ansible.builtin.raw", "-a", "true", cwd=tmp_path)
    assert r.returncode == 4  # unreachable
    assert "no rehearsal Mac at" in r.stdout and "egpu-setup lab up" in r.stdout


def test_an_unknown_user_is_unreachable_not_silently_admin(tmp_path, ansible):
    lab = Lab(tmp_path / "lab")
    lab.up(LabOptions(hosts=1, reboot_seconds=0.0, mirror=False))
    r = ansible("mac1", "-i", str(lab.inventory), "-m", "ansible.builtin.raw", "-a", "id -un", "-e", "ansible_user=bob",
                "-e", "ansible_become=false", cwd=tmp_path)  # fmt: skip
    assert r.returncode == 4
    assert "no user 'bob' on rehearsal Mac mac1" in r.stdout
    r = ansible("mac1", "-i", str(lab.inventory), "-m", "ansible.builtin.raw", "-a", "id -un", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.splitlines()[1] == "root"  # admin, made root by the lab's become
    lab.down()


def test_a_command_may_outlast_ansibles_connect_timeout(tmp_path, ansible):
    # Ansible hands a connection option named `timeout` its connect timeout (-T, 10 s by default); an MXNet build
    # takes minutes, so the per-command limit is an option of its own, and -T must not cut a command short.
    lab = Lab(tmp_path / "lab")
    lab.up(LabOptions(hosts=1, reboot_seconds=0.0, mirror=False))
    r = ansible("mac1", "-i", str(lab.inventory), "-T", "1", "-m", "ansible.builtin.raw", "-a", "sleep 2; echo done",
                cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0 and "done" in r.stdout, r.stdout
    r = ansible("mac1", "-i", str(lab.inventory), "-m", "ansible.builtin.raw", "-a", "sleep 5",
                "-e", "egpu_rehearsal_command_timeout=1", cwd=tmp_path)  # fmt: skip
    assert r.returncode == 4 and "command timed out after 1" in r.stdout, r.stdout
    lab.down()


def test_a_host_down_after_shutdown_is_unreachable(tmp_path, ansible):
    lab = Lab(tmp_path / "lab")
    lab.up(LabOptions(hosts=1, reboot_seconds=60.0, mirror=False))
    assert lab.sandbox("mac1").run("shutdown -r now", user="root").returncode == 0
    r = ansible("mac1", "-i", str(lab.inventory), "-m", "ansible.builtin.raw", "-a", "true", cwd=tmp_path)
    assert r.returncode == 4
    assert "rehearsal host mac1 is rebooting" in r.stdout
    lab.down()


def test_down_stops_a_command_still_running_in_a_host(tmp_path):
    lab = Lab(tmp_path / "lab")
    lab.up(LabOptions(hosts=1, reboot_seconds=0.0, mirror=False))
    sandbox = lab.sandbox("mac1")
    hung = subprocess.Popen(sandbox.argv(["/bin/sh", "-c", "sleep 300"]), start_new_session=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(
        p.name() == "sleep" for p in psutil.Process(hung.pid).children(recursive=True)
    ):
        time.sleep(0.05)
    killed = lab.down()
    assert hung.pid in killed
    hung.wait(timeout=10)  # gone long before its 300 s
    leftover = [p for p in psutil.process_iter(["cmdline"]) if any(str(lab.dir) in a for a in p.info["cmdline"] or [])]
    assert leftover == []
    assert [line for line in Path("/proc/mounts").read_text().splitlines() if str(lab.dir) in line] == []
