"""What every command receives: the output streams, and the one way to print errors and JSON.

Below the CLI (the runner, verify on the Mac) as well as in it, so it sits beside them, not in `cli`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, TextIO

# Bumped when a JSON document's shape changes incompatibly; every JSON output carries it.
JSON_SCHEMA_VERSION = 1


@dataclass
class Context:
    stdout: TextIO
    stderr: TextIO
    _consoles: dict[str, Any] = field(default_factory=dict)

    def console(self, stream: str = "stdout") -> Any:
        """A rich Console on stdout or stderr, created on first use (rich is not imported at start-up)."""
        if stream not in self._consoles:
            from rich.console import Console

            self._consoles[stream] = Console(file=getattr(self, stream), highlight=False, soft_wrap=False)
        return self._consoles[stream]

    def error(self, message: str, fix: str | None = None) -> None:
        self.stderr.write(f"error: {message}\n")
        if fix:
            self.stderr.write(f"fix: {fix}\n")
        self.stderr.flush()

    def note(self, message: str) -> None:
        """Progress and notes go to stderr so stdout stays clean for JSON."""
        self.stderr.write(f"{message}\n")
        self.stderr.flush()

    def emit_json(self, kind: str, data: dict[str, Any]) -> None:
        doc = {"schema_version": JSON_SCHEMA_VERSION, "kind": kind, **data}
        self.stdout.write(json.dumps(doc, indent=2, sort_keys=False) + "\n")
        self.stdout.flush()


class GuardedStdout:
    """stdout for the commands: a write or flush that fails (the reader of a pipe gone, `| head`; a full disk,
    `> /dev/full`; stdout closed with `>&-`, where Python's sys.stdout is None) raises EgpuError (exit 74) instead of
    a traceback. After the first failure the real stdout is pointed at /dev/null, as Python's docs advise for
    BrokenPipeError, so the interpreter's own flush at exit has nothing to complain about. Everything else is the
    wrapped stream's."""

    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        if self._stream is None:
            raise self._failed("stdout is closed")
        try:
            return self._stream.write(text)
        except (OSError, ValueError) as exc:  # ValueError: "I/O operation on closed file"
            raise self._failed(exc) from None

    def flush(self) -> None:
        if self._stream is None:
            return
        try:
            self._stream.flush()
        except (OSError, ValueError) as exc:
            raise self._failed(exc) from None

    def isatty(self) -> bool:
        return self._stream is not None and self._stream.isatty()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def _failed(self, cause: object) -> Exception:
        from egpu_setup.errors import EgpuError, ExitCode

        self._silence()
        return EgpuError(
            f"cannot write the output to stdout: {cause}",
            fix="let the output go where it can be written: a terminal, a file on a disk with room, or a pipe whose "
            "reader reads it all",
            exit_code=ExitCode.OUTPUT_FAILED,
        )

    def _silence(self) -> None:
        """The failed stream's descriptor onto /dev/null (only a real stream's: a test's StringIO has none)."""
        try:
            fd = self._stream.fileno() if self._stream is not None else -1
        except (AttributeError, OSError, ValueError):
            return
        if fd < 0:
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)


def size_text(size: int) -> str:
    """Bytes for people: 812 B, 39.7 MiB, 1.4 GiB."""
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024 or unit == "GiB":
            break
    return f"{value:.1f} {unit}"
