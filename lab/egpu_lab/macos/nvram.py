"""nvram: firmware variables kept in the machine state (as bytes)."""

from __future__ import annotations

import plistlib

from egpu_lab.macos.base import Sim

EXECUTABLES = {"/usr/sbin/nvram": "nvram"}

USAGE = """usage: nvram [-x] [-p] [-f filename] [-d name] [-c] name[=value] ...
\t-x         use XML format for printing or reading variables
\t           (must appear before -p or -f)
\t-p         print all firmware variables
\t-f         set firmware variables from a text file
\t-d         delete the named variable
\t-c         delete all variables
\tname=value set named variable
\tname       print variable
Note that arguments and options are executed in order."""


def encode(value: bytes) -> str:
    """How nvram prints a value: printable ASCII as is, `%` and every other byte as %xx."""
    return "".join(chr(b) if 0x20 <= b < 0x7F and b != 0x25 else f"%{b:02x}" for b in value)


def decode(text: str) -> bytes:
    """How nvram reads a value: %xx escapes become bytes."""
    out = bytearray()
    i = 0
    raw = text.encode()
    while i < len(raw):
        if raw[i] == 0x25 and i + 2 < len(raw) + 0 and _is_hex(raw[i + 1 : i + 3]):
            out.append(int(raw[i + 1 : i + 3], 16))
            i += 3
        else:
            out.append(raw[i])
            i += 1
    return bytes(out)


def _is_hex(pair: bytes) -> bool:
    return len(pair) == 2 and all(c in b"0123456789abcdefABCDEF" for c in pair)


def nvram(argv: list[str], sim: Sim) -> int:
    """Imitates nvram(8) of macOS 10.13 (system_cmds-790.50.6 nvram.tproj/nvram.c; macos-commands.md).

    `name` prints `name\\tvalue` (%xx for `%` and non-printable bytes); missing:
    `nvram: Error getting variable - 'name': (iokit/common) data was not found`, exit 1. `name=value` sets
    (silent; %xx escapes decoded, so `nvda_drv=1%00` stores "1\\0"). `-d name` deletes, silent, exit 0 even when
    absent. `-p` prints all, `-x -p` as an XML plist, `-c` clears all. Setting, deleting and clearing need root:
    `nvram: Error setting variable - 'name': (iokit/common) not privileged`, exit 1. Arguments run in order.
    Divergence: `-f` is not imitated; the many firmware variables of a real Mac are absent.
    """
    if not argv:
        sim.fail(USAGE, 1)
    xml = False
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "-x":
            xml = True
        elif arg == "-p":
            variables = sim.machine.read().nvram
            if xml:
                data = {name: bytes.fromhex(value) for name, value in sorted(variables.items())}
                sim.stdout.write(plistlib.dumps(data).decode())
            else:
                for name, value in sorted(variables.items()):
                    sim.out(f"{name}\t{encode(bytes.fromhex(value))}")
        elif arg == "-d":
            i += 1
            if i >= len(argv):
                sim.fail(USAGE, 1)
            if not sim.is_root:
                sim.fail(f"nvram: Error deleting variable - '{argv[i]}': (iokit/common) not privileged", 1)
            with sim.machine.edit() as st:
                st.nvram_delete(argv[i])
        elif arg == "-c":
            if not sim.is_root:
                sim.fail("nvram: Error clearing firmware variables: (iokit/common) not privileged", 1)
            with sim.machine.edit() as st:
                st.nvram.clear()
        elif arg.startswith("-"):
            sim.fail(f"nvram: unknown option '{arg}'\n{USAGE}", 1)
        elif "=" in arg:
            name, value = arg.split("=", 1)
            if not sim.is_root:
                sim.fail(f"nvram: Error setting variable - '{name}': (iokit/common) not privileged", 1)
            with sim.machine.edit() as st:
                st.nvram_set(name, decode(value))
        else:
            raw = sim.machine.read().nvram_get(arg)
            if raw is None:
                sim.fail(f"nvram: Error getting variable - '{arg}': (iokit/common) data was not found", 1)
            sim.out(f"{arg}\t{encode(raw)}")
        i += 1
    return 0
