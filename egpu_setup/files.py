"""How the tool touches a file a user can name, in one place: outputs are written atomically (a temporary file
beside them and a rename, so a reader sees the old or the new text, never half) and never through a symbolic link
or onto a FIFO, directory or device; inputs are checked to be regular files BEFORE they are opened for good (a
FIFO would block open() for ever, a directory or device would fail late or never end); and an advisory lock on a
file for a block of work.

Standard library only (besides egpu_setup.errors): `python -m egpu_setup.verify` on a Mac imports it
(egpu_setup.mac_bundle lists both)."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, BinaryIO

from egpu_setup.errors import EgpuError


def kind_of(mode: int) -> str:
    """What a file of this st_mode is, for messages ("a FIFO", "a directory", ...)."""
    for test, name in (
        (stat.S_ISREG, "a regular file"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISLNK, "a symbolic link"),
    ):
        if test(mode):
            return name
    return "not a regular file"


class NotRegularFile(OSError):
    """A path that names something other than a regular file (FIFO, directory, device, socket)."""

    def __init__(self, path: Path, kind: str) -> None:
        super().__init__(f"{path} is {kind}, not a regular file")
        self.path, self.kind = path, kind


def open_regular(path: Path | str) -> BinaryIO:
    """`path` opened for reading in binary, after fstat showed a regular file (links are followed: a user's
    inventory may well be one). Opened with O_NONBLOCK, so a FIFO does not block the open; raises NotRegularFile
    for anything that is not a regular file, OSError as open() does (missing, permission denied)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(Path(path), kind_of(mode))
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)  # a plain blocking file from here on
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular_bytes(path: Path | str) -> bytes:
    with open_regular(path) as handle:
        return handle.read()


def read_regular_text(path: Path | str) -> str:
    """The text (UTF-8) of a regular file; NotRegularFile/OSError/UnicodeDecodeError as the steps raise them."""
    return read_regular_bytes(path).decode("utf-8")


def read_input(path: Path | str, what: str) -> str:
    """read_regular_text for a file the user named as `what` ("--password-file", "the inventory"): every failure is
    an EgpuError (exit 2) naming `what`, the path and the cause."""
    try:
        return read_regular_text(path)
    except NotRegularFile as exc:
        raise EgpuError(f"{what} {path} is {exc.kind}, not a regular file", fix="name a regular file") from None
    except UnicodeDecodeError as exc:
        raise EgpuError(f"{what} {path} is not UTF-8 text ({exc.reason})", fix="name a text file") from None
    except OSError as exc:
        raise EgpuError(f"cannot read {what} {path}: {exc.strerror or exc}", fix="name a readable file") from None


def file_sha256(path: Path | str) -> str | None:
    """The SHA-256 of a file, or None when it cannot be read (missing, a directory, no permission): whether a file
    is still the one recorded (a build's manifest, a Mach-O before and after an edit)."""
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None


def require_regular(path: Path, what: str, *, directory_ok: bool = False) -> None:
    """Refuse (EgpuError, exit 2) an existing `path` that is not a regular file (or a directory, where `directory_ok`)
    before another program (Ansible) opens it: a FIFO there would block it for ever. A missing path passes: the
    caller names that in its own words."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    if stat.S_ISREG(mode) or (directory_ok and stat.S_ISDIR(mode)):
        return
    wanted = "a regular file or a directory" if directory_ok else "a regular file"
    raise EgpuError(f"{what} {path} is {kind_of(mode)}, not {wanted}", fix=f"name {wanted}")


def check_output(path: Path, what: str) -> None:
    """Refuse (EgpuError, exit 2) an output path that is a symbolic link, or anything but a regular file or nothing,
    or whose directory is missing: checked before any work, so nothing is written and a link stays intact."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        fix = "name a file in a directory you can write"
        raise EgpuError(f"{what} {path}: {exc.strerror or exc}", fix=fix) from None
    if mode is not None and stat.S_ISLNK(mode):
        raise EgpuError(
            f"{what} {path} is a symbolic link: egpu-setup does not write through links",
            fix=f"name the link's target itself ({os.path.realpath(path)}) or another file",
        )
    if mode is not None and not stat.S_ISREG(mode):
        raise EgpuError(f"{what} {path} is {kind_of(mode)}", fix="name a regular file (it is replaced whole)")
    if not path.parent.is_dir():
        raise EgpuError(f"{what} {path}: directory {path.parent} does not exist", fix=f"mkdir -p {path.parent}")


def write_atomically(path: Path, data: str | bytes, what: str = "output file") -> None:
    """`data` (text as UTF-8) into `path` through a temporary file beside it and a rename; refused as check_output
    says before a byte is written; no temporary file is left behind. A new file gets the umask's usual mode, a
    replaced one keeps its mode."""
    check_output(path, what)
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.chmod(name, mode)
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)  # the rename did not happen
        raise


def write_text_atomically(path: Path, text: str, what: str = "output file") -> None:
    """write_atomically for text: the cache's index, the lock file, verify's report."""
    write_atomically(path, text, what)


def write_bytes_atomically(path: Path, data: bytes, what: str = "output file") -> None:
    """write_atomically for bytes: a support bundle, a tarball."""
    write_atomically(path, data, what)


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
