"""The roles as Ansible content: --syntax-check and the conventions the team keeps (README, role-prefixed
defaults, FQCN action plugins documented). ansible-lint runs on the whole project in tests/provision."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
AnsibleTool = Callable[..., subprocess.CompletedProcess[str]]  # conftest's ansible_tool
CONTENT = ROOT / "ansible_collections/egpu/mac"
ROLES = sorted(p.name for p in (CONTENT / "roles").iterdir() if (p / "meta/main.yml").exists())
COLLECTION = CONTENT / "plugins"


def test_the_issue_roles_exist() -> None:
    wanted = {
        "python_bootstrap", "preflight", "nvidia_webdriver", "egpu_support", "cuda_driver", "cuda_toolkit",
        "xcode_clt", "cudnn", "mxnet", "gpu_verify", "rollback", "egpu_common",
    }  # fmt: skip
    assert wanted <= set(ROLES)


@pytest.mark.parametrize("role", ROLES)
def test_role_conventions(role: str) -> None:
    base = CONTENT / "roles" / role
    assert (base / "README.md").read_text().startswith(f"# {role}")
    defaults = yaml.safe_load((base / "defaults/main.yml").read_text()) or {}
    assert all(name.startswith(f"{role}_") for name in defaults), sorted(defaults)
    # The README lists every variable, by its name or by its suffix after the role prefix (`_dmg`).
    readme = (base / "README.md").read_text()
    unlisted = [n for n in defaults if n not in readme and f"`_{n.removeprefix(role + '_')}`" not in readme]
    assert not unlisted, f"{role}/README.md does not list {unlisted}"
    meta = yaml.safe_load((base / "meta/main.yml").read_text())
    if role != "egpu_common":
        assert {"role": "egpu.mac.egpu_common"} in meta["dependencies"]  # by FQCN: one role, not two


def test_every_action_plugin_has_a_documented_module_stub() -> None:
    for action in sorted((COLLECTION / "action").glob("*.py")):
        stub = COLLECTION / "modules" / action.name
        text = stub.read_text()
        for section in ("DOCUMENTATION", "EXAMPLES", "RETURN", "check_mode:"):
            assert section in text, f"{stub.name} lacks {section}"
        doc = yaml.safe_load(text.split('DOCUMENTATION = r"""', 1)[1].split('"""', 1)[0])
        assert doc["module"] == action.stem


def test_syntax_check_of_a_play_with_every_role(ansible_tool: AnsibleTool, tmp_path: Path) -> None:
    play = [{"name": "All roles", "hosts": "all", "gather_facts": False,
             "roles": [{"role": f"egpu.mac.{r}"} for r in ROLES if r != "egpu_common"]}]  # fmt: skip
    playbook = tmp_path / "all.yml"
    playbook.write_text(yaml.safe_dump(play))
    done = ansible_tool("ansible-playbook", "--syntax-check", "-i", "localhost,", str(playbook))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stderr, done.stderr


def test_ansible_doc_renders_every_action_module(ansible_tool: AnsibleTool) -> None:
    names = [f"egpu.mac.{p.stem}" for p in sorted((COLLECTION / "action").glob("*.py"))]
    done = ansible_tool("ansible-doc", "-t", "module", *names)
    assert done.returncode == 0, done.stderr
    for name in names:
        assert name.rsplit(".", 1)[1] in done.stdout
    assert "ERROR" not in done.stderr, done.stderr


def _tasks(node: object) -> list[dict]:
    """Every task mapping in a parsed task file, blocks' children included."""
    found: list[dict] = []
    for item in node if isinstance(node, list) else []:
        if isinstance(item, dict):
            found.append(item)
            for key in ("block", "rescue", "always"):
                found.extend(_tasks(item.get(key)))
    return found


def test_no_task_or_play_turns_become_off() -> None:
    # The lab runs every process with one Linux uid, so only `become` keeps a task from relying on admin's own
    # permissions, which a Mac would refuse (docs/rehearsal.md, "What is not imitated").
    # The one exception: the user's own shell profile, written as the user so that it stays theirs.
    allowed = {"roles/cuda_toolkit/tasks/profile.yml: Ensure the shell profile puts CUDA's bin directory on PATH"}
    files = [*CONTENT.glob("roles/*/tasks/*.yml"), *CONTENT.glob("playbooks/*.yml")]
    offenders = {f"{f.relative_to(CONTENT)}: {t.get('name')}" for f in files
                 for t in _tasks(yaml.safe_load(f.read_text())) if t.get("become") is False}  # fmt: skip
    assert files and offenders <= allowed, offenders - allowed


def test_the_enabler_kext_is_given_to_root_wheel_after_its_install() -> None:
    # kextd refuses a kext not owned by root:wheel; the lab cannot tell owners apart, so this holds the step.
    tasks = _tasks(yaml.safe_load((CONTENT / "roles/egpu_support/tasks/install.yml").read_text()))
    install = next(i for i, t in enumerate(tasks) if "egpu.mac.pkg_install" in t)
    chown = [i for i, t in enumerate(tasks) if "chown -R" in str(t.get("egpu.mac.run_command", {}).get("cmd", ""))]
    assert chown and chown[0] > install
    defaults = yaml.safe_load((CONTENT / "roles/egpu_support/defaults/main.yml").read_text())
    assert (defaults["egpu_support_owner"], defaults["egpu_support_group"]) == ("root", "wheel")
