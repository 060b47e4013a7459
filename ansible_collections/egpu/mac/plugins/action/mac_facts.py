"""egpu.mac.mac_facts: read a Mac's state in one round trip through the connection, parse it on the controller.

Runs only macOS commands (no Python on the target), so it works on a bare High Sierra Mac and in check mode.
Formats: /work/shared/docs/macos-commands.md; parsers: module_utils/macos_parse.py.
"""

from __future__ import annotations

from typing import Any

from ansible.plugins.action import ActionBase

from ansible_collections.egpu.mac.plugins.module_utils import macos_parse as parse
from ansible_collections.egpu.mac.plugins.module_utils.target_shell import TargetCommandError, quote, run_sections

NVIDIA_VENDOR_ID = 0x10DE


def build_commands(args: dict[str, Any]) -> dict[str, str]:
    commands = {
        "sw_vers": "sw_vers",
        "sysctl": "sysctl hw.model hw.ncpu hw.memsize",
        "csrutil": "csrutil status",
        "kextstat": "kextstat -l",
        "df": "df -k /",
        "xcode_select": "xcode-select -p",
        # /usr/bin/clang without Command Line Tools pops up an install dialog: ask only when a tool dir is selected.
        "clang": "xcode-select -p >/dev/null && clang --version",
        "nvcc": "[ -x /usr/local/cuda/bin/nvcc ] && /usr/local/cuda/bin/nvcc --version",
    }
    if args.get("hardware", True):
        commands["displays"] = "system_profiler SPDisplaysDataType"
        commands["thunderbolt"] = "system_profiler SPThunderboltDataType"
        commands["ioreg"] = "ioreg -r -c IOPCIDevice -l || ioreg -l"
    for name in args.get("nvram") or []:
        commands[f"nvram:{name}"] = f"nvram {quote(name)}"
    for rid in args.get("receipts") or []:
        commands[f"receipt:{rid}"] = f"pkgutil --pkg-info {quote(rid)}"
    for name, spec in (args.get("plists") or {}).items():
        commands[f"plist:{name}"] = (
            f"[ -f {quote(spec['path'])} ] && PlistBuddy -c {quote('Print :' + spec['key'])} {quote(spec['path'])}"
        )
    for name, cmd in (args.get("probes") or {}).items():
        commands[f"probe:{name}"] = cmd
    paths = args.get("paths") or []
    if paths:
        listed = " ".join(quote(p) for p in paths)
        commands["paths"] = f'for p in {listed}; do [ -e "$p" ] && echo "$p"; done; true'
    return commands


def parse_facts(sections: dict[str, tuple[int, str]], args: dict[str, Any]) -> dict[str, Any]:
    def text(name: str) -> str:
        rc, out = sections.get(name, (1, ""))
        return out if rc == 0 else ""

    facts: dict[str, Any] = parse.parse_sw_vers(text("sw_vers"))
    sysctl = parse.parse_sysctl(text("sysctl"))
    facts["model"] = sysctl.get("hw.model", "")
    facts["ncpu"] = int(sysctl.get("hw.ncpu", "0") or 0)
    facts["memsize"] = int(sysctl.get("hw.memsize", "0") or 0)
    facts["sip"] = parse.parse_csrutil_status(text("csrutil"))
    facts["kext_signing_enforced"] = bool(facts["sip"]["kext_signing"])
    facts["kexts_loaded"] = parse.parse_kextstat(text("kextstat"))
    free_kb = parse.parse_df_kb(text("df"))
    facts["disk_free_gb"] = round(free_kb / 1024 / 1024, 2) if free_kb is not None else None
    facts["xcode_select_path"] = text("xcode_select").strip() or None
    facts["clang"] = parse.parse_clang_version(text("clang"))
    facts["nvcc_version"] = parse.parse_nvcc_version(text("nvcc")) or None
    gpus = parse.parse_displays(text("displays"))
    facts["gpus"] = gpus
    nvidia = [g for g in gpus if g["vendor_id"] == NVIDIA_VENDOR_ID]
    facts["nvidia_gpu"] = nvidia[0] if nvidia else None
    facts["thunderbolt_devices"] = parse.parse_thunderbolt(text("thunderbolt"))
    # The Mac's own bus shows as a device too (vendor Apple); an enclosure is any other connected device.
    facts["thunderbolt_enclosures"] = [
        d for d in facts["thunderbolt_devices"] if d["vendor"] != "Apple Inc." and "connected" in d["status"]
    ]
    tunnelled = parse.parse_ioreg_tunnelled_vendors(text("ioreg"))
    facts["egpu_nvidia_on_thunderbolt"] = NVIDIA_VENDOR_ID in tunnelled
    facts["nvram"] = {}
    for name in args.get("nvram") or []:
        values = parse.parse_nvram(text(f"nvram:{name}"))
        facts["nvram"][name] = values.get(name)
    facts["nvda_drv_on"] = parse.nvram_flag_on(facts["nvram"].get("nvda_drv"))
    facts["receipts"] = {}
    for rid in args.get("receipts") or []:
        info = parse.parse_pkg_info(text(f"receipt:{rid}"))
        facts["receipts"][rid] = info.get("version") or None
    facts["plists"] = {}
    for name in args.get("plists") or {}:
        value = text(f"plist:{name}").strip()
        facts["plists"][name] = value or None
    facts["probes"] = {}
    for name in args.get("probes") or {}:
        rc, out = sections.get(f"probe:{name}", (1, ""))
        facts["probes"][name] = {"rc": rc, "stdout": out.strip()}
    present = set(text("paths").splitlines())
    facts["paths"] = {p: p in present for p in args.get("paths") or []}
    return facts


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("receipts", "plists", "paths", "nvram", "hardware", "probes"))

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        self._supports_check_mode = True
        result = super().run(tmp, task_vars)
        _, args = self.validate_argument_spec(
            argument_spec={
                "receipts": {"type": "list", "elements": "str", "default": []},
                "plists": {"type": "dict", "default": {}},
                "paths": {"type": "list", "elements": "str", "default": []},
                "nvram": {"type": "list", "elements": "str", "default": ["nvda_drv"]},
                "hardware": {"type": "bool", "default": True},
                "probes": {"type": "dict", "default": {}},
            }
        )
        for name, spec in args["plists"].items():
            if not isinstance(spec, dict) or not {"path", "key"} <= set(spec):
                return {**result, "failed": True, "msg": f"plists.{name} needs `path` and `key`"}
        try:
            sections = run_sections(self, build_commands(args))
        except TargetCommandError as exc:
            return {**result, **exc.result()}
        if "sw_vers" not in sections:
            return {**result, "failed": True, "msg": "the target did not answer `sw_vers`: is it a Mac?"}
        facts = parse_facts(sections, args)
        result.update(changed=False, ansible_facts={"egpu_mac": facts}, mac=facts)
        return result
