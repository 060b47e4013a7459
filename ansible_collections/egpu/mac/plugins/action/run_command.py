"""egpu.mac.run_command: run one command on a Mac through the connection, guarded by the state it produces.

Like ansible.builtin.command with creates/removes, but executed with the connection only (no Python on the
target), so check mode works on a bare host: it reports what would run and runs nothing. Paths in `track` are
recorded in the provisioning journal before the command runs, so rollback can undo what it creates or replaces.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ansible.plugins.action import ActionBase

from ansible_collections.egpu.mac.plugins.module_utils import journal
from ansible_collections.egpu.mac.plugins.module_utils.journal import STATE_DIR_OPTION
from ansible_collections.egpu.mac.plugins.module_utils.target_shell import TargetCommandError, quote, run

ARGUMENT_SPEC: dict[str, Any] = {
    "cmd": {"type": "str", "required": True},
    "chdir": {"type": "str"},
    "creates": {"type": "str"},
    "removes": {"type": "str"},
    "env": {"type": "dict", "default": {}},
    "track": {"type": "list", "elements": "str", "default": []},
    "undo": {"type": "str"},
    "fetch": {
        "type": "dict",
        "options": {"src": {"type": "str", "required": True}, "dest": {"type": "path", "required": True}},
    },
    "state_dir": STATE_DIR_OPTION,
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        self._supports_check_mode = True
        result = super().run(tmp, task_vars)
        _, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        result["cmd"] = args["cmd"]
        try:
            if args["creates"]:
                rc, _, _ = run(self, f"[ -e {quote(args['creates'])} ]", check_rc=False)
                if rc == 0:
                    return {**result, "changed": False, "msg": f"{args['creates']} exists, not run"}
            if args["removes"]:
                rc, _, _ = run(self, f"[ -e {quote(args['removes'])} ]", check_rc=False)
                if rc != 0:
                    return {**result, "changed": False, "msg": f"{args['removes']} does not exist, not run"}
            if self._task.check_mode:
                return {**result, "changed": True, "msg": "would run (check mode)"}
            if args["track"]:
                result["tracked"] = journal.track(self, args["state_dir"], args["track"], check_mode=False)
            if args["undo"]:
                journal.record(self, args["state_dir"], f"undo\t{args['undo']}", check_mode=False)
            prefix = "".join(f"{k}={quote(str(v))}; export {k}; " for k, v in args["env"].items())
            if args["chdir"]:
                prefix += f"cd {quote(args['chdir'])} && "
            rc, out, err = run(self, prefix + args["cmd"], check_rc=False)
            result.update(changed=True, rc=rc, stdout=out, stderr=err)
            if args["fetch"]:
                # Brought back whatever the command's status: a failing check's report is what one wants to read.
                result["fetched"] = self._fetch(args["fetch"])
            if rc != 0:
                result.update(failed=True, msg=f"non-zero return code {rc}: {(err or out).strip()[-1500:]}")
        except TargetCommandError as exc:
            result.update(exc.result())
        return result

    def _fetch(self, spec: dict[str, Any]) -> str | None:
        """Copy a file from the Mac to the controller with the connection alone; None when it does not exist."""
        src, dest = spec["src"], Path(spec["dest"])
        if run(self, f"[ -f {quote(src)} ]", check_rc=False)[0] != 0:
            return None
        dest.parent.mkdir(parents=True, exist_ok=True)
        self._connection.fetch_file(src, str(dest))
        return str(dest)
