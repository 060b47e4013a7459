"""The uname interposer library is built once into its cache and nowhere else."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from egpu_lab import uname_lib


def test_build_writes_only_into_its_cache_and_hits_it_next_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    cache = tmp_path / "cache"
    built = uname_lib.build(cache)
    if built is None:
        pytest.skip("ziglang cannot build here")
    assert built.parent == cache and built.is_file()
    assert list(cwd.iterdir()) == []  # it once dropped x86_64-linux-gnu.2.17 here
    mtime = os.stat(built).st_mtime_ns
    assert uname_lib.build(cache) == built
    assert os.stat(built).st_mtime_ns == mtime
