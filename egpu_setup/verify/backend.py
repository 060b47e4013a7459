"""Where the checks get their facts and measurements: the real machine (`SystemBackend`) or, in tests, a recording.

The checks judge; a backend only reads and measures. Every method either returns facts or raises one of the
errors below with a message that says what was missing, so a check can turn it into a skip or a fail.
"""

from __future__ import annotations

import json
import os
import platform as platform_module
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from egpu_setup.verify import cuda_api, macos, pcie
from egpu_setup.verify.nvml import NvmlFacts, read_nvml

T = TypeVar("T")

REHEARSAL_MARKER = "/.rehearsal"
REHEARSAL_ENV = "EGPU_REHEARSAL"


class ProbeError(Exception):
    """A probe could not produce its facts (a child process crashed or timed out)."""


@dataclass
class HostInfo:
    platform: str  # "darwin" or "linux"; a rehearsal Mac is "darwin" although its kernel is Linux
    rehearsal: bool
    hostname: str
    python: str
    os_version: str | None = None  # macOS ProductVersion, or the kernel release on Linux
    os_build: str | None = None


@dataclass
class LibraryFacts:
    version: str  # "9.1", "7.0.5"
    encoded: int | None  # as the library reports it (9010, 7005); None when read from files
    source: str  # the library's path, or the file the version was read from


@dataclass
class DriverFacts:
    path: str
    version: int  # cuDriverGetVersion
    devices: list[cuda_api.DriverDevice]
    init_error: cuda_api.CudaError | None = None  # cuInit failed (no device, driver too old for the kext, ...)


@dataclass
class MacFacts:
    displays: list[macos.Display] = field(default_factory=list)
    displays_error: str | None = None
    kexts: dict[str, str] = field(default_factory=dict)
    kexts_error: str | None = None
    webdriver_version: str | None = None
    cuda_driver_version: str | None = None  # CUDA.framework's CFBundleVersion, "387.128"


class Backend(Protocol):
    """What the checks call. Raising NvmlUnavailable, cuda_api.CudaError or ProbeError means "not available"."""

    def host(self) -> HostInfo: ...
    def nvml(self) -> NvmlFacts: ...
    def mac(self) -> MacFacts: ...
    def cuda_driver(self) -> DriverFacts: ...
    def cuda_runtime(self) -> LibraryFacts: ...
    def cudnn(self) -> LibraryFacts: ...
    def sysfs_link(self, pci_bus_id: str) -> dict[str, int] | None: ...
    def linux_driver_version(self) -> str | None: ...
    def copy_bandwidth(self, size: int, repeat: int) -> tuple[float, float]: ...
    def sgemm(self, n: int, repeat: int) -> cuda_api.SgemmResult: ...
    def mxnet(
        self, want_gpu: bool, quick: bool, locate_only: bool = False, import_only: bool = False
    ) -> dict[str, Any]: ...
    def mach_o_dependencies(self, library: str) -> list[tuple[str, str | None]]: ...


def is_rehearsal() -> bool:
    """A rehearsal Mac (the lab's simulated High Sierra host): /.rehearsal exists or EGPU_REHEARSAL=1."""
    return os.environ.get(REHEARSAL_ENV) == "1" or os.path.exists(REHEARSAL_MARKER)


