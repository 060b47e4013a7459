"""Kext bundles: reading them, their stand-in code signature, and making minimal ones.

A kext is a bundle `X.kext/Contents/Info.plist` (+ `Contents/MacOS/<executable>`). Its signature is modelled on
the real bundle seal: `Contents/_CodeSignature/CodeResources`, an XML plist whose `files2` dict maps each sealed
file (relative to Contents/) to `{hash: SHA-1, hash2: SHA-256}` digests. The seal is intact when every sealed file
still has its digest and no file was added. Editing Info.plist (the NVDARequiredOS patch) breaks it, as on a Mac.
Divergences: a real seal binds Info.plist through the CodeDirectory's info slot (not `files2`) and the executable
through its embedded signature; there is no certificate chain here (any intact seal counts as "signed").

Bundle ids of the drivers the boot model knows (from public kext lists, e.g. Lilu/WhateverGreen's patcher tables
and Homebrew's nvidia-web-driver cask uninstall stanza): see the constants below. `make_kext` builds minimal
bundles for the bare host (Apple's kexts) and for tests.
"""

from __future__ import annotations

import hashlib
import os
import plistlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

APPLE_NVDA = "com.apple.nvidia.NVDAStartup"
APPLE_GEFORCE = "com.apple.GeForce"
WEB_NVDA = "com.nvidia.NVDAStartupWeb"
WEB_GEFORCE = "com.nvidia.web.GeForceWeb"
WEB_RESMAN = "com.nvidia.web.NVDAResmanWeb"  # facts: webdriver.kexts (NVDAEGPUSupport's required-bundles name it)
WEB_RESMAN_TESLA = "com.nvidia.web.NVDAResmanTeslaWeb"  # the same, for Tesla-class GPUs
EGPU_SUPPORT = "lu.yifan.NVDAEGPUSupport"  # facts: egpu_support.bundle_id
CUDA_KEXT = "com.nvidia.CUDA"

# The signing team of third-party kexts, which User-Approved Kernel Extension Loading asks the user to allow
# (TN2459): NVIDIA's team id 6KR3T733EC (high-sierra-egpu.md). The stand-in seal carries no certificate, so the
# team comes from the bundle id's vendor prefix. NVDAEGPUSupport is Yifan Lu's, built with his development team
# 2J69TCGN3J and a "Mac Developer" identity (pedroresende/NVIDIAEGPUSupport, project.pbxproj), which is not a
# kext-signing certificate: its README asks for kext signing to be off, as the lab's hosts have it.
TEAMS: dict[str, tuple[str, str]] = {
    "com.nvidia.": ("6KR3T733EC", "NVIDIA Corporation"),
    "lu.yifan.": ("2J69TCGN3J", "Yifan Lu"),
}
# Teams whose certificate Apple issued for kext signing; with kext signing on, the kernel refuses any other.
KEXT_SIGNING_TEAMS = frozenset({"6KR3T733EC"})
UNKNOWN_TEAM = ("UNKNOWN", "an unknown developer")

CODE_RESOURCES = "_CodeSignature/CodeResources"
# The key path the web driver's installation check compares with the running build.
REQUIRED_OS_PATH = ("IOKitPersonalities", "NVDAStartup", "NVDARequiredOS")

# Where kexts live on 10.13: Apple's under /System/Library/Extensions, third parties' under /Library/Extensions.
KEXT_DIRS = ("/System/Library/Extensions", "/Library/Extensions")


@dataclass(frozen=True)
class AppleKext:
    path: str
    bundle_id: str
    version: str
    extra: dict[str, Any] = field(default_factory=dict)


# The Apple kexts of a bare host that matter to the eGPU story (versions as on 10.13.2).
APPLE_KEXTS: tuple[AppleKext, ...] = (
    AppleKext("/System/Library/Extensions/IOPCIFamily.kext", "com.apple.iokit.IOPCIFamily", "2.9"),
    AppleKext("/System/Library/Extensions/IOGraphicsFamily.kext", "com.apple.iokit.IOGraphicsFamily", "519.20"),
    AppleKext("/System/Library/Extensions/IONDRVSupport.kext", "com.apple.iokit.IONDRVSupport", "519.20"),
    AppleKext("/System/Library/Extensions/AppleThunderboltNHI.kext", "com.apple.driver.AppleThunderboltNHI", "4.7.1"),
    AppleKext(
        "/System/Library/Extensions/NVDAStartup.kext",
        APPLE_NVDA,
        "10.2.5",
        {
            "IOKitPersonalities": {
                "NVDAStartup": {
                    "IOClass": "NVDAStartup",
                    "IOPCIMatch": "0x000010de&0x0000ffff",
                    "IOProviderClass": "IOPCIDevice",
                }
            }
        },
    ),
    AppleKext("/System/Library/Extensions/GeForce.kext", APPLE_GEFORCE, "10.2.5"),
)


def team_of(bundle_id: str) -> tuple[str, str]:
    """(team id, developer name) of a third-party kext's signature."""
    for prefix, team in TEAMS.items():
        if bundle_id.startswith(prefix):
            return team
    return UNKNOWN_TEAM


