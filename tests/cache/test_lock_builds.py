"""A build archive in the lock file (origin built, the Mac that built it) and in a cache bundle."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from egpu_setup.cache import Cache, Lock
from egpu_setup.cache.bundle import export_bundle, import_bundle
from egpu_setup.errors import EgpuError
from egpu_setup.matrix.model import Artifact

KEY = "5d" * 32
BUILD = Artifact({"id": "mxnet_build", "version": f"1.0.0+{KEY}", "filename": "mxnet-1.0.0-5d5d5d5d5d5d.tar.gz"})
DATA = b"archive bytes" * 100
DIGEST = hashlib.sha256(DATA).hexdigest()


def test_a_build_entry_is_saved_and_read_back_with_who_built_it(tmp_path: Path) -> None:
    lock = Lock(tmp_path / "egpu-setup.lock")
    lock.record_build(BUILD, DIGEST, len(DATA), "mac1")
    lock.record_build(BUILD, "0" * 64, 1, "mac2")  # a second archive of one key: the first stays the lab's
    lock.save()

    entry = Lock.load(lock.path).get(BUILD)
    assert entry is not None and (entry.sha256, entry.origin, entry.built_on, entry.size) == (
        DIGEST,
        "built",
        "mac1",
        len(DATA),
    )
    assert f"mxnet_build@1.0.0+{KEY}" in lock.path.read_text()


@pytest.mark.parametrize(
    "entry, problem",
    [
        (f"  nobuild@1.0.0+x: {{sha256: {DIGEST}, origin: built}}", "not an artifact id@version"),
        (f"  mxnet_build@1.0.0+x: {{sha256: {DIGEST}, origin: compiled}}", "origin must be published, pinned or built"),
        (f"  mxnet_build@1.0.0+x: {{sha256: {DIGEST}, origin: built, built_on: ''}}", "built_on must name the Mac"),
    ],
)
def test_a_wrong_build_entry_is_refused_naming_it(tmp_path: Path, entry: str, problem: str) -> None:
    path = tmp_path / "egpu-setup.lock"
    path.write_text(f"lock_version: 1\nartifacts:\n{entry}\n")
    with pytest.raises(EgpuError, match=problem):
        Lock.load(path)


def test_the_archive_travels_with_a_cache_bundle(tmp_path: Path) -> None:
    cache, lock = Cache(tmp_path / "cache"), Lock(tmp_path / "egpu-setup.lock")
    source = tmp_path / BUILD.filename
    source.write_bytes(DATA)
    cache.add_file(source, BUILD)
    lock.record_build(BUILD, DIGEST, len(DATA), "mac1")
    lock.save()
    bundle = tmp_path / "bundle.tar"

    export_bundle(cache, lock.path, bundle)
    offline = tmp_path / "offline"
    offline.mkdir()
    result = import_bundle(Cache(offline / "cache"), bundle, offline / "egpu-setup.lock")

    assert [e.id for e in result.added] == ["mxnet_build"]
    assert Cache(offline / "cache").path_for(DIGEST).read_bytes() == DATA
    entry = Lock.load(offline / "egpu-setup.lock").get(BUILD)
    assert entry is not None and entry.origin == "built" and entry.built_on == "mac1"
