"""A recorded backend for the verify checks, the report schema, and machine set-ups built from them.

`FakeBackend` answers the calls `egpu_setup.verify.backend.SystemBackend` makes of NVML, the CUDA libraries,
macOS and the MXNet probe with values given to it; a value that is an exception is raised instead, the way the
real backend reports something missing. The figures of the two set-ups are representative of the machines
(GTX 1080 over Thunderbolt 3 on a Mac: docs/high-sierra-egpu.md; an H200 with CUDA 12.8 on Linux), not a
recording of one run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from egpu_setup.verify import cuda_api, macos
from egpu_setup.verify.backend import DriverFacts, HostInfo, LibraryFacts, MacFacts, ProbeError
from egpu_setup.verify.expectations import expectations_for
from egpu_setup.verify.nvml import NvmlDevice, NvmlFacts, NvmlUnavailable
from egpu_setup.verify.report import SCHEMA_PATH, Report
from egpu_setup.verify.state import Options
from egpu_setup.verify.suite import run_suite

Value = Any  # the fact, or an exception to raise


def _give(value: Value) -> Any:
    if isinstance(value, BaseException):
        raise value
    return value


@dataclass
class FakeBackend:
    host_info: HostInfo
    nvml_facts: Value = field(default_factory=lambda: NvmlUnavailable("NVML: NVML Shared Library Not Found"))
    mac_facts: Value = field(default_factory=MacFacts)
    driver: Value = field(default_factory=lambda: cuda_api.LibraryMissing("libcuda.so.1 (NVIDIA driver) not found"))
    runtime: Value = field(default_factory=lambda: cuda_api.LibraryMissing("the CUDA runtime (libcudart) not found"))
    cudnn_facts: Value = field(default_factory=lambda: cuda_api.LibraryMissing("cuDNN (libcudnn) not found"))
    sysfs: dict[str, dict[str, int]] = field(default_factory=dict)
    proc_driver_version: str | None = None
    bandwidth: Value = (0.0, 0.0)
    sgemm_result: Value = None
    mxnet_result: Value = field(default_factory=dict)
    dependencies: Value = field(default_factory=list)
    calls: list[str] = field(default_factory=list)

    def host(self) -> HostInfo:
        return self.host_info

    def nvml(self) -> NvmlFacts:
        return _give(self.nvml_facts)  # type: ignore[no-any-return]

    def mac(self) -> MacFacts:
        return _give(self.mac_facts)  # type: ignore[no-any-return]

    def cuda_driver(self) -> DriverFacts:
        return _give(self.driver)  # type: ignore[no-any-return]

    def cuda_runtime(self) -> LibraryFacts:
        return _give(self.runtime)  # type: ignore[no-any-return]

    def cudnn(self) -> LibraryFacts:
        return _give(self.cudnn_facts)  # type: ignore[no-any-return]

    def sysfs_link(self, pci_bus_id: str) -> dict[str, int] | None:
        return self.sysfs.get(pci_bus_id)

    def linux_driver_version(self) -> str | None:
        return self.proc_driver_version

    def copy_bandwidth(self, size: int, repeat: int) -> tuple[float, float]:
        self.calls.append(f"copy_bandwidth {size} {repeat}")
        return _give(self.bandwidth)  # type: ignore[no-any-return]

    def sgemm(self, n: int, repeat: int) -> cuda_api.SgemmResult:
        self.calls.append(f"sgemm {n} {repeat}")
        return _give(self.sgemm_result)  # type: ignore[no-any-return]

    def mxnet(
        self, want_gpu: bool, quick: bool, locate_only: bool = False, import_only: bool = False
    ) -> dict[str, Any]:
        self.calls.append(f"mxnet gpu={want_gpu} quick={quick} locate_only={locate_only}")
        return _give(self.mxnet_result)  # type: ignore[no-any-return]

    def mach_o_dependencies(self, library: str) -> list[tuple[str, str | None]]:
        self.calls.append(f"mach_o {library}")
        return _give(self.dependencies)  # type: ignore[no-any-return]


def mxnet_gpu_result(**changes: Any) -> dict[str, Any]:
    """What mxnet_probe.py reports for a CUDA + cuDNN build of MXNet on one GPU."""
    result: dict[str, Any] = {
        "python": "/usr/local/egpu-setup/venv/bin/python",
        "library": "/Users/admin/mxnet/lib/libmxnet.so",
        "import": {"ok": True, "version": "1.0.0", "path": "/Users/admin/mxnet/python/mxnet/__init__.py",
                   "seconds": 1.2},
        "features": {"CUDA": True, "CUDNN": True, "NCCL": False, "BLAS_APPLE": True},
        "num_gpus": 1,
        "ndarray": {"device": "gpu", "against": "cpu", "ok": True,
                    "max_abs_error": {"dot": 2e-6, "softmax": 1e-8, "sum": 1e-5, "conv": 3e-6}},
        "train_gpu": {"device": "gpu", "ok": True, "loss_first": 2.33, "loss_last": 1.71, "steps": 15, "batch": 64,
                      "images_per_s": 41000.0},
        "train_cpu": {"device": "cpu", "ok": True, "loss_first": 2.33, "loss_last": 1.72, "steps": 15, "batch": 64,
                      "images_per_s": 2100.0},
        "dyld_removed": ["DYLD_LIBRARY_PATH"],
    }  # fmt: skip
    result.update(changes)
    return result


def mxnet_cpu_build_result() -> dict[str, Any]:
    """The pip CPU wheel of MXNet 1.9.1 on a GPU machine: no CUDA feature, so no GPU work."""
    result = mxnet_gpu_result(features={"CUDA": False, "CUDNN": False, "MKLDNN": True}, num_gpus=0)
    result["import"] = {"ok": True, "version": "1.9.1", "path": "/venv/mxnet/__init__.py", "seconds": 0.9}
    result["ndarray"] = {"device": "cpu", "against": "numpy", "ok": True, "max_abs_error": {"dot": 4e-6}}
    del result["train_gpu"]
    return result


def linux_h200(**changes: Any) -> FakeBackend:
    """An H200 on PCIe 5.0 x16 with driver 570 (CUDA 12.8), CUDA 12.8 runtime and cuDNN 9.7 from pip wheels."""
    nvml = NvmlFacts(
        driver_version="570.124.06",
        cuda_driver_version=12080,
        devices=[
            NvmlDevice(
                index=0, name="NVIDIA H200", uuid="GPU-0f6a", compute_capability="9.0", memory_bytes=150_754_820_096,
                pci_bus_id="00000000:19:00.0", pcie={"max_generation": 5, "max_width": 16, "current_generation": 5,
                "current_width": 16}, max_sm_clock_mhz=1980, cuda_cores=16896,
            )
        ],
    )  # fmt: skip
    driver = DriverFacts(
        "libcuda.so.1", 12080,
        [cuda_api.DriverDevice(0, "NVIDIA H200", "9.0", 150_754_820_096, 132, 1980.0, "0000:19:00.0")],
    )  # fmt: skip
    site = "/opt/venv/lib/python3.11/site-packages/nvidia"
    backend = FakeBackend(
        host_info=HostInfo("linux", False, "gpu-box", "/usr/bin/python3", "6.8.0", None),
        nvml_facts=nvml,
        driver=driver,
        runtime=LibraryFacts("12.8", 12080, f"{site}/cuda_runtime/lib/libcudart.so.12"),
        cudnn_facts=LibraryFacts("9.7.0", 90700, f"{site}/cudnn/lib/libcudnn.so.9"),
        bandwidth=(53.1, 54.6),
        sgemm_result=cuda_api.SgemmResult(51200.0, 4096, 20, 53.7, 0.0, f"{site}/cublas/lib/libcublas.so.12"),
        mxnet_result=mxnet_missing_result(),
    )
    return replace(backend, **changes)


def mxnet_missing_result() -> dict[str, Any]:
    """The probe under a Python without MXNet (the GPU test machine has PyTorch's CUDA wheels only)."""
    return {
        "python": "/usr/bin/python3",
        "library": None,
        "import": {"ok": False, "error": "ModuleNotFoundError: No module named 'mxnet'", "seconds": 0.01},
        "dyld_removed": [],
    }


def mac_gtx1080(**changes: Any) -> FakeBackend:
    """A MacBook Pro on 10.13.2 with the default profile's stack and a GTX 1080 in a Thunderbolt 3 enclosure."""
    displays = macos.parse_displays(SYSTEM_PROFILER_GTX1080)
    kexts = macos.parse_kextstat(KEXTSTAT_WEBDRIVER)
    backend = FakeBackend(
        host_info=HostInfo("darwin", False, "mbp", "/usr/local/egpu-setup/venv/bin/python", "10.13.2", "17C88"),
        mac_facts=MacFacts(displays, None, kexts, None, "387.10.10.10.25.156", "387.128"),
        driver=DriverFacts(
            "/usr/local/cuda/lib/libcuda.dylib",
            9010,
            [cuda_api.DriverDevice(0, "GeForce GTX 1080", "6.1", 8_589_672_448, 20, 1733.0, "0000:c3:00.0")],
        ),
        runtime=LibraryFacts("9.1", 9010, "/usr/local/cuda/lib/libcudart.9.1.dylib"),
        cudnn_facts=LibraryFacts("7.0.5", 7005, "/usr/local/cuda/lib/libcudnn.7.dylib"),
        bandwidth=(2.61, 2.48),
        sgemm_result=cuda_api.SgemmResult(7980.0, 4096, 20, 344.6, 1.2e-7, "/usr/local/cuda/lib/libcublas.9.1.dylib"),
        mxnet_result=mxnet_gpu_result(),
        dependencies=[
            ("@rpath/libcudart.9.1.dylib", "/usr/local/cuda/lib/libcudart.9.1.dylib"),
            ("@rpath/libcudnn.7.dylib", "/usr/local/cuda/lib/libcudnn.7.dylib"),
            ("/usr/lib/libSystem.B.dylib", "/usr/lib/libSystem.B.dylib"),
        ],
    )
    return replace(backend, **changes)


SYSTEM_PROFILER_GTX1080 = """\
Graphics/Displays:

    Intel Iris Plus Graphics 650:

      Chipset Model: Intel Iris Plus Graphics 650
      Type: GPU
      Bus: Built-In
      VRAM (Dynamic, Max): 1536 MB
      Vendor: Intel (0x8086)
      Device ID: 0x5927

    NVIDIA GeForce GTX 1080:

      Chipset Model: NVIDIA GeForce GTX 1080
      Type: GPU
      Bus: PCIe
      PCIe Lane Width: x4
      VRAM (Total): 8 GB
      Vendor: NVIDIA (0x10de)
      Device ID: 0x1b80
      Revision ID: 0x00a1
      ROM Revision: VBIOS 86.04.17.00.80
      Metal: Supported
"""

KEXTSTAT_WEBDRIVER = """\
  146    0 0xffffff7f8179b000 0x15e000   0x15e000   com.nvidia.web.NVDAGP100HalWeb (10.2.7) BC0C27F0-12AF-36CA-AC52-ACD84F718B30 <145 12 4 3>
  147    0 0xffffff7f81594000 0xa8000    0xa8000    com.nvidia.web.GeForceWeb (10.2.7) B4761F6B-66C5-3512-BD13-2CCC7BCC1868 <145 126 122 97 12 7 5 4 3 1>
  153    0 0xffffff7f81698000 0x2000     0x2000     com.nvidia.CUDA (1.1.0) 4329B052-6C8A-3900-8E83-744487AEDEF1 <4 1>
"""  # noqa: E501 (kextstat rows are this long)


@pytest.fixture
def mac_command_output() -> dict[str, str]:
    """What `kextstat -l` and `system_profiler SPDisplaysDataType` print on a Mac with a working GTX 1080."""
    return {"kextstat": KEXTSTAT_WEBDRIVER, "system_profiler": SYSTEM_PROFILER_GTX1080}


@pytest.fixture
def h200() -> Callable[..., FakeBackend]:
    return linux_h200


@pytest.fixture
def gtx1080_mac() -> Callable[..., FakeBackend]:
    return mac_gtx1080


@pytest.fixture
def mxnet_results() -> dict[str, Callable[[], dict[str, Any]]]:
    return {"gpu": mxnet_gpu_result, "cpu_build": mxnet_cpu_build_result, "missing": mxnet_missing_result}


@pytest.fixture
def verify() -> Callable[..., Report]:
    """`verify(backend, profile=None, **options)`: run the whole suite against a backend."""

    def run(backend: FakeBackend, profile: str | None = None, **options: Any) -> Report:
        expect = expectations_for(profile, backend.host_info.platform)
        return run_suite(backend, expect, Options(**options))

    return run


@pytest.fixture(scope="session")
def schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(data)
    return data


@pytest.fixture
def validate(schema: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    validator = jsonschema.Draft202012Validator(schema)

    def check(document: dict[str, Any]) -> None:
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
        assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)

    return check


@pytest.fixture
def probe_error() -> type[ProbeError]:
    return ProbeError


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]
