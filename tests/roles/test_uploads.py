"""A controller file is checked against its digest before it is copied to a Mac (put_file, pkg_install), and what
crosses the connection is counted for the run report (a Mac holding the right digest is sent nothing)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from ansible_collections.egpu.mac.plugins.module_utils import transfers
from ansible_collections.egpu.mac.plugins.module_utils.target_shell import TargetCommandError
from ansible_collections.egpu.mac.plugins.module_utils.transfers import RECEIVED, SENT
from ansible_collections.egpu.mac.plugins.module_utils.uploads import checked_sha256, upload


def test_an_intact_file_gives_its_digest(tmp_path: Path) -> None:
    src = tmp_path / "cudnn-9.1-osx-x64-v7-ga.tgz"
    src.write_bytes(b"cudnn bytes")
    digest = hashlib.sha256(b"cudnn bytes").hexdigest()
    assert checked_sha256(src, digest.upper()) == digest
    assert checked_sha256(src, None) == digest


def test_a_damaged_cache_entry_is_refused_with_the_way_to_replace_it(tmp_path: Path) -> None:
    src = tmp_path / "4f6e"
    src.write_bytes(b"cudnn bytes, one flipped")
    expected = hashlib.sha256(b"cudnn bytes").hexdigest()
    with pytest.raises(TargetCommandError) as caught:
        checked_sha256(src, expected)
    result = caught.value.result()
    assert result["failed"] is True and result["rc"] == 1
    assert f"expected {expected}" in result["msg"] and str(src) in result["msg"]
    assert "egpu-setup cache fetch" in result["msg"] and "egpu-setup cache add" in result["msg"]


class LocalMac:
    """An action whose "Mac" is this machine: commands run under sh, put_file/fetch_file copy files."""

    def __init__(self) -> None:
        self._connection = self
        self.copies = 0

    def _low_level_execute_command(self, cmd: str, sudoable: bool = True) -> dict[str, object]:
        done = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, check=False)
        return {"rc": done.returncode, "stdout": done.stdout, "stderr": done.stderr}

    def put_file(self, src: str, dest: str) -> None:
        self.copies += 1
        shutil.copyfile(src, dest)

    def fetch_file(self, src: str, dest: str) -> None:
        shutil.copyfile(src, dest)


def test_a_copy_is_counted_and_a_file_the_mac_holds_is_neither_sent_nor_counted(tmp_path: Path) -> None:
    src = tmp_path / "4f6e"  # the cache names files by digest; the count names the file as the Mac has it
    src.write_bytes(b"cudnn bytes" * 100)
    dest = tmp_path / "mac" / "work" / "cudnn-9.1-osx-x64-v7-ga.tgz"
    action = LocalMac()

    assert upload(action, src, str(dest)) is True
    assert upload(action, src, str(dest)) is False  # the right digest is there: nothing crosses the connection

    assert action.copies == 1 and dest.read_bytes() == src.read_bytes()
    assert action.transfers == {SENT: [{"name": "cudnn-9.1-osx-x64-v7-ga.tgz", "bytes": 1100}]}


def test_a_file_brought_back_is_counted_as_received(tmp_path: Path) -> None:
    remote = tmp_path / "mac" / "mxnet-build.tar.gz"
    remote.parent.mkdir()
    remote.write_bytes(b"x" * 4321)
    action = LocalMac()

    transfers.fetch(action, str(remote), tmp_path / "controller.tar.gz")

    assert (tmp_path / "controller.tar.gz").read_bytes() == remote.read_bytes()
    assert action.transfers == {RECEIVED: [{"name": "mxnet-build.tar.gz", "bytes": 4321}]}
