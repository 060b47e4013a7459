"""The roles as Ansible content: --syntax-check and the conventions the team keeps (README, role-prefixed
defaults, FQCN action plugins documented). ansible-lint runs on the whole project in tests/provision."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "meta/main.yml").exists())
COLLECTION = ROOT / "ansible_collections/egpu/mac/plugins"


def ansible(tool: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    return subprocess.run([str(BIN / tool), *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)


def test_the_issue_roles_exist() -> None:
    wanted = {
        "python_bootstrap", "preflight", "nvidia_webdriver", "egpu_support", "cuda_driver", "cuda_toolkit",
        "xcode_clt", "cudnn", "mxnet", "gpu_verify", "rollback", "egpu_common",
    }  # fmt: skip
    assert wanted <= set(ROLES)


@pytest.mark.parametrize("role", ROLES)
def test_role_conventions(role: str) -> None:
    base = ROOT / "roles" / role
    assert (base / "README.md").read_text().startswith(f"# {role}")
    defaults = yaml.safe_load((base / "defaults/main.yml").read_text()) or {}
    assert all(name.startswith(f"{role}_") for name in defaults), sorted(defaults)
    # The README lists every variable, by its name or by its suffix after the role prefix (`_dmg`).
    readme = (base / "README.md").read_text()
    unlisted = [n for n in defaults if n not in readme and f"`_{n.removeprefix(role + '_')}`" not in readme]
    assert not unlisted, f"{role}/README.md does not list {unlisted}"
    meta = yaml.safe_load((base / "meta/main.yml").read_text())
    if role != "egpu_common":
        assert {"role": "egpu_common"} in meta["dependencies"]


def test_every_action_plugin_has_a_documented_module_stub() -> None:
    for action in sorted((COLLECTION / "action").glob("*.py")):
        stub = COLLECTION / "modules" / action.name
        text = stub.read_text()
        for section in ("DOCUMENTATION", "EXAMPLES", "RETURN", "check_mode:"):
            assert section in text, f"{stub.name} lacks {section}"
        doc = yaml.safe_load(text.split('DOCUMENTATION = r"""', 1)[1].split('"""', 1)[0])
        assert doc["module"] == action.stem


def test_syntax_check_of_a_play_with_every_role(tmp_path: Path) -> None:
    play = [{"name": "All roles", "hosts": "all", "gather_facts": False,
             "roles": [{"role": r} for r in ROLES if r != "egpu_common"]}]  # fmt: skip
    playbook = tmp_path / "all.yml"
    playbook.write_text(yaml.safe_dump(play))
    done = ansible("ansible-playbook", "--syntax-check", "-i", "localhost,", str(playbook))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stderr, done.stderr


def test_ansible_doc_renders_every_action_module() -> None:
    names = [f"egpu.mac.{p.stem}" for p in sorted((COLLECTION / "action").glob("*.py"))]
    done = ansible("ansible-doc", "-t", "module", *names)
    assert done.returncode == 0, done.stderr
    for name in names:
        assert name.rsplit(".", 1)[1] in done.stdout
    assert "ERROR" not in done.stderr, done.stderr
