"""An offline bundle of a lab's artifacts: `egpu-setup cache export` and `cache import`.

A controller without internet provisions a lab from one tar file carried over from a controller with it. The
bundle is an uncompressed tar (the installers are compressed already) holding, in this order::

    manifest.json         {"schema_version": 1, "kind": "egpu_setup_bundle", "lock": {...}, "artifacts": [...]}
    egpu-setup.lock       the lock file the artifacts were exported for
    artifacts/<sha256>    one member per artifact, named by its SHA-256

Each manifest entry names the artifact (id, version, filename), its size and SHA-256, and its member; the lock's
entry gives the same SHA-256 (checked on export and on import). Import trusts nothing in the tar: every member is
read by the name the manifest gives (no path from the archive is ever used to write), copied into a staging
directory of the cache while it is hashed, and only once every file matched its size and SHA-256 do the files
enter the store, by rename. A damaged or truncated archive is refused (EgpuError, exit 2) and the staging directory
removed: nothing partial is kept. A file the store already holds is not copied again, so importing twice is a no-op.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from egpu_setup.cache.lock import Lock
from egpu_setup.cache.store import Cache, sha256_of
from egpu_setup.errors import EgpuError
from egpu_setup.matrix.model import Artifact
from egpu_setup.matrix.validate import SHA256_HEX
from egpu_setup.paths import DEFAULT_LOCK_NAME, require_directory

SCHEMA_VERSION = 1
KIND = "egpu_setup_bundle"
MANIFEST = "manifest.json"
LOCK_MEMBER = DEFAULT_LOCK_NAME
MANIFEST_MAX = 1 << 20  # a manifest of a few dozen artifacts is a few KiB: anything bigger is not ours
_BLOCK = 1 << 20


@dataclass(frozen=True)
class BundleEntry:
    id: str
    version: str
    filename: str
    sha256: str
    size: int

    @property
    def member(self) -> str:
        return f"artifacts/{self.sha256}"

    @property
    def artifact(self) -> Artifact:
        return Artifact({"id": self.id, "version": self.version, "filename": self.filename})


@dataclass(frozen=True)
class ImportResult:
    added: list[BundleEntry]
    present: list[BundleEntry]
    lock_recorded: int


def _refuse(archive: Path, problem: str) -> EgpuError:
    return EgpuError(
        f"{archive} is not an intact egpu-setup bundle: {problem}; nothing was imported",
        fix="copy the bundle again (compare its size with the exporting controller's), or export it again with "
        "`egpu-setup cache export -i INVENTORY FILE`",
    )


# --- export ------------------------------------------------------------------------------------------------------


def export_bundle(cache: Cache, lock_path: Path, out: Path) -> list[BundleEntry]:
    """Write every artifact `lock_path` records, from `cache`, with the lock and a manifest, to `out` (atomically:
    a temporary file beside it and a rename; never through a symlink). Returns the entries written."""
    if not lock_path.is_file():
        raise EgpuError(
            f"no lock file at {lock_path}: it lists what a lab uses, and the bundle carries exactly that",
            fix="run `egpu-setup cache fetch` (or a provision) for that inventory first, which writes it",
        )
    lock = Lock.load(lock_path)
    if not lock.entries:
        raise EgpuError(f"the lock file {lock_path} records no artifact", fix="run `egpu-setup cache fetch` first")
    entries = _entries(cache, lock)
    if out.is_symlink():
        raise EgpuError(
            f"{out} is a symbolic link: the bundle is never written through one",
            fix="give the path of a new file (or remove the link)",
        )
    if out.is_dir():
        raise EgpuError(f"{out} is a directory", fix="give the path of the bundle file to write, e.g. lab.tar")
    require_directory(out.parent, f"bundle {out}")
    lock_bytes = lock_path.read_bytes()
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "kind": KIND,
        "lock": {"member": LOCK_MEMBER, "sha256": hashlib.sha256(lock_bytes).hexdigest(), "size": len(lock_bytes)},
        "artifacts": [
            {
                "id": e.id,
                "version": e.version,
                "filename": e.filename,
                "sha256": e.sha256,
                "size": e.size,
                "member": e.member,
            }
            for e in entries
        ],
    }
    handle, name = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(handle, "wb") as raw, tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())
            _add_bytes(tar, LOCK_MEMBER, lock_bytes)
            for entry in entries:
                with cache.path_for(entry.sha256).open("rb") as source:
                    info = tarfile.TarInfo(entry.member)
                    info.size, info.mode = entry.size, 0o644
                    tar.addfile(info, source)
            tar.close()
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(name, out)
    except OSError as exc:
        raise EgpuError(
            f"cannot write the bundle {out}: {exc}", fix="free some space or choose another place"
        ) from None
    finally:
        Path(name).unlink(missing_ok=True)  # gone after a successful rename
    return entries


def _entries(cache: Cache, lock: Lock) -> list[BundleEntry]:
    """The lock's artifacts as they are in the cache, each re-hashed (a damaged store is not carried on)."""
    index = cache.index()
    missing, bad, entries = [], [], []
    for key in sorted(lock.entries):
        pinned = lock.entries[key]
        artifact_id, version = key.split("@", 1)
        path = cache.path_for(pinned.sha256)
        if not path.is_file():
            missing.append(f"{key} ({pinned.filename})")
            continue
        if sha256_of(path) != pinned.sha256:
            bad.append(f"{key} ({path})")
            continue
        filename = str(index.get(pinned.sha256, {}).get("filename") or pinned.filename)
        entries.append(BundleEntry(artifact_id, version, filename, pinned.sha256, path.stat().st_size))
    if missing:
        raise EgpuError(
            f"the cache {cache.root} lacks {len(missing)} artifact(s) the lock {lock.path} records: "
            + ", ".join(missing),
            fix="`egpu-setup cache fetch` them (or `cache add` the ones fetched by hand), or give the lab's cache "
            "with --cache-dir",
        )
    if bad:
        raise EgpuError(
            f"cached file(s) no longer match their SHA-256: {', '.join(bad)}",
            fix="`egpu-setup cache verify` names them: delete them and fetch them again",
        )
    return entries


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o644
    tar.addfile(info, io.BytesIO(data))


