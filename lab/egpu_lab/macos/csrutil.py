"""csrutil: System Integrity Protection status, and the refusal to change it from the booted OS."""

from __future__ import annotations

from egpu_lab.machine import SIP_FLAGS, sip_preset
from egpu_lab.macos.base import Sim

EXECUTABLES = {"/usr/bin/csrutil": "csrutil"}

REFUSAL = (
    "csrutil: failed to modify system integrity configuration. This tool needs to be executed from the Recovery OS."
)
USAGE = """usage: csrutil <command>
Modify the System Integrity Protection configuration. All configuration changes apply to the entire machine.
Available commands:

    clear
        Clear the existing configuration. Only available in Recovery OS.
    disable
        Disable the protection on the machine. Only available in Recovery OS.
    enable
        Enable the protection on the machine. Only available in Recovery OS.
    status
        Display the current configuration.

    netboot
        add <address>
            Insert a new IPv4 address in the list of allowed NetBoot sources.
        list
            Print the list of allowed NetBoot sources.
        remove <address>
            Remove an IPv4 address from the list of allowed NetBoot sources."""


def status_lines(sip: dict[str, bool]) -> list[str]:
    if sip == sip_preset("enabled"):
        return ["System Integrity Protection status: enabled."]
    if sip == sip_preset("disabled"):
        return ["System Integrity Protection status: disabled."]
    lines = ["System Integrity Protection status: enabled (Custom Configuration).", "", "Configuration:"]
    lines += [f"\t{flag}: {'enabled' if sip.get(flag) else 'disabled'}" for flag in SIP_FLAGS]
    lines += [
        "",
        "This is an unsupported configuration, likely to break in the future and leave your machine in an "
        "unknown state.",
    ]
    return lines


def csrutil(argv: list[str], sim: Sim) -> int:
    """Imitates csrutil of macOS 10.13 (public transcripts quoted in macos-commands.md; learex/macOS-eGPU and
    vulgo/webdriver.sh parse the same lines).

    `status`: `enabled.`, `disabled.`, or `enabled (Custom Configuration).` with the Configuration block
    (`csrutil enable --without kext` leaves Kext Signing disabled). `disable`, `enable [...]`, `clear` from the
    booted OS print the Recovery OS refusal; exit 1 (exit code unconfirmed). No or unknown command: usage, exit 1.
    Divergence: `netboot` is not imitated (usage).
    """
    if not argv or argv[0] not in ("status", "disable", "enable", "clear"):
        sim.fail(USAGE, 1)
    if argv[0] == "status":
        for line in status_lines(sim.machine.read().sip):
            sim.out(line)
        return 0
    sim.fail(REFUSAL, 1)
