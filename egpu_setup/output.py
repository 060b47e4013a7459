"""What every command receives: the output streams, and the one way to print errors and JSON.

Below the CLI (the runner, verify on the Mac) as well as in it, so it sits beside them, not in `cli`.
"""

from __future__ import annotations

import json
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
