"""PCIe link rates, and the link of a GPU read from Linux sysfs when NVML is not at hand."""

from __future__ import annotations

import os
import re

# Usable GB/s per lane and direction after line encoding: gen1/2 use 8b/10b, gen3-5 128b/130b (PCI-SIG specs).
_LANE_GBPS = {1: 2.5 * 8 / 10 / 8, 2: 5.0 * 8 / 10 / 8, 3: 8.0 * 128 / 130 / 8, 4: 16.0 * 128 / 130 / 8,
              5: 32.0 * 128 / 130 / 8, 6: 64.0 * 242 / 256 / 8}  # fmt: skip
# sysfs writes the speed as "8.0 GT/s PCIe"; older kernels "8 GT/s".
_SPEED_TO_GEN = {2.5: 1, 5.0: 2, 8.0: 3, 16.0: 4, 32.0: 5, 64.0: 6}


def theoretical_gbps(generation: int, width: int) -> float | None:
    """Per-direction payload ceiling of a PCIe link in GB/s; None for an unknown generation."""
    lane = _LANE_GBPS.get(generation)
    return lane * width if lane and width else None


def sysfs_link(pci_bus_id: str, root: str = "/sys/bus/pci/devices") -> dict[str, int] | None:
    """Max and current generation and width of a PCI device from sysfs (Linux), or None when unreadable.

    CUDA writes bus ids as "0000:3B:00.0" (upper case; sometimes 8-digit domains); sysfs uses "0000:3b:00.0".
    """
    match = re.fullmatch(r"(?:[0-9A-Fa-f]*?)([0-9A-Fa-f]{4}):([0-9A-Fa-f]{2}):([0-9A-Fa-f]{2})\.(\d)", pci_bus_id)
    if not match:
        return None
    device = os.path.join(root, f"{match.group(1)}:{match.group(2)}:{match.group(3)}.{match.group(4)}".lower())

    def read(name: str) -> str | None:
        try:
            with open(os.path.join(device, name)) as handle:
                return handle.read().strip()
        except OSError:
            return None

    def gen(text: str | None) -> int | None:
        number = re.match(r"([\d.]+)\s*GT/s", text or "")
        return _SPEED_TO_GEN.get(float(number.group(1))) if number else None

    def width(text: str | None) -> int | None:
        return int(text) if text and text.isdigit() else None

    result = {
        "max_generation": gen(read("max_link_speed")),
        "max_width": width(read("max_link_width")),
        "current_generation": gen(read("current_link_speed")),
        "current_width": width(read("current_link_width")),
    }
    if result["max_generation"] is None or result["max_width"] is None:
        return None
    return {k: v for k, v in result.items() if v is not None}
