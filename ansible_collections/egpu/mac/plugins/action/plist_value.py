"""egpu.mac.plist_value: one value in a property list (or its absence), read and set with PlistBuddy.

Before the first change the file is recorded in the provisioning journal (backup with SHA-256, or "added" when
this task creates it), so rollback restores it byte for byte. Used to set NVDARequiredOS in NVIDIA's kexts to the
running build, and to turn the web driver agent's update check off.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.egpu.mac.plugins.module_utils import journal
from ansible_collections.egpu.mac.plugins.module_utils.target_shell import quote, run
from ansible_collections.egpu.mac.plugins.plugin_utils.mac_action import ActionFailed, MacAction

PLISTBUDDY = "/usr/libexec/PlistBuddy"


def printed(value: str, kind: str) -> str:
    """`value` as PlistBuddy's Print shows it once stored as `kind` (how before and after are compared)."""
    if kind == "integer":
        try:
            return str(int(value))
        except ValueError as exc:
            raise ActionFailed(f"value {value!r} is not an integer") from exc
    if kind == "bool":
        if value.lower() not in ("true", "false", "yes", "no", "1", "0"):
            raise ActionFailed(f"value {value!r} is not a boolean (true or false)")
        return "true" if value.lower() in ("true", "yes", "1") else "false"
    return value


def commands(key: str, kind: str, before: str | None, after: str | None) -> list[str]:
    """The PlistBuddy commands that take the key from `before` to `after` (None: absent)."""
    if after is None:
        return [f"Delete :{key}"]
    if before is None:
        return [f"Add :{key} {kind} {after}"]
    if kind == "string":
        return [f"Set :{key} {after}"]
    # Set keeps the stored type: a value of another type (a bool where an integer is wanted) is replaced.
    return [f"Delete :{key}", f"Add :{key} {kind} {after}"]


def owner_of(ls_line: str) -> str | None:
    """`USER:GROUP` from `ls -ld`'s third and fourth columns (macOS and the lab print names there); None if absent."""
    fields = ls_line.split()
    return f"{fields[2]}:{fields[3]}" if len(fields) > 4 else None


def owner_differs(current: str | None, wanted: str | None) -> bool:
    """Whether the file must be chowned: a wanted `USER` alone compares with the user only."""
    if not wanted or current is None:
        return False
    user, _, group = wanted.partition(":")
    have_user, _, have_group = current.partition(":")
    return user != have_user or (bool(group) and group != have_group)


class ActionModule(MacAction):
    def act(self, result: dict[str, Any], args: dict[str, Any], task_vars: dict[str, Any]) -> None:
        path, key, kind, owner = args["path"], args["key"].lstrip(":"), args["type"], args["owner"]
        if args["state"] == "present" and args["value"] is None:
            raise ActionFailed("value is required with state=present")
        after = printed(args["value"], kind) if args["state"] == "present" else None
        rc, listed, _ = run(self, f"[ -f {quote(path)} ] && ls -ld {quote(path)}", check_rc=False)
        exists = rc == 0
        if not exists and (after is None or (self.check_mode and not args["create"])):
            # Nothing to delete; or, in check mode, an earlier task (a package install) would have created the file.
            result.update(changed=after is not None, path=path, key=key, before=None, after=after)
            result["msg"] = f"{path} does not exist" + ("" if after is None else f"; {key} would be {after}")
            if after is not None:
                self.diff(result, path, key, None, after)
            return
        if not exists and not args["create"]:
            raise ActionFailed(f"{path} does not exist on the target")
        before = self.read(path, key) if exists else None
        owner_before = owner_of(listed) if exists else None
        result.update(path=path, key=key, before=before, after=after)
        if owner:
            result.update(owner_before=owner_before, owner=owner)
        self.diff(result, path, key, before, after)
        # a new file, or one PlistBuddy rewrote, is root's (the task runs with become): the owner is set after it
        steps = commands(key, kind, before, after) if before != after else []
        chown = bool(owner) and (bool(steps) or owner_differs(owner_before, owner))
        self.settle(result, bool(steps) or chown, lambda: self.apply(result, args["state_dir"], path, steps, chown))

    def diff(self, result: dict[str, Any], path: str, key: str, before: str | None, after: str | None) -> None:
        def line(value: str | None) -> str:
            return f":{key} = {value if value is not None else '(absent)'}\n"

        self.add_diff(result, line(before), line(after), before_header=path, after_header=path)

    def read(self, path: str, key: str) -> str | None:
        rc, out, _ = run(self, f"{PLISTBUDDY} -c {quote('Print :' + key)} {quote(path)}", check_rc=False)
        return out.strip() if rc == 0 else None

    def apply(self, result: dict[str, Any], state_dir: str, path: str, steps: list[str], chown: bool) -> None:
        result["backup"] = journal.track(self, state_dir, [path], check_mode=False)
        script = []
        if steps:
            cmd = " ".join([PLISTBUDDY, *(f"-c {quote(step)}" for step in steps), quote(path)])
            script.append(cmd)
            result["cmd"] = cmd
        if chown:
            script.append(f"chown {quote(result['owner'])} {quote(path)}")
        run(self, " && ".join(script), what=f"setting {result['key']} in {path}")
