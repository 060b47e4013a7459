"""Fixtures of the roles/collection tests: a stand-in for an action plugin that runs sh on this machine."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
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


@pytest.fixture(autouse=True)
def _lab_down(tmp_path: Path) -> Iterator[None]:
    """A lab a test brought up at tmp_path/lab is taken down after it: its supervisor and the Macs' sshd would
    outlive the test (they serve a lab until `lab down`)."""
    yield
    lab = tmp_path / "lab"
    if (lab / ".egpu-setup-lab").is_file() and (lab / "lab.json").is_file():
        from egpu_lab.lab import Lab

        Lab(lab).down()


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


@pytest.fixture
def lab_playbook() -> Callable[..., tuple[int, dict[str, int], str]]:
    """`lab_playbook(lab_dir, plays, *ansible_args)`: the plays (a list of play dicts) written beside the lab and run
    with plain ansible-playbook on its inventory, as a user would; (exit code, mac1's recap counts, the output)."""
    import os
    import re
    import sys

    import yaml

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "ANSIBLE_CONFIG": str(root / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}

    def run(lab: Path, plays: list[dict[str, Any]], *extra: str) -> tuple[int, dict[str, int], str]:
        playbook = lab / "play.yml"
        playbook.write_text(yaml.safe_dump(plays))
        done = subprocess.run(
            [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(lab / "inventory.yml"), str(playbook),
             "-e", f"egpu_mirror_url=file://{lab}/mirror", *extra],
            cwd=root, env=env, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        recap = re.search(r"mac1\s+:\s+(.*)", done.stdout.rsplit("PLAY RECAP", 1)[-1])
        counts = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", recap.group(1))} if recap else {}
        return done.returncode, counts, done.stdout + done.stderr

    return run
