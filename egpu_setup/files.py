"""Two ways of writing a file that other processes read at the same time, used wherever the tool does so (the
cache's index, the lock file, a verify report): a whole-text replace through a temporary file and a rename, so a
reader sees the old or the new text, never half; and an advisory lock on a file for a block of work.

Standard library only: `python -m egpu_setup.verify` on a Mac imports it (egpu_setup.mac_bundle lists it)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


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


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """fcntl's exclusive lock on `path` (created if missing) for the block; released when the file closes."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def write_bytes_atomically(path: Path, data: bytes) -> None:
    """`data` into `path` as write_text_atomically does text (a support bundle, a tarball)."""
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
