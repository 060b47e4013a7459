"""Imitated macOS commands: one module per command or family, moto style.

Each module declares `EXECUTABLES = {"/usr/sbin/kextstat": "kextstat", ...}`: the real macOS path of an
executable -> the name of a handler function in that module,

    def kextstat(argv: list[str], sim: Sim) -> int

where `argv` are the arguments *after* the program name (`sim.prog` is the program name as invoked) and `Sim`
(`egpu_lab.macos.base`) gives the streams, the host's `Machine`, the simulated user, `require_root`,
`fail` and plist helpers. A handler returns the exit code, or raises `SimExit` (via `sim.fail`) to stop with a
message. Each handler's docstring names the public source it imitates and its known divergences.

At `lab up` each EXECUTABLES entry becomes a shim at its real path in the host tree (see `image.write_shims`):
a two-line Python script run by the sandbox's hidden interpreter (`EGPU_SIM_PYTHON`,
`/.rehearsal/python3/bin/python3.11 -S`) that imports only its own module and calls
`egpu_lab.macos.__main__.dispatch`. By hand: `python -m egpu_lab.macos <module> <handler>
args...` (with EGPU_SIM_STATE / EGPU_SIM_ROOT pointing at a host's state dir and tree when run outside the sandbox).

`MODULES` lists the command modules; add yours here. Importing this package imports nothing else.
"""

from __future__ import annotations

import importlib

# Command modules under egpu_lab.macos; lab up writes a shim for every EXECUTABLES entry of each.
MODULES: tuple[str, ...] = (
    "sw_vers",
    "sysctl",
    "uname",
    "csrutil",
    "nvram",
    "kext",
    "system_profiler",
    "ioreg",
    "xcode_select",
    "plistbuddy",
    "power",
    "identity",
    "sudo",
    "fdesetup",
    "df",
    "python2",
    "installer",
    "pkgutil",
    "hdiutil",
    "toolchain",
    "cctools",
    "xcrun",
    "cuda_installer",
    "dyld_sim",
    "osascript",
)


def executables() -> dict[str, tuple[str, str]]:
    """Every imitated executable: real macOS path -> (module, handler)."""
    table: dict[str, tuple[str, str]] = {}
    for module in MODULES:
        mod = importlib.import_module(f"{__name__}.{module}")
        for path, handler in getattr(mod, "EXECUTABLES", {}).items():
            table[path] = (module, handler)
    return table
