"""Which artifact a hand-fetched file is: by a published SHA-256 or SHA-512, the lock, else its name (`cache add`)."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path

from egpu_setup.cache.lock import Lock
from egpu_setup.errors import EgpuError
from egpu_setup.matrix.matrix import Matrix
from egpu_setup.matrix.model import ARTIFACT_IDS, Artifact


@dataclass(frozen=True)
class Identified:
    artifact: Artifact
    how: str  # "published checksum", "lock file", "file name", "--as"


def identify(
    matrix: Matrix,
    path: Path,
    digest: str,
    lock: Lock | None = None,
    as_: str | None = None,
    sha512: str | None = None,
) -> Identified:
    """`digest` is the file's SHA-256; `sha512` its SHA-512, matched against artifacts that publish one."""
    candidates = _candidates(matrix, as_)
    by_sum = [a for a in candidates if a.sha256 == digest or (sha512 is not None and a.sha512 == sha512)]
    if len(by_sum) == 1:
        return Identified(by_sum[0], "published checksum")
    if lock is not None:
        by_lock = [a for a in candidates if (entry := lock.get(a)) and entry.sha256 == digest]
        if len(by_lock) == 1:
            return Identified(by_lock[0], f"checksum in {lock.path}")
    name = path.name
    by_name = [
        a for a in candidates if name == a.filename or any(fnmatch.fnmatch(name, p) for p in a.filename_patterns)
    ]
    if not by_name and as_ is not None:
        if len(candidates) > 1:
            raise EgpuError(f"--as {as_} names {len(candidates)} versions", fix=f"use --as {as_.split('@')[0]}@VERSION")
        by_name = candidates  # a renamed file, named by the user
    if len(by_name) > 1:
        keys = ", ".join(a.key for a in by_name)
        raise EgpuError(f"{name} could be any of {keys}", fix="say which with --as ID@VERSION")
    if not by_name:
        manual = ", ".join(sorted({a.filename for a in matrix.artifacts.values() if not a.url}))
        raise EgpuError(
            f"{path} matches no artifact of the matrix: neither its SHA-256 {digest} nor its name",
            fix=f"check the file; files added by hand are usually {manual}; a renamed file needs --as ID@VERSION",
        )
    artifact = by_name[0]
    if artifact.sha256 and artifact.sha256 != digest:
        raise EgpuError(
            f"{path} is named like {artifact.id} {artifact.version}, but its SHA-256 is {digest}, not the published "
            f"{artifact.sha256}",
            fix="the file is corrupt or another release: download it again",
        )
    if artifact.sha512 and sha512 is not None and artifact.sha512 != sha512:
        raise EgpuError(
            f"{path} is named like {artifact.id} {artifact.version}, but its SHA-512 is {sha512}, not the published "
            f"{artifact.sha512}",
            fix="the file is corrupt or another release: download it again",
        )
    return Identified(artifact, "--as" if as_ and name != artifact.filename else "file name")


def _candidates(matrix: Matrix, as_: str | None) -> list[Artifact]:
    artifacts = list(matrix.artifacts.values())
    if as_ is None:
        return artifacts
    artifact_id, _, version = as_.partition("@")
    if artifact_id not in ARTIFACT_IDS:
        raise EgpuError(f"--as {as_}: unknown artifact id {artifact_id!r}", fix=f"use one of {', '.join(ARTIFACT_IDS)}")
    chosen = [a for a in artifacts if a.id == artifact_id and (not version or a.version == version)]
    if not chosen:
        raise EgpuError(
            f"--as {as_}: the matrix has no such artifact", fix=f"versions: {', '.join(matrix.versions(artifact_id))}"
        )
    return chosen
