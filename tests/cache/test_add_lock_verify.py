"""`cache add` identifying hand-fetched files, the lock file's rules, `cache list` and `cache verify`."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from egpu_setup.cache import Cache, Lock


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def where(tmp_path: Path) -> tuple[str, ...]:
    return ("--cache-dir", str(tmp_path / "cache"), "--lock", str(tmp_path / "egpu-setup.lock"))


def test_add_identifies_by_file_name_and_pins(cli, tmp_path, where) -> None:
    cudnn = tmp_path / "cudnn-9.1-osx-x64-v7-ga.tgz"
    cudnn.write_bytes(b"cudnn tarball")
    result = cli("cache", "add", str(cudnn), *where)
    assert result.code == 0, result.err
    assert "is cudnn 7.0.5 (identified by file name)" in result.out
    assert "pinned" in result.out
    assert Cache(tmp_path / "cache").path_for(_sha(b"cudnn tarball")).read_bytes() == b"cudnn tarball"
    assert cudnn.exists()  # the user's file stays where it was
    entry = Lock.load(tmp_path / "egpu-setup.lock").entries["cudnn@7.0.5"]
    assert (entry.sha256, entry.origin) == (_sha(b"cudnn tarball"), "pinned")


def test_add_identifies_by_published_checksum_whatever_the_name(cli, tmp_path, where, lab) -> None:
    data = b"python installer"
    overlay = lab(**{"python3@3.11.9": {"sha256": _sha(data)}})
    odd = tmp_path / "download (1).bin"
    odd.write_bytes(data)
    result = cli("cache", "add", str(odd), "--overlay", str(overlay), *where)
    assert result.code == 0, result.err
    assert "is python3 3.11.9 (identified by published checksum)" in result.out


def test_add_refuses_a_file_that_matches_nothing(cli, tmp_path, where) -> None:
    stray = tmp_path / "holiday.jpg"
    stray.write_bytes(b"not an installer")
    result = cli("cache", "add", str(stray), *where)
    assert result.code == 2
    assert "matches no artifact" in result.err and "--as" in result.err
    assert not (tmp_path / "cache" / "sha256").exists()


def test_add_refuses_a_known_name_with_the_wrong_published_digest(cli, tmp_path, where) -> None:
    fake = tmp_path / "cuda_9.1.128_mac.dmg"
    fake.write_bytes(b"truncated download")
    result = cli("cache", "add", str(fake), *where)
    assert result.code == 2
    assert "fe3003532376e229fbc1978a455088a6b3d7fe1b2b89b271d5904e40566914a2" in result.err
    assert _sha(b"truncated download") in result.err


def test_add_as_names_a_renamed_file(cli, tmp_path, where) -> None:
    renamed = tmp_path / "clt.dmg"
    renamed.write_bytes(b"command line tools")
    result = cli("cache", "add", str(renamed), "--as", "clt", *where)
    assert result.code == 0, result.err
    assert "is clt 9.2" in result.out
    assert cli("cache", "add", str(renamed), "--as", "webdriver", *where).code == 2  # many versions: needs @VERSION


def test_lock_refuses_a_different_file_for_a_pinned_artifact(cli, tmp_path, where) -> None:
    first = tmp_path / "a" / "cudnn-9.1-osx-x64-v7-ga.tgz"
    second = tmp_path / "b" / "cudnn-9.1-osx-x64-v7-ga.tgz"
    for path, data in ((first, b"first"), (second, b"second")):
        path.parent.mkdir()
        path.write_bytes(data)
    assert cli("cache", "add", str(first), *where).code == 0
    result = cli("cache", "add", str(second), *where)
    assert result.code == 2
    assert _sha(b"first") in result.err and _sha(b"second") in result.err
    assert "delete the 'cudnn@7.0.5' entry" in result.err
    assert not Cache(tmp_path / "cache").has(_sha(b"second"))
    assert cli("cache", "add", str(first), *where).code == 0  # the pinned file is still welcome


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("lock_version: 1\nartifacts:\n  cudnn@7.0.5: {sha256: 1234, filename: x, origin: pinned}\n", 3, "sha256 must"),
        ("lock_version: 1\nartifacts:\n  cudnn: {sha256: " + "a" * 64 + "}\n", 3, "not an artifact id@version"),
        ("lock_version: 7\nartifacts: {}\n", 1, "lock_version must be 1"),
        ("lock_version: 1\nartifacts:\n  cudnn@7.0.5: {sha256: [\n", 4, "not valid YAML"),
        ("lock_version: 1\nartifacts:\n  cudnn@7.0.5: {sha256: " + "a" * 64 + ", filename: [x]}\n", 3, "filename must"),
    ],
)
def test_malformed_lock_exits_2_with_file_and_line(cli, tmp_path, where, text: str, line: int, problem: str) -> None:
    lock = tmp_path / "egpu-setup.lock"
    lock.write_text(text)
    cudnn = tmp_path / "cudnn-9.1-osx-x64-v7-ga.tgz"
    cudnn.write_bytes(b"x")
    for argv in (("cache", "add", str(cudnn)), ("cache", "fetch", "--only", "python3")):
        result = cli(*argv, *where)
        assert result.code == 2
        assert f"{lock}:{line}" in result.err and problem in result.err
        assert "Traceback" not in result.err
    assert lock.read_text() == text  # a malformed lock is never rewritten


def test_list_and_verify(cli, tmp_path, where) -> None:
    cache_only = where[:2]
    assert json.loads(cli("cache", "list", "--json", *cache_only).out)["entries"] == []
    cudnn = tmp_path / "cudnn-9.1-osx-x64-v7-ga.tgz"
    cudnn.write_bytes(b"cudnn")
    assert cli("cache", "add", str(cudnn), *where).code == 0
    listing = json.loads(cli("cache", "list", "--json", *cache_only).out)
    assert [(e["id"], e["version"], e["sha256"]) for e in listing["entries"]] == [("cudnn", "7.0.5", _sha(b"cudnn"))]
    assert "cudnn" in cli("cache", "list", *cache_only).out
    assert cli("cache", "verify", *cache_only).code == 0

    Cache(tmp_path / "cache").path_for(_sha(b"cudnn")).write_bytes(b"bit rot")
    result = cli("cache", "verify", *cache_only)
    assert result.code == 1
    assert "cudnn 7.0.5 (cudnn-9.1-osx-x64-v7-ga.tgz)" in result.err and "corrupt" in result.err
    assert _sha(b"bit rot") in result.err


def test_cache_without_action_is_a_usage_error(cli) -> None:
    result = cli("cache")
    assert result.code == 2 and "fetch, add, list, verify, export or import" in result.err


def test_a_hand_added_file_is_what_fetch_and_ensure_use(cli, tmp_path, where) -> None:
    from egpu_setup.matrix import load_matrix

    cudnn = tmp_path / "cudnn-9.1-osx-x64-v7-ga.tgz"
    cudnn.write_bytes(b"cudnn")
    assert cli("cache", "add", str(cudnn), *where).code == 0
    assert cli("cache", "fetch", "--only", "cudnn", *where).code == 0  # no manual-download message any more
    artifact = load_matrix().artifact("cudnn", "7.0.5")
    other_lab = Lock.load(tmp_path / "other-lab.lock")
    path = Cache(tmp_path / "cache").ensure(artifact, lock=other_lab)
    assert path.read_bytes() == b"cudnn"
    assert other_lab.entries["cudnn@7.0.5"].sha256 == _sha(b"cudnn")  # pinned on first use


def test_a_damaged_copy_of_a_login_only_artifact_is_named(cli, tmp_path, where) -> None:
    cudnn = tmp_path / "cudnn-9.1-osx-x64-v7-ga.tgz"
    cudnn.write_bytes(b"cudnn tarball")
    assert cli("cache", "add", str(cudnn), *where).code == 0
    cached = Cache(tmp_path / "cache").path_for(_sha(b"cudnn tarball"))
    cached.write_bytes(b"cudnn")  # the disk lost part of it
    result = cli("cache", "fetch", "--only", "cudnn", *where)
    assert result.code == 2, result.err  # a file only the user can supply: bad input, as under plan and provision
    assert f"the cached copy {cached} is damaged" in result.err
    assert "egpu-setup cache add cudnn-9.1-osx-x64-v7-ga.tgz" in result.err
