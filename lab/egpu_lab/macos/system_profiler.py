"""system_profiler: Graphics/Displays, Thunderbolt and Software reports from the machine state."""

from __future__ import annotations

import plistlib
import time
from typing import Any

from egpu_lab.machine import MachineState
from egpu_lab.macos.base import Sim

EXECUTABLES = {"/usr/sbin/system_profiler": "system_profiler"}

TYPES = ("SPDisplaysDataType", "SPThunderboltDataType", "SPSoftwareDataType")
TITLES = {"SPDisplaysDataType": "Graphics/Displays", "SPThunderboltDataType": "Thunderbolt",
          "SPSoftwareDataType": "Software"}  # fmt: skip


def _displays(st: MachineState) -> list[tuple[str, list[tuple[str, str]]]]:
    items = [
        (
            st.hardware.internal_gpu,
            [("Chipset Model", st.hardware.internal_gpu), ("Type", "GPU"), ("Bus", "Built-In"),
             ("VRAM (Dynamic, Max)", "1536 MB"), ("Vendor", "Intel (0x8086)"), ("Device ID", "0x5927"),
             ("Revision ID", "0x0006"), ("Metal", "Supported, feature set macOS GPUFamily1 v3")],
        )
    ]  # fmt: skip
    gpu = st.hardware.gpu
    if gpu is not None:
        working = st.boot.gpu_driver == "web"
        name = gpu.model if working else "NVIDIA Chip Model"
        rows = [("Chipset Model", name), ("Type", "GPU"), ("Bus", "PCIe"), ("PCIe Lane Width", gpu.lane_width)]
        if working:
            rows.append(("VRAM (Total)", f"{gpu.vram_mb // 1024} GB"))
        rows += [("Vendor", f"NVIDIA (0x{gpu.vendor_id:04x})"), ("Device ID", f"0x{gpu.device_id:04x}"),
                 ("Revision ID", f"0x{gpu.revision_id:04x}"), ("ROM Revision", gpu.rom_revision)]  # fmt: skip
        if working:
            rows.append(("Metal", "Supported, feature set macOS GPUFamily1 v3"))
        items.append((name, rows))
    return items


def _thunderbolt(st: MachineState) -> list[tuple[str, list[tuple[str, str]]]]:
    items = [
        (
            "Thunderbolt Bus 0",
            [("Vendor Name", "Apple Inc."), ("Device Name", "MacBook Pro"), ("UID", "0x0001E3A2B1C4D5E6"),
             ("Route String", "0"), ("Firmware Version", "30.1"), ("Status", "No device connected")],
        )
    ]  # fmt: skip
    if st.hardware.thunderbolt:
        items[0][1][-1] = ("Status", "Device connected")
    for dev in st.hardware.thunderbolt:
        items.append(
            (
                dev.device_name,
                [("Vendor Name", dev.vendor_name), ("Device Name", dev.device_name), ("Vendor ID", dev.vendor_id),
                 ("Device ID", dev.device_id), ("Device Revision", "0x1"), ("Route String", "1"),
                 ("Firmware Version", dev.firmware), ("Status", "Device connected"), ("Speed", dev.speed)],
            )
        )  # fmt: skip
    return items


