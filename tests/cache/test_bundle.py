"""`egpu-setup cache export` / `cache import`: a lab's artifacts carried to a controller without internet."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from egpu_setup.cache import Cache, Lock
from egpu_setup.cache.bundle import export_bundle, import_bundle
from egpu_setup.cli import main
from egpu_setup.errors import EgpuError, ExitCode
from egpu_setup.matrix.model import Artifact

FILES = {
    ("cudnn", "7.0.5", "cudnn-9.1-osx-x64-v7-ga.tgz"): b"cudnn " * 40_000,
    ("cuda_driver", "387.128", "cudadriver_387.128_macos.dmg"): b"driver " * 30_000,
}


@pytest.fixture
def exported(tmp_path: Path) -> tuple[Path, Path, Cache]:
    """A controller's cache and lock (beside its inventory), and nothing else."""
    lab = tmp_path / "online"
    lab.mkdir()
    (lab / "inventory.yml").write_text("all: {}\n")
    cache = Cache(lab / "cache")
    lock = Lock(lab / "egpu-setup.lock")
    for (artifact_id, version, filename), data in FILES.items():
        source = tmp_path / filename
        source.write_bytes(data)
        artifact = Artifact({"id": artifact_id, "version": version, "filename": filename})
        cache.add_file(source, artifact)
        lock.record(artifact, hashlib.sha256(data).hexdigest())
    lock.save()
    return lab / "inventory.yml", lab / "egpu-setup.lock", cache


def stored(cache_root: Path) -> dict[str, bytes]:
    """Every file under a cache directory, by relative path (the store, the index, anything partial)."""
    return {str(p.relative_to(cache_root)): p.read_bytes() for p in sorted(cache_root.rglob("*")) if p.is_file()}


def test_export_then_import_into_an_empty_cache_elsewhere(exported, tmp_path):
    _inventory, lock_path, cache = exported
    bundle = tmp_path / "out" / "lab.tar"
    bundle.parent.mkdir()
    entries = export_bundle(cache, lock_path, bundle)
    assert sorted(e.id for e in entries) == ["cuda_driver", "cudnn"]
    with tarfile.open(bundle) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("manifest.json").read())
    assert names[:2] == ["manifest.json", "egpu-setup.lock"] and len(names) == 4
    assert {(a["id"], a["size"], a["sha256"]) for a in manifest["artifacts"]} == {
        (i, len(d), hashlib.sha256(d).hexdigest()) for (i, _v, _f), d in FILES.items()}  # fmt: skip
    assert [p.name for p in bundle.parent.iterdir()] == ["lab.tar"]  # no temporary file left

    other = Cache(tmp_path / "offline" / "cache")
    offline_lock = tmp_path / "offline" / "egpu-setup.lock"
    result = import_bundle(other, bundle, lock_path=offline_lock)
    assert (len(result.added), len(result.present), result.lock_recorded) == (2, 0, 2)
    for data in FILES.values():
        assert other.path_for(hashlib.sha256(data).hexdigest()).read_bytes() == data
    assert {e.filename for e in other.entries()} == {f for (_i, _v, f) in FILES}
    assert Lock.load(offline_lock).entries == Lock.load(lock_path).entries
    assert not list(other.partial.iterdir())


def test_importing_twice_changes_nothing(exported, tmp_path):
    _inventory, lock_path, cache = exported
    bundle = tmp_path / "lab.tar"
    export_bundle(cache, lock_path, bundle)
    other = Cache(tmp_path / "offline")
    offline_lock = tmp_path / "offline.lock"
    import_bundle(other, bundle, lock_path=offline_lock)
    before = (stored(other.root), offline_lock.read_bytes(), other.index_path.stat().st_mtime_ns)
    again = import_bundle(other, bundle, lock_path=offline_lock)
    assert (again.added, len(again.present), again.lock_recorded) == ([], 2, 0)
    assert (stored(other.root), offline_lock.read_bytes(), other.index_path.stat().st_mtime_ns) == before


