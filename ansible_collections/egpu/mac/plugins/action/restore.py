"""egpu.mac.restore: undo everything the provisioning journal recorded, byte for byte, then drop the journal.

Order: forget receipts, put NVRAM variables back, remove added paths (newest first), remove entries that appeared in
recorded directories, copy every backed-up file back and check its SHA-256, recreate links; only when every digest
matches is the state directory removed, so a failed restore can be run again.
"""

from __future__ import annotations

from typing import Any

from ansible.plugins.action import ActionBase

from ansible_collections.egpu.mac.plugins.module_utils import journal
from ansible_collections.egpu.mac.plugins.module_utils.journal import STATE_DIR_OPTION
from ansible_collections.egpu.mac.plugins.module_utils.target_shell import TargetCommandError


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("state_dir", "keep"))

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        self._supports_check_mode = True
        result = super().run(tmp, task_vars)
        _, args = self.validate_argument_spec(
            argument_spec={
                "state_dir": STATE_DIR_OPTION,
                "keep": {"type": "list", "elements": "str", "default": []},
            }
        )
        state_dir = args["state_dir"]
        try:
            summary = journal.restore_all(self, state_dir, check_mode=self._task.check_mode, keep=args["keep"])
        except TargetCommandError as exc:
            return {**result, **exc.result()}
        if summary is None or not any(summary[k] for k in summary if k not in ("kept", "mismatched")):
            return {**result, "changed": False, "msg": "nothing to restore: no provisioning journal on the host"}
        result.update(changed=True, **summary)
        if self._task.diff:
            result["diff"] = {
                "before": "".join(f"{p}\n" for p in summary["removed"]),
                "after": "".join(f"restored {p}\n" for p in summary["restored"]),
            }
        if summary.get("mismatched"):
            result.update(
                failed=True, msg="restored files differ from their backups: " + ", ".join(summary["mismatched"])
            )
        return result
