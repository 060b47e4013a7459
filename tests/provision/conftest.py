"""Fixtures of the provisioning tests: a small egpu.mac collection standing in for the real one (fast runner
tests over the local connection), and the end-to-end fixtures on rehearsal Macs (test_e2e_*.py)."""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
  ansible.builtin.set_fact:
    gpu_verify_result: {host: "{{ inventory_hostname }}", passed: true}
  when: not ansible_check_mode

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
    - role: egpu.mac.demo
"""


@pytest.fixture
def demo_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo egpu.mac collection: playbooks/{provision,rollback}.yml and roles/demo, under a collections root
    in tmp that EGPU_SETUP_CONTENT names (so it comes before the real collection). Returns the collection's dir."""
    root = tmp_path / "project"
    collection = root / "ansible_collections/egpu/mac"
    (collection / "playbooks").mkdir(parents=True)
    (collection / "roles/demo/tasks").mkdir(parents=True)
    (collection / "roles/demo/tasks/main.yml").write_text(DEMO_ROLE)
    for name in ("provision", "rollback"):
        (collection / "playbooks" / f"{name}.yml").write_text(PLAYBOOK)
    monkeypatch.setenv("EGPU_SETUP_CONTENT", str(root))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return collection


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


# --- rehearsal Macs (end-to-end tests) -----------------------------------------------------------------------------

def _need_bwrap() -> None:
    import shutil

    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap (bwrap) is not installed: the rehearsal lab needs it")


@dataclass
class Lab:
    """A rehearsal lab made by `egpu-setup lab up`, and runs of the real CLI against it."""

    dir: Path
    runs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def inventory(self) -> Path:
        return self.dir / "inventory.yml"

    def host_dir(self, name: str) -> Path:
        return self.dir / "hosts" / name

    def machine(self, name: str) -> Any:
        from egpu_lab.machine import Machine

        return Machine(self.host_dir(name) / "machine", self.host_dir(name) / "root")

    def preinstall_clt(self, name: str, version: str) -> None:
        """Put Command Line Tools `version` on one host and select them, as its owner would have."""
        from egpu_lab.lab import preinstall_clt
        from egpu_lab.sandbox import Sandbox

        preinstall_clt(Sandbox(self.host_dir(name)), version, self.dir / "work")

    def fill_cache(self, build: str = "17C88") -> None:
        """`egpu-setup cache fetch` into the lab's cache from its mirror, as a user fills the cache before `plan`
        (which downloads nothing)."""
        from egpu_setup.cli import main

        err = io.StringIO()
        code = main(["cache", "fetch", "--build", build, "--cache-dir", str(self.dir / "cache"),
                     "--lock", str(self.dir / "egpu-setup.lock"), "--overlay", str(self.dir / "matrix-overlay.yaml")],
                    stdout=io.StringIO(), stderr=err)  # fmt: skip
        assert code == 0, err.getvalue()

    def run(self, command: str, *args: str) -> tuple[int, dict[str, Any] | None, str, float]:
        """`egpu-setup <command> -i <lab inventory> --json ARGS`: (exit code, report, stderr, seconds)."""
        from egpu_setup.cli import main

        out, err = io.StringIO(), io.StringIO()
        started = time.monotonic()
        code = main([command, "-i", str(self.inventory), "--json", *args], stdout=out, stderr=err)
        elapsed = time.monotonic() - started
        report = json.loads(out.getvalue()) if out.getvalue().strip() else None
        self.runs.append({"command": command, "args": args, "code": code, "seconds": round(elapsed, 1)})
        return code, report, err.getvalue(), elapsed


@contextlib.contextmanager
def lab_up(base: Path, **options: Any) -> Iterator[Lab]:
    """A lab under <base>/lab made with egpu_lab.lab (`egpu-setup lab up`'s API): bare 10.13.2 17C88
    Macs with kext signing off and instant reboots unless `options` (LabOptions fields) say otherwise; runs keep
    their directories under <base>/data. Taken down afterwards."""
    from egpu_lab.lab import Lab as RehearsalLab
    from egpu_lab.lab import LabOptions

    _need_bwrap()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("XDG_DATA_HOME", str(base / "data"))
        env.setenv("XDG_CACHE_HOME", str(base / "cache"))
        rehearsal = RehearsalLab(base / "lab")
        started = time.monotonic()
        rehearsal.up(LabOptions(**{"hosts": 1, "sip": "kext-off", "reboot_seconds": 0.0, **options}))
        lab = Lab(rehearsal.dir)
        lab.runs.append({"command": "lab up", "seconds": round(time.monotonic() - started, 1)})
        try:
            yield lab
        finally:
            rehearsal.down()


@pytest.fixture(scope="session")
def make_lab() -> Callable[..., contextlib.AbstractContextManager[Lab]]:
    """`with make_lab(base_dir, hosts=2) as lab:` for module-scoped labs."""
    return lab_up


@pytest.fixture(scope="session")
def lab_at() -> Callable[[Path], Lab]:
    """`lab_at(lab_dir)`: the test handle on a lab some command brought up."""
    return Lab
