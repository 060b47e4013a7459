"""egpu.mac.plist_value: one string value in a property list, read and set with PlistBuddy.

Before the first change the file is recorded in the provisioning journal (backup with SHA-256), so rollback
restores it byte for byte. Used to set NVDARequiredOS in NVIDIA's kexts to the running build.
"""

from __future__ import annotations

from typing import Any

from ansible.plugins.action import ActionBase

from ansible_collections.egpu.mac.plugins.module_utils import journal
from ansible_collections.egpu.mac.plugins.module_utils.journal import STATE_DIR_OPTION
from ansible_collections.egpu.mac.plugins.module_utils.target_shell import TargetCommandError, quote, run

PLISTBUDDY = "/usr/libexec/PlistBuddy"


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("path", "key", "value", "state_dir"))

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        self._supports_check_mode = True
        result = super().run(tmp, task_vars)
        _, args = self.validate_argument_spec(
            argument_spec={
                "path": {"type": "str", "required": True},
                "key": {"type": "str", "required": True},
                "value": {"type": "str", "required": True},
                "state_dir": STATE_DIR_OPTION,
            }
        )
        path, key, value = args["path"], args["key"].lstrip(":"), args["value"]
        try:
            rc, _, _ = run(self, f"[ -f {quote(path)} ]", check_rc=False)
            if rc != 0 and self._task.check_mode:
                # In check mode an earlier task (a package install) would have created the file.
                result.update(changed=True, path=path, key=key, before=None, after=value)
                result["msg"] = f"{path} does not exist yet; {key} would be set to {value}"
                if self._task.diff:
                    result["diff"] = {
                        "before_header": path,
                        "after_header": path,
                        "before": f":{key} = (absent)\n",
                        "after": f":{key} = {value}\n",
                    }
                return result
            if rc != 0:
                return {**result, "failed": True, "msg": f"{path} does not exist on the target"}
            rc, out, _ = run(self, f"{PLISTBUDDY} -c {quote('Print :' + key)} {quote(path)}", check_rc=False)
            before = out.strip() if rc == 0 else None
            changed = before != value
            result.update(changed=changed, path=path, key=key, before=before, after=value)
            if self._task.diff:
                result["diff"] = {
                    "before_header": path,
                    "after_header": path,
                    "before": f":{key} = {before if before is not None else '(absent)'}\n",
                    "after": f":{key} = {value}\n",
                }
            if changed and not self._task.check_mode:
                result["backup"] = journal.track(self, args["state_dir"], [path], check_mode=False)
                verb = "Set" if before is not None else "Add"
                command = f"{verb} :{key} {value}" if verb == "Set" else f"Add :{key} string {value}"
                cmd = f"{PLISTBUDDY} -c {quote(command)} {quote(path)}"
                run(self, cmd, what=f"setting {key} in {path}")
                result["cmd"] = cmd
        except TargetCommandError as exc:
            result.update(exc.result())
        return result
