"""What a Mac (or a rehearsal Mac) says about its NVIDIA stack without running anything on the GPU.

Sources, as macOS 10.13 provides them (docs/macos-commands.md, docs/high-sierra-egpu.md):
- `system_profiler SPDisplaysDataType`: one block per GPU, `Chipset Model:`, `Vendor: NVIDIA (0x10de)`,
  `Device ID: 0x1b80`, `PCIe Lane Width: x4`; a Pascal card without a working web driver shows `NVIDIA Chip Model`.
- `kextstat -l`: rows `... com.nvidia.web.GeForceWeb (10.3.1) <UUID> <linked>` when the web driver is loaded
  (row format: apple-oss-distributions kext_tools; bundle id as in real kextstat transcripts).
- /Library/Extensions/GeForceWeb.kext/Contents/Info.plist: the driver version is the last word of
  CFBundleGetInfoString (as vulgo/webdriver.sh reads it).
- /Library/Frameworks/CUDA.framework/Resources/Info.plist: the CUDA driver's version (CFBundleVersion).
- /usr/local/cuda/version.txt (`CUDA Version 9.1.128`), lib/libcudart.9.1.dylib, include/cudnn.h (CUDNN_MAJOR...).
Every path is taken below `root` so tests can point it at a tree; commands go through an injectable runner.
"""

from __future__ import annotations

import os
import plistlib
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field

WEBDRIVER_BUNDLE = "com.nvidia.web.GeForceWeb"
CUDA_KEXT_BUNDLE = "com.nvidia.CUDA"
NVIDIA_VENDOR_ID = "0x10de"


def run_command(argv: list[str]) -> tuple[int, str]:
    """Run a macOS command with LC_ALL=C (its output then parses the same everywhere): (exit code, stdout)."""
    env = dict(os.environ, LC_ALL="C")
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 127, str(exc)
    return done.returncode, done.stdout


@dataclass
class Display:
    """One GPU block of system_profiler SPDisplaysDataType."""

    fields: dict[str, str] = field(default_factory=dict)

    @property
    def chipset(self) -> str:
        return self.fields.get("Chipset Model", "")

    @property
    def is_nvidia(self) -> bool:
        return NVIDIA_VENDOR_ID in self.fields.get("Vendor", "").lower() or self.chipset.startswith("NVIDIA")

    @property
    def device_id(self) -> int | None:
        match = re.match(r"0x([0-9a-fA-F]+)", self.fields.get("Device ID", ""))
        return int(match.group(1), 16) if match else None

    @property
    def driver_working(self) -> bool:
        # Without a working NVIDIA driver macOS names a Pascal card by its placeholder, not its model.
        return self.chipset != "NVIDIA Chip Model"


def parse_displays(text: str) -> list[Display]:
    """GPU blocks from `system_profiler SPDisplaysDataType`; each starts at its `Chipset Model:` line."""
    displays: list[Display] = []
    for line in text.splitlines():
        key, sep, value = line.strip().partition(":")
        if not sep:
            continue
        if key == "Chipset Model":
            displays.append(Display())
        if displays and value.strip():
            displays[-1].fields.setdefault(key, value.strip())
    return displays


def parse_kextstat(text: str) -> dict[str, str]:
    """Loaded kexts from `kextstat -l`: bundle id -> version."""
    loaded = {}
    for match in re.finditer(r"^\s*\d+\s+\d+\s+\S+\s+\S+\s+\S+\s+(\S+)\s+\(([^)]*)\)", text, re.MULTILINE):
        loaded[match.group(1)] = match.group(2)
    return loaded


def parse_cudnn_header(text: str) -> str | None:
    """The version ("7.0.5") from cudnn.h (cudnn_version.h since cuDNN 8): CUDNN_MAJOR, _MINOR, _PATCHLEVEL."""
    parts = []
    for name in ("CUDNN_MAJOR", "CUDNN_MINOR", "CUDNN_PATCHLEVEL"):
        match = re.search(rf"^#define\s+{name}\s+(\d+)", text, re.MULTILINE)
        if not match:
            return None
        parts.append(match.group(1))
    return ".".join(parts)


@dataclass
class MacHost:
    """A Mac's NVIDIA facts; `root` is "/" on the Mac (and inside a rehearsal host's sandbox)."""

    root: str = "/"
    run: Callable[[list[str]], tuple[int, str]] = run_command

    def path(self, absolute: str) -> str:
        return os.path.join(self.root, absolute.lstrip("/"))

    def plist(self, absolute: str) -> dict[str, object] | None:
        try:
            with open(self.path(absolute), "rb") as handle:
                data = plistlib.load(handle)
        except (OSError, plistlib.InvalidFileException, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def displays(self) -> tuple[list[Display], str | None]:
        """(GPU blocks, None) or ([], why system_profiler gave nothing)."""
        code, out = self.run(["system_profiler", "SPDisplaysDataType"])
        if code != 0:
            return [], f"system_profiler SPDisplaysDataType exited {code}"
        return parse_displays(out), None

    def loaded_kexts(self) -> tuple[dict[str, str], str | None]:
        code, out = self.run(["kextstat", "-l"])
        if code != 0:
            return {}, f"kextstat -l exited {code}"
        return parse_kextstat(out), None

    def webdriver_version(self) -> str | None:
        info = self.plist("/Library/Extensions/GeForceWeb.kext/Contents/Info.plist") or {}
        text = info.get("CFBundleGetInfoString")
        return str(text).split()[-1] if isinstance(text, str) and text.split() else None

    def cuda_driver_version(self) -> str | None:
        info = self.plist("/Library/Frameworks/CUDA.framework/Resources/Info.plist") or {}
        for key in ("CFBundleVersion", "CFBundleShortVersionString"):
            if isinstance(info.get(key), str):
                return str(info[key])
        return None

    def os_build(self) -> tuple[str | None, str | None]:
        info = self.plist("/System/Library/CoreServices/SystemVersion.plist") or {}
        version, build = info.get("ProductVersion"), info.get("ProductBuildVersion")
        return (version if isinstance(version, str) else None, build if isinstance(build, str) else None)

    def cuda_runtime_version(self) -> tuple[str, str] | None:
        """From the toolkit's files, without loading it: ("9.1", where it was read)."""
        version_txt = self.path("/usr/local/cuda/version.txt")
        try:
            with open(version_txt) as handle:
                match = re.search(r"CUDA Version (\d+)\.(\d+)", handle.read())
            if match:
                return f"{match.group(1)}.{match.group(2)}", "/usr/local/cuda/version.txt"
        except OSError:
            pass
        lib = self.path("/usr/local/cuda/lib")
        names = sorted(os.listdir(lib)) if os.path.isdir(lib) else []
        for name in names:
            match = re.fullmatch(r"libcudart\.(\d+)\.(\d+)\.dylib", name)
            if match:
                return f"{match.group(1)}.{match.group(2)}", f"/usr/local/cuda/lib/{name}"
        return None

    def cudnn_version(self) -> tuple[str, str] | None:
        for header in ("/usr/local/cuda/include/cudnn_version.h", "/usr/local/cuda/include/cudnn.h"):
            try:
                with open(self.path(header)) as handle:
                    version = parse_cudnn_header(handle.read())
            except OSError:
                continue
            if version:
                return version, header
        return None
