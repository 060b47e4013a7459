"""egpu.mac.plist_value: one string value in a property list, read and set with PlistBuddy.

Before the first change the file is recorded in the provisioning journal (backup with SHA-256), so rollback
restores it byte for byte. Used to set NVDARequiredOS in NVIDIA's kexts to the running build.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.egpu.mac.plugins.module_utils import journal
from ansible_collections.egpu.mac.plugins.module_utils.target_shell import quote, run
from ansible_collections.egpu.mac.plugins.plugin_utils.mac_action import ActionFailed, MacAction

PLISTBUDDY = "/usr/libexec/PlistBuddy"


class ActionModule(MacAction):
    def act(self, result: dict[str, Any], args: dict[str, Any], task_vars: dict[str, Any]) -> None:
        path, key, value = args["path"], args["key"].lstrip(":"), args["value"]
        rc, _, _ = run(self, f"[ -f {quote(path)} ]", check_rc=False)
        if rc != 0 and self.check_mode:
            # In check mode an earlier task (a package install) would have created the file.
            result.update(changed=True, path=path, key=key, before=None, after=value)
            result["msg"] = f"{path} does not exist yet; {key} would be set to {value}"
            self.add_diff(result, f":{key} = (absent)\n", f":{key} = {value}\n", before_header=path, after_header=path)
            return
        if rc != 0:
            raise ActionFailed(f"{path} does not exist on the target")
        rc, out, _ = run(self, f"{PLISTBUDDY} -c {quote('Print :' + key)} {quote(path)}", check_rc=False)
        before = out.strip() if rc == 0 else None
        result.update(path=path, key=key, before=before, after=value)
        shown = before if before is not None else "(absent)"
        self.add_diff(result, f":{key} = {shown}\n", f":{key} = {value}\n", before_header=path, after_header=path)
        state_dir = args["state_dir"]
        self.settle(result, before != value, lambda: self.set_value(result, state_dir, path, key, before, value))

    def set_value(
        self, result: dict[str, Any], state_dir: str, path: str, key: str, before: str | None, value: str
    ) -> None:
        result["backup"] = journal.track(self, state_dir, [path], check_mode=False)
        verb = "Set" if before is not None else "Add"
        command = f"{verb} :{key} {value}" if verb == "Set" else f"Add :{key} string {value}"
        cmd = f"{PLISTBUDDY} -c {quote(command)} {quote(path)}"
        run(self, cmd, what=f"setting {key} in {path}")
        result["cmd"] = cmd
