"""The content-addressed artifact store on the controller.

Layout (docs/architecture.md, "Artifact cache")::

    <cache>/sha256/<hex>     the files, named by their SHA-256
    <cache>/index.json       {"<hex>": {"id": ..., "version": ..., "filename": ..., "size": ...}}
    <cache>/partial/         downloads in progress (kept across runs so they resume)

A file enters `sha256/` only after its digest was checked, by an atomic rename, so the store never holds a file
under the wrong name; index.json is rewritten atomically under an advisory lock.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from egpu_setup.cache.download import OTHER_CACHE, OTHER_SOURCE, Progress, download
from egpu_setup.cache.lock import Lock
from egpu_setup.errors import CheckFailed, EgpuError
from egpu_setup.files import exclusive, open_regular, write_text_atomically
from egpu_setup.matrix.model import Artifact
from egpu_setup.matrix.validate import SHA256_HEX
from egpu_setup.paths import require_directory

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_INDEX_TEXT_FIELDS = ("id", "version", "filename")


class ManualDownloadNeeded(EgpuError):
    """An artifact with no URL (behind a login) that is not in the cache yet: an input only the user can supply, so
    bad input (exit 2) under every command that meets it (cache fetch, plan, provision)."""


@dataclass(frozen=True)
class CacheEntry:
    sha256: str
    id: str
    version: str
    filename: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sha256_of(path: Path) -> str:
    with open_regular(path) as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def digests_of(path: Path) -> tuple[str, str]:
    """(SHA-256, SHA-512) of a file, read once: the store's name and the digest some publishers give instead."""
    h256, h512 = hashlib.sha256(), hashlib.sha512()
    with open_regular(path) as handle:
        while block := handle.read(1 << 20):
            h256.update(block)
            h512.update(block)
    return h256.hexdigest(), h512.hexdigest()


def sha512_of(path: Path) -> str:
    with open_regular(path) as handle:
        return hashlib.file_digest(handle, "sha512").hexdigest()


