"""Controller-side: count the bytes an action plugin moves over the connection, for the run report.

`note` lists one file sent to or received from the Mac on the action (MacAction puts the lists in the task result
under egpu_setup.runner.transfers.SENT / RECEIVED); `fetch` brings a file back from the Mac and notes it.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

from egpu_setup.runner.transfers import RECEIVED, SENT

__all__ = ["RECEIVED", "SENT", "fetch", "note"]


def note(action: Any, key: str, name: str, size: int) -> None:
    """Lists `size` bytes of the file `name` under `key` (SENT or RECEIVED) on the action."""
    counted = getattr(action, "transfers", None)
    if counted is None:
        counted = action.transfers = {}
    counted.setdefault(key, []).append({"name": name, "bytes": int(size)})


def fetch(action: Any, src: str, dest: Path) -> None:
    """Copy the Mac's `src` to the controller's `dest` with the connection alone, and count its bytes."""
    action._connection.fetch_file(src, str(dest))
    note(action, RECEIVED, posixpath.basename(src), dest.stat().st_size)
