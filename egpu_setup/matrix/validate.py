"""Checking the matrix YAML (and overlays) entry by entry, each problem reported as `file:line: what is wrong`.

The checks are declarative: per section (and per artifact id) a table of field -> kind. Unknown keys are errors too,
so a misspelt field cannot be silently ignored. Cross-references (a build naming a driver that is not listed, a
profile naming a version that does not exist) are checked after the entries.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from egpu_setup.errors import EgpuError
from egpu_setup.matrix.builds import parse_build
from egpu_setup.matrix.marked_yaml import MarkedDict, MarkedList
from egpu_setup.matrix.model import ARTIFACT_IDS, DEFAULT_GPU, Artifact, Gpu, Link, MacosBuild, Profile

SCHEMA_VERSION = 1
CONFIDENCE = ("high", "medium", "low")
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")  # also what the lock file and the cache index accept
SHA512_HEX = re.compile(r"^[0-9a-f]{128}$")  # a published SHA-512 (egpu.io's enablers, Apache's releases)
_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.\-]*$")
_PRODUCT_VERSION = re.compile(r"^10\.13\.\d$")
_CC = re.compile(r"^\d\.\d$")
_URL = re.compile(r"^(https?|file)://\S+$")
_PYTHON = re.compile(r"^3\.\d+$")
# A wheel's platform tag that pip on High Sierra accepts: built for macOS 10.13 or earlier, Intel 64-bit.
_MAC_WHEEL_PLATFORM = re.compile(r"^macosx_10_(\d+)_x86_64$")
HIGH_SIERRA_MINOR = 13


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


# A kind checks one value; returns (cleaned value, None) or (None, "what is wrong").
Kind = Callable[[Any], tuple[Any, str | None]]


def _text(value: Any) -> tuple[Any, str | None]:
    return (value, None) if isinstance(value, str) and value.strip() else (None, "must be a non-empty string")


def _version(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, bool):
        return None, "must be a version string"
    if isinstance(value, float):
        return None, f'was read as the number {value!r}; quote it ("{value}") so that 9.10 and 9.1 stay different'
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, str) and _VERSION.match(value):
        return value, None
    return None, "must be a version like 9.1.128 (letters, digits, dots)"


def _build(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, str) and parse_build(value):
        return value, None
    return None, f"{value!r} is not a macOS build number like 17C88"


def _product_version(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, str) and _PRODUCT_VERSION.match(value):
        return value, None
    return None, f"{value!r} is not a High Sierra product version (10.13.0 ... 10.13.6)"


def _sha256(value: Any) -> tuple[Any, str | None]:
    if value is None:
        return None, None
    if isinstance(value, str) and SHA256_HEX.match(value):
        return value, None
    return None, "must be 64 lower-case hex digits, or null when no checksum is published"


def _sha512(value: Any) -> tuple[Any, str | None]:
    if value is None:
        return None, None
    if isinstance(value, str) and SHA512_HEX.match(value):
        return value, None
    return None, "must be 128 lower-case hex digits, or null when no SHA-512 is published"


def _url(value: Any) -> tuple[Any, str | None]:
    if value is None:
        return None, None
    if isinstance(value, str) and _URL.match(value):
        return value, None
    return None, "must be an http://, https:// or file:// URL, or null when the file is fetched by hand"


def _confidence(value: Any) -> tuple[Any, str | None]:
    return (value, None) if value in CONFIDENCE else (None, f"must be one of {', '.join(CONFIDENCE)}")


def _int(value: Any) -> tuple[Any, str | None]:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return (value, None) if ok else (None, "must be a whole number")


def _number(value: Any) -> tuple[Any, str | None]:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
    return (value, None) if ok else (None, "must be a number")


def _compute_capability(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, str) and _CC.match(value):
        return value, None
    return None, 'must be a quoted compute capability like "6.1"'


def _list_of(kind: Kind, allow_scalar: bool = False) -> Kind:
    def check(value: Any) -> tuple[Any, str | None]:
        if allow_scalar and not isinstance(value, list):
            value = [value]
        if not isinstance(value, list) or not value:
            return None, "must be a non-empty list"
        cleaned = []
        for item in value:
            good, problem = kind(item)
            if problem:
                return None, f"item {item!r}: {problem}"
            cleaned.append(good)
        return cleaned, None

    return check


def _receipt(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, dict) and set(value) == {"id", "version"} and all(isinstance(v, str) for v in value.values()):
        return {"id": value["id"], "version": value["version"]}, None
    return None, "must be {id: <package id>, version: <receipt version>} (both strings)"


def _python(value: Any) -> tuple[Any, str | None]:
    if isinstance(value, str) and _PYTHON.match(value):
        return value, None
    return None, 'must be a quoted Python major.minor like "3.11"'


def _wheel_platform(value: Any) -> tuple[Any, str | None]:
    match = _MAC_WHEEL_PLATFORM.match(value) if isinstance(value, str) else None
    if match and int(match.group(1)) <= HIGH_SIERRA_MINOR:
        return value, None
    return None, (
        f"{value!r} is not a wheel platform tag pip accepts on macOS 10.13: macosx_10_N_x86_64 with N <= "
        f"{HIGH_SIERRA_MINOR} (a wheel built for a later macOS does not install on High Sierra)"
    )


def _mxnet_build(value: Any) -> tuple[Any, str | None]:
    if not isinstance(value, dict) or set(value) != {"base_config", "config"}:
        return None, "must be {base_config: make/osx.mk, config: {NAME: value, ...}}"
    config = value["config"]
    if not isinstance(config, dict) or not all(isinstance(v, str) for v in config.values()):
        return None, "config must map make variables to quoted string values"
    return {"base_config": str(value["base_config"]), "config": dict(config)}, None


# Fields of every artifact entry: name -> (kind, required).
_COMMON: dict[str, tuple[Kind, bool]] = {
    "id": (_text, True),
    "version": (_version, True),
    "filename": (_text, True),
    "url": (_url, True),
    "sha256": (_sha256, True),
    "sha512": (_sha512, False),
    "confidence": (_confidence, True),
    "filename_patterns": (_list_of(_text), False),
    "download_page": (_url, False),
    "size": (_int, False),
    "note": (_text, False),
}

# Fields specific to each artifact id.
_BY_ID: dict[str, dict[str, tuple[Kind, bool]]] = {
    "webdriver": {"built_for": (_build, True)},
    # builds: the macOS builds the package was made for (its required-bundles name their web drivers' kexts);
    # package: the .pkg at the top of the zip that egpu.io publishes.
    "egpu_support": {"builds": (_list_of(_build), True), "package": (_text, True)},
    "cuda_driver": {
        "webdriver_major": (_int, True),
        "cuda": (_list_of(_version), True),
        "product_versions": (_list_of(_product_version), True),
    },
    "cuda_toolkit": {"cuda": (_version, True)},
    "cudnn": {"cuda": (_version, True)},
    "clt": {"llvm_version": (_text, True), "clang_build": (_text, True), "receipt": (_receipt, True)},
    "python3": {},
    "mxnet_source": {"build": (_mxnet_build, True)},
    # A wheel from PyPI: `python` is the CPython it is built for (cp311), `platform` its platform tag.
    "numpy": {"python": (_python, True), "platform": (_wheel_platform, True)},
}

_GPU_FIELDS: dict[str, tuple[Kind, bool]] = {
    "name": (_text, True),
    "pci_device_id": (_int, True),
    "compute_capability": (_compute_capability, True),
    "cuda_cores": (_int, True),
    "boost_clock_mhz": (_int, True),
    "fp32_gflops": (_int, True),
    "memory_gb": (_int, True),
    "memory_bandwidth_gbs": (_int, True),
    "confidence": (_confidence, True),
}

_LINK_FIELDS: dict[str, tuple[Kind, bool]] = {
    "name": (_text, True),
    "pcie": (_text, True),
    "bandwidth_gbs": (_number, True),
    "reported_h2d_gbs": (_list_of(_number), False),
    "confidence": (_confidence, True),
}

_BUILD_FIELDS: dict[str, tuple[Kind, bool]] = {
    "build": (_build, True),
    "product_version": (_product_version, True),
    "webdrivers": (_list_of(_version), True),
    "confidence": (_confidence, True),
    "note": (_text, False),
}

_TOP_LEVEL = ("schema_version", "links", "gpus", "macos_builds", "artifacts", "profiles")


def check_fields(
    entry: MarkedDict, spec: dict[str, tuple[Kind, bool]], problems: Problems, label: str, partial: bool = False
) -> dict[str, Any]:
    """Check `entry` against `spec`; returns the cleaned fields (problems are added, not raised)."""
    cleaned: dict[str, Any] = {}
    for name, value in entry.items():
        if name not in spec:
            known = ", ".join(spec)
            problems.add(entry.line_of(name), f"{label}: unknown field {name!r} (known: {known})")
            continue
        kind, _required = spec[name]
        good, problem = kind(value)
        if problem:
            problems.add(entry.line_of(name), f"{label}: {name} {problem}")
        else:
            cleaned[name] = good
    if not partial:
        for name, (_kind, required) in spec.items():
            if required and name not in entry:
                problems.add(entry.line, f"{label}: missing field {name!r}")
    return cleaned


def artifact_spec(artifact_id: str) -> dict[str, tuple[Kind, bool]]:
    return {**_COMMON, **_BY_ID.get(artifact_id, {})}


def _section(data: MarkedDict, name: str, kind: type, problems: Problems) -> Any:
    value = data.get(name)
    if not isinstance(value, kind):
        expected = "a list" if kind is MarkedList else "a mapping"
        problems.add(data.line_of(name), f"top-level {name!r} must be {expected}")
        return kind()
    return value


@dataclass
class Validated:
    """What the validator hands to Matrix: the checked records (each Artifact keeps its entry's 'file:line')."""

    builds: dict[str, MacosBuild] = field(default_factory=dict)
    artifacts: dict[tuple[str, str], Artifact] = field(default_factory=dict)
    gpus: dict[str, Gpu] = field(default_factory=dict)
    links: dict[str, Link] = field(default_factory=dict)
    profiles: dict[str, Profile] = field(default_factory=dict)


def validate_matrix(data: Any, path: Path) -> Validated:
    problems = Problems(path, "matrix")
    out = Validated()
    if not isinstance(data, MarkedDict):
        problems.add(getattr(data, "line", 1), "the matrix must be a YAML mapping with " + ", ".join(_TOP_LEVEL))
        problems.raise_if_any()
    for key in data:
        if key not in _TOP_LEVEL:
            problems.add(data.line_of(key), f"unknown top-level key {key!r} (known: {', '.join(_TOP_LEVEL)})")
    if data.get("schema_version") != SCHEMA_VERSION:
        problems.add(data.line_of("schema_version"), f"schema_version must be {SCHEMA_VERSION}")

    for key, entry in _section(data, "links", MarkedDict, problems).items():
        if not isinstance(entry, MarkedDict):
            problems.add(data["links"].line_of(key), f"link {key!r} must be a mapping")
            continue
        out.links[key] = Link(key, check_fields(entry, _LINK_FIELDS, problems, f"link {key}"))

    for key, entry in _section(data, "gpus", MarkedDict, problems).items():
        if not isinstance(entry, MarkedDict):
            problems.add(data["gpus"].line_of(key), f"gpu {key!r} must be a mapping")
            continue
        fields = check_fields(entry, _GPU_FIELDS, problems, f"gpu {key}")
        if len(fields) == len(_GPU_FIELDS):
            out.gpus[key] = Gpu(key=key, **fields)

    artifacts = _section(data, "artifacts", MarkedList, problems)
    for index, entry in enumerate(artifacts):
        line = artifacts.line_of(index)
        if not isinstance(entry, MarkedDict):
            problems.add(line, f"artifacts[{index}] must be a mapping")
            continue
        artifact_id = entry.get("id")
        if artifact_id not in ARTIFACT_IDS:
            problems.add(
                entry.line_of("id"), f"artifacts[{index}]: id {artifact_id!r} is not one of {', '.join(ARTIFACT_IDS)}"
            )
            continue
        label = f"artifact {artifact_id} {entry.get('version', '?')}"
        fields = check_fields(entry, artifact_spec(artifact_id), problems, label)
        if "version" not in fields:
            continue
        key = (artifact_id, fields["version"])
        if key in out.artifacts:
            problems.add(line, f"{label}: listed twice (first at {out.artifacts[key].source})")
            continue
        out.artifacts[key] = Artifact(fields, source=f"{path}:{line}")
        if artifact_id == "numpy":
            check_wheel(fields, label, entry, problems)

    builds = _section(data, "macos_builds", MarkedList, problems)
    for index, entry in enumerate(builds):
        line = builds.line_of(index)
        if not isinstance(entry, MarkedDict):
            problems.add(line, f"macos_builds[{index}] must be a mapping")
            continue
        label = f"build {entry.get('build', index)}"
        fields = check_fields(entry, _BUILD_FIELDS, problems, label)
        if {"build", "product_version", "webdrivers", "confidence"} - set(fields):
            continue
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

    _validate_profiles(data, out, problems)
    problems.raise_if_any()
    return out


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


def _validate_profiles(data: MarkedDict, out: Validated, problems: Problems) -> None:
    profiles = _section(data, "profiles", MarkedDict, problems)
    if "default" not in profiles:
        problems.add(profiles.line or data.line_of("profiles"), "profiles must include 'default'")
    for name, entry in profiles.items():
        if not isinstance(entry, MarkedDict):
            problems.add(profiles.line_of(name), f"profile {name!r} must be a mapping")
            continue
        picks: dict[str, str] = {}
        for key, value in entry.items():
            line = entry.line_of(key)
            if key in ("description", "gpu"):
                if not isinstance(value, str):
                    problems.add(line, f"profile {name}: {key} must be a string")
                continue
            if key not in ARTIFACT_IDS:
                problems.add(line, f"profile {name}: unknown key {key!r} (artifact ids: {', '.join(ARTIFACT_IDS)})")
                continue
            version, problem = _version(value)
            if problem:
                problems.add(line, f"profile {name}: {key} {problem}")
                continue
            if version not in PROFILE_RULES.get(key, ()) and (key, version) not in out.artifacts:
                listed = sorted(v for (i, v) in out.artifacts if i == key)
                problems.add(line, f"profile {name}: {key} {version} is not in artifacts (listed: {', '.join(listed)})")
                continue
            picks[key] = version
        for required in ARTIFACT_IDS:
            if required not in entry:
                problems.add(entry.line, f"profile {name}: missing {required!r}")
        _check_profile_python(name, entry, picks, out, problems)
        gpu = entry.get("gpu", DEFAULT_GPU)
        if isinstance(gpu, str) and gpu not in out.gpus:  # a non-string was reported above
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
