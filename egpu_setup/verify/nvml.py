"""GPU facts from NVML through pynvml (Linux; NVML does not exist on macOS). pynvml is imported here, lazily."""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass, field
from typing import Any


class NvmlUnavailable(Exception):
    """pynvml is missing, or NVML could not start. `absent`: nothing is there (no library, no driver loaded),
    as opposed to a driver that is there and broken (a version mismatch between library and kernel module)."""

    def __init__(self, message: str, absent: bool = True) -> None:
        super().__init__(message)
        self.absent = absent


@dataclass
class NvmlDevice:
    index: int
    name: str
    uuid: str | None
    compute_capability: str | None
    memory_bytes: int | None
    pci_bus_id: str | None
    pcie: dict[str, int] = field(default_factory=dict)  # max_generation, max_width, current_generation, ...
    max_sm_clock_mhz: int | None = None
    cuda_cores: int | None = None
    mig_enabled: bool | None = None  # MIG splits the GPU: CUDA then sees only the MIG device it is given


@dataclass
class NvmlFacts:
    driver_version: str | None
    cuda_driver_version: int | None  # nvmlSystemGetCudaDriverVersion: 1000*major + 10*minor
    devices: list[NvmlDevice]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def read_nvml() -> NvmlFacts:
    """All devices' facts; NvmlUnavailable when NVML cannot start. Facts a GPU does not support are left None."""
    try:
        with warnings.catch_warnings():  # the pynvml shim warns that it is deprecated in favour of nvidia-ml-py
            warnings.simplefilter("ignore")
            import pynvml  # type: ignore[import-untyped]
    except ImportError as exc:
        raise NvmlUnavailable(f"pynvml is not installed ({exc})") from exc
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        absent = isinstance(exc, (pynvml.NVMLError_LibraryNotFound, pynvml.NVMLError_DriverNotLoaded))
        raise NvmlUnavailable(f"NVML: {exc}", absent) from exc
    try:

        def optional(func: str, *args: Any) -> Any:
            try:
                return getattr(pynvml, func)(*args)
            except (pynvml.NVMLError, AttributeError):
                return None

        devices = []
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            cc = optional("nvmlDeviceGetCudaComputeCapability", handle)
            memory = optional("nvmlDeviceGetMemoryInfo", handle)
            pci = optional("nvmlDeviceGetPciInfo", handle)
            pcie = {
                "max_generation": optional("nvmlDeviceGetMaxPcieLinkGeneration", handle),
                "max_width": optional("nvmlDeviceGetMaxPcieLinkWidth", handle),
                "current_generation": optional("nvmlDeviceGetCurrPcieLinkGeneration", handle),
                "current_width": optional("nvmlDeviceGetCurrPcieLinkWidth", handle),
            }
            uuid = optional("nvmlDeviceGetUUID", handle)
            mig = optional("nvmlDeviceGetMigMode", handle)  # (current, pending); NotSupported before Ampere
            devices.append(
                NvmlDevice(
                    index=index,
                    name=_text(pynvml.nvmlDeviceGetName(handle)),
                    uuid=_text(uuid) if uuid is not None else None,
                    compute_capability=f"{cc[0]}.{cc[1]}" if cc else None,
                    memory_bytes=int(memory.total) if memory is not None else None,
                    pci_bus_id=_text(pci.busId) if pci is not None else None,
                    pcie={k: int(v) for k, v in pcie.items() if v is not None},
                    max_sm_clock_mhz=optional("nvmlDeviceGetMaxClockInfo", handle, pynvml.NVML_CLOCK_SM),
                    cuda_cores=optional("nvmlDeviceGetNumGpuCores", handle),
                    mig_enabled=bool(mig[0]) if mig else None,
                )
            )
        driver = optional("nvmlSystemGetDriverVersion")
        return NvmlFacts(
            driver_version=_text(driver) if driver is not None else None,
            cuda_driver_version=optional("nvmlSystemGetCudaDriverVersion"),
            devices=devices,
        )
    finally:
        with contextlib.suppress(pynvml.NVMLError):
            pynvml.nvmlShutdown()