def is_apple(bundle_id: str) -> bool:
    return bundle_id.startswith("com.apple.")


@dataclass
class KextInfo:
    path: str  # Mac path of the bundle
    bundle_id: str
    version: str
    info: dict[str, Any]
    info_sha256: str
    seal_intact: bool
    seal_problem: str | None  # why the seal is broken, in kextutil's words

    @property
    def required_os(self) -> str | None:
        node: Any = self.info
        for key in REQUIRED_OS_PATH:
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
        return str(node)


def _digests(data: bytes) -> dict[str, bytes]:
    return {"hash": hashlib.sha1(data).digest(), "hash2": hashlib.sha256(data).digest()}


def _sealed_files(contents: Path) -> dict[str, Path]:
    files = {}
    for dirpath, _dirs, names in os.walk(contents):
        for name in names:
            full = Path(dirpath) / name
            rel = full.relative_to(contents).as_posix()
            if rel.startswith("_CodeSignature/"):
                continue
            files[rel] = full
    return files


def seal(bundle: Path) -> None:
    """Seal a kext bundle: write Contents/_CodeSignature/CodeResources over its current files."""
    contents = bundle / "Contents"
    files2 = {rel: _digests(full.read_bytes()) for rel, full in sorted(_sealed_files(contents).items())}
    seal = {
        "files": {rel: d["hash"] for rel, d in files2.items()},
        "files2": files2,
        "rules": {"^Resources/": True},
        "rules2": {"^.*": True, "^Info\\.plist$": {"omit": True, "weight": 20.0}},
    }
    (contents / "_CodeSignature").mkdir(parents=True, exist_ok=True)
    with open(contents / CODE_RESOURCES, "wb") as f:
        plistlib.dump(seal, f)


def check_seal(bundle: Path) -> str | None:
    """None when the seal is intact, else kextutil's reason (`not code signed`, `a sealed resource is ...`)."""
    contents = bundle / "Contents"
    try:
        with open(contents / CODE_RESOURCES, "rb") as f:
            seal = plistlib.load(f)
    except (OSError, plistlib.InvalidFileException):
        return "not code signed"
    sealed = seal.get("files2", {})
    present = _sealed_files(contents)
    for rel, digests in sealed.items():
        full = present.get(rel)
        if full is None:
            return f"a sealed resource is missing or invalid: {rel}"
        if hashlib.sha256(full.read_bytes()).digest() != digests.get("hash2"):
            return f"a sealed resource is missing or invalid: {rel}"
    added = sorted(set(present) - set(sealed))
    if added:
        return f"file added: {added[0]}"
    return None


def read_kext(bundle: Path, mac_path: str) -> KextInfo | None:
    """The kext at `bundle` (a path of this process), or None when it is no kext (no readable Info.plist)."""
    info_file = bundle / "Contents/Info.plist"
    try:
        raw = info_file.read_bytes()
        info = plistlib.loads(raw)
    except (OSError, plistlib.InvalidFileException, ValueError):
        return None
    if not isinstance(info, dict) or "CFBundleIdentifier" not in info:
        return None
    problem = check_seal(bundle)
    return KextInfo(
        path=mac_path,
        bundle_id=str(info["CFBundleIdentifier"]),
        version=str(info.get("CFBundleVersion", "")),
        info=info,
        info_sha256=hashlib.sha256(raw).hexdigest(),
        seal_intact=problem is None,
        seal_problem=problem,
    )


def installed_kexts(root: Path) -> list[KextInfo]:
    """Every kext in /System/Library/Extensions and /Library/Extensions of the tree at `root`."""
    found = []
    for mac_dir in KEXT_DIRS:
        directory = root / mac_dir.lstrip("/")
        if not directory.is_dir():
            continue
        for entry in sorted(directory.iterdir()):
            if entry.suffix == ".kext" and entry.is_dir():
                kext = read_kext(entry, f"{mac_dir}/{entry.name}")
                if kext:
                    found.append(kext)
    return found


def make_kext(
    bundle: Path,
    bundle_id: str,
    version: str,
    extra: dict[str, Any] | None = None,
    sign: bool = True,
) -> Path:
    """A minimal kext bundle: Info.plist (+ `extra` keys), a stand-in executable, and a seal unless unsigned."""
    name = bundle.stem
    (bundle / "Contents/MacOS").mkdir(parents=True, exist_ok=True)
    info: dict[str, Any] = {
        "CFBundleDevelopmentRegion": "English",
        "CFBundleExecutable": name,
        "CFBundleIdentifier": bundle_id,
        "CFBundleInfoDictionaryVersion": "6.0",
        "CFBundleName": name,
        "CFBundlePackageType": "KEXT",
        "CFBundleShortVersionString": version,
        "CFBundleVersion": version,
        "OSBundleRequired": "Safe Boot",
    }
    info.update(extra or {})
    with open(bundle / "Contents/Info.plist", "wb") as f:
        plistlib.dump(info, f)
    (bundle / "Contents/MacOS" / name).write_bytes(b"\xcf\xfa\xed\xfe stand-in kext executable " + name.encode())
    if sign:
        seal(bundle)
    return bundle
