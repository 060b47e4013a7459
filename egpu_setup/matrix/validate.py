"""Checking the matrix YAML (and overlays) entry by entry, each problem reported as `file:line: what is wrong`.

The shape of every entry (fields, their kinds, unknown fields refused so that a misspelt one cannot be silently
ignored) is the JSON Schema `matrix.schema.json`, run by schema_check. What a schema cannot say is here, run on a
document that met it: cross-references (a build naming a driver that is not listed, a profile naming a version that
does not exist), entries listed twice, a build number against its product version, a wheel's name and Python.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from egpu_setup.errors import EgpuError
from egpu_setup.matrix import schema_check
from egpu_setup.matrix.builds import parse_build
from egpu_setup.matrix.marked_yaml import MarkedDict, MarkedList
from egpu_setup.matrix.model import ARTIFACT_IDS, DEFAULT_GPU, Artifact, Gpu, Link, MacosBuild, Profile

MATRIX_SCHEMA = Path(__file__).with_name("matrix.schema.json")
# A digest's form is defined once, in digests.schema.json (the matrix, the lock file and the cache index use it).
_DIGESTS = schema_check.load_schema(schema_check.DIGESTS_SCHEMA)["$defs"]
SHA256_HEX = re.compile(_DIGESTS["sha256"]["pattern"])
SHA512_HEX = re.compile(_DIGESTS["sha512"]["pattern"])


class Problems:
    """Collects `file:line: message` problems; `raise_if_any` turns them into one EgpuError (exit 2)."""

    def __init__(self, path: Path, what: str) -> None:
        self.path = path
        self.what = what
        self.items: list[str] = []

    def add(self, line: int, message: str) -> None:
        self.items.append(f"{self.path}:{line}: {message}")

    def raise_if_any(self) -> None:
        if not self.items:
            return
        shown = self.items[:20]
        more = f"\n  ... and {len(self.items) - 20} more" if len(self.items) > 20 else ""
        first_line = shown[0].split(": ", 1)[0]
        raise EgpuError(
            f"{self.what} {self.path} is invalid:\n  " + "\n  ".join(shown) + more,
            fix=f"correct the entries named above (first: {first_line}); docs/matrix.md describes the schema",
        )


_NAMED_BY_KEY = {"links": "link", "gpus": "gpu", "profiles": "profile"}


def _label(data: MarkedDict) -> Callable[[tuple[Any, ...]], str]:
    """Problems inside an entry start with what names it: 'artifact cuda_driver 387.128: ', 'gpu gtx1080: '."""

    def label(path: tuple[Any, ...]) -> str:
        if len(path) < 2:
            return ""
        section, key = path[0], path[1]
        entry = data.get(section)[key]  # the path came from the schema's walk of `data`
        if section in _NAMED_BY_KEY:
            return f"{_NAMED_BY_KEY[section]} {key}: "
        if section == "macos_builds":
            return f"build {entry.get('build', key) if isinstance(entry, dict) else key}: "
        if isinstance(entry, dict) and isinstance(entry.get("id"), str):
            return f"artifact {entry['id']} {entry.get('version', '?')}: "
        return f"artifacts[{key}]: "

    return label


def _plain(value: Any) -> Any:
    """A checked value without its YAML marks (records hold plain dicts and lists)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


# Fields (and profile picks) the schema checks as versions: YAML reads 387 as an integer, the records hold "387".
_VERSION_FIELDS = ("version", "cuda", "webdrivers", *ARTIFACT_IDS)


def clean(entry: dict[Any, Any]) -> dict[str, Any]:
    """A schema-checked entry as the records hold it: plain values, integer versions made strings."""
    fields = _plain(entry)
    for name in _VERSION_FIELDS:
        value = fields.get(name)
        if isinstance(value, int):
            fields[name] = str(value)
        elif isinstance(value, list):
            fields[name] = [str(item) if isinstance(item, int) else item for item in value]
    return fields


@dataclass
class Validated:
    """What the validator hands to Matrix: the checked records (each Artifact keeps its entry's 'file:line')."""

    builds: dict[str, MacosBuild] = field(default_factory=dict)
    artifacts: dict[tuple[str, str], Artifact] = field(default_factory=dict)
    gpus: dict[str, Gpu] = field(default_factory=dict)
    links: dict[str, Link] = field(default_factory=dict)
    profiles: dict[str, Profile] = field(default_factory=dict)


