"""The egpu.mac.macho_rpaths module run by real Ansible (`ansible localhost -m ...`): check, apply, apply again."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ANSIBLE = Path(sys.executable).with_name("ansible")
MX = "/opt/mxnet/lib/libmxnet.so"

pytestmark = pytest.mark.skipif(not ANSIBLE.exists(), reason="ansible is not installed next to this Python")


def ansible(tmp_path: Path, args: str, *flags: str, interpreter: str = sys.executable) -> tuple[str, dict]:
    """Run the module on localhost; returns Ansible's status word and the module result."""
    env = {
        **os.environ,
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-local"),
        "ANSIBLE_REMOTE_TEMP": str(tmp_path / "ansible-remote"),
    }
    proc = subprocess.run(
        [str(ANSIBLE), "localhost", "-e", f"ansible_python_interpreter={interpreter}",
         "-m", "egpu.mac.macho_rpaths", "-a", args, *flags],
        capture_output=True, text=True, cwd=tmp_path, env=env, check=False, timeout=120,
    )  # fmt: skip
    match = re.search(r"^localhost \| (\w+)! => (\{.*?^\})", proc.stdout, re.S | re.M) or re.search(
        r"^localhost \| (\w+) => (\{.*?^\})", proc.stdout, re.S | re.M
    )
    assert match, proc.stdout + proc.stderr
    return match.group(1), json.loads(match.group(2))


def test_check_then_apply_then_apply_again(tmp_path, mac_tree, built):
    root = mac_tree(files={MX: built.mxnet})
    lib = root / MX.lstrip("/")
    original = lib.read_bytes()
    args = f"paths=/opt/mxnet/lib root={root}"

    status, result = ansible(tmp_path, args, "--check", "--diff")
    assert (status, result["changed"]) == ("CHANGED", True)
    assert lib.read_bytes() == original  # check mode writes nothing
    assert result["files"][0]["status"] == "would-fix"
    assert "LC_RPATH /usr/local/cuda/lib" in result["files"][0]["load_commands_after"]

    status, result = ansible(tmp_path, args)
    assert (status, result["changed"]) == ("CHANGED", True)
    assert lib.read_bytes() != original
    fixed = lib.read_bytes()

    status, result = ansible(tmp_path, args)
    assert (status, result["changed"]) == ("SUCCESS", False)
    assert result["files"][0]["status"] == "ok"
    assert lib.read_bytes() == fixed


def test_failures_are_reported_not_raised(tmp_path, mac_tree, built):
    root = mac_tree(files={MX: built.mxnet_nopad})
    status, result = ansible(tmp_path, f"paths={MX} root={root}")
    assert status == "FAILED" and result["changed"] is False
    assert "-headerpad_max_install_names" in result["msg"]
    assert (root / MX.lstrip("/")).read_bytes() == built.mxnet_nopad.read_bytes()

    bare = mac_tree(cuda=None, files={MX: built.mxnet})
    status, result = ansible(tmp_path, f"paths={MX} root={bare}")
    assert status == "FAILED" and "still do not resolve" in result["msg"]


def test_without_egpu_setup_on_the_target_the_module_says_what_to_do(tmp_path, mac_tree, built):
    # A Python without egpu_setup (the system one): the module must fail with the fix, not a traceback.
    system_python = shutil.which("python3", path="/usr/bin:/bin")
    if system_python is None or subprocess.run([system_python, "-c", "import egpu_setup"], cwd=tmp_path,
                                               capture_output=True, check=False).returncode == 0:  # fmt: skip
        pytest.skip("no Python here that lacks egpu_setup")
    root = mac_tree(files={MX: built.mxnet})
    status, result = ansible(tmp_path, f"paths={MX} root={root}", interpreter=system_python)
    assert status == "FAILED"
    assert "/usr/local/egpu-setup/venv/bin/python" in result["msg"]
