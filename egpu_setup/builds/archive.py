"""A build archive: what one Mac compiled, packed so that every other Mac of the same build key installs the same bytes.

Layout (a gzip'd POSIX tar, reproducible: members sorted, owner root, mtime 0, modes 0644/0755)::

    egpu-build.json        the manifest, first member: name, version, key, inputs, and every file's SHA-256
    lib/libmxnet.so        the files, as they lie under the build's root (MXNet's source tree)
    python/mxnet/...

The manifest also stays beside the installed files (`<root>/egpu-build.json`): on the building Mac as on every Mac
that installed the archive, it says which build key the files there come from. `unpack` checks every member against
the manifest before anything under `root` changes, and takes nothing but regular files below `root` (no links, no
absolute or `..` names). Runs on the controller (the cache checks an archive it is given) and on the Mac (the
egpu.mac.build_archive module, with the target tools' Python): standard library only.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import posixpath
import shutil
import tarfile
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from egpu_setup.errors import EgpuError
from egpu_setup.files import file_sha256

MANIFEST = "egpu-build.json"
KIND = "egpu_setup_build"
SCHEMA_VERSION = 1
# Bytecode is the importing Python's, not the build's: it would make two archives of one build differ.
_SKIPPED = ("__pycache__",)
_SKIPPED_SUFFIXES = (".pyc", ".pyo")


class ArchiveError(EgpuError):
    """An archive that is not a build archive of the expected key, or whose files do not match its manifest."""


def build_key(name: str, version: str, inputs: dict[str, Any]) -> str:
    """The SHA-256 of what decides a build's result: one key, interchangeable libraries (JSON with sorted keys, so
    the order the inputs were given in does not matter). Not the same bytes: two compiles of one key differ in the
    debug map (ld64 writes each object's mtime into its N_OSO stab, and nvcc names its temporary files after its
    process), hence one build per key, whose archive every other Mac installs."""
    text = json.dumps({"name": name, "version": version, "inputs": inputs}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Packed:
    """What `pack` wrote: the archive's SHA-256 and size, and its manifest."""

    sha256: str
    size: int
    manifest: dict[str, Any]


_CHUNK = 1 << 20  # files are read and written a MiB at a time: a CUDA libmxnet.so is hundreds of MB


class _HashingWriter:
    """The archive's bytes on their way to `out` (or nowhere, when only the digest is wanted), hashed and counted."""

    def __init__(self, out: BinaryIO | None) -> None:
        self.out, self.size, self.digest = out, 0, hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        if self.out is not None:
            self.out.write(data)
        return len(data)

    def flush(self) -> None:
        if self.out is not None:
            self.out.flush()


