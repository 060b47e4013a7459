"""gpu.present: is there an NVIDIA GPU with a working driver, and what is it.

Linux: NVML (pynvml), with the CUDA driver API as the fallback when pynvml or NVML is missing. macOS, where
NVML does not exist: the CUDA driver API, system_profiler's display blocks and the loaded web driver (kextstat,
GeForceWeb.kext's version). A rehearsal Mac has no GPU to run: the web driver must be loaded and system_profiler
must name the card; nothing is executed on it.
"""

from __future__ import annotations

from typing import Any

from egpu_setup.verify import cuda_api
from egpu_setup.verify.backend import DriverFacts, MacFacts
from egpu_setup.verify.macos import CUDA_KEXT_BUNDLE, WEBDRIVER_BUNDLE
from egpu_setup.verify.nvml import NvmlUnavailable
from egpu_setup.verify.result import Check, failed, passed, skipped
from egpu_setup.verify.state import GpuDevice, SuiteState

NAME = "gpu.present"


def _driver(state: SuiteState) -> tuple[DriverFacts | None, str | None, bool]:
    """The CUDA driver's facts, why there are no devices, and whether that is absence (no library, no device)
    rather than a driver that is there and fails."""
    try:
        facts = state.backend.cuda_driver()
    except cuda_api.LibraryMissing as exc:
        return None, str(exc), True
    except cuda_api.CudaError as exc:
        return None, str(exc), False
    if facts.init_error is not None:
        if facts.init_error.code == cuda_api.CUDA_ERROR_NO_DEVICE:
            return facts, "the CUDA driver sees no device (cuInit: CUDA_ERROR_NO_DEVICE)", True
        return facts, str(facts.init_error), False
    if not facts.devices:
        return facts, "the CUDA driver sees no device", True
    return facts, None, False


def _from_driver(facts: DriverFacts) -> list[GpuDevice]:
    return [
        GpuDevice(
            name=d.name,
            compute_capability=d.compute_capability,
            memory_bytes=d.memory_bytes,
            pci_bus_id=d.pci_bus_id,
            multiprocessors=d.multiprocessors,
            clock_mhz=d.clock_mhz,
        )
        for d in facts.devices
    ]


def _no_gpu_reason(state: SuiteState) -> str:
    prefix = "no GPU: --cpu-ok given" if state.options.cpu_ok else "no NVIDIA GPU or driver"
    return f"{prefix} ({state.no_gpu})"


def bus_key(pci_bus_id: str | None) -> str:
    """One spelling of a PCI address: NVML writes "00000000:19:00.0", CUDA "0000:19:00.0"."""
    if not pci_bus_id or pci_bus_id.count(":") != 2:
        return (pci_bus_id or "").lower()
    domain, bus, rest = pci_bus_id.lower().split(":")
    return f"{int(domain or '0', 16):04x}:{bus}:{rest}"


def _linux(state: SuiteState) -> Check:
    measurements: dict[str, Any] = {}
    try:
        nvml = state.backend.nvml()
        nvml_problem, nvml_absent = (None, False) if nvml.devices else ("NVML sees no device", True)
    except NvmlUnavailable as exc:
        nvml, nvml_problem, nvml_absent = None, str(exc), exc.absent
    driver, driver_problem, driver_absent = _driver(state)
    if nvml is not None and nvml.devices:
        # CUDA numbers devices fastest first; keep CUDA's order, matched to NVML by PCI bus id where known.
        by_bus = {bus_key(d.pci_bus_id): d for d in nvml.devices if d.pci_bus_id}
        cuda_devices = driver.devices if driver else []
        order = [by_bus.get(bus_key(c.pci_bus_id)) for c in cuda_devices]
        nvml_devices = [d for d in order if d is not None] or nvml.devices
        nvml_devices += [d for d in nvml.devices if d not in nvml_devices]
        extra = {bus_key(c.pci_bus_id): c for c in cuda_devices}
        state.devices = [
            GpuDevice(
                name=d.name,
                compute_capability=d.compute_capability,
                memory_bytes=d.memory_bytes,
                pci_bus_id=d.pci_bus_id,
                pcie=d.pcie,
                multiprocessors=getattr(extra.get(bus_key(d.pci_bus_id)), "multiprocessors", None),
                clock_mhz=float(d.max_sm_clock_mhz) if d.max_sm_clock_mhz else None,
                cuda_cores=d.cuda_cores,
            )
            for d in nvml_devices
        ]
        measurements["driver_version"] = nvml.driver_version
        if any(d.mig_enabled for d in nvml_devices):
            measurements["mig_enabled"] = [bool(d.mig_enabled) for d in nvml_devices]
        if nvml.cuda_driver_version:
            measurements["cuda_driver_supports"] = cuda_api.version_text(nvml.cuda_driver_version)
        measurements["source"] = "nvml"
    elif driver is not None and driver.devices:
        state.devices = _from_driver(driver)
        measurements["source"] = "cuda"
        measurements["nvml"] = nvml_problem
        measurements["driver_version"] = state.backend.linux_driver_version()
    elif driver_absent and nvml_absent:
        state.no_gpu = "; ".join(p for p in (driver_problem, nvml_problem) if p)
        return skipped(NAME, _no_gpu_reason(state))
    else:  # a driver is there but broken (cuInit fails, library and kernel module mismatch): a failure
        return failed(NAME, "; ".join(p for p in (driver_problem, nvml_problem) if p))
    return _summary(state, measurements)


