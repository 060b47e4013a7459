"""A controller file is checked against its digest before it is copied to a Mac (put_file, pkg_install)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ansible_collections.egpu.mac.plugins.module_utils.target_shell import TargetCommandError
from ansible_collections.egpu.mac.plugins.module_utils.uploads import checked_sha256


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
