"""verify --json FILE never writes through a symbolic link or onto a FIFO or directory: refused with exit 2 before
the checks run, nothing written, the link intact (egpu_setup.files.check_output)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from egpu_setup.files import write_atomically


@pytest.fixture(autouse=True)
def _not_a_rehearsal_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EGPU_REHEARSAL_HOST", raising=False)


def test_a_symlink_is_refused_and_left_intact(cli, tmp_path: Path) -> None:
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    link = tmp_path / "v.json"
    link.symlink_to(target)
    result = cli("verify", "--json", str(link))
    assert result.code == 2, result.err
    assert "Traceback" not in result.err
    assert f"--json {link} is a symbolic link" in result.err and f"fix: name the link's target itself ({target})" in (
        result.err
    )
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == "keep me\n"
    assert "verify:" not in result.err  # refused before the first check ran


def test_a_dangling_symlink_is_refused_too(cli, tmp_path: Path) -> None:
    link = tmp_path / "v.json"
    link.symlink_to(tmp_path / "nowhere")
    result = cli("verify", "--json", str(link))
    assert result.code == 2 and "is a symbolic link" in result.err
    assert not (tmp_path / "nowhere").exists() and link.is_symlink()


def test_a_fifo_is_refused_without_blocking(cli, tmp_path: Path) -> None:
    fifo = tmp_path / "v.json"
    os.mkfifo(fifo)
    result = cli("verify", "--json", str(fifo))
    assert result.code == 2 and f"--json {fifo} is a FIFO (named pipe)" in result.err and "Traceback" not in result.err


def test_write_atomically_replaces_a_file_whole_keeping_its_mode(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    out.write_text("old")
    out.chmod(0o640)
    write_atomically(out, "new")
    assert out.read_text() == "new" and (out.stat().st_mode & 0o777) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temporary file left
