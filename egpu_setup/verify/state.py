"""What the checks of one run share: the backend, the expectations, the options, and what earlier checks found."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from egpu_setup.verify.backend import Backend, HostInfo
from egpu_setup.verify.expectations import Expectations
from egpu_setup.verify.result import Check, Status

REHEARSAL_REASON = "rehearsal host"


@dataclass
class Options:
    quick: bool = False  # smaller sizes, fewer iterations
    cpu_ok: bool = False  # without a GPU, run the MXNet checks on the CPU
    mxnet_library: str | None = None  # libmxnet.so whose load commands mxnet.libraries reads


@dataclass
class GpuDevice:
    """One GPU as the report shows it, whichever source found it (NVML, the CUDA driver, system_profiler)."""

    name: str
    compute_capability: str | None = None
    memory_bytes: int | None = None
    pci_bus_id: str | None = None
    pci_device_id: int | None = None  # the product id (0x1b80), from system_profiler on a Mac
    pcie: dict[str, int] = field(default_factory=dict)
    multiprocessors: int | None = None
    clock_mhz: float | None = None  # max SM clock (NVML) or the CUDA attribute's clock
    cuda_cores: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "compute_capability": self.compute_capability}
        if self.memory_bytes:
            data["memory_gib"] = round(self.memory_bytes / 2**30, 2)
        if self.pci_bus_id:
            data["pci_bus_id"] = self.pci_bus_id
        if self.pci_device_id is not None:
            data["pci_device_id"] = f"0x{self.pci_device_id:04x}"
        return data


@dataclass
class SuiteState:
    backend: Backend
    expect: Expectations
    options: Options
    host: HostInfo
    devices: list[GpuDevice] = field(default_factory=list)
    # Set by gpu.present when there is no NVIDIA GPU or driver at all: the run then exits NO_GPU.
    no_gpu: str | None = None
    results: dict[str, Check] = field(default_factory=dict)
    mxnet: dict[str, Any] | None = None  # the MXNet probe's result, shared by the mxnet.* checks
    mxnet_error: str | None = None

    @property
    def rehearsal(self) -> bool:
        return self.host.rehearsal

    def gpu_skip_reason(self) -> str | None:
        """Why GPU execution cannot happen in this run, or None when it can."""
        if self.rehearsal:
            return REHEARSAL_REASON
        if self.no_gpu is not None:
            return "no GPU: --cpu-ok given" if self.options.cpu_ok else "no GPU (see gpu.present)"
        present = self.results.get("gpu.present")
        if present is not None and present.status is not Status.PASS:
            return "needs a working GPU (gpu.present did not pass)"
        return None

    def needs(self, name: str) -> str | None:
        """None when check `name` passed; else the reason a dependent check skips."""
        check = self.results.get(name)
        if check is None or check.status is Status.PASS:
            return None
        return f"needs {name}, which did not pass ({check.status.value})"
