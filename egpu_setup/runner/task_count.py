"""How many task results a playbook gives per host, read from its YAML, for the live view's progress bar.

`ansible-playbook --list-tasks` lists only static tasks: the roles bring most of theirs through include_tasks
and include_role. This walks those too (file names without Jinja). A dynamic include gives a result of its own, then
one per task it brings; a skipped one gives only its own, and `TaskCount.skipped_include` tells the view how many
results will not come. An estimate: rescue blocks and handlers are not counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from egpu_setup.runner.content import Content

DYNAMIC = ("include_tasks", "include_role")
STATIC = ("import_tasks", "import_role")


@dataclass
class TaskCount:
    total: int = 0
    # (role, name pattern, results it brings) of each dynamic include; names may hold Jinja, which events show
    # rendered, so a pattern stands for each `{{ ... }}`
    includes: list[tuple[str | None, re.Pattern[str], int]] = field(default_factory=list)

    def skipped_include(self, role: str | None, task: str) -> int:
        """The results that will not come because this dynamic include was skipped (0 if it is none)."""
        for include_role, pattern, inner in self.includes:
            if include_role == role and pattern.fullmatch(task):
                return inner
        return 0


def _name_pattern(name: str) -> re.Pattern[str]:
    parts = re.split(r"\{\{.*?\}\}", name)
    return re.compile(".*?".join(re.escape(part) for part in parts), re.DOTALL)


def _action(task: dict[str, Any]) -> tuple[str | None, Any]:
    for key, value in task.items():
        short = key.rsplit(".", 1)[-1]
        if short in DYNAMIC + STATIC and key in (short, f"ansible.builtin.{short}"):
            return short, value
    return None, None


def _load(path: Path) -> list[dict[str, Any]]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return []
    return [t for t in doc if isinstance(t, dict)] if isinstance(doc, list) else []


class _Walker:
    def __init__(self, content: Content) -> None:
        self.content = content
        self.count = TaskCount()
        self._depth = 0

    def role(self, name: str, tasks_from: str = "main") -> int:
        role_dir = self.content.role_dir(name)
        path = role_dir / "tasks" / f"{tasks_from}.yml"
        return self.tasks(_load(path), path.parent, role_dir.name)  # events name a role without its collection

    def tasks(self, tasks: list[dict[str, Any]], base: Path, role: str | None) -> int:
        self._depth += 1
        if self._depth > 20:  # a role including itself
            self._depth -= 1
            return 0
        total = 0
        for task in tasks:
            total += self.task(task, base, role)
        self._depth -= 1
        return total

    def task(self, task: dict[str, Any], base: Path, role: str | None) -> int:
        if "block" in task:
            return sum(self.tasks(task.get(part) or [], base, role) for part in ("block", "always"))
        action, value = _action(task)
        if action is None:
            return 1
        if action.endswith("_role"):
            spec = value if isinstance(value, dict) else {"name": value}
            name, tasks_from = str(spec.get("name", "")), str(spec.get("tasks_from", "main"))
            inner = 1 if "{{" in name + tasks_from else self.role(name, tasks_from)
        else:
            file = value.get("file") if isinstance(value, dict) else value
            inner = 1 if not isinstance(file, str) or "{{" in file else self.tasks(_load(base / file), base, role)
        if action in DYNAMIC:
            self.count.includes.append((role, _name_pattern(str(task.get("name", ""))), inner))
            return 1 + inner  # the include's own result, then its tasks'
        return inner


def count_playbook(content: Content, playbook: Path) -> TaskCount:
    walker = _Walker(content)
    total = 0
    for play in _load(playbook):
        if play.get("gather_facts", True) not in (False, "false", "no"):
            total += 1  # Gathering Facts
        for role in play.get("roles") or []:
            total += walker.role(role if isinstance(role, str) else str(role.get("role") or role.get("name")))
        for section in ("pre_tasks", "tasks", "post_tasks"):
            total += walker.tasks(play.get(section) or [], playbook.parent, None)
    walker.count.total = total
    return walker.count
