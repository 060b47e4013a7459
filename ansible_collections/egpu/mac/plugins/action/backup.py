"""egpu.mac.backup: record paths in the provisioning journal before they are created, replaced or patched.

A missing path is recorded as added (rollback removes it), a file is copied into the backup directory under its
SHA-256, a link keeps its target, a directory keeps its listing and its files. Only the first record of a path
counts, so running it again changes nothing.
"""

from __future__ import annotations

from typing import Any

from ansible.plugins.action import ActionBase

from ansible_collections.egpu.mac.plugins.module_utils import journal
from ansible_collections.egpu.mac.plugins.module_utils.journal import STATE_DIR_OPTION
from ansible_collections.egpu.mac.plugins.module_utils.target_shell import TargetCommandError


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("paths", "state_dir"))

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        self._supports_check_mode = True
        result = super().run(tmp, task_vars)
        _, args = self.validate_argument_spec(
            argument_spec={
                "paths": {"type": "list", "elements": "str", "required": True},
                "state_dir": STATE_DIR_OPTION,
            }
        )
        bad = [p for p in args["paths"] if not p.startswith("/")]
        if bad:
            return {**result, "failed": True, "msg": f"paths must be absolute: {', '.join(bad)}"}
        try:
            result.update(journal.track(self, args["state_dir"], args["paths"], check_mode=self._task.check_mode))
        except TargetCommandError as exc:
            result.update(exc.result())
        return result
