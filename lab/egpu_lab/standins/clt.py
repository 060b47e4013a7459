"""Stand-in for Apple's Command Line Tools for Xcode 9.2 (and 9.3, for the lab's `--clt 9.3`).

From public sources: the download is a dmg (Command_Line_Tools_macOS_10.13_for_Xcode_9.2.dmg) whose volume
"Command Line Developer Tools" holds "Command Line Tools (macOS High Sierra version 10.13).pkg"; it installs
/Library/Developer/CommandLineTools (usr/bin/clang, cc, make, ..., usr/lib/clang/<llvm>/, SDKs/) with receipt
com.apple.pkg.CLTools_Executables of version 9.2.0.0.1.1510905681 (9.3: 9.3.0.0.1.1521514116), per
macos-commands.md; `clang --version` prints Apple LLVM 9.0.0 (clang-900.0.39.2) for 9.2 and 9.1.0
(clang-902.0.39.1) for 9.3.

The executables are shims of macos.toolchain, which compiles for real with zig (see there).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from egpu_lab import facts
from egpu_lab.macos import xar_pkg
from egpu_lab.standins import common, udif

DEVELOPER_DIR = "Library/Developer/CommandLineTools"
RECEIPT_ID = facts.value("clt", "receipt_id")
VOLUME = "Command Line Developer Tools"
PKG_NAME = "Command Line Tools (macOS High Sierra version 10.13).pkg"


@dataclass(frozen=True)
class CltRelease:
    version: str
    receipt_version: str
    llvm: str  # the usr/lib/clang/<llvm> directory name
    clang_build: str


RELEASES = {
    "9.2": CltRelease("9.2", facts.value("clt", "receipt_version_9_2"), "9.0.0", facts.value("clt", "clang_build_9_2")),
    "9.3": CltRelease("9.3", "9.3.0.0.1.1521514116", "9.1.0", "clang-902.0.39.1"),
}
# Executables of CommandLineTools/usr/bin -> toolchain handler.
TOOLS = {
    "clang": "clang", "clang++": "clang", "cc": "clang", "c++": "clang", "gcc": "clang", "g++": "clang",
    "make": "make", "ar": "ar", "otool": "otool", "install_name_tool": "install_name_tool",
}  # fmt: skip


def stage(staging: Path, version: str) -> Path:
    """The CLT tree (as installed under /) for `version`."""
    release = RELEASES[version]
    dev = staging / DEVELOPER_DIR
    for name, handler in TOOLS.items():
        module = "cctools" if handler in ("otool", "install_name_tool") else "toolchain"
        common.shim(dev / "usr/bin" / name, module, handler)
    common.write(dev / f"usr/lib/clang/{release.llvm}/include/stddef.h", "/* stand-in clang resource header */\n")
    common.write(dev / "SDKs/MacOSX10.13.sdk/SDKSettings.plist", _sdk_settings())
    common.link(dev / "SDKs/MacOSX.sdk", "MacOSX10.13.sdk")
    return staging


def _sdk_settings() -> bytes:
    import plistlib

    return plistlib.dumps({"CanonicalName": "macosx10.13", "DisplayName": "macOS 10.13", "Version": "10.13"})


def build_clt_pkg(out: Path, work: Path, version: str) -> Path:
    release = RELEASES[version]
    staging = stage(work / f"clt-{version}", version)
    comp = common.component(staging, RECEIPT_ID, release.receipt_version, "CLTools_Executables.pkg")
    dist = xar_pkg.distribution_xml(f"Command Line Tools (macOS High Sierra version 10.13) {version}", [comp])
    return xar_pkg.write_product_pkg(out, dist, [comp])


def build_clt_dmg(out: Path, work: Path, version: str) -> Path:
    volume = work / f"clt-volume-{version}"
    volume.mkdir(parents=True, exist_ok=True)
    build_clt_pkg(volume / PKG_NAME, work, version)
    return udif.build_dmg(out, volume, VOLUME, common.FIXED_MTIME)
