"""Artifacts whose publisher gives a SHA-512 only (egpu.io's NVDAEGPUSupport zips, as learex-zz/macOS-eGPU lists
them): `cache fetch` and `cache add` check it, the lock keeps it, and a mismatch is refused naming both digests."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from egpu_setup.cache import Cache, Lock
from egpu_setup.matrix import load_matrix

V6_ZIP = "4376-NVDAEGPUSupport-v6.zip"
V6_SHA512 = (
    "477cf279f7ae2e3567cd1726f3baacda57175bbfc6b7b56b4e22bc3d58871d6da5b7fb6606a87bca322f724f476ebc6c61887ab4b82225d"
    "4464e2213dcd2c61a"
)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _sha512(data: bytes) -> str:
    return hashlib.sha512(data).hexdigest()


@pytest.fixture
def where(tmp_path: Path) -> tuple[str, ...]:
    return ("--cache-dir", str(tmp_path / "cache"), "--lock", str(tmp_path / "egpu-setup.lock"))


def test_the_matrix_publishes_learex_sha512_for_the_v6_enabler() -> None:
    v6 = load_matrix().artifact("egpu_support", "6")
    assert (v6.filename, v6.sha256, v6.sha512) == (V6_ZIP, None, V6_SHA512)
    assert v6.url == "https://egpu.io/wp-content/uploads/wpforo/attachments/71/4376-NVDAEGPUSupport-v6.zip"


def test_fetch_checks_the_sha512_and_the_lock_keeps_it(cli, http_server, lab, where, tmp_path) -> None:
    data = b"PK\x03\x04 a stand-in enabler zip"
    http_server.files["/v6.zip"] = data
    overlay = lab(**{"egpu_support@6": {"sha512": _sha512(data)}})
    result = cli("cache", "fetch", *where, "--overlay", str(overlay), "--only", "egpu_support",
                 "--url", f"egpu_support={http_server.url('/v6.zip')}")  # fmt: skip
    assert result.code == 0, result.err
    assert Cache(tmp_path / "cache").path_for(_sha256(data)).read_bytes() == data
    entry = Lock.load(tmp_path / "egpu-setup.lock").entries["egpu_support@6"]
    assert (entry.sha256, entry.origin, entry.sha512) == (_sha256(data), "pinned", _sha512(data))
    assert entry.filename == V6_ZIP


def test_fetch_refuses_a_file_whose_sha512_differs_and_keeps_nothing(cli, http_server, where, tmp_path) -> None:
    login_page = b"<html>Please log in to see attachments</html>"
    http_server.files["/v6.zip"] = login_page
    result = cli("cache", "fetch", *where, "--only", "egpu_support", "--build", "17C88",
                 "--url", f"egpu_support={http_server.url('/v6.zip')}")  # fmt: skip
    assert result.code == 1
    assert f"expected SHA-512 {V6_SHA512}" in result.err and _sha512(login_page) in result.err
    assert "nothing was kept" in result.err and "cache add" in result.err
    cache = tmp_path / "cache"
    assert not (cache / "sha256").exists() or not any((cache / "sha256").iterdir())
    assert not any((cache / "partial").iterdir())
    lock = tmp_path / "egpu-setup.lock"
    assert not lock.exists() or "egpu_support" not in lock.read_text()


def test_add_identifies_a_zip_by_its_published_sha512(cli, lab, where, tmp_path) -> None:
    data = b"PK\x03\x04 downloaded by hand"
    overlay = lab(**{"egpu_support@6": {"sha512": _sha512(data)}})
    odd = tmp_path / "download (2).zip"
    odd.write_bytes(data)
    result = cli("cache", "add", str(odd), "--overlay", str(overlay), *where)
    assert result.code == 0, result.err
    assert "is egpu_support 6 (identified by published checksum)" in result.out
    assert "published SHA-512 matched" in result.out
    entry = Lock.load(tmp_path / "egpu-setup.lock").entries["egpu_support@6"]
    assert (entry.sha256, entry.sha512) == (_sha256(data), _sha512(data))
    # The lock, read back and written again, keeps the SHA-512.
    lock = Lock.load(tmp_path / "egpu-setup.lock")
    lock.changed = True
    lock.save()
    assert Lock.load(tmp_path / "egpu-setup.lock").entries["egpu_support@6"].sha512 == _sha512(data)


def test_add_refuses_a_zip_named_like_the_enabler_with_another_sha512(cli, where, tmp_path) -> None:
    fake = tmp_path / V6_ZIP
    fake.write_bytes(b"PK\x03\x04 something else")
    result = cli("cache", "add", str(fake), *where)
    assert result.code == 2
    assert V6_SHA512 in result.err and _sha512(b"PK\x03\x04 something else") in result.err
    assert not (tmp_path / "cache" / "sha256").exists()


def test_a_lock_whose_sha512_differs_from_the_matrix_is_refused(cli, lab, where, tmp_path) -> None:
    data = b"PK\x03\x04 first"
    overlay = lab(**{"egpu_support@6": {"sha512": _sha512(data)}})
    first = tmp_path / V6_ZIP
    first.write_bytes(data)
    assert cli("cache", "add", str(first), "--overlay", str(overlay), *where).code == 0
    # The matrix (here: no overlay, learex's digest) now publishes another SHA-512 than the lock recorded.
    result = cli("cache", "fetch", *where, "--only", "egpu_support", "--build", "17C88")
    assert result.code == 2
    assert _sha512(data) in result.err and V6_SHA512 in result.err and "egpu_support@6" in result.err


def test_a_malformed_sha512_in_the_lock_is_reported_with_its_line(tmp_path) -> None:
    path = tmp_path / "egpu-setup.lock"
    path.write_text(f"lock_version: 1\nartifacts:\n  egpu_support@6: {{sha256: {'a' * 64}, sha512: 'xyz'}}\n")
    with pytest.raises(Exception, match=r"egpu-setup.lock:3: egpu_support@6: sha512 must be 128"):
        Lock.load(path)


def test_plan_refuses_a_cached_copy_with_another_sha512_as_provision_does(tmp_path) -> None:
    """`find` (check mode) and `ensure` (provision) judge the one unpinned copy alike: a file under the enabler's
    name whose SHA-512 is not the published one is refused by both, and kept."""
    from egpu_setup.cache.store import CheckFailed

    v6 = load_matrix().artifact("egpu_support", "6")
    other = tmp_path / V6_ZIP
    other.write_bytes(b"a login page, not the zip\n")
    cache = Cache(tmp_path / "cache")
    cache.add_file(other, v6)
    for judge in (cache.find, cache.ensure):
        with pytest.raises(CheckFailed, match=f"expected SHA-512 {V6_SHA512}"):
            judge(v6)
    assert cache.has(_sha256(other.read_bytes()))
