"""An unknown profile and a damaged lock file are bad input: exit 2 under plan, provision and `cache fetch` alike
(issue 11, point 4), with the message and its fix, no traceback, and neither the Mac nor the lab's files changed."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.lab, pytest.mark.slow]

GARBAGE = "artifacts: [unclosed\n  - : :\n"
WRONG_SCHEMA = "lock_version: 1\nartifacts:\n  cudnn@7.0.5: 42\n"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, make_lab: Callable[..., Any]) -> Iterator[Any]:
    with make_lab(tmp_path_factory.mktemp("bad-input-codes")) as lab:
        yield lab


def _files(directory: Path) -> dict[str, bytes]:
    """The lab's own files (not the Macs' trees, which digest_of covers, nor the logs of the Macs' SSH servers and
    their supervisor under ssh/, which log each connection as a Mac's sshd does; its keys and known_hosts count)."""
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*"))
            if p.is_file() and "hosts" not in p.relative_to(directory).parts
            and not (p.relative_to(directory).parts[0] == "ssh" and p.suffix == ".log")}  # fmt: skip


def _refused(lab: Any, digest_of: Callable, command: str, *args: str) -> str:
    """Run `command`; assert exit 2, no traceback, nothing changed; return what it said (stderr and report)."""
    mac, files = digest_of(lab.host_dir("mac1")), _files(lab.dir)
    code, report, err, _ = lab.run(command, *args)
    said = err + (json.dumps(report) if report else "")
    assert code == 2, said
    assert "Traceback" not in said
    assert "fix" in said
    assert digest_of(lab.host_dir("mac1")) == mac, f"{command} changed the Mac"
    assert _files(lab.dir) == files, f"{command} changed the lab's files"
    return said


@pytest.mark.parametrize("command", ["plan", "provision"])
def test_an_unknown_profile_in_group_vars_is_exit_2(lab: Any, digest_of: Callable, command: str) -> None:
    group_vars = lab.dir / "group_vars" / "all.yml"
    before = group_vars.read_text()
    group_vars.write_text(before + "egpu_profile: bogus\n")
    try:
        said = _refused(lab, digest_of, command)
    finally:
        group_vars.write_text(before)
    assert "unknown profile 'bogus'" in said and "use one of" in said


def test_an_unknown_profile_flag_is_exit_2(lab: Any, digest_of: Callable) -> None:
    said = _refused(lab, digest_of, "provision", "--profile", "bogus")
    assert "bogus" in said


@pytest.mark.parametrize(("command", "content"), [("plan", GARBAGE), ("provision", GARBAGE),
                                                  ("provision", WRONG_SCHEMA)])  # fmt: skip
def test_a_damaged_lock_is_exit_2(lab: Any, digest_of: Callable, command: str, content: str) -> None:
    lock = lab.dir / "egpu-setup.lock"
    before = lock.read_bytes() if lock.exists() else None
    lock.write_text(content)
    try:
        said = _refused(lab, digest_of, command)
    finally:
        lock.unlink()
        if before is not None:
            lock.write_bytes(before)
    assert "egpu-setup.lock" in said


@pytest.mark.parametrize("content", [GARBAGE, WRONG_SCHEMA])
def test_cache_fetch_with_a_damaged_lock_is_exit_2(lab: Any, content: str) -> None:
    from egpu_setup.cli import main

    lock = lab.dir / "damaged.lock"
    lock.write_text(content)
    err = io.StringIO()
    code = main(["cache", "fetch", "--only", "cudnn", "--cache-dir", str(lab.dir / "cache"), "--lock", str(lock)],
                stdout=io.StringIO(), stderr=err)  # fmt: skip
    assert code == 2, err.getvalue()
    assert "damaged.lock" in err.getvalue() and "\nfix: " in err.getvalue() and "Traceback" not in err.getvalue()
    assert lock.read_text() == content
