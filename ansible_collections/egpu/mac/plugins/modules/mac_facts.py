#!/usr/bin/python
"""Documentation of egpu.mac.mac_facts; the work is done on the controller by plugins/action/mac_facts.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: mac_facts
short_description: Read a High Sierra Mac's state in one round trip (build, SIP, kexts, receipts, GPUs, CLT, disk)
version_added: "0.1.0"
description:
  - Runs macOS commands through the connection (C(sysctl), C(csrutil status), C(kextstat -l), C(nvram),
    C(system_profiler SPDisplaysDataType SPThunderboltDataType), C(ioreg), C(xcode-select -p), C(clang --version),
    C(nvcc --version), C(df -k /), C(fdesetup)) in one shell script and parses their output on the controller.
    Files are read as they are and parsed here - SystemVersion.plist (what C(sw_vers) prints), receipt plists in
    /private/var/db/receipts (what C(pkgutil --pkg-info) prints), Info.plists (what PlistBuddy prints) - so one
    round trip reads many of them. Needs no Python on the target, so it works on a bare Mac.
  - Sets the fact C(egpu_mac).
options:
  receipts:
    description: Package ids whose receipt version to report (C(egpu_mac.receipts[id]), null when absent).
    type: list
    elements: str
    default: []
  plists:
    description: Name -> C({path, key}) of plist values to report (C(egpu_mac.plists[name])); key is a
      PlistBuddy key path without the leading colon.
    type: dict
    default: {}
  paths:
    description: Paths whose existence to report (C(egpu_mac.paths[path])).
    type: list
    elements: str
    default: []
  nvram:
    description: NVRAM variables to report as printed (C(egpu_mac.nvram[name])); with C(nvda_drv) also
      C(egpu_mac.nvda_drv_on) (C(1) and C(1%00) both count as on).
    type: list
    elements: str
    default: []
  gather:
    description:
      - The subsets to read, each one command at most. C(os) (build, product_version from SystemVersion.plist),
        C(cpu) (sysctl hw.model, ncpu, memsize), C(sip) (csrutil status), C(kexts) (kextstat -l), C(disk)
        (df -k /), C(xcode_select) (xcode-select -p), C(clang) (clang --version), C(nvcc) (nvcc --version),
        C(hardware) (system_profiler SPDisplaysDataType/SPThunderboltDataType, ioreg), C(filevault)
        (fdesetup status, supportsauthrestart, list; the list needs root).
      - Default all but C(hardware), plus C(hardware) when O(hardware) is true.
      - Facts of subsets not read keep the values of earlier calls.
    type: list
    elements: str
    choices: [os, cpu, sip, kexts, disk, xcode_select, clang, nvcc, hardware, filevault]
  probes:
    description: Name -> read-only shell command; C(egpu_mac.probes[name]) is C({rc, stdout, cmd}). For state no other
      option reads (a header's version macros, whether a file is newer than the kext cache).
    type: dict
    default: {}
  hardware:
    description: Also read GPUs, Thunderbolt devices and the PCI tunnel (system_profiler, ioreg; slower).
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Read-only; runs the same in check mode.
  diff_mode:
    support: none
  facts:
    support: full
author:
  - egpu-setup developers
"""

EXAMPLES = r"""
- name: Read the Mac's build, SIP state, GPUs and the web driver receipt
  egpu.mac.mac_facts:
    receipts: [com.nvidia.web-driver]
    plists:
      webdriver_required_os:
        path: /Library/Extensions/NVDAStartupWeb.kext/Contents/Info.plist
        key: IOKitPersonalities:NVDAStartup:NVDARequiredOS
"""

RETURN = r"""
ansible_facts:
  description: C(egpu_mac) with build, product_version (os), model, ncpu, memsize (cpu), sip (status, custom,
    protections, kext_signing), kext_signing_enforced (sip), kexts_loaded (kexts; bundle id -> version),
    disk_free_gb (disk), xcode_select_path, clang (version_line, build, installed_dir), nvcc_version, gpus,
    nvidia_gpu, thunderbolt_devices, thunderbolt_enclosures, egpu_nvidia_on_thunderbolt (hardware), filevault
    (status, the first line of C(fdesetup status); conversion, its encryption/decryption line or null;
    unlock_at_boot, true when a restart stops at the unlock screen, null when unknown; supports_authrestart;
    users, the FileVault users or null when unreadable), and always
    nvram, receipts, plists, probes, paths for what this call asked.
  returned: success
  type: dict
mac:
  description: The same dict as C(ansible_facts.egpu_mac).
  returned: success
  type: dict
"""