# --- import ------------------------------------------------------------------------------------------------------


def import_bundle(cache: Cache, archive: Path, lock_path: Path | None = None) -> ImportResult:
    """Verify and import a bundle into `cache`; with `lock_path`, record the bundle's lock entries there too
    (a conflicting entry is refused before anything is imported)."""
    if not archive.is_file():
        raise EgpuError(f"{archive} is not a file", fix="give the bundle `egpu-setup cache export` wrote")
    target_lock = Lock.load(lock_path) if lock_path is not None else None
    staging: Path | None = None
    try:
        with tarfile.open(archive, mode="r:") as tar:
            manifest, bundle_lock = _read_head(tar, archive)
            entries = _manifest_entries(manifest, bundle_lock, archive)
            _check_members(tar, entries, archive)
            if target_lock is not None:
                for entry in entries:
                    target_lock.check(entry.artifact, entry.sha256, what=f"{archive}'s {entry.filename}")
            todo = [e for e in entries if not (cache.has(e.sha256) and sha256_of(cache.path_for(e.sha256)) == e.sha256)]
            if todo:
                with cache._writing():
                    cache.partial.mkdir(parents=True, exist_ok=True)
                    staging = Path(tempfile.mkdtemp(prefix="import.", dir=cache.partial))
                for entry in todo:
                    _stage(tar, entry, staging / entry.sha256, archive, cache)
    except (tarfile.TarError, EOFError) as exc:
        _remove(staging)
        raise _refuse(archive, f"{exc.__class__.__name__}: {exc}") from None
    except BaseException:
        _remove(staging)
        raise
    try:  # every file matched: now they enter the store, each by a rename
        for entry in todo:
            cache._store(staging / entry.sha256, entry.sha256, entry.artifact, move=True)
    finally:
        _remove(staging)
    recorded = 0
    if target_lock is not None:
        for entry in entries:
            key = f"{entry.id}@{entry.version}"
            if key not in target_lock.entries:  # the exporter's entry as it is (origin, published SHA-512)
                target_lock.entries[key] = bundle_lock.entries[key]
                target_lock.changed, recorded = True, recorded + 1
        if target_lock.changed:
            target_lock.save()
    present = [e for e in entries if e not in todo]
    return ImportResult(added=todo, present=present, lock_recorded=recorded)


def _small_member(tar: tarfile.TarFile, archive: Path, name: str) -> bytes:
    """The bytes of member `name`, which must be there and be a regular file of at most MANIFEST_MAX bytes."""
    try:
        info = tar.getmember(name)
    except KeyError:
        raise _refuse(archive, f"it has no {name}") from None
    if not info.isfile() or info.size > MANIFEST_MAX:
        raise _refuse(archive, f"its {name} is not a small regular file")
    return _read_member(tar, info)


