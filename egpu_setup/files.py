"""Two ways of writing a file that other processes read at the same time, used wherever the tool does so (the
cache's index, the lock file, a verify report): a whole-text replace through a temporary file and a rename, so a
reader sees the old or the new text, never half; and an advisory lock on a file for a block of work.

Standard library only: `python -m egpu_setup.verify` on a Mac imports it (egpu_setup.mac_bundle lists it)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO


def write_text_atomically(path: Path, text: str) -> None:
    """`text` into `path` through a temporary file beside it and a rename; no temporary file is left behind."""
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)  # the rename did not happen
        raise


class LockHeld(Exception):
    """`exclusive(..., wait_s=...)` gave up: another process holds the lock."""


@contextlib.contextmanager
def exclusive(path: Path, wait_s: float | None = None, poll_s: float = 0.2) -> Iterator[IO[str]]:
    """fcntl's exclusive lock on `path` (created if missing) for the block; released when the file closes, so also
    when the process dies (a lock on the controller is never stale). `wait_s` None waits as long as it takes; a number
    waits that many seconds (0: not at all) and then raises LockHeld. The block gets the open file (append mode), where
    a holder may leave a note for whoever waits."""
    with open(path, "a+", encoding="utf-8") as handle:
        deadline = None if wait_s is None else time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | (0 if deadline is None else fcntl.LOCK_NB))
                break
            except BlockingIOError:
                if deadline is None or time.monotonic() >= deadline:
                    raise LockHeld(str(path)) from None
                time.sleep(min(poll_s, max(deadline - time.monotonic(), 0.0)))
        yield handle
