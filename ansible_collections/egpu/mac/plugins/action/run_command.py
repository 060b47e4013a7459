"""egpu.mac.run_command: run one command on a Mac through the connection, guarded by the state it produces.

Like ansible.builtin.command with creates/removes, but executed with the connection only (no Python on the
target), so check mode works on a bare host: it reports what would run and runs nothing. Paths in `track` are
recorded in the provisioning journal before the command runs, so rollback can undo what it creates or replaces.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ansible_collections.egpu.mac.plugins.module_utils import journal, transfers
from ansible_collections.egpu.mac.plugins.module_utils.target_shell import quote, run
from ansible_collections.egpu.mac.plugins.plugin_utils.mac_action import MacAction


class ActionModule(MacAction):
    def act(self, result: dict[str, Any], args: dict[str, Any], task_vars: dict[str, Any]) -> None:
        result["cmd"] = args["cmd"]
        if args["creates"] and self._exists(args["creates"]):
            result.update(changed=False, msg=f"{args['creates']} exists, not run")
        elif args["removes"] and not self._exists(args["removes"]):
            result.update(changed=False, msg=f"{args['removes']} does not exist, not run")
        elif self.check_mode:
            result.update(changed=True, msg="would run (check mode)")
        else:
            self._run(result, args)

    def _exists(self, path: str) -> bool:
        return run(self, f"[ -e {quote(path)} ]", check_rc=False)[0] == 0

    def _run(self, result: dict[str, Any], args: dict[str, Any]) -> None:
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
            result.update(failed=True, msg=f"non-zero return code {rc}: {command_output(out, err)[-1500:]}")

    def _fetch(self, spec: dict[str, Any]) -> str | None:
        """Copy a file from the Mac to the controller with the connection alone; None when it does not exist."""
        src, dest = spec["src"], Path(spec["dest"])
        if run(self, f"[ -f {quote(src)} ]", check_rc=False)[0] != 0:
            return None
        dest.parent.mkdir(parents=True, exist_ok=True)
        transfers.fetch(self, src, dest)
        return str(dest)


# ssh's own word when a multiplexed session ends (on stderr); the command's output, stderr included, comes through
# the session's terminal (ssh -tt) on stdout.
_SSH_CLOSED = re.compile(r"^Shared connection to \S+ closed\.$")


def command_output(out: str, err: str) -> str:
    """What a failed command printed, stdout then stderr, without ssh's note that the session closed: over SSH the
    command's own messages (a build log's tail) are on stdout, and stderr holds only that note."""
    err = "\n".join(line for line in err.strip().splitlines() if not _SSH_CLOSED.match(line.strip()))
    return "\n".join(part for part in (out.strip(), err.strip()) if part)
