"""egpu.mac.restore: undo everything the provisioning journal recorded, byte for byte, then drop the journal.

Order: forget receipts, put NVRAM variables back, remove added paths (newest first), remove entries that appeared in
recorded directories, copy every backed-up file back and check its SHA-256, recreate links; only when every digest
matches is the state directory removed, so a failed restore can be run again.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.egpu.mac.plugins.module_utils import journal
from ansible_collections.egpu.mac.plugins.plugin_utils.mac_action import ActionFailed, MacAction


class ActionModule(MacAction):
    def act(self, result: dict[str, Any], args: dict[str, Any], task_vars: dict[str, Any]) -> None:
        summary = journal.restore_all(self, args["state_dir"], check_mode=self.check_mode, keep=args["keep"])
        if summary is None or not any(summary[k] for k in summary if k not in ("kept", "mismatched")):
            result.update(changed=False, msg="nothing to restore: no provisioning journal on the host")
            return
        result.update(changed=True, **summary)
        self.add_diff(
            result,
            before="".join(f"{p}\n" for p in summary["removed"]),
            after="".join(f"restored {p}\n" for p in summary["restored"]),
        )
        if summary.get("mismatched"):
            raise ActionFailed("restored files differ from their backups: " + ", ".join(summary["mismatched"]))