@pytest.mark.parametrize("cut", ["half", "last data byte", "end marker"])
def test_a_truncated_bundle_is_refused_and_nothing_is_kept(exported, tmp_path, cut):
    _inventory, lock_path, cache = exported
    bundle = tmp_path / "lab.tar"
    export_bundle(cache, lock_path, bundle)
    data = bundle.read_bytes()
    with tarfile.open(bundle) as tar:
        tar.getmembers()
        end = tar.offset  # where the end-of-archive marker (two zero blocks) starts
    keep = {"half": len(data) // 2, "last data byte": end - 1, "end marker": end + tarfile.BLOCKSIZE}[cut]
    bundle.write_bytes(data[:keep])
    other = Cache(tmp_path / "offline")
    with pytest.raises(EgpuError) as caught:
        import_bundle(other, bundle, lock_path=tmp_path / "offline.lock")
    assert caught.value.exit_code == ExitCode.USAGE and "not an intact egpu-setup bundle" in caught.value.message
    assert stored(other.root) == {} and not (tmp_path / "offline.lock").exists()


def test_a_changed_byte_is_refused_before_the_file_enters_the_store(exported, tmp_path):
    _inventory, lock_path, cache = exported
    bundle = tmp_path / "lab.tar"
    export_bundle(cache, lock_path, bundle)
    data = bytearray(bundle.read_bytes())
    where = bytes(data).index(b"driver driver")  # inside the CUDA driver's member: same size, other bytes
    data[where] ^= 0x20
    bundle.write_bytes(bytes(data))
    other = Cache(tmp_path / "offline")
    with pytest.raises(EgpuError, match="does not match its SHA-256"):
        import_bundle(other, bundle)
    assert [p for p in stored(other.root) if p.startswith("sha256/")] == []
    assert not list(other.partial.iterdir())


def test_a_member_the_manifest_does_not_list_is_refused(exported, tmp_path):
    _inventory, lock_path, cache = exported
    bundle = tmp_path / "lab.tar"
    export_bundle(cache, lock_path, bundle)
    with tarfile.open(bundle, "a") as tar:
        info = tarfile.TarInfo("../../evil")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"evil"))
    with pytest.raises(EgpuError, match="which its manifest does not list"):
        import_bundle(Cache(tmp_path / "offline"), bundle)
    assert not (tmp_path / "evil").exists()


def test_export_refuses_a_symlink_a_missing_file_and_leaves_nothing(exported, tmp_path):
    _inventory, lock_path, cache = exported
    target = tmp_path / "elsewhere.tar"
    target.write_bytes(b"keep me")
    link = tmp_path / "link.tar"
    link.symlink_to(target)
    with pytest.raises(EgpuError, match="symbolic link"):
        export_bundle(cache, lock_path, link)
    assert target.read_bytes() == b"keep me"
    next(cache.objects.iterdir()).unlink()
    with pytest.raises(EgpuError, match="lacks 1 artifact"):
        export_bundle(cache, lock_path, tmp_path / "new.tar")
    assert not (tmp_path / "new.tar").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_cli_export_and_import(exported, tmp_path):
    inventory, _lock_path, cache = exported
    bundle = tmp_path / "lab.tar"
    err = io.StringIO()
    code = main(["cache", "export", "-i", str(inventory), str(bundle), "--cache-dir", str(cache.root)],
                stdout=io.StringIO(), stderr=err)  # fmt: skip
    assert code == 0, err.getvalue()
    assert "2 artifact(s)" in err.getvalue()
    offline = tmp_path / "offline"
    args = ["cache", "import", str(bundle), "--cache-dir", str(offline / "cache"), "--lock", str(offline / "x.lock")]
    offline.mkdir()
    err = io.StringIO()
    assert main(args, stdout=io.StringIO(), stderr=err) == 0, err.getvalue()
    assert "2 file(s) imported" in err.getvalue()
    err = io.StringIO()
    assert main(args, stdout=io.StringIO(), stderr=err) == 0
    assert "0 file(s) imported" in err.getvalue() and "2 already there" in err.getvalue()
    bundle.write_bytes(bundle.read_bytes()[:1000])
    err = io.StringIO()
    assert main(args, stdout=io.StringIO(), stderr=err) == 2
    assert err.getvalue().startswith("error: ") and "fix: " in err.getvalue() and "Traceback" not in err.getvalue()
