"""egpu.mac.mac_facts: read a Mac's state in one round trip through the connection, parse it on the controller.

Runs only macOS commands (no Python on the target), so it works on a bare High Sierra Mac and in check mode.
Files are read as they are (base64 through the connection) and parsed here: SystemVersion.plist (what sw_vers
prints), receipt plists in /private/var/db/receipts (what `pkgutil --pkg-info` prints) and Info.plists (what
PlistBuddy prints); commands run only for state that has no file (csrutil, kextstat, nvram, df, system_profiler,
ioreg, xcode-select, clang, nvcc, sysctl). Formats: /work/shared/docs/macos-commands.md; parsers:
module_utils/macos_parse.py. Only the subsets asked for are read (`gather`); the fact `egpu_mac` keeps what earlier
calls read and replaces what this one read.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import plistlib
from typing import Any

from ansible_collections.egpu.mac.plugins.module_utils import macos_parse as parse
from ansible_collections.egpu.mac.plugins.module_utils.target_shell import quote, run_sections
from ansible_collections.egpu.mac.plugins.plugin_utils.mac_action import ActionFailed, MacAction

NVIDIA_VENDOR_ID = 0x10DE
SYSTEM_VERSION = "/System/Library/CoreServices/SystemVersion.plist"
RECEIPTS = "/private/var/db/receipts"
SUBSETS = ("os", "cpu", "sip", "kexts", "disk", "xcode_select", "clang", "nvcc", "hardware", "filevault")
DEFAULT_GATHER = ["os", "cpu", "sip", "kexts", "disk", "xcode_select", "clang", "nvcc"]

COMMANDS = {
    "cpu": {"sysctl": "sysctl hw.model hw.ncpu hw.memsize"},
    "sip": {"csrutil": "csrutil status"},
    "kexts": {"kextstat": "kextstat -l"},
    "disk": {"df": "df -k /"},
    "xcode_select": {"xcode_select": "xcode-select -p"},
    # /usr/bin/clang without Command Line Tools pops up an install dialog: ask only when a tool dir is selected.
    "clang": {"clang": "xcode-select -p >/dev/null && clang --version"},
    "nvcc": {"nvcc": "[ -x /usr/local/cuda/bin/nvcc ] && /usr/local/cuda/bin/nvcc --version"},
    # `fdesetup list` needs root (the tasks run with become); without it the users are unknown (null).
    "filevault": {
        "fdesetup_status": "fdesetup status",
        "fdesetup_authrestart": "fdesetup supportsauthrestart",
        "fdesetup_list": "fdesetup list",
    },
    "hardware": {
        "displays": "system_profiler SPDisplaysDataType",
        "thunderbolt": "system_profiler SPThunderboltDataType",
        "ioreg": "ioreg -r -c IOPCIDevice -l || ioreg -l",
    },
}


def receipt_plist(receipt_id: str) -> str:
    return f"{RECEIPTS}/{receipt_id}.plist"


def wanted_files(args: dict[str, Any], gather: list[str]) -> list[str]:
    files = [SYSTEM_VERSION] if "os" in gather else []
    files += [receipt_plist(rid) for rid in args["receipts"]]
    files += [spec["path"] for spec in args["plists"].values()]
    return list(dict.fromkeys(files))


def build_commands(args: dict[str, Any], gather: list[str]) -> dict[str, str]:
    commands: dict[str, str] = {}
    for subset in gather:
        commands.update(COMMANDS.get(subset, {}))
    files = wanted_files(args, gather)
    if files:
        # One base64 stream per readable file, framed by its path; binary plists travel intact.
        listed = " ".join(quote(f) for f in files)
        commands["files"] = f'for f in {listed}; do [ -f "$f" ] && {{ echo "@@file $f"; base64 < "$f"; }}; done; true'
    for name in args["nvram"]:
        commands[f"nvram:{name}"] = f"nvram {quote(name)}"
    for name, cmd in args["probes"].items():
        commands[f"probe:{name}"] = cmd
    if args["paths"]:
        listed = " ".join(quote(p) for p in args["paths"])
        commands["paths"] = f'for p in {listed}; do [ -e "$p" ] && echo "$p"; done; true'
    return commands


def parse_files(text: str) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    path: str | None = None
    chunks: list[str] = []
    for line in [*text.splitlines(), "@@file "]:
        if line.startswith("@@file "):
            if path is not None:
                with contextlib.suppress(binascii.Error, ValueError):
                    out[path] = base64.b64decode("".join(chunks))
            path, chunks = line[len("@@file ") :], []
        else:
            chunks.append(line.strip())
    return out


def plist_value(data: bytes | None, key: str) -> str | None:
    """The value at a PlistBuddy-style key path (`A:B:0:C`) as PlistBuddy would print a string or number."""
    if data is None:
        return None
    try:
        node: Any = plistlib.loads(data)
    except (plistlib.InvalidFileException, ValueError, TypeError, KeyError, IndexError):
        return None
    for part in key.lstrip(":").split(":"):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node) if isinstance(node, str | int | float) else None


def parse_facts(sections: dict[str, tuple[int, str]], args: dict[str, Any], gather: list[str]) -> dict[str, Any]:
    def text(name: str) -> str:
        rc, out = sections.get(name, (1, ""))
        return out if rc == 0 else ""

    files = parse_files(sections.get("files", (0, ""))[1])
    facts: dict[str, Any] = {}
    if "os" in gather:
        facts["product_name"] = plist_value(files.get(SYSTEM_VERSION), "ProductName") or ""
        facts["product_version"] = plist_value(files.get(SYSTEM_VERSION), "ProductVersion") or ""
        facts["build"] = plist_value(files.get(SYSTEM_VERSION), "ProductBuildVersion") or ""
    if "cpu" in gather:
        sysctl = parse.parse_sysctl(text("sysctl"))
        facts["model"] = sysctl.get("hw.model", "")
        facts["ncpu"] = int(sysctl.get("hw.ncpu", "0") or 0)
        facts["memsize"] = int(sysctl.get("hw.memsize", "0") or 0)
    if "sip" in gather:
        facts["sip"] = parse.parse_csrutil_status(text("csrutil"))
        facts["kext_signing_enforced"] = bool(facts["sip"]["kext_signing"])
    if "kexts" in gather:
        facts["kexts_loaded"] = parse.parse_kextstat(text("kextstat"))
    if "disk" in gather:
        free_kb = parse.parse_df_kb(text("df"))
        facts["disk_free_gb"] = round(free_kb / 1024 / 1024, 2) if free_kb is not None else None
    if "xcode_select" in gather:
        facts["xcode_select_path"] = text("xcode_select").strip() or None
    if "clang" in gather:
        facts["clang"] = parse.parse_clang_version(text("clang"))
    if "nvcc" in gather:
        facts["nvcc_version"] = parse.parse_nvcc_version(text("nvcc")) or None
    if "hardware" in gather:
        facts.update(parse_hardware(text("displays"), text("thunderbolt"), text("ioreg")))
    if "filevault" in gather:
        facts["filevault"] = parse_filevault(sections)
    facts["nvram"] = {name: parse.parse_nvram(text(f"nvram:{name}")).get(name) for name in args["nvram"]}
    if "nvda_drv" in args["nvram"]:
        facts["nvda_drv_on"] = parse.nvram_flag_on(facts["nvram"]["nvda_drv"])
    facts["receipts"] = {rid: plist_value(files.get(receipt_plist(rid)), "PackageVersion") for rid in args["receipts"]}
    facts["plists"] = {name: plist_value(files.get(spec["path"]), spec["key"]) for name, spec in args["plists"].items()}
    facts["probes"] = {}
    for name in args["probes"]:
        rc, out = sections.get(f"probe:{name}", (1, ""))
        facts["probes"][name] = {"rc": rc, "stdout": out.strip(), "cmd": args["probes"][name]}
    present = set(text("paths").splitlines())
    facts["paths"] = {p: p in present for p in args["paths"]}
    return facts


def parse_hardware(displays: str, thunderbolt: str, ioreg: str) -> dict[str, Any]:
    gpus = parse.parse_displays(displays)
    nvidia = [g for g in gpus if g["vendor_id"] == NVIDIA_VENDOR_ID]
    devices = parse.parse_thunderbolt(thunderbolt)
    return {
        "gpus": gpus,
        "nvidia_gpu": nvidia[0] if nvidia else None,
        "thunderbolt_devices": devices,
        # The Mac's own bus shows as a device too (vendor Apple); an enclosure is any other connected device.
        "thunderbolt_enclosures": [
            d for d in devices if d["vendor"] != "Apple Inc." and "connected" in d["status"].lower()
        ],
        "egpu_nvidia_on_thunderbolt": NVIDIA_VENDOR_ID in parse.parse_ioreg_tunnelled_vendors(ioreg),
    }


def parse_filevault(sections: dict[str, tuple[int, str]]) -> dict[str, Any]:
    """FileVault's state: `fdesetup status` parsed, whether this Mac supports an authenticated restart, its users."""
    status_rc, status = sections.get("fdesetup_status", (1, ""))
    info = parse.parse_fdesetup_status(status if status_rc == 0 else "")
    support_rc, support = sections.get("fdesetup_authrestart", (1, ""))
    list_rc, listed = sections.get("fdesetup_list", (1, ""))
    info["supports_authrestart"] = support.strip() == "true" if support_rc == 0 else None
    info["users"] = parse.parse_fdesetup_list(listed) if list_rc == 0 else None
    return info


class ActionModule(MacAction):
    def act(self, result: dict[str, Any], args: dict[str, Any], task_vars: dict[str, Any]) -> None:
        for name, spec in args["plists"].items():
            if not isinstance(spec, dict) or not {"path", "key"} <= set(spec):
                raise ActionFailed(f"plists.{name} needs `path` and `key`")
        gather = args["gather"] if args["gather"] is not None else list(DEFAULT_GATHER)
        if args["gather"] is None and args["hardware"]:
            gather.append("hardware")
        sections = run_sections(self, build_commands(args, gather))
        if "os" in gather and not parse_files(sections.get("files", (0, ""))[1]).get(SYSTEM_VERSION):
            raise ActionFailed(f"the target has no {SYSTEM_VERSION}: is it a Mac?")
        facts = dict(task_vars.get("egpu_mac") or {})
        facts.update(parse_facts(sections, args, gather))
        result.update(changed=False, ansible_facts={"egpu_mac": facts}, mac=facts)
