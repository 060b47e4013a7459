"""Fixtures for the packaging tests: a bare host (tree + machine state) and a handler runner."""

from __future__ import annotations

import io
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from egpu_setup.rehearsal.machine import Machine, MachineState
from egpu_setup.rehearsal.macos import flatpkg
from egpu_setup.rehearsal.macos.base import Sim, SimExit


@dataclass
class Run:
    code: int
    out: str
    err: str


@dataclass
class Host:
    dir: Path
    machine: Machine

    @property
    def root(self) -> Path:
        return self.machine.root

    def run(
        self, handler: Callable[[list[str], Sim], int], *argv: str, user: str = "root", env: dict | None = None
    ) -> Run:
        out, err = io.StringIO(), io.StringIO()
        sim = Sim(
            handler.__name__,
            machine=self.machine,
            env={"EGPU_SIM_USER": user, **(env or {})},
            stdout=out,
            stderr=err,
            cwd="/",
        )
        try:
            code = int(handler(list(argv), sim) or 0)
        except SimExit as exc:
            code = exc.code
        return Run(code, out.getvalue(), err.getvalue())


@pytest.fixture
def host(tmp_path: Path) -> Host:
    """A host directory like the lab's: root/ with the receipts dir, machine/ with a 10.13.2 (17C88) state."""
    root = tmp_path / "mac1" / "root"
    for d in ("private/var/db/receipts", "private/tmp", "private/var/log", "Library/Extensions", "Volumes"):
        (root / d).mkdir(parents=True)
    machine = Machine(tmp_path / "mac1" / "machine", root)
    machine.write(MachineState())
    return Host(tmp_path / "mac1", machine)


def tree(*files: tuple[str, bytes]) -> list[flatpkg.CpioEntry]:
    """Payload entries for `files` (paths './a/b'), with their parent directories."""
    entries = {".": flatpkg.CpioEntry(".", stat.S_IFDIR | 0o755)}
    for path, data in files:
        parts = path.removeprefix("./").split("/")
        for i in range(1, len(parts)):
            d = "./" + "/".join(parts[:i])
            entries.setdefault(d, flatpkg.CpioEntry(d, stat.S_IFDIR | 0o755))
        entries[path] = flatpkg.CpioEntry(path, stat.S_IFREG | 0o644, data)
    return list(entries.values())


@pytest.fixture
def make_tree() -> Callable[..., list[flatpkg.CpioEntry]]:
    return tree
