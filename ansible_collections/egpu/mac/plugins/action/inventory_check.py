"""egpu.mac.inventory_check: the inventory's values for every role, checked against the roles' own
meta/argument_specs.yml before the first change (Ansible checks a role's spec only when the role starts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from ansible.errors import AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.egpu.mac.plugins.plugin_utils.mac_action import MacAction

ROLES = Path(__file__).resolve().parents[2] / "roles"
# Types whose values Ansible's validator silently turns into text for a `str` option.
NOT_TEXT = (list, dict, bool)


def role_options(roles: list[str] | None) -> dict[str, dict[str, Any]]:
    """{variable: its spec} over every entry point of the roles' meta/argument_specs.yml."""
    options: dict[str, dict[str, Any]] = {}
    for spec_file in sorted(ROLES.glob("*/meta/argument_specs.yml")):
        if roles is not None and spec_file.parents[1].name not in roles:
            continue
        entries = (yaml.safe_load(spec_file.read_text(encoding="utf-8")) or {}).get("argument_specs") or {}
        for entry in entries.values():
            for name, spec in (entry.get("options") or {}).items():
                options[name] = {k: v for k, v in spec.items() if k not in ("description", "version_added")}
    return options


def origin(value: Any) -> str | None:
    """Where Ansible loaded the value from (file:line), when it knows (data tags, ansible-core 2.19)."""
    try:
        from ansible._internal._datatag._tags import Origin
    except ImportError:  # pragma: no cover - an ansible-core without data tags
        return None
    tag = Origin.get_tag(value)
    return str(tag) if tag is not None and (tag.path or tag.description) else None


def expected(spec: dict[str, Any]) -> str:
    text = spec.get("type", "str")
    if spec.get("elements"):
        text += f" of {spec['elements']}"
    if spec.get("choices"):
        text += ", one of " + ", ".join(str(c) for c in spec["choices"])
    return text


def problem(name: str, spec: dict[str, Any], value: Any) -> str | None:
    """Why `value` does not fit `spec` (Ansible's validator, plus no silent conversion to text), else None."""
    if spec.get("type", "str") in ("str", "path") and isinstance(value, NOT_TEXT):
        return f"{type(value).__name__} given"
    result = ArgumentSpecValidator({name: spec}).validate({name: value}, validate_role_argument_spec=True)
    return "; ".join(result.error_messages) or None


class ActionModule(MacAction):
    INPUT_CHECK = True  # a refusal here is bad input (exit 2 under egpu-setup)

    def act(self, result: dict[str, Any], args: dict[str, Any], task_vars: dict[str, Any]) -> None:
        from egpu_setup.errors import EgpuError

        host_vars = task_vars["hostvars"][task_vars["inventory_hostname"]]  # inventory, extravars, facts
        problems, checked = [], []
        for name, spec in role_options(args["roles"]).items():
            if name not in host_vars or name not in task_vars:
                continue
            raw = task_vars[name]
            try:
                value = self._templar.template(raw)
            except AnsibleError:
                continue  # refers to what is not known yet (the plan): the role's own validation checks it
            checked.append(name)
            why = problem(name, spec, value)
            if why:
                where = origin(raw)
                set_in = f" (set in {where})" if where else ""
                problems.append(f"{name}: {value!r}{set_in}: expected {expected(spec)}; {why}")
        result.update(changed=False, checked=checked)
        if problems:
            raise EgpuError(
                "bad inventory value" + ("s" if len(problems) > 1 else "") + ":\n  " + "\n  ".join(problems),
                fix="correct the value where it is set (group_vars, host_vars or -e); each role's "
                "meta/argument_specs.yml and README list its variables with their types",
            )
