"""The tasks Ansible lists per host (`ansible-playbook --list-hosts --list-tasks`), for the live view's progress bar.

Why the command and not Ansible's Python API (Playbook.load, play.compile) in this process: the run's settings
(ANSIBLE_CONFIG, the collections path that puts this installation's egpu.mac first) are read by Ansible when it is
imported and its collection finder is process-wide, so an in-process load would need them set up here the way the
run's process has them, and could differ from what the run sees. The command gets the run's own environment and
arguments (execute.ansible_env, playbook_args), so Ansible itself expands the static imports and resolves the
inventory, --limit and each play's hosts; it starts with the facts play and is done long before the main play
(about half a second), so it costs no wall time.

Ansible lists a dynamic include_tasks/include_role as one task, not what it brings, so the count is a lower bound:
the view's total grows with the results that come past it (max(total, done)); a skipped include adds nothing.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence

log = logging.getLogger("egpu_setup.runner")

# a task line of --list-tasks: six spaces, the task, a tab, its tags; hosts are listed six spaces in, bare
_TASK = re.compile(r"^ {6}\S.*\tTAGS: \[")
_HOST = re.compile(r"^ {6}(\S+)$")
_SECTION = re.compile(r"^ {4}(\w+)")  # pattern: / hosts (N): / tasks:
_PLAY = re.compile(r"^ {2}play #\d+")


def parse_listing(text: str) -> dict[str, int]:
    """host -> the tasks listed for it over all the plays that target it."""
    totals: dict[str, int] = {}
    hosts: list[str] = []
    section = ""
    for line in text.splitlines():
        if _PLAY.match(line):
            hosts, section = [], ""
        elif section == "tasks" and _TASK.match(line):
            for host in hosts:
                totals[host] += 1
        elif section == "hosts" and (host := _HOST.match(line)):
            hosts.append(host.group(1))
            totals.setdefault(host.group(1), 0)
        elif heading := _SECTION.match(line):
            section = heading.group(1)
    return totals


class TaskListing:
    """`ansible-playbook --list-hosts --list-tasks` running beside the run; `on_done` gets its counts per host."""

    def __init__(self, args: Sequence[str], env: Mapping[str, str], on_done: Callable[[dict[str, int]], None]):
        self._process: subprocess.Popen[str] | None = None
        self._thread = threading.Thread(target=self._list, args=(args, env, on_done), daemon=True)

    def start(self) -> TaskListing:
        self._thread.start()
        return self

    def _list(self, args: Sequence[str], env: Mapping[str, str], on_done: Callable[[dict[str, int]], None]) -> None:
        command = ["ansible-playbook", "--list-hosts", "--list-tasks", *args]
        try:
            self._process = subprocess.Popen(
                command, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            out, err = self._process.communicate()
        except OSError:
            log.debug("ansible-playbook --list-tasks did not start", exc_info=True)
            return
        if self._process.returncode != 0:
            log.debug("ansible-playbook --list-tasks failed (rc %s): %s", self._process.returncode, err[-2000:])
            return
        on_done(parse_listing(out))

    def stop(self, wait_s: float = 10.0) -> None:
        """Wait for the listing (it is long done when a play ends), then kill it if it still runs."""
        self._thread.join(wait_s)
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._thread.join()