def _read_head(tar: tarfile.TarFile, archive: Path) -> tuple[dict[str, Any], Lock]:
    """The manifest and the bundle's lock, checked against the manifest's digest."""
    try:
        manifest = json.loads(_small_member(tar, archive, MANIFEST))
    except ValueError as exc:
        raise _refuse(archive, f"its {MANIFEST} is not JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("kind") != KIND:
        raise _refuse(archive, f"its {MANIFEST} is not an egpu-setup bundle manifest")
    if manifest.get("schema_version") != SCHEMA_VERSION:
        raise EgpuError(
            f"{archive} is a bundle of schema version {manifest.get('schema_version')!r}; this egpu-setup reads "
            f"version {SCHEMA_VERSION}",
            fix="export the bundle with the same egpu-setup version as the importing controller",
        )
    lock_info = manifest.get("lock")
    if not isinstance(lock_info, dict) or lock_info.get("member") != LOCK_MEMBER:
        raise _refuse(archive, "its manifest names no lock file")
    data = _small_member(tar, archive, LOCK_MEMBER)
    if hashlib.sha256(data).hexdigest() != lock_info.get("sha256"):
        raise _refuse(archive, f"its {LOCK_MEMBER} does not match the manifest's SHA-256")
    with tempfile.TemporaryDirectory(prefix="egpu-bundle-") as scratch:  # Lock.load reads a file (and checks it)
        path = Path(scratch) / LOCK_MEMBER
        path.write_bytes(data)
        return manifest, Lock.load(path)


def _manifest_entries(manifest: dict[str, Any], lock: Lock, archive: Path) -> list[BundleEntry]:
    rows = manifest.get("artifacts")
    if not isinstance(rows, list) or not rows:
        raise _refuse(archive, "its manifest lists no artifacts")
    entries = []
    for row in rows:
        try:
            entry = BundleEntry(str(row["id"]), str(row["version"]), str(row["filename"]), str(row["sha256"]),
                                int(row["size"]))  # fmt: skip
        except (TypeError, KeyError, ValueError):
            raise _refuse(
                archive, f"a manifest entry is not {{id, version, filename, sha256, size}}: {row!r}"
            ) from None
        if not SHA256_HEX.match(entry.sha256) or row.get("member") != entry.member or entry.size < 0:
            raise _refuse(archive, f"the manifest entry of {entry.id} {entry.version} is malformed")
        pinned = lock.entries.get(f"{entry.id}@{entry.version}")
        if pinned is None or pinned.sha256 != entry.sha256:
            raise _refuse(archive, f"its manifest and its lock disagree on {entry.id} {entry.version}")
        entries.append(entry)
    return entries


def _check_members(tar: tarfile.TarFile, entries: list[BundleEntry], archive: Path) -> None:
    """Every member is one the manifest names, a regular file of the size it says (a truncated tar ends early)."""
    wanted = {e.member: e for e in entries} | {MANIFEST: None, LOCK_MEMBER: None}
    seen = set()
    for info in tar.getmembers():  # reads the whole index: a cut archive fails here
        entry = wanted.get(info.name)
        if info.name not in wanted or not info.isfile():
            raise _refuse(archive, f"it holds {info.name!r}, which its manifest does not list as a file")
        if entry is not None and info.size != entry.size:
            raise _refuse(archive, f"{info.name} is {info.size} bytes, the manifest says {entry.size}")
        seen.add(info.name)
    missing = sorted(set(wanted) - seen)
    if missing:
        raise _refuse(archive, f"it lacks {', '.join(missing)}")
    # The end-of-archive marker (two zero blocks) after the last member: a copy cut anywhere, even inside the
    # padding tar adds at the end, is refused rather than trusted because its members happen to be whole.
    with open(archive, "rb") as handle:
        handle.seek(tar.offset)
        if handle.read(2 * tarfile.BLOCKSIZE) != bytes(2 * tarfile.BLOCKSIZE):
            raise _refuse(archive, "it ends before tar's end-of-archive marker (a truncated copy)")


def _stage(tar: tarfile.TarFile, entry: BundleEntry, target: Path, archive: Path, cache: Cache) -> None:
    """Copy one member to `target` while hashing it; refuse a short or different file."""
    source = tar.extractfile(entry.member)
    assert source is not None  # _check_members made sure it is a regular file
    digest, size = hashlib.sha256(), 0
    with cache._writing(), open(target, "xb") as out:
        while block := source.read(_BLOCK):
            digest.update(block)
            size += len(block)
            out.write(block)
    if size != entry.size or digest.hexdigest() != entry.sha256:
        raise _refuse(
            archive,
            f"{entry.filename} ({entry.id} {entry.version}) does not match its SHA-256 {entry.sha256} "
            f"({size} of {entry.size} bytes read)",
        )


def _read_member(tar: tarfile.TarFile, info: tarfile.TarInfo) -> bytes:
    handle: IO[bytes] | None = tar.extractfile(info)
    if handle is None:
        return b""
    data = handle.read()
    if len(data) != info.size:
        raise EOFError(f"{info.name} is cut short")
    return data


def _remove(path: Path | None) -> None:
    if path is not None:
        shutil.rmtree(path, ignore_errors=True)
