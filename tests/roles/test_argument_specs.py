"""Each egpu.mac module's arguments are declared once, in its DOCUMENTATION: the spec the action plugin validates
with is the one ansible-doc's rendering of that DOCUMENTATION (fragments merged by Ansible itself) declares."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.egpu.mac.plugins.plugin_utils.argspec import options_spec, spec_from_documentation
from ansible_collections.egpu.mac.plugins.plugin_utils.mac_action import MacAction

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ROOT / "ansible_collections/egpu/mac/plugins"
ACTIONS = sorted(p.stem for p in (PLUGINS / "action").glob("*.py"))
MODULES = sorted(p.stem for p in (PLUGINS / "modules").glob("*.py"))


@pytest.fixture(scope="module")
def ansible_doc() -> dict[str, dict]:
    """ansible-doc's JSON of every module: Ansible's own reading of DOCUMENTATION and its fragments."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    exe = Path(sys.executable).with_name("ansible-doc")
    names = [f"egpu.mac.{m}" for m in MODULES]
    done = subprocess.run([str(exe), "-t", "module", "-j", *names], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_every_action_plugin_is_a_mac_action_of_its_own_module() -> None:
    assert len(ACTIONS) >= 10
    for name in ACTIONS:
        plugin = importlib.import_module(f"ansible_collections.egpu.mac.plugins.action.{name}").ActionModule
        assert issubclass(plugin, MacAction), name
        assert plugin.module_name() == name
        assert "run" not in vars(plugin), f"{name} overrides the shared run()"


@pytest.mark.parametrize("name", ACTIONS)
def test_action_plugin_spec_equals_its_documentation(name: str, ansible_doc: dict[str, dict]) -> None:
    plugin = importlib.import_module(f"ansible_collections.egpu.mac.plugins.action.{name}").ActionModule
    documented = options_spec(ansible_doc[f"egpu.mac.{name}"]["doc"]["options"])
    assert plugin.argument_spec() == documented
    assert "state_dir" not in documented or documented["state_dir"]["default"] == "/private/var/db/egpu-setup"


def test_macho_rpaths_spec_equals_its_documentation(ansible_doc: dict[str, dict]) -> None:
    module = importlib.import_module("ansible_collections.egpu.mac.plugins.modules.macho_rpaths")
    written: dict = module.ARGUMENT_SPEC
    assert written == options_spec(ansible_doc["egpu.mac.macho_rpaths"]["doc"]["options"])
    assert written == spec_from_documentation(module.DOCUMENTATION)


def test_spec_keeps_what_validation_uses_and_drops_the_prose() -> None:
    doc = """
options:
  secret:
    description: A password.
    type: str
    no_log: true
    aliases: [pass]
    required: false
  fetch:
    description: Nested.
    type: dict
    suboptions:
      src: {description: x, type: str, required: true}
      mode: {description: y, type: str, choices: [a, b], default: a}
  flag: {description: z, type: bool, default: false}
extends_documentation_fragment: [egpu.mac.journal]
"""
    assert spec_from_documentation(doc) == {
        "state_dir": {"type": "str", "default": "/private/var/db/egpu-setup"},
        "secret": {"type": "str", "no_log": True, "aliases": ["pass"]},
        "fetch": {
            "type": "dict",
            "options": {
                "src": {"type": "str", "required": True},
                "mode": {"type": "str", "choices": ["a", "b"], "default": "a"},
            },
        },
        "flag": {"type": "bool", "default": False},
    }
