"""otool and install_name_tool (cctools-900 of the Command Line Tools), backed by Debian's LLVM 14 tools.

Sources: otool(1), install_name_tool(1); macos-commands.md for cctools-900's texts: `otool -L` prints the file,
then tab-indented `path (compatibility version X, current version Y)`; install_name_tool errors start
`error: <path>/install_name_tool: ` and exit 1 (no room for larger load commands; duplicate -add_rpath).
llvm-otool-14 prints `-L` the same way; llvm-install-name-tool-14's own messages are translated to cctools'.
Paths given are Mac paths (relative to the cwd), mapped into the host tree.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

from egpu_setup.rehearsal.macos.base import Sim

# /usr/bin/otool etc. are xcrun stubs (need the Command Line Tools); the CLT stand-in carries shims of the
# plain handlers in /Library/Developer/CommandLineTools/usr/bin.
EXECUTABLES = {"/usr/bin/otool": "xcrun_otool", "/usr/bin/install_name_tool": "xcrun_install_name_tool"}
CLT_BIN = "/Library/Developer/CommandLineTools/usr/bin"
LINUX = "/.rehearsal/linux/usr/bin"


def _tool(name: str) -> str | None:
    """The LLVM tool: inside a host under the hidden Linux /usr (its absolute links re-rooted there), else on PATH."""
    inside = f"{LINUX}/{name}"
    if os.path.lexists(inside):
        target = os.path.realpath(inside)
        while os.path.islink(inside) and not os.path.exists(target):
            link = os.readlink(inside)
            inside = LINUX.removesuffix("/usr/bin") + link if link.startswith("/") else os.path.join(LINUX, link)
            target = os.path.realpath(inside)
        if os.path.exists(target):
            return target
    return shutil.which(name)


def xcrun_otool(argv: list[str], sim: Sim) -> int:
    """/usr/bin/otool: the xcrun stub (xcrun(1)): xcrun's error without Command Line Tools, else `otool`."""
    from egpu_setup.rehearsal.macos.toolchain import require_developer_dir

    require_developer_dir(sim)
    return otool(argv, sim)


def xcrun_install_name_tool(argv: list[str], sim: Sim) -> int:
    """/usr/bin/install_name_tool: the xcrun stub (xcrun(1)), then `install_name_tool`."""
    from egpu_setup.rehearsal.macos.toolchain import require_developer_dir

    require_developer_dir(sim)
    return install_name_tool(argv, sim)


def otool(argv: list[str], sim: Sim) -> int:
    """Imitates cctools-900 otool(1) with llvm-otool-14 (same `-L` format: the file, then tab-indented
    `path (compatibility version X, current version Y)`; macos-commands.md). Divergence: other options print
    LLVM's formats, which may differ from cctools' in details."""
    tool = _tool("llvm-otool-14")
    if tool is None:
        sim.fail("otool: llvm-otool-14 is not installed on the lab controller", 1)
    files = [a for a in argv if not a.startswith("-")]
    mapped = [str(sim.path(a)) if a in files else a for a in argv]
    proc = subprocess.run(["llvm-otool-14", *mapped], executable=tool, capture_output=True, text=True, check=False)
    out = proc.stdout
    for f in files:
        out = out.replace(str(sim.path(f)), f)
    sim.stdout.write(out)
    sim.stderr.write(proc.stderr.replace("llvm-otool-14", "otool"))
    return proc.returncode