def validate_matrix(data: Any, path: Path, *, schema: bool = True) -> Validated:
    """The checked records of a matrix document; `schema=False` skips the JSON Schema (only for the packaged
    matrix where jsonschema cannot be imported: the Mac's tools venv, whose copy the controller's tests checked)."""
    problems = Problems(path, "matrix")
    if schema:
        schema_check.check(data, MATRIX_SCHEMA, problems, _label(data))
    problems.raise_if_any()  # the checks below read a document of the schema's shape
    out = Validated()
    for key, entry in data["links"].items():
        out.links[key] = Link(key, clean(entry))
    for key, entry in data["gpus"].items():
        out.gpus[key] = Gpu(key=key, **clean(entry))
    artifacts = data["artifacts"]
    for index, entry in enumerate(artifacts):
        fields, line = clean(entry), artifacts.line_of(index)
        label = f"artifact {fields['id']} {fields['version']}"
        key = (fields["id"], fields["version"])
        if key in out.artifacts:
            problems.add(line, f"{label}: listed twice (first at {out.artifacts[key].source})")
            continue
        out.artifacts[key] = Artifact(fields, source=f"{path}:{line}")
        if fields["id"] == "numpy":
            check_wheel(fields, label, entry, problems)
    _validate_builds(data["macos_builds"], out, problems)
    _validate_profiles(data["profiles"], out, problems)
    problems.raise_if_any()
    return out


def _validate_builds(builds: MarkedList, out: Validated, problems: Problems) -> None:
    """Each build's number agrees with its product version, is listed once, and names listed web drivers."""
    for index, entry in enumerate(builds):
        fields, line = clean(entry), builds.line_of(index)
        label = f"build {fields['build']}"
        build = MacosBuild(
            build=fields["build"],
            product_version=fields["product_version"],
            webdrivers=tuple(fields["webdrivers"]),
            confidence=fields["confidence"],
            note=fields.get("note"),
        )
        parsed = parse_build(build.build)
        if parsed and parsed.product_version != build.product_version:
            problems.add(
                entry.line_of("product_version"),
                f"{label}: product_version {build.product_version} disagrees with the build number, "
                f"which says {parsed.product_version}",
            )
        if build.build in out.builds:
            problems.add(line, f"{label}: listed twice")
        for driver in build.webdrivers:
            if ("webdriver", driver) not in out.artifacts:
                problems.add(entry.line_of("webdrivers"), f"{label}: web driver {driver} has no artifacts entry")
        out.builds[build.build] = build
    for (artifact_id, version), artifact in out.artifacts.items():
        if artifact_id == "webdriver" and artifact.built_for not in out.builds:
            line = int(artifact.source.rsplit(":", 1)[1])
            problems.add(line, f"artifact webdriver {version}: built_for {artifact.built_for} is not in macos_builds")


def check_wheel(fields: dict[str, Any], label: str, entry: MarkedDict, problems: Problems) -> None:
    """A wheel's file name says what it is (PEP 427): name-version-cpXY-cpXY-platform.whl, and pip installs it only
    under that name; PyPI publishes every file's SHA-256, so a wheel without one is a mistake in the entry."""
    if {"version", "python", "platform", "filename"} <= set(fields):
        tag = "cp" + fields["python"].replace(".", "")
        wanted = f"{fields['id']}-{fields['version']}-{tag}-{tag}-{fields['platform']}.whl"
        if fields["filename"] != wanted:
            problems.add(entry.line_of("filename"), f"{label}: filename must be the wheel's name {wanted}")
    if "sha256" in fields and fields["sha256"] is None:
        problems.add(entry.line_of("sha256"), f"{label}: sha256 is required: PyPI publishes it for every file")


# Profile values that are not versions: how the resolver picks per build.
PROFILE_RULES = {"webdriver": ("native",), "cuda_driver": ("auto",), "egpu_support": ("auto",)}


def _validate_profiles(profiles: MarkedDict, out: Validated, problems: Problems) -> None:
    """Each profile's picks name listed artifacts (or the word the resolver picks by), its gpu a listed GPU."""
    for name, entry in profiles.items():
        picks: dict[str, str] = {}
        for key, version in clean(entry).items():
            if key not in ARTIFACT_IDS:  # description, gpu
                continue
            if version not in PROFILE_RULES.get(key, ()) and (key, version) not in out.artifacts:
                listed = sorted(v for (i, v) in out.artifacts if i == key)
                problems.add(
                    entry.line_of(key),
                    f"profile {name}: {key} {version} is not in artifacts (listed: {', '.join(listed)})",
                )
                continue
            picks[key] = version
        _check_profile_python(name, entry, picks, out, problems)
        gpu = entry.get("gpu", DEFAULT_GPU)
        if gpu not in out.gpus:
            problems.add(entry.line_of("gpu"), f"profile {name}: gpu {gpu!r} is not in gpus")
        out.profiles[name] = Profile(name, str(entry.get("description", "")), picks, str(gpu))


def _check_profile_python(
    name: str, entry: MarkedDict, picks: dict[str, str], out: Validated, problems: Problems
) -> None:
    """The profile's numpy wheel must be built for the profile's Python (cp311 for Python 3.11.x)."""
    numpy = out.artifacts.get(("numpy", picks.get("numpy", "")))
    python3 = out.artifacts.get(("python3", picks.get("python3", "")))
    if numpy is None or python3 is None or "python" not in numpy.fields:
        return
    short = ".".join(python3.version.split(".")[:2])
    if numpy.fields["python"] != short:
        problems.add(
            entry.line_of("numpy"),
            f"profile {name}: numpy {numpy.version} is a wheel for Python {numpy.fields['python']}, "
            f"but the profile installs Python {python3.version}",
        )
