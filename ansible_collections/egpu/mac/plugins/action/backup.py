"""egpu.mac.backup: record paths in the provisioning journal before they are created, replaced or patched.

A missing path is recorded as added (rollback removes it), a file is copied into the backup directory under its
SHA-256, a link keeps its target, a directory keeps its listing and its files. Only the first record of a path
counts, so running it again changes nothing.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.egpu.mac.plugins.module_utils import journal
from ansible_collections.egpu.mac.plugins.plugin_utils.mac_action import ActionFailed, MacAction


class ActionModule(MacAction):
    def act(self, result: dict[str, Any], args: dict[str, Any], task_vars: dict[str, Any]) -> None:
        bad = [p for p in args["paths"] if not p.startswith("/")]
        if bad:
            raise ActionFailed(f"paths must be absolute: {', '.join(bad)}")
        result.update(journal.track(self, args["state_dir"], args["paths"], check_mode=self.check_mode))
