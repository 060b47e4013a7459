"""egpu.mac.authrestart: arm FileVault's authenticated restart, so that the next restart skips the unlock screen.

`fdesetup authrestart -delayminutes -1 -inputplist` stores a FileVault unlock key without restarting ("a value of -1
represents 'never'", Apple's fdesetup(8)); the next restart, whatever starts it (ansible.builtin.reboot's
`shutdown -r`), then boots past the pre-boot unlock screen, once. munki sets up its delayed authenticated restarts
the same way (munki/munki:code/client/munkilib/authrestart/__init__.py@83accce).

The password travels only as the plist fdesetup reads on its standard input: never on a command line (`ps`), never
in a result. It is the task's `password`, else the connection's become password (`--ask-become-pass`,
`ansible_become_password`): a FileVault user's login password is the one that unlocks the disk.
"""

from __future__ import annotations

import plistlib
from typing import Any

from ansible_collections.egpu.mac.plugins.module_utils.target_shell import ENV_PREFIX
from ansible_collections.egpu.mac.plugins.plugin_utils.mac_action import ActionFailed, MacAction

ARM = "fdesetup authrestart -delayminutes -1 -inputplist"


def input_plist(password: str, user: str | None) -> bytes:
    """What fdesetup's -inputplist reads: Password (a FileVault user's password), Username (ignored by authrestart,
    sent as munki does)."""
    doc = {"Password": password}
    if user:
        doc["Username"] = user
    return plistlib.dumps(doc)


class ActionModule(MacAction):
    def become_password(self) -> str:
        become = getattr(self._connection, "become", None)
        if become is not None:
            try:
                return str(become.get_option("become_pass") or "")
            except KeyError:
                pass
        return str(getattr(self._play_context, "become_pass", "") or "")

    def act(self, result: dict[str, Any], args: dict[str, Any], task_vars: dict[str, Any]) -> None:
        password, source = args["password"], "password"
        if not password:
            password, source = self.become_password(), "become password"
        result.update(changed=False, password_source=source if password else None)
        if args["state"] == "ready":
            return  # reads nothing on the Mac: whether an authenticated restart can be armed later
        if not password:
            raise ActionFailed(
                "no password for fdesetup authrestart: give the FileVault user's password as `password` (from a "
                "vault) or as the become password (--ask-become-pass)"
            )
        result["cmd"] = ARM
        self.settle(result, True, lambda: self.arm(result, password, args["user"]))

    def arm(self, result: dict[str, Any], password: str, user: str | None) -> None:
        res = self._low_level_execute_command(ENV_PREFIX + ARM, sudoable=True, in_data=input_plist(password, user))
        rc = int(res.get("rc", 0) or 0)
        result.update(rc=rc, stdout=res.get("stdout", ""), stderr=res.get("stderr", ""))
        if rc != 0:
            result.update(
                failed=True,
                changed=False,
                msg=f"fdesetup refused to arm the authenticated restart (rc={rc}): "
                f"{(res.get('stderr') or res.get('stdout') or '').strip()}",
            )
