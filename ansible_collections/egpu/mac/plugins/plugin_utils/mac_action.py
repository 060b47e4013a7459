"""The base of egpu.mac's action plugins: what every one of them did the same way, done once.

A plugin subclasses `MacAction` and implements `act(result, args, task_vars)`; the base
- validates the task's arguments against the spec built from the module's DOCUMENTATION (plugins/modules/NAME.py,
  see argspec.py), plus the relations between options docs cannot express (`ARG_RULES`: mutually_exclusive,
  required_one_of, required_if),
- supports check mode (`self.check_mode`; `settle` applies a change only outside it),
- turns failures into results: a command that failed on the Mac (TargetCommandError) with its cmd/rc/output, a
  refusal of egpu_setup (EgpuError) with `msg` and its remedy in `fix`, and the plugin's own `ActionFailed`,
- adds a diff only when the task asks for one (`add_diff`),
- puts the files the plugin moved over the connection in the result (`egpu_sent` / `egpu_received`, listed by
  module_utils/transfers.note; the runner sums them per Mac for the run report), a failed task's too.
`act` fills `result` in place, so what it had set before a failure stays in the result, as it did before.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, ClassVar

from ansible.plugins.action import ActionBase

from ansible_collections.egpu.mac.plugins.module_utils.target_shell import TargetCommandError
from ansible_collections.egpu.mac.plugins.plugin_utils.argspec import module_spec
from egpu_setup.errors import EgpuError


class ActionFailed(Exception):
    """The plugin refuses the task: `failed` with `msg` (and `fix` when it names a remedy)."""

    def __init__(self, msg: str, fix: str | None = None) -> None:
        super().__init__(msg)
        self.msg, self.fix = msg, fix

    def result(self) -> dict[str, Any]:
        return {"failed": True, "msg": self.msg, **({"fix": self.fix} if self.fix is not None else {})}


class MacAction(ActionBase):
    TRANSFERS_FILES = False  # no remote tmp dir: nothing of Ansible's own is left on the Mac
    # Relations between options, passed to validate_argument_spec (DOCUMENTATION has no place for them).
    ARG_RULES: ClassVar[dict[str, Any]] = {}
    # The module whose DOCUMENTATION holds the options; by default the plugin's own name (action/NAME.py).
    MODULE: ClassVar[str | None] = None
    # The plugin checks the run's inputs (inventory values, the plan): its EgpuError carries `exit_code` in the
    # result, which egpu-setup's exit code follows (2 for bad input, wherever it is met).
    INPUT_CHECK: ClassVar[bool] = False

    @classmethod
    def module_name(cls) -> str:
        return cls.MODULE or cls.__module__.rpartition(".")[2]

    @classmethod
    def argument_spec(cls) -> dict[str, Any]:
        """The spec the task's arguments are validated with: the module's DOCUMENTATION, nothing else."""
        return copy.deepcopy(module_spec(cls.module_name()))

    @property
    def check_mode(self) -> bool:
        return bool(self._task.check_mode)

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        self._supports_check_mode = True
        spec = self.argument_spec()
        self._VALID_ARGS = frozenset(spec)
        result = super().run(tmp, task_vars)
        _, args = self.validate_argument_spec(argument_spec=spec, **self.ARG_RULES)
        self.task_vars = task_vars or {}  # the host's name for the messages of failure_kinds
        self.transfers: dict[str, list[dict[str, Any]]] = {}  # transfers.note: key -> [{name, bytes}]
        try:
            self.act(result, args, task_vars or {})
        except TargetCommandError as exc:
            result.update(exc.result())
        except ActionFailed as exc:
            result.update(exc.result())
        except EgpuError as exc:
            # str(exc) is "<message>\nfix: <remedy>" when there is a remedy; `fix` carries it alone as well.
            result.update(failed=True, msg=str(exc), fix=exc.fix)
            if self.INPUT_CHECK:
                result["exit_code"] = int(exc.exit_code)
            if getattr(exc, "kind", None):  # failure_kinds: the runner tells it by its kind
                result["failure_kind"] = exc.kind
        result.update(self.transfers)  # what was copied before a failure was sent all the same
        return result

    def act(self, result: dict[str, Any], args: dict[str, Any], task_vars: dict[str, Any]) -> None:
        """What the plugin does; fills `result` (changed, its return values) or raises one of the errors above."""
        raise NotImplementedError

    def add_diff(self, result: dict[str, Any], before: str, after: str, **headers: str) -> None:
        """result["diff"] with before/after (and before_header/after_header), when the task runs with --diff."""
        if self._task.diff:
            result["diff"] = {**headers, "before": before, "after": after}

    def settle(self, result: dict[str, Any], changed: bool, apply: Callable[[], object]) -> dict[str, Any]:
        """Report `changed`; make the change (`apply`) only when there is one and this is not check mode."""
        result["changed"] = changed
        if changed and not self.check_mode:
            apply()
        return result
