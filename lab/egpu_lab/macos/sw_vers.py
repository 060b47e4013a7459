"""sw_vers: the product name, version and build, read from SystemVersion.plist like the real tool."""

from __future__ import annotations

from egpu_lab.macos.base import Sim, load_plist

EXECUTABLES = {"/usr/bin/sw_vers": "sw_vers"}

PLIST = "/System/Library/CoreServices/SystemVersion.plist"
FLAGS = {"-productName": "ProductName", "-productVersion": "ProductVersion", "-buildVersion": "ProductBuildVersion"}


def sw_vers(argv: list[str], sim: Sim) -> int:
    """Imitates sw_vers(1) of macOS 10.13 (man page; transcripts in macos-commands.md).

    No argument: `ProductName:\\tMac OS X`, `ProductVersion:\\t10.13.2`, `BuildVersion:\\t17C88`. One of
    -productName/-productVersion/-buildVersion prints the bare value. Exit 0. Divergence: any other argument prints
    the usage and exits 1 (the real 10.13 tool ignores unknown flags and prints all three lines; unconfirmed).
    """
    data = load_plist(sim.path(PLIST))
    if not argv:
        sim.out(f"ProductName:\t{data['ProductName']}")
        sim.out(f"ProductVersion:\t{data['ProductVersion']}")
        sim.out(f"BuildVersion:\t{data['ProductBuildVersion']}")
        return 0
    if len(argv) == 1 and argv[0] in FLAGS:
        sim.out(str(data[FLAGS[argv[0]]]))
        return 0
    sim.fail("Usage: sw_vers [-productName|-productVersion|-buildVersion]", 1)
