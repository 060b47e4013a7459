"""The lock file `egpu-setup.lock`: the SHA-256 of every artifact a lab uses, so every Mac gets the same bytes.

It sits beside the inventory. An artifact whose checksum is published (in the matrix or an overlay) is recorded with
`origin: published`; one with no published checksum (cuDNN, the CUDA drivers) is pinned with `origin: pinned` the
first time a file is fetched or added, and any different file is refused afterwards. An artifact whose publisher
gives a SHA-512 only (egpu.io's NVDAEGPUSupport zips) is pinned by SHA-256 once its SHA-512 matched, and the entry
keeps that SHA-512. Format::

    # egpu-setup.lock: ...
    lock_version: 1
    artifacts:
      cudnn@7.0.5: {sha256: 3f2a..., filename: cudnn-9.1-osx-x64-v7-ga.tgz, origin: pinned, size: ...}
      egpu_support@6: {sha256: 9c1d..., filename: 4376-NVDAEGPUSupport-v6.zip, origin: pinned, sha512: 477c...}

`size` (bytes) is recorded when an entry is first written: a later download of that artifact larger than it is
refused as soon as it passes it (egpu_setup.cache.download). Entries written before sizes were recorded have none.

A build archive (egpu_setup.builds: MXNet compiled once for a build key, installed by every other Mac with that key)
is an entry too, `origin: built`, under the id `mxnet_build` and the version `<MXNet version>+<build key>`, with the
Mac that built it::

      mxnet_build@1.0.0+5d0c...: {sha256: 81be..., filename: mxnet-1.0.0-5d0c2b7e41a9.tar.gz, origin: built,
                                  size: ..., built_on: mac1}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from egpu_setup.builds.artifact import BUILD_IDS
from egpu_setup.errors import EgpuError
from egpu_setup.files import exclusive, write_text_atomically
from egpu_setup.matrix import schema_check
from egpu_setup.matrix.marked_yaml import MarkedDict, load_marked
from egpu_setup.matrix.model import ARTIFACT_IDS, Artifact
from egpu_setup.matrix.validate import Problems
from egpu_setup.paths import require_directory

LOCK_VERSION = 1
# The shape of the file (fields, digests' form); what JSON Schema cannot say (a key names a known artifact id) is
# `_check_key`. LOCK_VERSION is the schema's lock_version const.
LOCK_SCHEMA = Path(__file__).with_name("lock.schema.json")


def _label(path: tuple[object, ...]) -> str:
    """Problems inside an entry start with its id@version, as the file names it."""
    return f"{path[1]}: " if len(path) >= 2 and path[0] == "artifacts" else ""


def _check_key(key: object, line: int, problems: Problems) -> bool:
    """An entry's key is `<artifact id>@<version>` with an id the matrix knows, or a build's id."""
    if "@" in str(key) and str(key).split("@", 1)[0] in (*ARTIFACT_IDS, *BUILD_IDS):
        return True
    problems.add(line, f"{key!r} is not an artifact id@version (ids: {', '.join((*ARTIFACT_IDS, *BUILD_IDS))})")
    return False


_HEADER = """\
# egpu-setup.lock: the SHA-256 of every artifact this lab installs, written by `egpu-setup cache fetch/add`.
# Keep it beside the inventory and under version control: a file whose digest differs from its entry is refused.
# origin: published = checksum from the matrix (or overlay); pinned = no published checksum, pinned on first add.
# sha512: the published SHA-512 the file matched before its SHA-256 was pinned.
# built: an archive a Mac of this lab built (built_on), which the other Macs with its build key install.
"""


@dataclass(frozen=True)
class LockEntry:
    sha256: str
    filename: str
    origin: str  # "published", "pinned" or "built"
    sha512: str | None = None  # the published SHA-512 this file was checked against, if any
    size: int | None = None  # bytes, recorded on first pin: the download limit where the matrix gives none
    built_on: str | None = None  # origin "built": the Mac (inventory name) that built it


class LockConflict(EgpuError):
    """A file whose digest differs from the one the lock records (exit 2)."""


class Lock:
    def __init__(self, path: Path, entries: dict[str, LockEntry] | None = None) -> None:
        self.path = path
        self.entries: dict[str, LockEntry] = dict(entries or {})
        self.changed = False  # set by record(); callers save only then, so a read never rewrites the file

    @classmethod
    def load(cls, path: Path | str) -> Lock:
        """Read a lock file; a missing one is an empty lock (created on the first save).

        A malformed one is an EgpuError (exit 2) naming the file and line.
        """
        path = Path(path)
        # A lock that could never be saved must stop the command before it downloads or stores anything.
        require_directory(path.parent, f"lock file {path}")
        if not path.exists():
            return cls(path)
        data = load_marked(path, "lock file")
        problems = Problems(path, "lock file")
        if data is None:
            return cls(path)
        schema_check.check(data, LOCK_SCHEMA, problems, _label)
        artifacts = data.get("artifacts") if isinstance(data, MarkedDict) else None
        entries: dict[str, LockEntry] = {}
        for key, entry in (artifacts if isinstance(artifacts, MarkedDict) else {}).items():
            if _check_key(key, artifacts.line_of(key), problems) and isinstance(entry, MarkedDict):
                sha512 = entry.get("sha512")
                origin = entry.get("origin", "pinned")
                entries[str(key)] = LockEntry(
                    entry.get("sha256"),
                    str(entry.get("filename", "")),
                    origin,
                    sha512,
                    entry.get("size"),
                    entry.get("built_on"),
                )
        problems.raise_if_any()
        return cls(path, entries)

    def get(self, artifact: Artifact) -> LockEntry | None:
        return self.entries.get(artifact.key)

    def check(self, artifact: Artifact, digest: str, what: str) -> None:
        """Refuse `digest` for `artifact` when the lock records another (LockConflict, exit 2)."""
        entry = self.get(artifact)
        if entry is None or entry.sha256 == digest:
            return
        raise LockConflict(
            f"{what} is not the {artifact.id} {artifact.version} this lab uses: {self.path} records SHA-256 "
            f"{entry.sha256} ({entry.origin}), this file has {digest}",
            fix=(
                f"use the file the lab was set up with; if this new file is the right one, delete the "
                f"'{artifact.key}' entry from {self.path}, then add it again"
            ),
        )

    def record(self, artifact: Artifact, digest: str, sha512: str | None = None, size: int | None = None) -> bool:
        """Record the digest and size of `artifact` (published when the matrix has it, else pinned); True if new.

        `sha512` is the published SHA-512 the caller checked the file against; it is kept in the entry. `size`: the
        file's bytes (every product caller gives it; it bounds later downloads where the matrix gives no size).
        """
        if artifact.key in self.entries:
            return False
        origin = "published" if artifact.sha256 == digest else "pinned"
        self.entries[artifact.key] = LockEntry(digest, artifact.filename, origin, sha512, size)
        self.changed = True
        return True

    def record_build(self, artifact: Artifact, digest: str, size: int, built_on: str) -> None:
        """Record a build archive (origin built). A build key names one set of inputs, so its archive is recorded
        once; a second archive of the same key (two runs that built it at once) is left to the first, which every
        Mac then installs."""
        if artifact.key not in self.entries:
            self.entries[artifact.key] = LockEntry(digest, artifact.filename, "built", None, size, built_on)
            self.changed = True

    def save(self) -> None:
        """Write atomically (temp file + rename) under an exclusive lock on the sibling `<name>.lock`, merged with
        what the file holds now: two processes saving entries for different artifacts (hosts of different builds,
        `cache fetch` beside a run) both keep theirs, and a crash never leaves a half-written lock."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with exclusive(self.path.with_name(self.path.name + ".lock")):
                if self.path.exists():  # what others saved since this lock was loaded stays; ours are added
                    self.entries = {**Lock.load(self.path).entries, **self.entries}
                write_text_atomically(self.path, self._text())
            self.changed = False
        except OSError as exc:
            raise EgpuError(
                f"cannot write lock file {self.path}: {exc}",
                fix="check that its directory is writable and has space, then run the command again",
            ) from None

    def _text(self) -> str:
        lines = [_HEADER.rstrip("\n"), f"lock_version: {LOCK_VERSION}", "artifacts:" + ("" if self.entries else " {}")]
        for key in sorted(self.entries):
            entry = self.entries[key]
            sha512 = f", sha512: {entry.sha512}" if entry.sha512 else ""
            size = f", size: {entry.size}" if entry.size is not None else ""
            built_on = f", built_on: {json.dumps(entry.built_on)}" if entry.built_on else ""
            lines.append(
                f"  {key}: {{sha256: {entry.sha256}, filename: {json.dumps(entry.filename)}, origin: {entry.origin}"
                f"{sha512}{size}{built_on}}}"
            )
        return "\n".join(lines) + "\n"
