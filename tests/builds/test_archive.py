"""The build archive (egpu_setup.builds.archive): reproducible, checked file by file, installed whole or not at all."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tracemalloc
from pathlib import Path

import pytest

from egpu_setup.builds import archive
from egpu_setup.builds.archive import MANIFEST, ArchiveError, Packed, build_key, intact, pack, read_manifest, unpack

INPUTS = {"cuda": "9.1.128", "cuda_arch": ["61"], "source_sha256": "ab" * 32}
KEY = build_key("mxnet", "1.0.0", INPUTS)
MEMBERS = ["lib/libmxnet.so", "python/mxnet"]


@pytest.fixture
def built(tmp_path: Path) -> Path:
    """A build's tree as MXNet leaves it: the library, the Python package (with bytecode), the rest of the source."""
    root = tmp_path / "mxnet-1.0.0"
    (root / "lib").mkdir(parents=True)
    (root / "lib/libmxnet.so").write_bytes(b"\xcf\xfa\xed\xfe" + b"mach-o" * 1000)
    (root / "lib/libmxnet.so").chmod(0o755)
    package = root / "python/mxnet"
    (package / "gluon").mkdir(parents=True)
    (package / "__init__.py").write_text("__version__ = '1.0.0'\n")
    (package / "gluon/block.py").write_text("class Block: pass\n")
    (package / "__pycache__").mkdir()
    (package / "__pycache__/base.cpython-311.pyc").write_bytes(b"bytecode")
    (root / "Makefile").write_text("all:\n")
    return root


def packed(root: Path, members: list[str] = MEMBERS, inputs: dict | None = None) -> tuple[Packed, bytes]:
    """pack() into memory: what it reports, and the archive's bytes."""
    out = io.BytesIO()
    inputs = INPUTS if inputs is None else inputs
    facts = pack(root, members, out, name="mxnet", version="1.0.0", key=KEY, inputs=inputs)
    return facts, out.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_the_key_depends_on_every_input_and_not_on_their_order() -> None:
    assert build_key("mxnet", "1.0.0", dict(reversed(list(INPUTS.items())))) == KEY
    assert build_key("mxnet", "1.0.0", {**INPUTS, "cuda_arch": ["70"]}) != KEY
    assert build_key("mxnet", "1.0.1", INPUTS) != KEY and len(KEY) == 64


def test_packing_twice_gives_the_same_bytes_and_leaves_bytecode_and_source_out(built: Path) -> None:
    first, data = packed(built)
    os.utime(built / "lib/libmxnet.so", (1, 1))  # a later mtime, another order of the members: the same archive
    _, again_data = packed(built, list(reversed(MEMBERS)))
    digest_only = pack(built, MEMBERS, None, name="mxnet", version="1.0.0", key=KEY, inputs=INPUTS)

    assert data == again_data and first.sha256 == hashlib.sha256(data).hexdigest() == digest_only.sha256
    assert first.size == len(data) == digest_only.size and first.manifest == digest_only.manifest
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = tar.getnames()
        assert {m.mtime for m in tar} == {0} and {m.uname for m in tar} == {"root"}
        modes = {m.name: m.mode for m in tar}
    assert names == [archive.MANIFEST, "lib/libmxnet.so", "python/mxnet/__init__.py", "python/mxnet/gluon/block.py"]
    assert modes["lib/libmxnet.so"] == 0o755 and modes["python/mxnet/__init__.py"] == 0o644
    library = next(f for f in first.manifest["files"] if f["path"] == "lib/libmxnet.so")
    assert library["sha256"] == hashlib.sha256((built / "lib/libmxnet.so").read_bytes()).hexdigest()
    assert first.manifest["key"] == KEY and first.manifest["inputs"] == INPUTS


def test_a_missing_member_is_refused(built: Path) -> None:
    (built / "lib/libmxnet.so").unlink()
    with pytest.raises(ArchiveError, match=r"libmxnet\.so is missing"):
        packed(built)


def test_unpack_installs_the_same_bytes_and_replaces_a_stale_package(built: Path, tmp_path: Path) -> None:
    _, data = packed(built)
    src = write(tmp_path / "build.tar.gz", data)
    root = tmp_path / "other-mac/mxnet-1.0.0"
    (root / "python/mxnet").mkdir(parents=True)
    (root / "python/mxnet/stale.py").write_text("from another build\n")

    manifest = unpack(src, root, KEY)

    assert (root / "lib/libmxnet.so").read_bytes() == (built / "lib/libmxnet.so").read_bytes()
    assert os.access(root / "lib/libmxnet.so", os.X_OK)
    assert not (root / "python/mxnet/stale.py").exists() and (root / "python/mxnet/gluon/block.py").is_file()
    assert intact(root) == manifest and json.loads((root / archive.MANIFEST).read_text())["key"] == KEY
    assert sorted(p.name for p in root.iterdir()) == [archive.MANIFEST, "lib", "python"]  # no staging left


def test_an_archive_of_another_key_changes_nothing(built: Path, tmp_path: Path) -> None:
    src = write(tmp_path / "b.tar.gz", packed(built, inputs={})[1])
    root = tmp_path / "mac"
    with pytest.raises(ArchiveError, match=f"not {'0' * 64}"):
        unpack(src, root, "0" * 64)
    assert not root.exists() or not any(root.iterdir())


