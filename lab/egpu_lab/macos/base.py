"""What every command handler gets: `Sim` (streams, machine state, simulated user) and the shared helpers.

A handler is `def name(argv: list[str], sim: Sim) -> int`; `argv` excludes the program name (`sim.prog`).

- Output: `sim.out("line")` / `sim.err("line")` write one line (newline added) to stdout / stderr;
  `sim.stdout` / `sim.stderr` are the raw text streams.
- Failing: `sim.fail(message, code)` prints `message` on stderr and stops the handler with exit `code`
  (raises `SimExit`, which the dispatcher turns into the exit code). `sim.require_root(message, code)` does the
  same unless the simulated user is root.
- Identity: `sim.user` is `EGPU_SIM_USER` (default `admin`; the `sudo` shim and Ansible's become make it `root`),
  `sim.is_root`, `sim.uid`, `sim.home`.
- State: `sim.machine` (`Machine`; `sim.machine.read()`, `with sim.machine.edit() as st:`), `sim.path("/mac/path")`
  maps a Mac path to the current process (inside the sandbox that is the same path).
- Plists: `load_plist(path)` reads XML or binary plists; `dump_plist(data, path, binary=False)` writes them.
- Processes: `sim.env` is the environment (a copy); `sim.cwd` the working directory.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from egpu_lab.layout import sandbox_root, under_root

# Every imitated command starts a Python: the machine model (dataclasses, its whole module) and plistlib load when a
# handler uses them, not for a command that does not (sudo's common path, sw_vers).
if TYPE_CHECKING:
    from egpu_lab.machine import Machine

ENV_USER = "EGPU_SIM_USER"

# The two accounts of a rehearsal Mac (uid, gid, home), as on a fresh 10.13 install: the first admin user is 501
# in group staff (20); root's home is /var/root and its group wheel (0).
USERS: dict[str, tuple[int, int, str]] = {
    "root": (0, 0, "/var/root"),
    "admin": (501, 20, "/Users/admin"),
}


class SimExit(Exception):
    """Stops a handler with an exit code (the message, if any, was already printed)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class Sim:
    def __init__(
        self,
        prog: str,
        machine: Machine | None = None,
        env: Mapping[str, str] | None = None,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        cwd: str | None = None,
    ) -> None:
        self.prog = prog
        self.env = dict(os.environ if env is None else env)
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.cwd = cwd or os.getcwd()
        self._machine = machine

    @property
    def machine(self) -> Machine:
        if self._machine is None:
            from egpu_lab.machine import Machine

            self._machine = Machine.from_env()
        return self._machine

    # --- identity ---
    @property
    def user(self) -> str:
        return self.env.get(ENV_USER) or "admin"

    @property
    def is_root(self) -> bool:
        return self.user == "root"

    @property
    def uid(self) -> int:
        return USERS.get(self.user, USERS["admin"])[0]

    @property
    def gid(self) -> int:
        return USERS.get(self.user, USERS["admin"])[1]

    @property
    def home(self) -> str:
        return USERS.get(self.user, USERS["admin"])[2]

    # --- output ---
    def out(self, line: str = "") -> None:
        self.stdout.write(line + "\n")

    def err(self, line: str = "") -> None:
        self.stderr.write(line + "\n")

    def fail(self, message: str | None, code: int = 1) -> NoReturn:
        if message:
            self.err(message)
        raise SimExit(code)

    def require_root(self, message: str, code: int = 1) -> None:
        if not self.is_root:
            self.fail(message, code)

    # --- paths ---
    def path(self, mac_path: str) -> Path:
        """A Mac path (absolute, or relative to the cwd) as a path of this process."""
        if not mac_path.startswith("/"):
            mac_path = os.path.join(self.cwd, mac_path)
        if self._machine is not None:
            return self._machine.path(mac_path)
        return under_root(sandbox_root(), mac_path)  # as Machine.from_env().path, without loading the model


def load_plist(path: Path | str) -> Any:
    """An XML or binary property list (plistlib detects the format)."""
    import plistlib

    with open(path, "rb") as f:
        return plistlib.load(f)


def dump_plist(data: Any, path: Path | str, binary: bool = False) -> None:
    import plistlib

    fmt = plistlib.FMT_BINARY if binary else plistlib.FMT_XML
    tmp = Path(f"{path}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        plistlib.dump(data, f, fmt=fmt, sort_keys=False)
    os.replace(tmp, path)


def plist_format(path: Path | str) -> bool:
    """True when the file is a binary plist (so editors write it back in the same format)."""
    with open(path, "rb") as f:
        return f.read(8) == b"bplist00"
