"""The Ansible content: every playbook passes --syntax-check and ansible-lint's production profile, and the
example inventory is a plain Ansible inventory with the group vars the roles read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = sorted((ROOT / "playbooks").glob("*.yml"))
BIN = Path(sys.executable).parent


def ansible(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    return subprocess.run(
        [str(BIN / tool), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )


def test_the_three_playbooks_exist():
    assert [p.name for p in PLAYBOOKS] == ["provision.yml", "rollback.yml", "verify.yml"]


@pytest.mark.parametrize("playbook", PLAYBOOKS, ids=lambda p: p.name)
def test_syntax_check_is_clean(playbook):
    done = ansible("ansible-playbook", "--syntax-check", "-i", "inventory/example/hosts.yml", str(playbook))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stderr, done.stderr


def test_provision_runs_the_roles_in_order():
    play = yaml.safe_load((ROOT / "playbooks/provision.yml").read_text())[0]
    roles = [task["ansible.builtin.import_role"] for task in play["tasks"]]
    steps = ["reboot" if role.get("tasks_from") == "reboot" else role["name"] for role in roles]
    assert steps == [
        "preflight",
        "python_bootstrap",
        "nvidia_webdriver",
        "egpu_support",
        "cuda_driver",
        "reboot",
        "cuda_toolkit",
        "xcode_clt",
        "cudnn",
        "mxnet",
        "gpu_verify",
    ]


@pytest.mark.slow
def test_ansible_lint_production_profile_is_clean():
    # The whole project as .ansible-lint configures it (roles, playbooks, inventory, the collection's metadata):
    # the command the README gives, so what it reports is what this test sees.
    done = ansible("ansible-lint", "--profile", "production", "--offline")
    assert done.returncode == 0, done.stdout + done.stderr


def test_example_inventory_is_plain_ansible_with_the_lab_settings():
    done = ansible("ansible-inventory", "-i", "inventory/example/hosts.yml", "--list")
    assert done.returncode == 0, done.stderr
    import json

    inventory = json.loads(done.stdout)
    assert inventory["egpu_macs"]["hosts"] == ["mac-01", "mac-02", "mac-03"]
    host_vars = inventory["_meta"]["hostvars"]
    assert host_vars["mac-01"]["egpu_profile"] == "default"
    assert host_vars["mac-03"]["egpu_profile"] == "native"  # a host can differ from its group
    for name in ("egpu_cache_dir", "egpu_mirror_url", "egpu_lock_file", "ansible_become_method"):
        assert name in host_vars["mac-01"], name
    assert host_vars["mac-01"]["ansible_become"] is True
