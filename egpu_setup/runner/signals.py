"""Ctrl-C and SIGTERM while a stopped run winds down.

The first Ctrl-C (or SIGTERM) stops a run: ansible-playbook is killed, the events still queued are applied and the
run's report is written. People press Ctrl-C again when that takes a moment; raised there, the second one would end
egpu-setup before report.json is written. From the first stop until the report is out, a further SIGINT or SIGTERM
is therefore noted, not raised: the winding down is bounded (a SIGKILL, then the queue), and the exit code is the
first stop's.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

DEFERRED = (signal.SIGINT, signal.SIGTERM)


class Winding:
    """Installs the noting handlers at `start` (the first stop), and puts the earlier ones back at `close`."""

    def __init__(self) -> None:
        self.noted: list[int] = []  # the signals that arrived while the run wound down
        self._previous: dict[int, Any] = {}

    def start(self) -> None:
        if self._previous or threading.current_thread() is not threading.main_thread():
            return  # already winding down; or not the main thread, where no handler can be set
        for signum in DEFERRED:
            self._previous[signum] = signal.signal(signum, self._note)

    def _note(self, signum: int, frame: object) -> None:
        self.noted.append(signum)

    def close(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()


@contextlib.contextmanager
def winding_down() -> Iterator[Winding]:
    """A Winding for the block, its handlers (if it started) put back at the end."""
    winding = Winding()
    try:
        yield winding
    finally:
        winding.close()
