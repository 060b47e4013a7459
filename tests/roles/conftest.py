"""Fixtures of the roles/collection tests: a stand-in for an action plugin that runs sh on this machine."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


class LocalAction:
    """Duck-types the one ActionBase method the collection's helpers use: run sh here instead of on a Mac.

    `commands` keeps every command line, so tests can assert what would run on the target.
    """

    def __init__(self) -> None:
        self.commands: list[str] = []

    def _low_level_execute_command(self, cmd: str, sudoable: bool = True) -> dict[str, Any]:
        self.commands.append(cmd)
        proc = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, check=False)
        return {"rc": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr}


@pytest.fixture
def local_action() -> LocalAction:
    return LocalAction()


def tree_digest(root: Path) -> dict[str, tuple[str, str]]:
    """Path -> (kind, content or link target) of everything under root: equal dicts mean equal trees."""
    out: dict[str, tuple[str, str]] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            out[rel] = ("link", str(path.readlink()))
        elif path.is_dir():
            out[rel] = ("dir", oct(path.stat().st_mode & 0o7777))
        else:
            out[rel] = ("file", path.read_bytes().hex() + oct(path.stat().st_mode & 0o7777))
    return out


@pytest.fixture
def digest_tree() -> Callable[[Path], dict[str, tuple[str, str]]]:
    return tree_digest
