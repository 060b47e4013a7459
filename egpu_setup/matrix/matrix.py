"""The compatibility matrix: loading (with an optional overlay), lookups, and the entry to the resolver.

Matrix file: `egpu_setup/matrix/data/matrix.yaml` (schema in docs/matrix.md).

Overlay file (YAML, partial, same field names as the matrix's `artifacts` entries)::

    schema_version: 1            # optional
    artifacts:
      - id: webdriver            # id + version pick the matrix entry ...
        version: 387.10.10.10.25.156
        url: file:///srv/lab/mirror/WebDriver-387.10.10.10.25.156.pkg   # ... and these fields replace its own
        sha256: 0f1e...          # 64 hex digits, or null

Any artifact field but `id` and `version` may be replaced (url, sha256, filename, filename_patterns, size, ...).
An overlay cannot add artifacts, builds or profiles: an entry naming an id + version the matrix lacks is an error
with the overlay's file and line. The rehearsal lab writes one with its stand-ins' file:// URLs and SHA-256.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from egpu_setup.errors import EgpuError
from egpu_setup.matrix import schema_check
from egpu_setup.matrix.marked_yaml import MarkedDict, MarkedList, load_marked
from egpu_setup.matrix.model import ARTIFACT_IDS, Artifact, Gpu, Link, MacosBuild, Profile
from egpu_setup.matrix.validate import MATRIX_SCHEMA, Problems, check_wheel, clean, validate_matrix

if TYPE_CHECKING:
    from egpu_setup.matrix.resolver import Resolution

DATA_FILE = Path(__file__).parent / "data" / "matrix.yaml"


@dataclass
class Matrix:
    builds: dict[str, MacosBuild]
    artifacts: dict[tuple[str, str], Artifact]
    gpus: dict[str, Gpu]
    links: dict[str, Link]
    profiles: dict[str, Profile]
    path: Path
    overlay: Path | None = None

    # --- lookups -------------------------------------------------------------------------------------------------

    def artifact(self, artifact_id: str, version: str) -> Artifact:
        try:
            return self.artifacts[(artifact_id, version)]
        except KeyError:
            listed = ", ".join(self.versions(artifact_id)) or "none"
            raise EgpuError(
                f"the matrix has no {artifact_id} {version}", fix=f"use one of the listed versions: {listed}"
            ) from None

    def versions(self, artifact_id: str) -> list[str]:
        return [version for (aid, version) in self.artifacts if aid == artifact_id]

    def profile(self, name: str) -> Profile:
        if name not in self.profiles:
            raise EgpuError(f"unknown profile {name!r}", fix=f"use one of: {', '.join(self.profiles)}")
        return self.profiles[name]

    def gpu(self, key_or_device_id: str | int) -> Gpu:
        """A GPU by matrix key (`gtx1080`), by PCI device id (0x1b80, "0x1b80", "1b80") or by name."""
        if isinstance(key_or_device_id, int):
            wanted: int | None = key_or_device_id
        else:
            text = key_or_device_id.strip().lower()
            if text in self.gpus:
                return self.gpus[text]
            for gpu in self.gpus.values():
                if gpu.name.lower() in (text, f"nvidia {text}") or gpu.name.lower().replace(" ", "") == text:
                    return gpu
            try:
                wanted = int(text.removeprefix("0x"), 16)
            except ValueError:
                wanted = None
        for gpu in self.gpus.values():
            if gpu.pci_device_id == wanted:
                return gpu
        raise EgpuError(
            f"GPU {key_or_device_id!r} is not in the matrix",
            fix=f"use one of {', '.join(self.gpus)} (or its PCI device id), or give its compute capability "
            "instead (`egpu-setup matrix --compute-capability X.Y`); "
            "a Mac's GPU that the matrix lacks can be added in a matrix overlay (egpu_matrix_overlay)",
        )

    def link(self, key: str) -> Link:
        if key not in self.links:
            raise EgpuError(f"link {key!r} is not in the matrix", fix=f"use one of: {', '.join(self.links)}")
        return self.links[key]

    def profile_artifacts(self, profile: str = "default") -> list[Artifact]:
        """Every artifact a profile names with a fixed version (for `cache fetch` without a build).

        A profile that picks per build (`native`, `auto`) cannot say without one: that is an EgpuError.
        """
        chosen = self.profile(profile)
        out = []
        for artifact_id in ARTIFACT_IDS:
            version = chosen.picks[artifact_id]
            fixed_webdriver = self.artifacts.get(("webdriver", chosen.picks["webdriver"]))
            if artifact_id == "egpu_support" and version == "auto" and fixed_webdriver is not None:
                from egpu_setup.matrix.resolver import pick_egpu_support

                out.append(pick_egpu_support(self, version, fixed_webdriver, profile))  # the driver decides it
                continue
            if (artifact_id, version) not in self.artifacts:
                raise EgpuError(
                    f"profile {profile} picks {artifact_id} per macOS build ({version})",
                    fix="name the build, as `sw_vers -buildVersion` prints it on the Mac: "
                    "`egpu-setup matrix --build 17C88` or `egpu-setup cache fetch --build 17C88`",
                )
            out.append(self.artifacts[(artifact_id, version)])
        return out

    # --- resolution ----------------------------------------------------------------------------------------------

    def resolve(
        self,
        build: str,
        profile: str = "default",
        gpu: str | int | None = None,
        compute_capability: str | None = None,
        allow_nearest: bool = False,
    ) -> Resolution:
        from egpu_setup.matrix.resolver import resolve

        return resolve(self, build, profile, gpu, compute_capability, allow_nearest)

    def to_dict(self) -> dict[str, Any]:
        return {
            "matrix": str(self.path),
            "overlay": str(self.overlay) if self.overlay else None,
            "links": {key: link.to_dict() for key, link in self.links.items()},
            "gpus": {key: gpu.to_dict() for key, gpu in self.gpus.items()},
            "macos_builds": [build.to_dict() for build in self.builds.values()],
            "artifacts": [artifact.to_dict() for artifact in self.artifacts.values()],
            "profiles": {name: profile.to_dict() for name, profile in self.profiles.items()},
        }


def load_matrix(overlay: Path | None = None, path: Path | None = None) -> Matrix:
    """Load and validate the matrix (the packaged one unless `path`), then apply `overlay` if given.

    Any problem is an EgpuError (exit 2) naming the file and line.
    """
    path = path or DATA_FILE
    # The packaged matrix is checked against its schema wherever jsonschema is (the controller, the tests); a Mac's
    # tools venv has no jsonschema and reads the same bytes, so it runs the Python checks only.
    schema = path != DATA_FILE or schema_check.available()
    validated = validate_matrix(load_marked(path, "matrix"), path, schema=schema)
    matrix = Matrix(
        builds=validated.builds,
        artifacts=validated.artifacts,
        gpus=validated.gpus,
        links=validated.links,
        profiles=validated.profiles,
        path=path,
    )
    if overlay is not None:
        _apply_overlay(matrix, Path(overlay))
    return matrix


def _apply_overlay(matrix: Matrix, path: Path) -> None:
    data = load_marked(path, "matrix overlay")
    problems = Problems(path, "matrix overlay")
    if not isinstance(data, MarkedDict):
        problems.add(getattr(data, "line", 1), "an overlay must be a mapping with an 'artifacts' list")
        problems.raise_if_any()
    for key in data:
        if key not in ("schema_version", "artifacts"):
            problems.add(data.line_of(key), f"an overlay may carry only 'artifacts' (and schema_version), not {key!r}")
    entries = data.get("artifacts", MarkedList())
    if not isinstance(entries, MarkedList):
        problems.add(data.line_of("artifacts"), "'artifacts' must be a list")
        entries = MarkedList()
    replaced: dict[tuple[str, str], Artifact] = {}
    for index, entry in enumerate(entries):
        line = entries.line_of(index)
        if not isinstance(entry, MarkedDict) or "id" not in entry or "version" not in entry:
            problems.add(line, f"artifacts[{index}] must be a mapping with id and version")
            continue
        artifact_id, version = entry["id"], str(entry["version"])
        if artifact_id not in ARTIFACT_IDS:
            problems.add(
                entry.line_of("id"), f"artifacts[{index}]: id {artifact_id!r} is not one of {', '.join(ARTIFACT_IDS)}"
            )
            continue
        base = matrix.artifacts.get((artifact_id, version))
        if base is None:
            problems.add(line, f"{artifact_id} {version} is not in the matrix; an overlay only replaces fields")
            continue
        # The entry's fields against the artifact schema, none required: `version` as the matrix names it.
        checked = MarkedDict({**entry, "version": version})
        checked.line, checked.key_lines = entry.line, entry.key_lines
        found = len(problems.items)
        label = f"{artifact_id} {version}: "
        schema_check.check(checked, MATRIX_SCHEMA, problems, lambda _path, label=label: label, "#/$defs/artifact", True)
        if len(problems.items) > found:
            continue
        changes = {k: v for k, v in clean(checked).items() if k not in ("id", "version")}
        merged = {**base.fields, **changes}
        if artifact_id == "numpy":
            check_wheel(merged, f"{artifact_id} {version}", entry, problems)
        replaced[(artifact_id, version)] = Artifact(merged, source=f"{path}:{line}")
    problems.raise_if_any()
    matrix.artifacts.update(replaced)
    matrix.overlay = path