def _software(st: MachineState) -> list[tuple[str, list[tuple[str, str]]]]:
    minutes = max(1, int(time.time() - st.boot.time) // 60) if st.boot.time else 1
    sip = "Enabled" if st.sip.get("Filesystem Protections", True) else "Disabled"
    return [
        (
            "System Software Overview",
            [("System Version", f"macOS {st.product_version} ({st.build})"),
             ("Kernel Version", f"Darwin {st.kernel_version}"), ("Boot Volume", "Macintosh HD"),
             ("Boot Mode", "Normal"), ("Computer Name", st.hostname), ("User Name", "Admin (admin)"),
             ("Secure Virtual Memory", "Enabled"), ("System Integrity Protection", sip),
             ("Time since boot", f"{minutes} minute{'s' if minutes != 1 else ''}")],
        )
    ]  # fmt: skip


REPORTS = {"SPDisplaysDataType": _displays, "SPThunderboltDataType": _thunderbolt, "SPSoftwareDataType": _software}


# -xml keys of the text fields, as scripts that parse `system_profiler -xml` read them (e.g. the luci swarming
# bot's osx.py tests with a real SPDisplaysDataType plist; osquery; munki). Fields without a known key keep a
# lower-cased name (divergence).
XML_KEYS = {
    "Chipset Model": "sppci_model",
    "Type": "sppci_device_type",
    "Bus": "sppci_bus",
    "Vendor": "spdisplays_vendor",
    "Device ID": "spdisplays_device-id",
    "Revision ID": "spdisplays_revision-id",
    "ROM Revision": "spdisplays_rom-revision",
    "VRAM (Total)": "spdisplays_vram",
    "Vendor Name": "vendor_name_key",
    "Device Name": "device_name_key",
    "Vendor ID": "vendor_id_key",
    "System Version": "os_version",
    "Kernel Version": "kernel_version",
}
XML_VALUES = {
    ("Type", "GPU"): "spdisplays_gpu",
    ("Bus", "PCIe"): "spdisplays_pcie_device",
    ("Bus", "Built-In"): "spdisplays_builtin",
    ("Vendor", "NVIDIA (0x10de)"): "sppci_vendor_nvidia",
    ("Vendor", "Intel (0x8086)"): "Intel",
}


def _xml_item(name: str, rows: list[tuple[str, str]]) -> dict[str, Any]:
    item: dict[str, Any] = {"_name": name}
    for key, value in rows:
        item[XML_KEYS.get(key, key.lower().replace(" ", "_"))] = XML_VALUES.get((key, value), value)
    return item


def system_profiler(argv: list[str], sim: Sim) -> int:
    """Imitates system_profiler(8) of 10.13 for three data types (field names from macos-commands.md and
    public reports of eGPU setups, e.g. egpu.io and apache/mxnet #9217).

    SPDisplaysDataType: the built-in GPU, and the NVIDIA card: `Chipset Model: NVIDIA GeForce GTX 1080` with VRAM
    and Metal when the web driver drives it, `NVIDIA Chip Model` (no VRAM, no Metal) when Apple's driver stayed.
    SPThunderboltDataType: bus 0 and the enclosure (Vendor Name, Device Name, Vendor ID, Device ID, Firmware
    Version, Status, Speed). SPSoftwareDataType: `System Version: macOS 10.13.2 (17C88)`,
    `Kernel Version: Darwin 17.3.0`. No type: all three. Unknown type: nothing, exit 0 (as the real tool).
    `-xml`: a plist array of {_dataType, _items} with Apple's keys where public parsers show them (sppci_model,
    spdisplays_device-id, spdisplays_vendor = sppci_vendor_nvidia, sppci_device_type = spdisplays_gpu,
    os_version, kernel_version, vendor_name_key ...). Divergences: other fields keep lower-cased names;
    `-detailLevel` is accepted and ignored; no Displays sub-block for attached monitors.
    """
    xml = False
    wanted: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "-xml":
            xml = True
        elif arg in ("-detailLevel", "-timeout"):
            i += 1
        elif arg == "-listDataTypes":
            sim.out("Available Datatypes:")
            for t in TYPES:
                sim.out(t)
            return 0
        elif not arg.startswith("-"):
            wanted.append(arg)
        i += 1
    types = [t for t in (wanted or list(TYPES)) if t in REPORTS]
    st = sim.machine.read()
    if xml:
        doc = [{"_dataType": t, "_items": [_xml_item(n, rows) for n, rows in REPORTS[t](st)]} for t in types]
        sim.stdout.write(plistlib.dumps(doc).decode())
        return 0
    for t in types:
        sim.out(f"{TITLES[t]}:")
        sim.out()
        for name, rows in REPORTS[t](st):
            sim.out(f"    {name}:")
            sim.out()
            for key, value in rows:
                sim.out(f"      {key}: {value}")
            sim.out()
    return 0
