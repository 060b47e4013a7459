"""Every file the tool reads by a path the user gives is checked to be a regular file before it is opened for
good: a FIFO (which open() would wait on for ever), a directory or a socket is refused with exit 2, no traceback,
nothing written (egpu_setup.files.open_regular / require_regular)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.usefixtures("no_hang")  # a read that blocks fails the test, not the suite


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_cache_add_refuses_a_fifo(cli, tmp_path, fifo):
    before = listing(tmp_path)
    r = cli("cache", "add", str(fifo), "--cache-dir", str(tmp_path / "cache"), "--lock", str(tmp_path / "l.lock"))
    assert r.code == 2 and f"{fifo} is not a file" in r.err and "Traceback" not in r.err
    assert listing(tmp_path) == before


def test_a_fifo_as_lock_file_is_refused(cli, tmp_path, fifo):
    installer = tmp_path / "cudnn-9.1-osx-x64-v7-ga.tgz"
    installer.write_bytes(b"cudnn tarball")
    r = cli("cache", "add", str(installer), "--cache-dir", str(tmp_path / "cache"), "--lock", str(fifo))
    assert r.code == 2 and f"lock file {fifo} is a FIFO (named pipe), not a regular file" in r.err
    assert "Traceback" not in r.err and not (tmp_path / "cache").exists()


def test_a_fifo_as_matrix_overlay_is_refused(cli, fifo):
    r = cli("matrix", "--overlay", str(fifo))
    assert r.code == 2 and f"matrix overlay {fifo} is a FIFO (named pipe), not a regular file" in r.err
    assert "Traceback" not in r.err


def test_a_fifo_as_password_file_is_refused(cli, tmp_path, fifo):
    r = cli("lab", "up", "--dir", str(tmp_path / "lab"), "--filevault", "--password-file", str(fifo))
    assert r.code == 2 and f"cannot read the password file {fifo}" in r.err and "a FIFO (named pipe)" in r.err
    assert not (tmp_path / "lab").exists()


def test_a_fifo_as_inventory_is_refused(cli, fifo):
    r = cli("plan", "-i", str(fifo))
    assert r.code == 2 and f"inventory {fifo} is a FIFO (named pipe), not a regular file or a directory" in r.err
    assert "Traceback" not in r.err
