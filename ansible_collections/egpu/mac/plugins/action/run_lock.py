"""egpu.mac.run_lock: one run at a time on a Mac, also across controllers (the controller's own lock, an fcntl lock
per host in egpu_setup.runner.host_lock, cannot see a second controller).

The lock is a file created with sh's noclobber (`set -C`: an O_EXCL open), so of two runs that race exactly one
creates it. Its text is `key=value` lines, readable with `cat` on the Mac. Liveness can only be judged for a holder
on this controller (its pid is ours to look at); anything else ages out after `stale_after` and is then reported,
not taken: only `break_lock` (egpu-setup's --break-lock) removes another controller's lock.
"""

from __future__ import annotations

import os
import socket
import time
from datetime import UTC, datetime
from typing import Any

from ansible.utils.display import Display

from ansible_collections.egpu.mac.plugins.module_utils.target_shell import quote, run
from ansible_collections.egpu.mac.plugins.plugin_utils.mac_action import MacAction
from egpu_setup.errors import EgpuError, ExitCode

display = Display()
FIELDS = ("controller", "pid", "command", "run_id", "since")


def render(entry: dict[str, Any]) -> str:
    return "".join(f"{key}={entry[key]}\n" for key in FIELDS)


def parse(text: str) -> dict[str, Any]:
    entry: dict[str, Any] = dict(line.partition("=")[::2] for line in text.splitlines() if "=" in line)
    for key in ("pid", "since"):
        entry[key] = int(entry[key]) if str(entry.get(key, "")).isdigit() else None
    return entry


def describe(entry: dict[str, Any]) -> str:
    """`provision from ctl-1 (pid 123, run 2026...-provision) since 2026-12-05 13:02:07 UTC (45 min ago)`."""
    since = entry.get("since")
    when = "at an unknown time"
    if since is not None:
        stamp = datetime.fromtimestamp(since, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        when = f"since {stamp} ({max(int(time.time()) - since, 0) // 60} min ago)"
    return (
        f"{entry.get('command') or '?'} from {entry.get('controller') or '?'} (pid {entry.get('pid')}, "
        f"run {entry.get('run_id') or '?'}) {when}"
    )


def process_gone(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # someone else's live process
    return False


class ActionModule(MacAction):
    def act(self, result: dict[str, Any], args: dict[str, Any], task_vars: dict[str, Any]) -> None:
        controller, pid = socket.gethostname(), os.getppid()  # the worker's parent: this run's ansible-playbook
        mine = {
            "controller": controller,
            "pid": pid,
            "command": args["command"],
            "run_id": args["run_id"] or f"{controller}-{pid}",
            "since": int(time.time()),
        }
        result.update(changed=False, owner=mine)
        if args["state"] == "unlocked":
            self.release(args["path"], mine)
            return
        deadline = time.monotonic() + max(args["wait"], 0.0)
        told, taken_over = False, set()
        while True:
            text = self.read(args["path"])
            if text is None:
                if self.check_mode or self.create(args["path"], mine):
                    return
                continue  # another run created it between our look and our create: look again
            holder = parse(text)
            result["holder"] = holder
            if args["break_lock"] or (holder.get("controller") == controller and process_gone(holder.get("pid"))):
                if text in taken_over:
                    raise EgpuError(f"cannot remove the stale run lock {args['path']}", fix="remove it on the Mac")
                taken_over.add(text)
                self.take_over(result, args, text, holder)
                if self.check_mode:
                    return
                continue
            stale = holder.get("since") is not None and time.time() - holder["since"] > args["stale_after"]
            if stale or time.monotonic() >= deadline:
                result["busy"] = True
                raise self.refusal(args, holder, stale)
            if not told:
                display.display(f"waiting for the run lock {args['path']}, held by {describe(holder)}")
                told = True
            time.sleep(min(args["poll"], max(deadline - time.monotonic(), 0.1)))

    def read(self, path: str) -> str | None:
        rc, out, _ = run(self, f"cat {quote(path)}", check_rc=False, what="reading the run lock")
        # over ssh with a terminal (-tt, as Ansible asks for become) the lines come back as CRLF: the file has LF,
        # and take_over compares with the file's own text
        return out.replace("\r\n", "\n") if rc == 0 else None

    def create(self, path: str, entry: dict[str, Any]) -> bool:
        """True when this run created the lock; False when it exists (another run was quicker)."""
        rc, _, err = run(self, f"(set -C; printf '%s' {quote(render(entry))} > {quote(path)})", check_rc=False)
        if rc == 0:
            return True
        if self.read(path) is None:  # not a lost race: the create itself failed (no such directory, no root)
            raise EgpuError(f"cannot create the run lock {path} on the Mac: {err.strip()}", fix="run with become")
        return False

    def take_over(self, result: dict[str, Any], args: dict[str, Any], text: str, holder: dict[str, Any]) -> None:
        why = "--break-lock" if args["break_lock"] else "its ansible-playbook no longer runs on this controller"
        note = f"run lock {args['path']} of {describe(holder)} taken over ({why})"
        if self.check_mode:
            note = f"run lock {args['path']} of {describe(holder)} is stale ({why}); provision takes it over"
        result.setdefault("warnings", []).append(note)
        result["taken_over"] = True
        if not self.check_mode:  # only the lock we read: a run that replaced it in between keeps its own
            # $(cat) drops the trailing newlines: compare without them
            path = quote(args["path"])
            run(self, f'[ "$(cat {path})" = {quote(text.rstrip(chr(10)))} ] && rm -f {path}; true', what="take over")

    def release(self, path: str, mine: dict[str, Any]) -> None:
        text = self.read(path)
        if text is None or self.check_mode:
            return
        holder = parse(text)
        if holder.get("run_id") == mine["run_id"] or (holder.get("controller"), holder.get("pid")) == (
            mine["controller"],
            mine["pid"],
        ):
            run(self, f"rm -f {quote(path)}", what="removing the run lock")

    @staticmethod
    def refusal(args: dict[str, Any], holder: dict[str, Any], stale: bool) -> EgpuError:
        if stale:
            return EgpuError(
                f"the Mac's run lock {args['path']} is stale: {describe(holder)}, older than {args['stale_after']} s",
                fix=f"make sure that run is over (look on {holder.get('controller') or 'its controller'}), then run "
                "again with --break-lock to remove the lock",
                exit_code=ExitCode.BUSY,
            )
        return EgpuError(
            f"another run holds this Mac: {describe(holder)} (lock {args['path']})",
            fix="wait for it to end, or run again with --wait [SECONDS] to wait for it; if that run is gone for good, "
            "run again with --break-lock",
            exit_code=ExitCode.BUSY,
        )
