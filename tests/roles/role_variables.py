"""The variables each role of egpu.mac reads, found by parsing its tasks, handlers, defaults, vars and templates
with Jinja2 (tests/roles/test_argument_specs.py holds them to the role's meta/argument_specs.yml)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta
import yaml

ROLES = Path(__file__).resolve().parents[2] / "ansible_collections/egpu/mac/roles"
# Task keys whose strings are bare Jinja2 expressions (no braces).
EXPRESSION_KEYS = {"when", "that", "failed_when", "changed_when", "until"}
# Ansible's own names: magic and connection variables, Jinja2 globals Ansible adds.
MAGIC = {"item", "omit", "inventory_hostname", "hostvars", "groups", "group_names", "role_path", "playbook_dir",
         "ansible_check_mode", "ansible_diff_mode", "ansible_user", "ansible_become_password", "ansible_connection",
         "ansible_play_hosts", "ansible_loop", "lookup", "query", "q", "now", "undef", "ansible_facts"}


class _Any(dict):
    """Every filter and test name is known: only the variable names matter here."""

    def __contains__(self, key: object) -> bool:
        return True

    def get(self, key: object, default: object = None) -> object:
        return super().get(key) or str


_ENV = jinja2.Environment(extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"])
_ENV.filters = _Any(_ENV.filters)
_ENV.tests = _Any(_ENV.tests)


def roles() -> list[str]:
    return sorted(p.name for p in ROLES.iterdir() if (p / "meta/main.yml").is_file())


def _names(text: str) -> set[str]:
    return set(jinja2.meta.find_undeclared_variables(_ENV.parse(text)))


def _strings(node: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """(key, string) for every string in a YAML tree, with the mapping key it is the value of."""
    if isinstance(node, str):
        yield key, node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from _strings(v, str(k))
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v, key)


def _tasks(node: Any) -> Iterator[dict]:
    if isinstance(node, list):
        for task in node:
            if isinstance(task, dict):
                yield task
                for block in ("block", "rescue", "always"):
                    yield from _tasks(task.get(block))


def _set_here(tasks: list[dict]) -> set[str]:
    """Names a role's tasks define themselves: registered results, set_fact keys, task vars, loop variables."""
    names: set[str] = set()
    for task in tasks:
        if "register" in task:
            names.add(task["register"])
        names.update((task.get("vars") or {}).keys())
        names.add((task.get("loop_control") or {}).get("loop_var", "item"))
        for action in ("ansible.builtin.set_fact", "set_fact"):
            if isinstance(task.get(action), dict):
                names.update(k for k in task[action] if k != "cacheable")
    return names


def referenced(role: str) -> tuple[set[str], set[str]]:
    """(the names the role's files reference, the names its tasks set themselves)."""
    root = ROLES / role
    used: set[str] = set()
    local: set[str] = set()
    for folder in ("tasks", "handlers", "defaults", "vars"):
        for path in sorted((root / folder).glob("*.yml")):
            data = yaml.safe_load(path.read_text())
            if folder in ("tasks", "handlers"):
                local |= _set_here(list(_tasks(data)))
            for key, text in _strings(data):
                if folder in ("tasks", "handlers") and key in EXPRESSION_KEYS:
                    used |= _names("{{ " + text + " }}")
                elif "{{" in text or "{%" in text:
                    used |= _names(text)
    for path in sorted((root / "templates").glob("*.j2")):
        used |= _names(path.read_text())
    return used, local


def defaults(role: str) -> dict[str, Any]:
    path = ROLES / role / "defaults/main.yml"
    return (yaml.safe_load(path.read_text()) or {}) if path.is_file() else {}


def dependencies(role: str) -> list[str]:
    meta = yaml.safe_load((ROLES / role / "meta/main.yml").read_text()) or {}
    return [d["role"].rsplit(".", 1)[-1] if isinstance(d, dict) else d.rsplit(".", 1)[-1]
            for d in meta.get("dependencies") or []]


def external(role: str) -> set[str]:
    """What a role reads from outside itself (inventory, extravars, facts, its dependencies' defaults)."""
    used, local = referenced(role)
    return used - local - set(defaults(role)) - MAGIC