def _summary(state: SuiteState, measurements: dict[str, Any]) -> Check:
    measurements["count"] = len(state.devices)
    measurements["devices"] = [d.to_dict() for d in state.devices]
    first = state.devices[0]
    memory = f", {first.memory_bytes / 2**30:.0f} GiB" if first.memory_bytes else ""
    more = f" (+{len(state.devices) - 1} more)" if len(state.devices) > 1 else ""
    driver = measurements.get("driver_version") or measurements.get("webdriver_version")
    compute = f", compute {first.compute_capability}" if first.compute_capability else ""
    text = f"{first.name}{compute}{memory}{more}"
    return passed(NAME, text + (f", driver {driver}" if driver else ""), **measurements)


def _mac_measurements(mac: MacFacts) -> dict[str, Any]:
    nvidia = [d for d in mac.displays if d.is_nvidia]
    return {
        "webdriver_loaded": WEBDRIVER_BUNDLE in mac.kexts,
        "webdriver_kext_version": mac.kexts.get(WEBDRIVER_BUNDLE),
        "webdriver_version": mac.webdriver_version,
        "cuda_kext_loaded": CUDA_KEXT_BUNDLE in mac.kexts,
        "displays": [
            {k: d.fields[k] for k in ("Chipset Model", "Device ID", "PCIe Lane Width", "Bus") if k in d.fields}
            for d in nvidia
        ],
    }


def _mac_problem(mac: MacFacts) -> str | None:
    """Why the web driver stack is not working, from what macOS shows (None when it looks right)."""
    nvidia = [d for d in mac.displays if d.is_nvidia]
    if mac.kexts_error:
        return mac.kexts_error
    if WEBDRIVER_BUNDLE not in mac.kexts:
        installed = f"version {mac.webdriver_version} is installed" if mac.webdriver_version else "not installed"
        return f"the NVIDIA web driver is not loaded (kextstat shows no {WEBDRIVER_BUNDLE}; {installed})"
    if nvidia and not any(d.driver_working for d in nvidia):
        return "system_profiler shows the card as 'NVIDIA Chip Model': the web driver does not drive it"
    return None


def _mac(state: SuiteState) -> Check:
    mac = state.backend.mac()
    measurements = _mac_measurements(mac)
    nvidia = [d for d in mac.displays if d.is_nvidia]
    problem = _mac_problem(mac)
    if state.rehearsal:
        if not nvidia:
            return failed(NAME, mac.displays_error or "system_profiler shows no NVIDIA GPU", **measurements)
        if problem:
            return failed(NAME, problem, **measurements)
        state.devices = [GpuDevice(name=d.chipset, pci_device_id=d.device_id) for d in nvidia if d.driver_working]
        return _summary(state, measurements)
    driver, driver_problem, driver_absent = _driver(state)
    if driver is not None and driver.devices:
        state.devices = _from_driver(driver)
        # Pair CUDA's devices with macOS's display blocks in order (one eGPU in practice); CUDA may see fewer.
        for index, device in enumerate(state.devices[: len(nvidia)]):
            device.pci_device_id = nvidia[index].device_id
        measurements["source"] = "cuda"
        return _summary(state, measurements)
    if not nvidia and driver_absent:
        # Nothing NVIDIA anywhere: no eGPU attached (or not powered), or no driver at all.
        state.no_gpu = "; ".join(p for p in (driver_problem, "system_profiler shows no NVIDIA GPU") if p)
        return skipped(NAME, _no_gpu_reason(state), **measurements)
    # The card is there but CUDA cannot use it: a broken stack, which is a failure, not "no GPU".
    return failed(NAME, problem or driver_problem or "the CUDA driver sees no device", **measurements)


def check_gpu_present(state: SuiteState) -> Check:
    return _mac(state) if state.host.platform == "darwin" else _linux(state)
