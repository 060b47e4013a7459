"""The Ansible content: every playbook passes --syntax-check and ansible-lint's production profile, and the
example inventory is a plain Ansible inventory with the group vars the roles read."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from egpu_setup.runner.run_state import RUN_INCOMPLETE_TASK

ROOT = Path(__file__).resolve().parents[2]
COLLECTION = ROOT / "ansible_collections/egpu/mac"
PLAYBOOKS = sorted((COLLECTION / "playbooks").glob("*.yml"))
ROLE_STEPS = ["python_bootstrap", "nvidia_webdriver", "egpu_support", "cuda_driver", "reboot", "cuda_toolkit",
              "xcode_clt", "cudnn", "mxnet", "gpu_verify"]  # fmt: skip


def test_the_three_playbooks_exist():
    assert [p.name for p in PLAYBOOKS] == ["provision.yml", "rollback.yml", "verify.yml"]


@pytest.mark.parametrize("playbook", PLAYBOOKS, ids=lambda p: p.name)
def test_syntax_check_is_clean(ansible_tool, playbook):
    # By the collection playbook's name, as people run it: egpu.mac.provision.
    fqcn = f"egpu.mac.{playbook.stem}"
    done = ansible_tool("ansible-playbook", "--syntax-check", "-i", "inventory/example/hosts.yml", fqcn)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stderr, done.stderr


def locked_steps(play: dict) -> list[dict]:
    """The steps of a playbook that runs under the Mac's run lock: the inventory's values checked first, before any
    role (issue 11), then the lock taken, then a block whose `always` releases it (the roles are the block's tasks)."""
    check, take, locked = play["tasks"]
    assert "egpu.mac.inventory_check" in check and check["tags"] == ["always"]
    assert take["ansible.builtin.import_role"] == {"name": "egpu.mac.egpu_common", "tasks_from": "run_lock"}
    assert take["tags"] == ["always"]
    # after the release, the task that counts a Mac whose block did not complete (issue 12: max_fail_percentage);
    # the block's last task marks it complete
    release, count = locked["always"]
    assert release["ansible.builtin.import_role"] == {"name": "egpu.mac.egpu_common", "tasks_from": "run_unlock"}
    assert release["tags"] == ["always"]
    assert count["name"] == RUN_INCOMPLETE_TASK and count["tags"] == ["always"]
    *steps, mark = locked["block"]
    assert mark["ansible.builtin.set_fact"] == {"egpu_run_complete": True} and mark["tags"] == ["always"]
    return steps


@pytest.mark.parametrize("name", ["provision", "rollback", "verify"])
def test_every_playbook_holds_the_macs_run_lock_from_first_to_last_task(name):
    play = yaml.safe_load((COLLECTION / f"playbooks/{name}.yml").read_text())[0]
    assert locked_steps(play)
    assert play["strategy"] == "ansible.builtin.linear"


def test_verify_runs_the_verification_under_the_lock():
    play = yaml.safe_load((COLLECTION / "playbooks/verify.yml").read_text())[0]
    assert [task["ansible.builtin.import_role"] for task in locked_steps(play)] == [{"name": "egpu.mac.gpu_verify"}]


def test_provision_runs_the_roles_in_order():
    play = yaml.safe_load((COLLECTION / "playbooks/provision.yml").read_text())[0]
    roles = [task["ansible.builtin.import_role"] for task in locked_steps(play)]
    assert all(role["name"].startswith("egpu.mac.") for role in roles)  # by FQCN
    steps = [
        "reboot" if role.get("tasks_from") == "reboot" else role["name"].removeprefix("egpu.mac.") for role in roles
    ]
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
    assert steps == ["preflight", *ROLE_STEPS]


def test_each_step_has_its_tag_and_preflight_always_runs():
    play = yaml.safe_load((COLLECTION / "playbooks/provision.yml").read_text())[0]
    assert [task["tags"] for task in locked_steps(play)] == [["always", "preflight"], *([step] for step in ROLE_STEPS)]


def test_tags_select_one_role_after_preflight(ansible_tool):
    # What `--tags cuda_toolkit` runs, as ansible-playbook lists it: preflight (always: it resolves the plan the
    # others read) and the toolkit's own tasks, nothing of the other roles.
    done = ansible_tool(
        "ansible-playbook", "egpu.mac.provision", "-i", "localhost,", "--list-tasks", "--tags", "cuda_toolkit"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # Ansible tags each role's check of its meta/argument_specs.yml `always`: those only validate, and are left out
    spec_check = "Validating arguments against arg spec"
    lines = [line for line in done.stdout.splitlines() if " : " in line]
    roles = {line.split(" : ")[0].strip() for line in lines if spec_check not in line}
    # egpu_common: the Mac's run lock, taken and released around every run (tags: always)
    assert roles == {"egpu.mac.egpu_common", "egpu.mac.preflight", "egpu.mac.cuda_toolkit"}, done.stdout
    assert all("always" in line for line in lines if spec_check in line)
    done = ansible_tool("ansible-playbook", "egpu.mac.provision", "-i", "localhost,", "--list-tags")
    assert done.returncode == 0, done.stdout + done.stderr
    listed = set(done.stdout.split("TASK TAGS: [", 1)[1].split("]", 1)[0].split(", "))
    assert listed == {"always", "preflight", *ROLE_STEPS}


@pytest.mark.slow
def test_ansible_lint_production_profile_is_clean(ansible_tool):
    # The whole project as .ansible-lint configures it (roles, playbooks, inventory, the collection's metadata):
    # the command the README gives, so what it reports is what this test sees.
    done = ansible_tool("ansible-lint", "--profile", "production", "--offline")
    assert done.returncode == 0, done.stdout + done.stderr


def test_example_inventory_is_plain_ansible_with_the_lab_settings(ansible_tool):
    done = ansible_tool("ansible-inventory", "-i", "inventory/example/hosts.yml", "--list")
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
