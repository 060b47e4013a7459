"""A product archive's `<volume-check>`, read on the controller so a role can refuse before Installer does.

Installer refuses a package whose volume-check fails with two terse lines (`Cannot install on volume / because it
is disabled.` and a reason); reading the same requirements first lets a role name the bundle, the version it has
and the one it needs, and say what to do. The rules are those of Apple's Distribution XML Reference
(developer.apple.com/library/archive/documentation/DeveloperTools/Reference/DistributionDefinitionRef):
- `<allowed-os-versions>`: the OS must fall into one of its `<os-version min= before=>` ranges (min inclusive,
  before exclusive);
- `<required-bundles all=>` (default all): "bundles that must be already installed on the system"; a version on a
  `<bundle>` (CFBundleShortVersionString, CFBundleVersion) "is interpreted as the minimum supported version";
  `path` is relative to the target volume; `search="true"` lets Installer look the identifier up elsewhere.
The volume-check's `script` attribute (JavaScript) is not evaluated here; Installer still runs it. Versions compare
number by number (assumed; Apple does not say). Standard library only.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Bundle:
    id: str
    path: str  # absolute on the target volume /
    short_version: str | None
    version: str | None
    search: bool

    @property
    def info_plist(self) -> str:
        return self.path.rstrip("/") + "/Contents/Info.plist"

    @property
    def name(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[-1]


@dataclass
class Requirements:
    os_ranges: list[tuple[str, str | None]] = field(default_factory=list)
    bundles: list[Bundle] = field(default_factory=list)
    all_bundles: bool = True
    description: str | None = None


def _key(version: str) -> tuple[tuple[int, int | str], ...]:
    parts = [(0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"[.\-]", version.strip()) if p]
    while parts and parts[-1] == (0, 0):
        parts.pop()
    return tuple(parts)


def parse(distribution: str | bytes) -> Requirements | None:
    """The volume-check's requirements, or None when the Distribution has no volume-check (or is not XML)."""
    try:
        root = ET.fromstring(distribution)
    except ET.ParseError:
        return None
    check = root.find("volume-check")
    if check is None:
        return None
    req = Requirements()
    allowed = check.find("allowed-os-versions")
    if allowed is not None:
        req.os_ranges = [(v.get("min") or "0", v.get("before")) for v in allowed.findall("os-version")]
    required = check.find("required-bundles")
    if required is not None:
        req.all_bundles = (required.get("all") or "true").strip().lower() != "false"
        req.description = required.get("description")
        for b in required.findall("bundle"):
            req.bundles.append(
                Bundle(
                    id=b.get("id") or "",
                    path="/" + (b.get("path") or "").lstrip("/"),
                    short_version=b.get("CFBundleShortVersionString"),
                    version=b.get("CFBundleVersion"),
                    search=(b.get("search") or "false").strip().lower() == "true",
                )
            )
    return req


def _bundle_problem(bundle: Bundle, info: Mapping[str, Any] | None) -> str | None:
    if info is None or str(info.get("CFBundleIdentifier", "")) != bundle.id:
        where = "" if not bundle.search else " (Installer may also find it elsewhere by its identifier)"
        return f"{bundle.name} ({bundle.id}) is not installed at {bundle.path}{where}"
    for key, wanted in (("CFBundleShortVersionString", bundle.short_version), ("CFBundleVersion", bundle.version)):
        if wanted is None:
            continue
        have = str(info.get(key, ""))
        if not have or _key(have) < _key(wanted):
            return f"{bundle.name} ({bundle.id}) has {key} {have or '(none)'}; the package needs {wanted} or later"
    return None


def problems(
    req: Requirements, product_version: str | None, read_info: Callable[[str], Mapping[str, Any] | None]
) -> list[str]:
    """What keeps the package from passing its volume-check on this Mac (empty: it passes, script aside).

    `read_info(path)` returns the parsed Info.plist at `path` (a bundle's Contents/Info.plist), or None.
    """
    out: list[str] = []
    if req.os_ranges and product_version:
        have = _key(product_version)
        if not any(_key(low) <= have and (high is None or have < _key(high)) for low, high in req.os_ranges):
            ranges = ", ".join(f"{low} or later" + (f", before {high}" if high else "") for low, high in req.os_ranges)
            out.append(f"macOS {product_version} is outside the versions it allows ({ranges})")
    if req.bundles:
        missing = [p for p in (_bundle_problem(b, read_info(b.info_plist)) for b in req.bundles) if p]
        if (req.all_bundles and missing) or (not req.all_bundles and len(missing) == len(req.bundles)):
            out += missing
    return out