def header_room(path: Path) -> int | None:
    """Free bytes between the load commands and the first section of a thin x86_64 Mach-O (None: not one).

    cctools' install_name_tool only rewrites load commands in place; LLVM's would re-lay the file out, so the
    room is checked here first to refuse what cctools refuses.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(65536)
    except OSError:
        return None
    if len(head) < 32 or struct.unpack_from("<I", head)[0] != 0xFEEDFACF:
        return None
    ncmds, sizeofcmds = struct.unpack_from("<II", head, 16)
    first = None
    pos = 32
    for _ in range(ncmds):
        cmd, size = struct.unpack_from("<II", head, pos)
        if cmd == 0x19:  # LC_SEGMENT_64: its sections' file offsets
            nsects = struct.unpack_from("<I", head, pos + 64)[0]
            for i in range(nsects):
                offset = struct.unpack_from("<I", head, pos + 72 + 80 * i + 48)[0]
                if offset:
                    first = offset if first is None else min(first, offset)
        pos += size
    return None if first is None else first - (32 + sizeofcmds)


def _growth(argv: list[str]) -> int:
    """Bytes the load commands grow by for the edits in argv (sizes padded to 8 as ld64 writes them)."""

    def lc(header: int, text: str) -> int:
        return (header + len(text) + 1 + 7) // 8 * 8

    grow, i = 0, 0
    while i < len(argv) - 1:
        opt = argv[i]
        if opt == "-add_rpath":
            grow += lc(12, argv[i + 1])
            i += 2
        elif opt == "-delete_rpath":
            grow -= lc(12, argv[i + 1])
            i += 2
        elif opt == "-rpath" and i + 2 < len(argv):
            grow += lc(12, argv[i + 2]) - lc(12, argv[i + 1])
            i += 3
        elif opt == "-change" and i + 2 < len(argv):
            grow += max(0, lc(24, argv[i + 2]) - lc(24, argv[i + 1]))
            i += 3
        elif opt == "-id":
            grow += lc(24, argv[i + 1])  # upper bound: the old id's size is not known here
            i += 2
        else:
            i += 1
    return grow


def install_name_tool(argv: list[str], sim: Sim) -> int:
    """Imitates cctools-900 install_name_tool(1) (install_name_tool.c; macos-commands.md) with
    llvm-install-name-tool-14: errors as `error: <path>/install_name_tool: ...`, exit 1, for a duplicate
    -add_rpath and for load commands that no longer fit the header room (checked here, see `header_room`).
    Divergence: LLVM's other messages are passed through after the cctools prefix."""
    tool = _tool("llvm-install-name-tool-14")
    if tool is None:
        sim.fail("install_name_tool: llvm-install-name-tool-14 is not installed on the lab controller", 1)
    if not argv:
        sim.fail("Usage: install_name_tool [-change old new] ... [-rpath old new] ... [-add_rpath new] ... "
                 "[-delete_rpath old] ... [-id name] input", 1)  # fmt: skip
    file_arg = argv[-1]
    target = sim.path(file_arg)
    prefix = f"error: {CLT_BIN}/install_name_tool: "
    room = header_room(target)
    if room is not None and _growth(argv[:-1]) > room:
        sim.fail(f"{prefix}changing install names or rpaths can't be redone for: {file_arg} (for architecture "
                 "x86_64) because larger updated load commands do not fit (the program must be relinked, and you "
                 "may need to use -headerpad or -headerpad_max_install_names)", 1)  # fmt: skip
    # LLVM's multi-call binaries pick the tool by argv[0]: keep the tool's name even when `tool` is the realpath.
    argv0 = "llvm-install-name-tool-14"
    proc = subprocess.run(
        [argv0, *argv[:-1], str(target)], executable=tool, capture_output=True, text=True, check=False
    )
    if proc.returncode == 0:
        return 0
    msg = proc.stderr
    if "would duplicate path" in msg or "duplicate" in msg:
        rpath = next((argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "-add_rpath"), "")
        sim.fail(f'{prefix}for: {file_arg} (for architecture x86_64) option "-add_rpath {rpath}" would duplicate '
                 f"path, file already has LC_RPATH for: {rpath}", 1)  # fmt: skip
    if "no room" in msg or "larger" in msg or "headerpad" in msg or "not enough" in msg:
        sim.fail(f"{prefix}changing install names or rpaths can't be redone for: {file_arg} (for architecture "
                 "x86_64) because larger updated load commands do not fit (the program must be relinked, and you "
                 "may need to use -headerpad or -headerpad_max_install_names)", 1)  # fmt: skip
    sim.fail(prefix + msg.strip().replace(str(target), file_arg).split(": ", 1)[-1], 1)
