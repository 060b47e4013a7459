"""How the controller names a build archive: in the cache and the lock file it is the artifact
`<name>_build@<version>+<build key>` (lock entries with origin `built`)."""

from __future__ import annotations

from egpu_setup.matrix.model import Artifact

# The builds a lab makes itself, beside the matrix's downloaded artifacts (the lock file accepts these ids).
BUILD_NAMES: tuple[str, ...] = ("mxnet",)


def build_id(name: str) -> str:
    return f"{name}_build"


BUILD_IDS: tuple[str, ...] = tuple(build_id(name) for name in BUILD_NAMES)


def build_artifact(name: str, version: str, key: str) -> Artifact:
    """The artifact of the archive that builds `name` `version` for the build key `key`."""
    return Artifact(
        {"id": build_id(name), "version": f"{version}+{key}", "filename": f"{name}-{version}-{key[:12]}.tar.gz"}
    )
