"""Parsers of macOS 10.13 command output for the collection's action plugins (controller side).

Every format is the one /work/shared/docs/macos-commands.md documents (Apple's kext_tools-502.60.2,
system_cmds-790.50.6, shell_cmds-203 and real transcripts). The action plugins run on the controller and may import
egpu_setup: a format that egpu_setup's verification (which runs on the Mac) also reads is parsed by its parser,
imported here, so each format has one parser (`kextstat -l` and the GPU blocks of
`system_profiler SPDisplaysDataType`: egpu_setup.verify.macos). Standard library only.
"""

from __future__ import annotations

import re

from egpu_setup.verify.macos import parse_displays as parse_display_blocks
from egpu_setup.verify.macos import parse_kextstat

__all__ = ["parse_kextstat"]  # re-exported: the action plugins read every format from this module
_CLANG_BUILD = re.compile(r"\((clang-[0-9.]+)\)")
_NVCC_RELEASE = re.compile(r"release ([0-9.]+), V([0-9.]+)")


def parse_csrutil_status(text: str) -> dict[str, object]:
    """`csrutil status`: plain enabled/disabled, or a custom configuration with one line per protection.

    Kext signing is enforced when SIP is enabled without a custom configuration, or when the custom configuration
    says `Kext Signing: enabled`.
    """
    first = text.strip().splitlines()[0] if text.strip() else ""
    match = re.search(r"status:\s*(enabled|disabled)", first)
    status = match.group(1) if match else "unknown"
    custom = "Custom Configuration" in first
    protections: dict[str, bool] = {}
    for line in text.splitlines():
        if line.startswith("\t") and ":" in line:
            name, _, value = line.strip().partition(":")
            protections[name.strip()] = value.strip().rstrip(".") == "enabled"
    if status == "disabled":
        kext_signing = False
    elif custom and "Kext Signing" in protections:
        kext_signing = protections["Kext Signing"]
    else:
        kext_signing = status != "unknown"
    return {"status": status, "custom": custom, "protections": protections, "kext_signing": kext_signing}


