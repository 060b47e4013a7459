"""mac_facts' parsing of one round trip: framed sections, base64 files (binary plists), subsets and merging."""

from __future__ import annotations

import base64
import plistlib

from ansible_collections.egpu.mac.plugins.action import mac_facts
from ansible_collections.egpu.mac.plugins.module_utils.target_shell import parse_sectioned, sectioned

ARGS = {"receipts": [], "plists": {}, "paths": [], "nvram": [], "probes": {}}


def framed(**files: bytes) -> str:
    return "".join(f"@@file {path}\n{base64.encodebytes(data).decode()}" for path, data in files.items())


def test_sections_keep_each_commands_status() -> None:
    script = sectioned({"a": "echo one; echo two", "b": "echo x; exit 3"})
    import subprocess

    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True).stdout
    assert parse_sectioned(out) == {"a": (0, "one\ntwo"), "b": (3, "x")}


def test_only_the_asked_subsets_run() -> None:
    commands = mac_facts.build_commands({**ARGS, "receipts": ["com.nvidia.web-driver"]}, ["kexts"])
    assert set(commands) == {"kextstat", "files"}
    assert "/private/var/db/receipts/com.nvidia.web-driver.plist" in commands["files"]
    assert "SystemVersion.plist" not in commands["files"]


def test_binary_receipt_and_xml_info_plist_are_read_like_pkgutil_and_plistbuddy() -> None:
    receipt = plistlib.dumps(
        {"PackageIdentifier": "com.nvidia.web-driver", "PackageVersion": "387.10.10.10.25.156"},
        fmt=plistlib.FMT_BINARY,
    )
    info = plistlib.dumps({"IOKitPersonalities": {"NVDAStartup": {"NVDARequiredOS": "17D47"}}, "Tunnel": True})
    system = plistlib.dumps({"ProductName": "Mac OS X", "ProductVersion": "10.13.2", "ProductBuildVersion": "17C88"})
    kext = "/Library/Extensions/NVDAStartupWeb.kext/Contents/Info.plist"
    sections = {
        "files": (0, framed(**{
            mac_facts.SYSTEM_VERSION: system,
            "/private/var/db/receipts/com.nvidia.web-driver.plist": receipt,
            kext: info,
        })),
        "nvram:nvda_drv": (0, "nvda_drv\t1%00"),
        "paths": (0, "/usr/local/bin/python3"),
    }  # fmt: skip
    args = {
        **ARGS,
        "receipts": ["com.nvidia.web-driver", "com.nvidia.cuda.kext.pkg"],
        "plists": {
            "required_os": {"path": kext, "key": "IOKitPersonalities:NVDAStartup:NVDARequiredOS"},
            "tunnel": {"path": kext, "key": "Tunnel"},
            "missing": {"path": kext, "key": "IOKitPersonalities:Nope"},
        },
        "nvram": ["nvda_drv"],
        "paths": ["/usr/local/bin/python3", "/usr/local/egpu-setup/venv/bin/python3"],
    }
    facts = mac_facts.parse_facts(sections, args, ["os"])
    assert (facts["build"], facts["product_version"]) == ("17C88", "10.13.2")
    assert facts["receipts"] == {"com.nvidia.web-driver": "387.10.10.10.25.156", "com.nvidia.cuda.kext.pkg": None}
    assert facts["plists"] == {"required_os": "17D47", "tunnel": "true", "missing": None}
    assert facts["nvda_drv_on"] is True
    assert facts["paths"] == {"/usr/local/bin/python3": True, "/usr/local/egpu-setup/venv/bin/python3": False}
    assert "sip" not in facts and "kexts_loaded" not in facts


def test_hardware_finds_the_enclosure_not_the_macs_own_bus() -> None:
    tb = (
        "Thunderbolt:\n\n    MacBook Pro:\n\n      Vendor Name: Apple Inc.\n      Device Name: MacBook Pro\n\n"
        "    Box:\n\n      Vendor Name: GIGABYTE\n      Device Name: GP-AORUS GTX1080 Gaming Box\n"
        "      Status: Device connected\n"
    )
    facts = mac_facts.parse_hardware("", tb, "")
    assert [d["vendor"] for d in facts["thunderbolt_enclosures"]] == ["GIGABYTE"]
    assert facts["nvidia_gpu"] is None and facts["egpu_nvidia_on_thunderbolt"] is False


def test_the_lighter_subsets_leave_out_ioreg_and_what_an_authenticated_restart_needs() -> None:
    light = mac_facts.build_commands(ARGS, ["gpus", "filevault_status"])
    full = mac_facts.build_commands(ARGS, ["hardware", "filevault"])
    assert set(light) == {"displays", "thunderbolt", "fdesetup_status"}
    assert set(full) - set(light) == {"ioreg", "fdesetup_authrestart", "fdesetup_list"}

    sections = {"displays": (0, ""), "thunderbolt": (0, ""), "fdesetup_status": (0, "FileVault is Off.\n")}
    facts = mac_facts.parse_facts(sections, ARGS, ["gpus", "filevault_status"])
    assert facts["nvidia_gpu"] is None and "egpu_nvidia_on_thunderbolt" not in facts  # not read, not claimed False
    assert facts["filevault"]["status"] == "FileVault is Off."
    assert facts["filevault"]["supports_authrestart"] is None and facts["filevault"]["users"] is None