def retarred(data: bytes, edit) -> bytes:
    """The archive with its members passed through `edit(name, bytes) -> bytes | None` (None drops it)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(data)) as src, tarfile.open(fileobj=out, mode="w") as dst:
        for member in src:
            body = src.extractfile(member).read()
            body = edit(member.name, body)
            if body is None:
                continue
            member.size = len(body)
            dst.addfile(member, io.BytesIO(body))
    return gzip.compress(out.getvalue())


@pytest.mark.parametrize(
    "edit, problem",
    [
        (lambda n, b: b + b"x" if n == "lib/libmxnet.so" else b, "does not match the SHA-256"),
        (lambda n, b: None if n == "python/mxnet/__init__.py" else b, "lacks python/mxnet/__init__.py"),
        (lambda n, b: b.replace(b'"python/mxnet/gluon/block.py"', b'"../../evil.py"') if n == MANIFEST else b, "below"),
        (lambda n, b: b"not json" if n == archive.MANIFEST else b, "cannot be read"),
    ],
    ids=["changed-file", "missing-file", "path-escapes", "bad-manifest"],
)
def test_a_damaged_archive_is_refused_before_anything_changes(built: Path, tmp_path: Path, edit, problem) -> None:
    src = write(tmp_path / "b.tar.gz", retarred(packed(built)[1], edit))
    root = tmp_path / "mac"
    (root / "lib").mkdir(parents=True)
    (root / "lib/libmxnet.so").write_bytes(b"the Mac's own")

    with pytest.raises(ArchiveError, match=problem) as caught:
        unpack(src, root, KEY)

    assert caught.value.fix and "run again" in caught.value.fix
    assert (root / "lib/libmxnet.so").read_bytes() == b"the Mac's own"
    assert sorted(p.name for p in root.iterdir()) == ["lib"]
    assert not (tmp_path / "evil.py").exists()


def test_a_member_the_manifest_does_not_list_is_refused(built: Path, tmp_path: Path) -> None:
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(packed(built)[1])) as src, tarfile.open(fileobj=out, mode="w") as dst:
        for member in src:
            dst.addfile(member, src.extractfile(member))
        extra = tarfile.TarInfo("lib/extra.dylib")
        extra.size = 3
        dst.addfile(extra, io.BytesIO(b"abc"))
    src_path = write(tmp_path / "b.tar.gz", gzip.compress(out.getvalue()))
    with pytest.raises(ArchiveError, match="does not list"):
        unpack(src_path, tmp_path / "mac", KEY)


def test_read_manifest_refuses_what_is_not_an_archive(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="cannot be read"):
        read_manifest(write(tmp_path / "x.tar.gz", b"plain text"))


def test_intact_and_the_module_cli_tell_a_changed_build(built: Path, tmp_path: Path) -> None:
    root = tmp_path / "mac"
    unpack(write(tmp_path / "b.tar.gz", packed(built)[1]), root, KEY)

    def told() -> str:
        done = subprocess.run([sys.executable, "-m", "egpu_setup.builds", str(root)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert told() == KEY
    (root / "python/mxnet/gluon/block.py").write_text("edited by hand\n")
    assert told() == "" and intact(root) is None
    assert intact(tmp_path / "nothing-here") is None


def test_pack_and_unpack_stream_a_large_library(built: Path, tmp_path: Path) -> None:
    """A CUDA libmxnet.so is hundreds of MB: neither side holds a file (or the archive) in memory."""
    size = 64 << 20
    with (built / "lib/libmxnet.so").open("wb") as lib:
        lib.truncate(size)  # sparse: 64 MiB of zeros, quick to read and to compress
    archive_path = tmp_path / "large.tar.gz"
    tracemalloc.start()
    try:
        with archive_path.open("wb") as out:
            facts = pack(built, MEMBERS, out, name="mxnet", version="1.0.0", key=KEY, inputs=INPUTS)
        _, packing_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        unpack(archive_path, tmp_path / "mac", KEY)
        _, unpacking_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert facts.size == archive_path.stat().st_size
    assert (tmp_path / "mac/lib/libmxnet.so").stat().st_size == size
    assert packing_peak < 8 << 20 and unpacking_peak < 8 << 20, (packing_peak, unpacking_peak)


@pytest.mark.parametrize("later", [b"relinked after it was hashed", b"\x00" * 6004], ids=["shorter", "same-size"])
def test_a_file_that_changes_while_it_is_packed_is_refused(
    built: Path, monkeypatch: pytest.MonkeyPatch, later: bytes
) -> None:
    hashed = archive._file_size_and_sha256
    assert (built / "lib/libmxnet.so").stat().st_size == 6004

    def then_changed(path: Path) -> tuple[int, str]:
        result = hashed(path)
        if path.name == "libmxnet.so":
            path.write_bytes(later)
        return result

    monkeypatch.setattr(archive, "_file_size_and_sha256", then_changed)
    with pytest.raises(ArchiveError, match="changed while it was packed"):
        pack(built, MEMBERS, io.BytesIO(), name="mxnet", version="1.0.0", key=KEY, inputs=INPUTS)