def decode_nvram_value(value: str) -> str:
    """nvram prints non-printable bytes and `%` as `%xx`; decode them (`1%00` -> `1\\x00`)."""
    return re.sub(r"%([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), value)


def parse_nvram(text: str) -> dict[str, str]:
    """`nvram -p` or `nvram NAME`: `name\\tvalue` per line, values as printed (still %-encoded)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.partition("\t")
        if sep and name:
            out[name] = value
    return out


def nvram_flag_on(value: str | None) -> bool:
    """NVIDIA's installers write `nvda_drv=1%00`, `nvram nvda_drv=1` gives `1`: both mean on."""
    return value is not None and decode_nvram_value(value).rstrip("\x00") == "1"


def parse_pkg_info(text: str) -> dict[str, str]:
    """`pkgutil --pkg-info ID`: `package-id:`, `version:`, `volume:`, `location:`, `install-time:` lines."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


def parse_system_profiler_blocks(text: str) -> list[dict[str, str]]:
    """system_profiler's indented `Key: value` text, split into one dict per device block.

    A block starts at a line ending in `:` with nothing after it (the device's name); its name is kept as `_name`.
    Nested headers (e.g. `Displays:`) stay inside the current device block, which is what the callers want.
    """
    blocks: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    device_indent: int | None = None
    for raw in text.splitlines():
        if not raw.strip():
            continue
        indent = len(raw) - len(raw.lstrip())
        line = raw.strip()
        key, sep, value = line.partition(":")
        if sep and not value.strip():
            # A header. The first header below the top level defines the device indentation.
            if indent == 0:
                continue
            if device_indent is None or indent <= device_indent:
                device_indent = indent
                current = {"_name": key.strip()}
                blocks.append(current)
            continue
        if sep and current is not None:
            current.setdefault(key.strip(), value.strip())
    return blocks


def parse_displays(text: str) -> list[dict[str, object]]:
    """`system_profiler SPDisplaysDataType`: one entry per GPU with its vendor id and PCI device id as ints, from
    the blocks egpu_setup.verify.macos reads (one parser of the format)."""
    gpus: list[dict[str, object]] = []
    for display in parse_display_blocks(text):
        vendor = re.search(r"0x([0-9a-fA-F]+)", display.fields.get("Vendor", ""))
        gpus.append(
            {
                "chipset_model": display.chipset,
                "bus": display.fields.get("Bus", ""),
                "vendor_id": int(vendor.group(1), 16) if vendor else None,
                "device_id": display.device_id,
                "vram": next((v for k, v in display.fields.items() if k.startswith("VRAM")), ""),
                "lane_width": display.fields.get("PCIe Lane Width", ""),
            }
        )
    return gpus


def parse_thunderbolt(text: str) -> list[dict[str, str]]:
    """`system_profiler SPThunderboltDataType`: the connected devices (blocks with a Vendor Name)."""
    devices: list[dict[str, str]] = []
    for block in parse_system_profiler_blocks(text):
        if "Vendor Name" in block or "Device Name" in block:
            devices.append(
                {
                    "name": block.get("Device Name", block.get("_name", "")),
                    "vendor": block.get("Vendor Name", ""),
                    "status": block.get("Status", ""),
                    "speed": block.get("Speed", ""),
                }
            )
    return devices


def parse_ioreg_tunnelled_vendors(text: str) -> list[int]:
    """`ioreg -l` (or `-r -c IOPCIDevice -l`): vendor ids of PCI devices with `"IOPCITunnelled" = Yes`.

    ioreg prints one property per line inside `{ ... }` blocks per device; `"vendor-id" = <de100000>` is
    little-endian (0x10de).
    """
    vendors: list[int] = []
    for block in re.split(r"\+-o ", text):
        if not re.search(r'"IOPCITunnelled"\s*=\s*Yes', block):
            continue
        match = re.search(r'"vendor-id"\s*=\s*<([0-9a-fA-F]{2})([0-9a-fA-F]{2})', block)
        if match:
            vendors.append(int(match.group(2) + match.group(1), 16))
    return vendors


def parse_clang_version(text: str) -> dict[str, str]:
    """`clang --version`: first line `Apple LLVM version 9.0.0 (clang-900.0.39.2)`; `InstalledDir:` line."""
    lines = text.strip().splitlines()
    first = lines[0] if lines else ""
    build = _CLANG_BUILD.search(first)
    installed = next((ln.partition(":")[2].strip() for ln in lines if ln.startswith("InstalledDir:")), "")
    return {"version_line": first, "build": build.group(1) if build else "", "installed_dir": installed}


def parse_nvcc_version(text: str) -> str:
    """`nvcc --version`: `Cuda compilation tools, release 9.1, V9.1.128` -> `9.1.128` ('' when absent)."""
    match = _NVCC_RELEASE.search(text)
    return match.group(2) if match else ""


def parse_df_kb(text: str) -> int | None:
    """`df -k PATH`: the Available column (KiB) of the last row."""
    rows = [ln.split() for ln in text.strip().splitlines()[1:] if ln.strip()]
    if not rows:
        return None
    # BSD df: Filesystem 1024-blocks Used Available Capacity iused ifree %iused Mounted on
    try:
        return int(rows[-1][3])
    except (IndexError, ValueError):
        return None


def parse_sysctl(text: str) -> dict[str, str]:
    """`sysctl name ...`: `name: value` lines."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.partition(": ")
        if sep:
            out[name.strip()] = value.strip()
    return out


# `fdesetup status` (Apple's fdesetup(8); lab/egpu_lab/facts/filevault.yaml): a first line saying On or Off,
# and while the volume converts a second line `Encryption in progress: Percent completed = N` (or Decryption).
FILEVAULT_ON = "FileVault is On."
FILEVAULT_OFF = "FileVault is Off."


def parse_fdesetup_status(text: str) -> dict[str, object]:
    """`fdesetup status` -> {status, conversion, unlock_at_boot}.

    `unlock_at_boot` says whether a restart stops at the FileVault unlock screen: True when FileVault is on (also
    while it still encrypts) and while a disabled FileVault still decrypts (the volume is encrypted until the
    decryption ends: the conservative reading, unconfirmed); False only for a plain `FileVault is Off.`; None when
    the text is not fdesetup's (the caller cannot tell, and must not guess "off").
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    conversion = next((line for line in lines if "cryption in progress" in line), None)
    if FILEVAULT_ON in lines or (conversion or "").startswith("Encryption"):
        unlock: bool | None = True
    elif (conversion or "").startswith("Decryption"):
        unlock = True
    elif FILEVAULT_OFF in lines:
        unlock = False
    else:
        unlock = None
    return {"status": lines[0] if lines else "", "conversion": conversion, "unlock_at_boot": unlock}


def parse_fdesetup_list(text: str) -> list[str]:
    """`fdesetup list`: one `shortname,GeneratedUID` line per FileVault user -> the short names."""
    return [line.split(",", 1)[0].strip() for line in text.splitlines() if "," in line]
