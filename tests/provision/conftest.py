"""Fixtures of the provisioning tests: a small Ansible project standing in for playbooks/ and roles/ (fast runner
tests over the local connection), and the end-to-end fixtures on rehearsal Macs (test_e2e_*.py)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

DEMO_ROLE = """\
- name: Ensure the marker file is written
  ansible.builtin.copy:
    content: "provisioned {{ inventory_hostname }} with {{ egpu_profile | default('default') }}\\n"
    dest: "{{ demo_dir }}/{{ inventory_hostname }}.txt"
    mode: "0644"

- name: Ensure the host is not the broken one
  ansible.builtin.fail:
    msg: "{{ inventory_hostname }} is broken: remedy: replace it"
  when: inventory_hostname in (demo_broken | default([]))

- name: Bring the verification report back
  ansible.builtin.copy:
    content: '{"host": "{{ inventory_hostname }}", "passed": true}'
    dest: "{{ egpu_verify_fetch_dir }}/{{ inventory_hostname }}.json"
    mode: "0644"
  delegate_to: localhost
  changed_when: false  # a copy on the controller, in a fresh run dir: the host did not change
  when: egpu_verify_fetch_dir is defined and not ansible_check_mode

- name: Wait a little when told to (a window for killing the run)
  ansible.builtin.command: sleep {{ demo_sleep | default(0) }}
  changed_when: false
  when: (demo_sleep | default(0) | int) > 0
"""

PLAYBOOK = """\
- name: Demo provision
  hosts: all
  gather_facts: false
  roles:
    - role: demo
"""


@pytest.fixture
def demo_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project root with ansible.cfg, playbooks/{provision,rollback}.yml and roles/demo; runs under tmp."""
    root = tmp_path / "project"
    (root / "playbooks").mkdir(parents=True)
    (root / "roles/demo/tasks").mkdir(parents=True)
    (root / "ansible.cfg").write_text("[defaults]\nroles_path = ./roles\nretry_files_enabled = false\n")
    (root / "roles/demo/tasks/main.yml").write_text(DEMO_ROLE)
    for name in ("provision", "rollback"):
        (root / "playbooks" / f"{name}.yml").write_text(PLAYBOOK)
    monkeypatch.setenv("EGPU_SETUP_CONTENT", str(root))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return root


def write_inventory(path: Path, hosts: list[str], **group_vars: object) -> Path:
    """A YAML inventory of local-connection hosts writing under <path's dir>/hosts."""
    out = path.parent / "hosts"
    out.mkdir(exist_ok=True)
    doc = {
        "all": {
            "hosts": {name: {} for name in hosts},
            "vars": {
                "ansible_connection": "local",
                "ansible_python_interpreter": sys.executable,
                "demo_dir": str(out),
                **group_vars,
            },
        }
    }
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture
def inventory_of() -> Callable[..., Path]:
    """`inventory_of(path, ["alpha"], demo_broken=["alpha"])` writes a local-connection YAML inventory."""
    return write_inventory


@pytest.fixture
def demo_inventory(tmp_path: Path) -> Path:
    return write_inventory(tmp_path / "inventory.yml", ["alpha", "beta"])
