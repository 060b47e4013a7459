"""link.bandwidth: pinned host-to-device and device-to-host copies against the link's theoretical rate.

The theoretical rate: Thunderbolt 3 (PCIe 3.0 x4, 3.94 GB/s) for a Mac's eGPU; on Linux the slot's maximum PCIe
generation and width from NVML, else from sysfs (the current values are also reported: an idle GPU drops to a
lower generation to save power, so the maximum is what a copy gets).
"""

from __future__ import annotations

from typing import Any

from egpu_setup.verify import cuda_api, pcie
from egpu_setup.verify.result import Check, failed, passed, skipped
from egpu_setup.verify.state import SuiteState

NAME = "link.bandwidth"


def theoretical(state: SuiteState) -> tuple[float | None, str, dict[str, Any]]:
    """(GB/s, what link, the facts it came from) for CUDA device 0."""
    if state.expect.link_gbps:
        return state.expect.link_gbps, state.expect.link_name or "expected link", {}
    device = state.devices[0] if state.devices else None
    link = dict(device.pcie) if device else {}
    source = "nvml"
    if "max_generation" not in link and device is not None and device.pci_bus_id:
        link, source = state.backend.sysfs_link(device.pci_bus_id) or {}, "sysfs"
    if "max_generation" not in link or "max_width" not in link:
        return None, "unknown link", link
    rate = pcie.theoretical_gbps(link["max_generation"], link["max_width"])
    facts = {f"pcie_{k}": v for k, v in link.items()}
    facts["pcie_source"] = source
    return rate, f"PCIe {link['max_generation']}.0 x{link['max_width']}", facts


def check_link_bandwidth(state: SuiteState) -> Check:
    reason = state.gpu_skip_reason() or state.needs("cuda.runtime")
    if reason:
        return skipped(NAME, reason)
    size_mib, repeat = (64, 4) if state.options.quick else (256, 10)
    rate, link, facts = theoretical(state)
    try:
        h2d, d2h = state.backend.copy_bandwidth(size_mib * 2**20, repeat)
    except cuda_api.CudaError as exc:
        return failed(NAME, f"copy failed: {exc}", **facts)
    measurements: dict[str, Any] = {
        "h2d_gbps": round(h2d, 2), "d2h_gbps": round(d2h, 2), "size_mib": size_mib, "repeat": repeat, "link": link,
        **facts,
    }  # fmt: skip
    figures = f"host to device {h2d:.2f} GB/s, device to host {d2h:.2f} GB/s"
    if rate is None:
        return passed(NAME, f"{figures} (no theoretical rate known: reported only)", **measurements)
    measurements["theoretical_gbps"] = round(rate, 2)
    measurements["h2d_ratio"], measurements["d2h_ratio"] = round(h2d / rate, 3), round(d2h / rate, 3)
    floor = state.expect.bandwidth_min_ratio
    text = f"{figures} of {rate:.2f} ({link}): {min(h2d, d2h) / rate:.0%}"
    check = (
        passed(NAME, text, **measurements)
        if min(h2d, d2h) >= floor * rate
        else failed(NAME, f"{text}, below {floor:.0%} of the link's rate", **measurements)
    )
    check.expected = {"theoretical_gbps": round(rate, 2), "min_ratio": floor}
    return check