class _HashingReader:
    """A file read into the archive, hashed on the way, so a file that changed since the manifest is caught."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle, self.size, self.digest = handle, 0, hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.digest.update(data)
        self.size += len(data)
        return data


def _files_under(root: Path, members: Iterable[str]) -> list[tuple[str, Path]]:
    """(name in the archive, file) for each member (a file, or a directory taken whole), sorted."""
    found: dict[str, Path] = {}
    for member in members:
        source = root / member
        if source.is_symlink() or not source.exists():
            raise ArchiveError(f"{source} is missing (or a link): the build did not make it", fix="build again")
        paths = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
        if not paths:
            raise ArchiveError(f"{source} holds no file: the build did not make it", fix="build again")
        for path in paths:
            relative = path.relative_to(root)
            if path.is_symlink() or any(part in _SKIPPED for part in relative.parts):
                continue
            if path.suffix not in _SKIPPED_SUFFIXES:
                found[relative.as_posix()] = path
    return sorted(found.items())


def pack(
    root: Path,
    members: Iterable[str],
    out: BinaryIO | None,
    *,
    name: str,
    version: str,
    key: str,
    inputs: dict[str, Any],
) -> Packed:
    """Write the archive of `members` (paths below `root`) to `out`, with a manifest naming `key` and each file's
    SHA-256; with `out` None, only its digest and size are computed (check mode). Files are streamed, twice: once
    for the manifest, which comes first, and once into the archive."""
    members = sorted(members)
    files = _files_under(root, members)
    entries = []
    for arcname, path in files:
        size, digest = _file_size_and_sha256(path)
        mode = 0o755 if os.access(path, os.X_OK) else 0o644
        entries.append({"path": arcname, "sha256": digest, "size": size, "mode": mode})
    manifest = {
        "schema_version": SCHEMA_VERSION, "kind": KIND, "name": name, "version": version, "key": key,
        "inputs": inputs, "members": members, "files": entries,
    }  # fmt: skip
    sink = _HashingWriter(out)
    # filename "" and mtime 0: the gzip header names no file and no time, so one build gives one archive
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=sink, compresslevel=6, mtime=0) as zipped,  # type: ignore[arg-type]
        tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        data = manifest_bytes(manifest)
        tar.addfile(_info(MANIFEST, len(data), 0o644), io.BytesIO(data))
        for entry, (_, path) in zip(entries, files, strict=True):
            changed = ArchiveError(f"{path} changed while it was packed", fix="run again when the build has finished")
            with path.open("rb") as handle:
                reader = _HashingReader(handle)
                try:
                    tar.addfile(_info(entry["path"], entry["size"], entry["mode"]), reader)  # type: ignore[arg-type]
                except OSError:
                    if reader.size < entry["size"]:  # tarfile's "unexpected end of data": the file shrank
                        raise changed from None
                    raise
            if reader.digest.hexdigest() != entry["sha256"]:
                raise changed
    return Packed(sink.digest.hexdigest(), sink.size, manifest)


def _file_size_and_sha256(path: Path) -> tuple[int, str]:
    with path.open("rb") as handle:
        return os.fstat(handle.fileno()).st_size, hashlib.file_digest(handle, "sha256").hexdigest()


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode("utf-8")


def _info(name: str, size: int, mode: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, mode, 0
    info.uname = info.gname = "root"
    return info


def read_manifest(archive: Path, key: str | None = None) -> dict[str, Any]:
    """The manifest of `archive` (its first member), checked for shape and, when given, for `key`."""
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            first = tar.next()
            if first is None or first.name != MANIFEST or not first.isfile():
                raise _bad(archive, f"its first member is not {MANIFEST}")
            handle = tar.extractfile(first)
            manifest = json.loads(handle.read(1 << 20) if handle else b"")
    except (OSError, tarfile.TarError, EOFError, ValueError) as exc:
        raise _bad(archive, f"it cannot be read as a build archive ({exc})") from None
    _check_manifest(archive, manifest, key)
    return manifest  # type: ignore[no-any-return]


def _check_manifest(archive: Path, manifest: object, key: str | None) -> None:
    if not (
        isinstance(manifest, dict)
        and manifest.get("kind") == KIND
        and isinstance(manifest.get("files"), list)
        and isinstance(manifest.get("members"), list)
    ):
        raise _bad(archive, f"{MANIFEST} is not an egpu-setup build manifest")
    members = manifest["members"]
    if not all(isinstance(m, str) and _safe(m) and m != MANIFEST for m in members):
        raise _bad(archive, f"its manifest names members {members!r}, not paths below the build's root")
    if key is not None and manifest.get("key") != key:
        raise _bad(archive, f"it holds the build of key {manifest.get('key')}, not {key}")
    for entry in manifest["files"]:
        path = entry.get("path") if isinstance(entry, dict) else None
        inside = isinstance(path, str) and any(path == m or path.startswith(m + "/") for m in members)
        if not inside or not _safe(str(path)):
            raise _bad(archive, f"its manifest names {path!r}, not a path below the build's root")


def _safe(name: str) -> bool:
    normal = posixpath.normpath(name)
    escapes = normal == ".." or normal.startswith("../")
    return bool(name) and not name.startswith("/") and normal == name and not escapes


def _bad(archive: Path, problem: str) -> ArchiveError:
    return ArchiveError(
        f"{archive} is not a usable build archive: {problem}",
        fix="delete it and run again: the next run builds the archive again from source",
    )


def unpack(archive: Path, root: Path, key: str) -> dict[str, Any]:
    """Install the archive's files under `root` and leave its manifest there; returns the manifest.

    Every member is read and checked against the manifest (name, size, SHA-256) into a staging directory beside
    `root` first, so a damaged archive changes nothing. Each member (a file, or a directory held whole such as
    python/mxnet) then replaces what was there, so no file of another build stays behind."""
    manifest = read_manifest(archive, key)
    wanted = {entry["path"]: entry for entry in manifest["files"]}
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".egpu-build-", dir=root) as staging_dir:
        staging = Path(staging_dir)
        _stage(archive, wanted, staging)
        for member in manifest["members"]:
            target = root / member
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / member, target)
        (staging / MANIFEST).write_bytes(manifest_bytes(manifest))
        os.replace(staging / MANIFEST, root / MANIFEST)
    return manifest


def _stage(archive: Path, wanted: dict[str, dict[str, Any]], staging: Path) -> None:
    seen: set[str] = set()
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            for member in tar:
                if member.name == MANIFEST:
                    continue
                entry = wanted.get(member.name)
                if entry is None or not member.isfile() or member.name in seen:
                    raise _bad(archive, f"it holds {member.name!r}, which its manifest does not list as a file")
                target = staging / member.name
                target.parent.mkdir(parents=True, exist_ok=True)
                handle = tar.extractfile(member)
                reader = _HashingReader(handle or io.BytesIO())
                with target.open("wb") as staged:
                    shutil.copyfileobj(reader, staged, _CHUNK)  # type: ignore[misc]
                if reader.size != entry["size"] or reader.digest.hexdigest() != entry["sha256"]:
                    raise _bad(archive, f"{member.name} does not match the SHA-256 its manifest records")
                target.chmod(0o755 if entry.get("mode") == 0o755 else 0o644)
                seen.add(member.name)
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise _bad(archive, f"it cannot be read to the end ({exc})") from None
    missing = sorted(set(wanted) - seen)
    if missing:
        raise _bad(archive, f"it lacks {', '.join(missing[:3])}, which its manifest lists")


def installed(root: Path) -> dict[str, Any] | None:
    """The manifest left under `root` by the last pack or unpack, or None."""
    try:
        data = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def intact(root: Path) -> dict[str, Any] | None:
    """The manifest under `root` when every file it lists is there with the SHA-256 it records; else None (a file
    changed, removed, or no build there)."""
    manifest = installed(root)
    files = manifest.get("files") if manifest else None
    if not isinstance(files, list):
        return None
    for entry in files:
        if not isinstance(entry, dict) or file_sha256(root / str(entry.get("path"))) != entry.get("sha256"):
            return None
    return manifest