class Cache:
    def __init__(self, root: Path | str | None = None) -> None:
        if root is None:
            from egpu_setup.paths import cache_dir

            root = cache_dir()
        self.root = require_directory(Path(root), f"cache {root}")
        self.objects = self.root / "sha256"
        self.partial = self.root / "partial"
        self.index_path = self.root / "index.json"

    # --- reading -------------------------------------------------------------------------------------------------

    def path_for(self, sha256: str) -> Path:
        return self.objects / sha256

    def has(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def index(self) -> dict[str, dict[str, Any]]:
        """index.json, checked: digest -> {id, version, filename, size}. A damaged index is an EgpuError (exit 2)."""
        if not self.index_path.exists():
            return {}
        fix = (
            "delete it and run `egpu-setup cache fetch` again (the files under sha256/ stay; files added by hand need "
            "`egpu-setup cache add` again)"
        )
        try:
            data = json.loads(self.index_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise EgpuError(f"cache index {self.index_path} is unreadable: {exc}", fix=fix) from None
        if not isinstance(data, dict):
            raise EgpuError(f"cache index {self.index_path} is not a JSON object", fix=fix)
        for digest, info in data.items():
            fields_ok = isinstance(info, dict) and all(isinstance(info.get(k), str) for k in _INDEX_TEXT_FIELDS)
            size = info.get("size") if isinstance(info, dict) else None
            if not (SHA256_HEX.match(digest) and fields_ok and isinstance(size, int) and not isinstance(size, bool)):
                raise EgpuError(
                    f"cache index {self.index_path}: the entry {digest!r} is not "
                    "{id, version, filename: text, size: whole number} under a SHA-256",
                    fix=fix,
                )
        return data

    def entries(self) -> list[CacheEntry]:
        """Every indexed file, by artifact id then digest."""
        entries = [
            CacheEntry(digest, info["id"], info["version"], info["filename"], info["size"])
            for digest, info in self.index().items()
        ]
        return sorted(entries, key=lambda entry: (entry.id, entry.sha256))

    # --- writing -------------------------------------------------------------------------------------------------

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """An OSError while changing the store (full disk, read-only file system) as an EgpuError naming the cache."""
        try:
            yield
        except OSError as exc:
            raise EgpuError(
                f"cannot write to the cache {self.root}: {exc}",
                fix=f"free some space or make the cache writable (or give another {OTHER_CACHE}), then run again",
            ) from None

    @contextmanager
    def _exclusive(self, lock_file: Path) -> Iterator[None]:
        """An advisory lock, so two fetches on one controller never write the same file at once."""
        with self._writing():
            lock_file.parent.mkdir(parents=True, exist_ok=True)
            lock_file.touch()
        with exclusive(lock_file):
            yield

    def _record(self, digest: str, artifact: Artifact, size: int) -> None:
        with self._exclusive(self.root / ".index.lock"):
            index = self.index()
            index[digest] = {"id": artifact.id, "version": artifact.version, "filename": artifact.filename,
                             "size": size}  # fmt: skip
            with self._writing():  # a reader never sees half an index
                write_text_atomically(self.index_path, json.dumps(index, indent=2, sort_keys=True))

    def _store(self, source: Path, digest: str, artifact: Artifact, move: bool) -> Path:
        """Put a checked file at sha256/<digest> by rename (move) or copy-then-rename (copy)."""
        target = self.path_for(digest)
        with self._writing():
            self.objects.mkdir(parents=True, exist_ok=True)
            if move:
                os.replace(source, target)
            else:
                handle, name = tempfile.mkstemp(prefix=".add.", dir=self.objects)
                os.close(handle)
                try:
                    shutil.copyfile(source, name)
                    os.replace(name, target)
                finally:
                    Path(name).unlink(missing_ok=True)  # gone after a successful rename
            size = target.stat().st_size
        self._record(digest, artifact, size)
        return target

    def add_file(self, source: Path, artifact: Artifact, digest: str | None = None) -> Path:
        """Copy a file already identified as `artifact` into the store (the source stays where it is)."""
        digest = digest or sha256_of(source)
        return self._store(source, digest, artifact, move=False)

    def ensure(
        self,
        artifact: Artifact,
        lock: Lock | None = None,
        mirror: str | None = None,
        url: str | None = None,
        progress: Progress | None = None,
        attempts: int = 3,
    ) -> Path:
        """The cached file of `artifact`, downloading it if needed; its digest checked against matrix and lock.

        URL order: `url`, then `<mirror>/<filename>`, then the matrix's. An artifact with neither digest nor URL
        in the cache raises ManualDownloadNeeded. The lock (if given) is updated in memory; the caller saves it.
        """
        published = artifact.sha256
        pinned = lock.get(artifact) if lock else None
        if published and pinned and pinned.sha256 != published:
            raise EgpuError(
                f"{lock.path if lock else 'the lock'} records {artifact.id} {artifact.version} as {pinned.sha256}, "
                f"but the matrix publishes {published}",
                fix=f"if the matrix (or overlay) is right, delete the '{artifact.key}' entry from the lock file and "
                "fetch again",
            )
        if artifact.sha512 and pinned and pinned.sha512 and pinned.sha512 != artifact.sha512:
            raise EgpuError(
                f"{lock.path if lock else 'the lock'} records {artifact.id} {artifact.version} as the file of SHA-512 "
                f"{pinned.sha512}, but the matrix publishes SHA-512 {artifact.sha512}",
                fix=f"if the matrix (or overlay) is right, delete the '{artifact.key}' entry from the lock file and "
                "fetch again",
            )
        wanted = published or (pinned.sha256 if pinned else None)
        if wanted and self.has(wanted) and not self._size_changed(wanted):
            if lock:
                lock.record(artifact, wanted, size=self.path_for(wanted).stat().st_size)
            if not any(e.sha256 == wanted for e in self.entries()):
                self._record(wanted, artifact, self.path_for(wanted).stat().st_size)
            return self.path_for(wanted)

        if not wanted:
            cached = self._unpinned_copy(artifact)
            if cached is not None:
                path = self.path_for(cached.sha256)
                self._check_sha512(artifact, path, f"the cached copy {path}", keep=True)
                if lock:  # first use by this lab: pin what the cache holds
                    lock.record(artifact, cached.sha256, sha512=artifact.sha512, size=path.stat().st_size)
                return path

        source = url or (f"{mirror.rstrip('/')}/{artifact.filename}" if mirror else None) or artifact.url
        if source is None:
            page = artifact.fields.get("download_page")
            damaged = (
                f"the cached copy {self.path_for(wanted)} is damaged (its size changed; `egpu-setup cache verify` "
                "names every damaged entry), and "
                if wanted and self.has(wanted)
                else ""
            )
            raise ManualDownloadNeeded(
                f"{damaged}{artifact.id} {artifact.version} ({artifact.filename}) has no download URL: "
                "it sits behind a login",
                fix=(f"download it by hand{f' from {page}' if page else ''}, then run "
                     f"`egpu-setup cache add {artifact.filename}` (or give another source {OTHER_SOURCE})"),
            )  # fmt: skip
        partial = self.partial / _SAFE.sub("_", f"{artifact.id}-{artifact.version}-{artifact.filename}.part")
        with self._exclusive(self.root / ".locks" / f"{partial.name}.lock"):
            if wanted and self.has(wanted) and not self._size_changed(wanted):
                return self.path_for(wanted)  # another process fetched it while this one waited
            # The known size bounds the download: the matrix's (or overlay's), else the one the lock recorded
            limit = artifact.size if artifact.size is not None else (pinned.size if pinned else None)
            download(source, partial, label=artifact.filename, progress=progress, attempts=attempts, size=limit)
            return self._accept(artifact, partial, source, wanted, lock)

    def find(self, artifact: Artifact, lock: Lock | None = None) -> Path | None:
        """The cached file of `artifact` by its published or pinned digest (or its one unpinned copy), without
        downloading or pinning anything: what `plan` (check mode) may use."""
        pinned = lock.get(artifact) if lock else None
        wanted = artifact.sha256 or (pinned.sha256 if pinned else None)
        if wanted:
            return self.path_for(wanted) if self.has(wanted) and not self._size_changed(wanted) else None
        cached = self._unpinned_copy(artifact)
        if cached is None:
            return None
        path = self.path_for(cached.sha256)
        self._check_sha512(artifact, path, f"the cached copy {path}", keep=True)  # as `ensure` does with it
        return path

    def _accept(self, artifact: Artifact, partial: Path, source: str, wanted: str | None, lock: Lock | None) -> Path:
        """Check a finished download against the wanted digest; store it, or delete it and say why."""
        published = artifact.sha256
        if partial.stat().st_size == 0:  # never pin or store nothing: an empty answer is a server or mirror fault
            partial.unlink()
            raise CheckFailed(
                f"{source} sent an empty file for {artifact.filename} ({artifact.id} {artifact.version}); "
                "nothing was kept",
                fix=f"check the URL or give another {OTHER_SOURCE}, and fetch again",
            )
        actual = sha256_of(partial)
        if wanted and actual != wanted:
            partial.unlink(missing_ok=True)  # a wrong file is not worth resuming: keep nothing
            if not published and lock is not None:
                lock.check(artifact, actual, what=f"{artifact.filename} from {source} (nothing was kept)")
            origin = "published" if published else f"pinned in {lock.path if lock else 'the lock'}"
            raise CheckFailed(
                f"checksum mismatch for {artifact.filename} ({artifact.id} {artifact.version}) from {source}: "
                f"expected SHA-256 {wanted} ({origin}), got {actual}; nothing was kept",
                fix="the download is corrupt or the URL serves another file: check the URL or give another "
                f"{OTHER_SOURCE}, and fetch again",
            )
        self._check_sha512(artifact, partial, f"{artifact.filename} from {source}", keep=False)
        path = self._store(partial, actual, artifact, move=True)
        if lock:
            lock.record(artifact, actual, sha512=artifact.sha512, size=path.stat().st_size)
        return path

    def _check_sha512(self, artifact: Artifact, path: Path, what: str, keep: bool) -> None:
        """Refuse a file whose SHA-512 is not the published one (a download is deleted; a cached copy is kept)."""
        if not artifact.sha512:
            return
        actual = sha512_of(path)
        if actual == artifact.sha512:
            return
        if not keep:
            path.unlink(missing_ok=True)  # like a SHA-256 mismatch: a wrong file is not worth resuming
        page = artifact.fields.get("download_page")
        by_hand = f"; or download it by hand{f' from {page}' if page else ''} and run `egpu-setup cache add FILE`"
        raise CheckFailed(
            f"checksum mismatch for {what} ({artifact.id} {artifact.version}): expected SHA-512 {artifact.sha512} "
            f"(published), got {actual}; " + ("the cached copy was not used" if keep else "nothing was kept"),
            fix="the download is corrupt or the URL serves another file (a login page, a newer upload): check the URL "
            f"or give another {OTHER_SOURCE}, and fetch again{by_hand}",
        )

    def _unpinned_copy(self, artifact: Artifact) -> CacheEntry | None:
        """The one cached file of an artifact that has no published or pinned digest (e.g. a `cache add`-ed one)."""
        copies = [e for e in self.entries() if e.id == artifact.id and e.version == artifact.version]
        copies = [e for e in copies if self.has(e.sha256) and not self._size_changed(e.sha256)]
        if len(copies) > 1:
            raise EgpuError(
                f"the cache holds {len(copies)} different files for {artifact.id} {artifact.version} and nothing "
                "says which one this lab uses",
                fix="run `egpu-setup cache add FILE` with the right file: that pins it in the lab's lock file",
            )
        return copies[0] if copies else None

    def _size_changed(self, digest: str) -> bool:
        """A cheap corruption check for `ensure` (truncated or appended file); `verify` re-hashes everything."""
        recorded = self.index().get(digest, {}).get("size")
        return recorded is not None and self.path_for(digest).stat().st_size != recorded

    # --- checking ------------------------------------------------------------------------------------------------

    def verify(self) -> list[str]:
        """Re-hash every indexed file; returns one line per missing or corrupt entry (empty when all is well)."""
        problems = []
        for entry in self.entries():
            path = self.path_for(entry.sha256)
            if not path.is_file():
                problems.append(f"{entry.id} {entry.version} ({entry.filename}): missing {path}")
                continue
            actual = sha256_of(path)
            if actual != entry.sha256:
                problems.append(f"{entry.id} {entry.version} ({entry.filename}): {path} is corrupt, SHA-256 {actual}")
        return problems