class SystemBackend:
    """The machine this runs on. Libraries are loaded once and kept; facts are read once and remembered."""

    def __init__(self, mxnet_python: str | None = None, mac_root: str = "/") -> None:
        rehearsal = is_rehearsal()
        self._platform = "darwin" if sys.platform == "darwin" or rehearsal else "linux"
        self._rehearsal = rehearsal
        self._mac = macos.MacHost(root=mac_root)
        self._mxnet_python = mxnet_python or sys.executable
        self._memo: dict[str, Any] = {}

    def _once(self, key: str, make: Callable[[], T]) -> T:
        # Remember failures too: a missing library stays missing for the rest of the run.
        if key not in self._memo:
            try:
                self._memo[key] = (True, make())
            except Exception as exc:
                self._memo[key] = (False, exc)
        ok, value = self._memo[key]
        if not ok:
            raise value
        return value

    def host(self) -> HostInfo:
        version, build = (None, None)
        if self._platform == "darwin":
            version, build = self._mac.os_build()
        elif sys.platform.startswith("linux"):
            version = platform_module.release()
        return HostInfo(self._platform, self._rehearsal, platform_module.node(), sys.executable, version, build)

    def nvml(self) -> NvmlFacts:
        return self._once("nvml", read_nvml)

    def mac(self) -> MacFacts:
        def read() -> MacFacts:
            displays, displays_error = self._mac.displays()
            kexts, kexts_error = self._mac.loaded_kexts()
            return MacFacts(
                displays, displays_error, kexts, kexts_error, self._mac.webdriver_version(),
                self._mac.cuda_driver_version(),
            )  # fmt: skip

        return self._once("mac", read)

    def cuda_driver(self) -> DriverFacts:
        def read() -> DriverFacts:
            driver = cuda_api.CudaDriver(self._platform)
            version = driver.version()
            try:
                devices = [driver.device(i) for i in range(driver.device_count())]
            except cuda_api.CudaError as exc:
                return DriverFacts(driver.path, version, [], exc)
            return DriverFacts(driver.path, version, devices)

        return self._once("driver", read)

    def _driver_version(self) -> int | None:
        try:
            return self.cuda_driver().version
        except cuda_api.CudaError:
            return None

    def _load_runtime(self) -> cuda_api.CudaRuntime:
        return self._once("runtime", lambda: cuda_api.CudaRuntime.load(self._platform, self._driver_version()))

    def cuda_runtime(self) -> LibraryFacts:
        if self._rehearsal:
            found = self._mac.cuda_runtime_version()
            if not found:
                raise cuda_api.LibraryMissing("no CUDA toolkit (/usr/local/cuda/version.txt, lib/libcudart.*.dylib)")
            return LibraryFacts(found[0], None, found[1])
        runtime = self._load_runtime()
        encoded = runtime.version()
        return LibraryFacts(cuda_api.version_text(encoded), encoded, runtime.path)

    def cudnn(self) -> LibraryFacts:
        if self._rehearsal:
            found = self._mac.cudnn_version()
            if not found:
                raise cuda_api.LibraryMissing("no cuDNN: /usr/local/cuda/include/cudnn.h absent")
            return LibraryFacts(found[0], None, found[1])
        try:
            runtime_path: str | None = self._load_runtime().path
        except cuda_api.CudaError:
            runtime_path = None
        encoded, path = cuda_api.load_cudnn(self._platform, runtime_path)
        return LibraryFacts(cuda_api.cudnn_version_text(encoded), encoded, path)

    def sysfs_link(self, pci_bus_id: str) -> dict[str, int] | None:
        return pcie.sysfs_link(pci_bus_id)

    def linux_driver_version(self) -> str | None:
        return linux_driver_version()

    def copy_bandwidth(self, size: int, repeat: int) -> tuple[float, float]:
        return self._load_runtime().copy_bandwidth(size, repeat)

    def sgemm(self, n: int, repeat: int) -> cuda_api.SgemmResult:
        runtime = self._load_runtime()
        cublas, path = cuda_api.load_cublas(self._platform, runtime.path, self._driver_version())
        return cuda_api.sgemm(runtime, cublas, path, n, repeat)

    def mxnet(
        self, want_gpu: bool, quick: bool, locate_only: bool = False, import_only: bool = False
    ) -> dict[str, Any]:
        return run_mxnet_probe(self._mxnet_python, want_gpu, quick, locate_only, import_only)

    def mach_o_dependencies(self, library: str) -> list[tuple[str, str | None]]:
        return mach_o_dependencies(self._mac.root, library)


def linux_driver_version(path: str = "/proc/driver/nvidia/version") -> str | None:
    """The kernel module's version when NVML is not at hand: "NVRM version: NVIDIA UNIX x86_64 Kernel Module
    570.124.06  <date>" (the open modules say "Open Kernel Module")."""
    try:
        with open(path) as handle:
            match = re.search(r"Kernel Module(?: for \S+)?\s+(\d+(?:\.\d+)+)", handle.read())
    except OSError:
        return None
    return match.group(1) if match else None


def stripped_environment() -> tuple[dict[str, str], list[str]]:
    """os.environ without DYLD_* (what SIP does to children on macOS), and the names removed."""
    removed = sorted(k for k in os.environ if k.startswith("DYLD_"))
    return {k: v for k, v in os.environ.items() if not k.startswith("DYLD_")}, removed


def run_mxnet_probe(
    python: str, want_gpu: bool, quick: bool, locate_only: bool = False, import_only: bool = False
) -> dict[str, Any]:
    """Run mxnet_probe.py under `python` without DYLD_* variables; its JSON plus how the process ended."""
    env, removed = stripped_environment()
    timeout = 180 if quick else 420
    with tempfile.TemporaryDirectory(prefix="egpu-verify-") as tmp:
        out = Path(tmp) / "mxnet.json"
        argv = [python, str(Path(__file__).with_name("mxnet_probe.py")), str(out)]
        argv += ["--gpu"] if want_gpu else []
        argv += ["--quick"] if quick else []
        argv += ["--locate-only"] if locate_only else []
        argv += ["--import-only"] if import_only else []
        try:
            done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise ProbeError(f"the MXNet probe did not finish in {timeout} s") from exc
        except OSError as exc:
            raise ProbeError(f"cannot run {python}: {exc}") from exc
        if not out.exists():
            tail = " | ".join(done.stderr.strip().splitlines()[-4:])[-600:]
            raise ProbeError(f"the MXNet probe died (exit {done.returncode}): {tail or 'no output'}")
        result: dict[str, Any] = json.loads(out.read_text())
    result["dyld_removed"] = removed
    return result


def mach_o_dependencies(root: str, library: str) -> list[tuple[str, str | None]]:
    """Each library that `library` (a Mac path under `root`) loads, directly or through what it loads, with the
    Mac path dyld would open, or None when dyld would not find it (egpu_setup.macho's model of 10.13's dyld).
    Libraries found only through a loaded library are named "lib (via loader)"."""
    from egpu_setup.macho.dyld import Root, check_slice
    from egpu_setup.macho.reader import MachOError, read_macho

    mac_root = Root(root)
    try:
        image = read_macho(mac_root.host(library))
    except MachOError as exc:
        raise ProbeError(exc.message) from exc
    chosen = next((s for s in image.slices if s.arch == "x86_64"), image.slices[0])
    checked = check_slice(mac_root, library, chosen)
    found: list[tuple[str, str | None]] = [(r.name, None if r.failing else r.path) for r in checked.direct]
    found += [(f"{r.name} (via {loader})", None) for loader, r in checked.failing_transitive]
    return found
