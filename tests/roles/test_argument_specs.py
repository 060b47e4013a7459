"""Each egpu.mac module's arguments are declared once, in its DOCUMENTATION: the spec the action plugin validates
with is the one ansible-doc's rendering of that DOCUMENTATION (fragments merged by Ansible itself) declares."""

from __future__ import annotations

import importlib
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from ansible_collections.egpu.mac.plugins.plugin_utils.argspec import options_spec, spec_from_documentation
from ansible_collections.egpu.mac.plugins.plugin_utils.mac_action import MacAction

from . import role_variables

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = ROOT / "ansible_collections/egpu/mac/plugins"
ACTIONS = sorted(p.stem for p in (PLUGINS / "action").glob("*.py"))
MODULES = sorted(p.stem for p in (PLUGINS / "modules").glob("*.py"))


@pytest.fixture(scope="module")
def ansible_doc(ansible_tool: Callable[..., subprocess.CompletedProcess[str]]) -> dict[str, dict]:
    """ansible-doc's JSON of every module: Ansible's own reading of DOCUMENTATION and its fragments."""
    done = ansible_tool("ansible-doc", "-t", "module", "-j", *[f"egpu.mac.{m}" for m in MODULES])
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


@pytest.mark.parametrize("name", ["macho_rpaths", "build_archive"])  # the modules that run on the Mac
def test_mac_module_spec_equals_its_documentation(name: str, ansible_doc: dict[str, dict]) -> None:
    module = importlib.import_module(f"ansible_collections.egpu.mac.plugins.modules.{name}")
    written: dict = module.ARGUMENT_SPEC
    assert written == options_spec(ansible_doc[f"egpu.mac.{name}"]["doc"]["options"])
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


# --- the roles' meta/argument_specs.yml: every variable a role reads, with its type ---------------------------------

ROLE_SPECS_ROLES = role_variables.roles()
# Facts the collection's own modules set (mac_facts, resolve_plan); they check them, no inventory sets them.
FACTS = {"egpu_mac", "egpu_plan"}


def _role_options(role: str) -> dict[str, dict]:
    spec_file = role_variables.ROLES / role / "meta/argument_specs.yml"
    entries = yaml.safe_load(spec_file.read_text())["argument_specs"]
    options: dict[str, dict] = {}
    for entry in entries.values():
        options.update(entry["options"])
    return options


def _entry_points(role: str) -> set[str]:
    return {p.stem for p in (role_variables.ROLES / role / "tasks").glob("*.yml")}


@pytest.mark.parametrize("role", ROLE_SPECS_ROLES)
def test_every_variable_a_role_reads_is_declared_with_its_type(role: str) -> None:
    declared = set(_role_options(role))
    for dependency in role_variables.dependencies(role):
        declared |= set(_role_options(dependency))
    undeclared = role_variables.external(role) - declared - FACTS
    assert not undeclared, f"{role} reads {sorted(undeclared)} but its meta/argument_specs.yml does not declare them"
    assert set(role_variables.defaults(role)) <= set(_role_options(role)), "a default is not declared"
    for name, option in _role_options(role).items():
        assert option.get("type") in {"str", "bool", "int", "float", "dict", "list", "path", "raw"}, name
        assert option["type"] != "list" or option.get("elements"), f"{name}: a list declares its elements"
        assert option.get("description"), name


@pytest.mark.parametrize("role", ROLE_SPECS_ROLES)
def test_a_spec_declares_nothing_the_role_does_not_read(role: str) -> None:
    used, _ = role_variables.referenced(role)
    read_by_dependents = set().union(*(role_variables.referenced(r)[0] for r in ROLE_SPECS_ROLES))
    stale = set(_role_options(role)) - used - set(role_variables.defaults(role)) - read_by_dependents
    assert not stale, f"{role} declares {sorted(stale)}, which no role reads"


@pytest.mark.parametrize("role", ROLE_SPECS_ROLES)
def test_spec_entry_points_are_the_ones_used_and_the_readme_names_each_variable(role: str) -> None:
    spec_file = role_variables.ROLES / role / "meta/argument_specs.yml"
    entries = set(yaml.safe_load(spec_file.read_text())["argument_specs"])
    assert entries == ({"reboot", "kext_cache", "run_lock", "run_unlock"} if role == "egpu_common" else {"main"})
    assert entries <= _entry_points(role)
    readme = (role_variables.ROLES / role / "README.md").read_text()
    prefix = f"{role}_"
    for name in _role_options(role):
        short = "_" + name[len(prefix):] if name.startswith(prefix) else name
        assert name in readme or f"`{short}`" in readme or short in readme, f"{role}'s README does not name {name}"


def test_the_check_refuses_a_list_for_text_and_names_the_expected_type() -> None:
    from ansible_collections.egpu.mac.plugins.action.inventory_check import expected, problem, role_options

    options = role_options(None)
    assert problem("mxnet_cuda_arch_flags", options["mxnet_cuda_arch_flags"], [61, 70]) == "list given"
    assert "not a valid boolean" in problem("egpu_allow_no_gpu", options["egpu_allow_no_gpu"], "maybe")
    assert problem("egpu_allow_no_gpu", options["egpu_allow_no_gpu"], "yes") is None
    assert expected(options["egpu_filevault_restart"]) == "str, one of authrestart, refuse"
    assert problem("mxnet_make_jobs", options["mxnet_make_jobs"], "4") is None
