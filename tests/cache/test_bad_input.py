"""Bad input to `egpu-setup cache`: exit 2 (or 1 for a bad download), `error:` and `fix:`, no traceback, nothing
written to the cache or the lock."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _clean_error(result: Any, first: bool = True) -> None:
    """Exit 2, `error:` (the first line of stderr unless a download had begun) and `fix:`, no traceback."""
    assert result.code == 2, result.err
    if first:
        assert result.err.startswith("error: "), result.err  # no blank line or progress bar before it
    assert "error: " in result.err and "\nfix: " in result.err and "Traceback" not in result.err


@pytest.fixture
def cudnn(tmp_path: Path) -> Path:
    path = tmp_path / "cudnn-9.1-osx-x64-v7-ga.tgz"
    path.write_bytes(b"cudnn")
    return path


@pytest.mark.parametrize("action", ["fetch", "add", "list", "verify"])
def test_cache_dir_that_is_a_file_is_refused(cli, tmp_path, cudnn, action: str) -> None:
    a_file = tmp_path / "not-a-dir"
    a_file.write_text("x")
    argv = {"fetch": ("--only", "cudnn"), "add": (str(cudnn),), "list": (), "verify": ()}[action]
    for cache_dir in (a_file, a_file / "cache"):  # the file itself, or a path through it
        result = cli("cache", action, *argv, "--cache-dir", str(cache_dir))
        _clean_error(result)
        assert f"{a_file} is not a directory" in result.err
    assert a_file.read_text() == "x"


def test_lock_through_a_file_stops_add_before_the_cache_changes(cli, tmp_path, cudnn) -> None:
    a_file = tmp_path / "inventory"
    a_file.write_text("all: {}\n")
    result = cli("cache", "add", str(cudnn), "--cache-dir", str(tmp_path / "c"), "--lock", str(a_file / "x.lock"))
    _clean_error(result)
    assert f"lock file {a_file / 'x.lock'}: {a_file} is not a directory" in result.err
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize(
    "index",
    [{"ab": 3}, {"a" * 64: {"id": "cudnn", "version": "7.0.5", "filename": "x", "size": "big"}}, {"a" * 64: {}}],
)
def test_damaged_index_is_named_not_a_traceback(cli, tmp_path, index: dict[str, object]) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "index.json").write_text(json.dumps(index))
    for action in ("list", "verify"):
        result = cli("cache", action, "--cache-dir", str(cache))
        _clean_error(result)
        assert f"cache index {cache / 'index.json'}" in result.err


def test_an_empty_file_is_never_added(cli, tmp_path) -> None:
    empty = tmp_path / "cudnn-9.1-osx-x64-v7-ga.tgz"
    empty.write_bytes(b"")
    result = cli("cache", "add", str(empty), "--cache-dir", str(tmp_path / "c"), "--lock", str(tmp_path / "l.lock"))
    _clean_error(result)
    assert "is empty" in result.err
    assert not (tmp_path / "c").exists() and not (tmp_path / "l.lock").exists()


def test_an_empty_download_is_neither_stored_nor_pinned(cli, http_server, tmp_path) -> None:
    http_server.files["/cudadriver_387.128_macos.dmg"] = b""
    url = http_server.url("/cudadriver_387.128_macos.dmg")
    lock = tmp_path / "l.lock"
    args = ("--only", "cuda_driver", "--url", f"cuda_driver={url}")
    result = cli("cache", "fetch", *args, "--cache-dir", str(tmp_path / "c"), "--lock", str(lock))
    assert result.code == 1 and "sent an empty file" in result.err and "Traceback" not in result.err
    assert not lock.exists()
    assert not (tmp_path / "c" / "sha256").exists() and not any((tmp_path / "c" / "partial").iterdir())


@pytest.mark.parametrize(
    ("flag", "value", "problem"),
    [
        ("--url", "python3=ftp://example.org/p.pkg", "--url python3: URL 'ftp://example.org/p.pkg' is not"),
        ("--url", "python3=mirror/p.pkg", "is not an http://, https:// or file:// URL"),
        ("--url", "python3", "expected ID=URL"),
        ("--mirror", "srv/mirror", "--mirror 'srv/mirror' is not"),
    ],
)
def test_bad_urls_are_refused_before_any_transfer(cli, http_server, tmp_path, flag, value, problem) -> None:
    result = cli("cache", "fetch", "--only", "python3", flag, value, "--cache-dir", str(tmp_path / "c"))
    _clean_error(result)
    assert problem in result.err
    assert http_server.requests == [] and not (tmp_path / "c").exists()


def test_a_cache_that_cannot_be_written_is_an_error_not_a_traceback(cli, http_server, payload, lab, tmp_path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "partial").write_text("a file where the partial downloads go")
    http_server.files["/py.pkg"] = payload
    overlay = lab(**{"python3@3.11.9": {"sha256": _sha(payload), "url": http_server.url("/py.pkg")}})
    lock = tmp_path / "l.lock"
    result = cli("cache", "fetch", "--only", "python3", "--overlay", str(overlay), "--cache-dir", str(cache),
                 "--lock", str(lock))  # fmt: skip
    _clean_error(result, first=False)  # the transfer had started: its bar stands above the error
    assert f"cannot write {cache / 'partial'}" in result.err
    assert not lock.exists() and not (cache / "sha256").exists()
