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
import subprocess

from egpu_setup.rehearsal.macos.base import Sim

EXECUTABLES: dict[str, str] = {}  # installed by the Command Line Tools stand-in (and xcrun stubs are not modelled)
CLT_BIN = "/Library/Developer/CommandLineTools/usr/bin"
LINUX = "/.rehearsal/linux/usr/bin"


def _tool(name: str) -> str | None:
    for candidate in (f"{LINUX}/{name}", shutil.which(name)):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


def otool(argv: list[str], sim: Sim) -> int:
    tool = _tool("llvm-otool-14")
    if tool is None:
        sim.fail("otool: llvm-otool-14 is not installed on the lab controller", 1)
    files = [a for a in argv if not a.startswith("-")]
    mapped = [str(sim.path(a)) if a in files else a for a in argv]
    proc = subprocess.run([tool, *mapped], capture_output=True, text=True, check=False)
    out = proc.stdout
    for f in files:
        out = out.replace(str(sim.path(f)), f)
    sim.stdout.write(out)
    sim.stderr.write(proc.stderr.replace("llvm-otool-14", "otool"))
    return proc.returncode


def install_name_tool(argv: list[str], sim: Sim) -> int:
    tool = _tool("llvm-install-name-tool-14")
    if tool is None:
        sim.fail("install_name_tool: llvm-install-name-tool-14 is not installed on the lab controller", 1)
    if not argv:
        sim.fail("Usage: install_name_tool [-change old new] ... [-rpath old new] ... [-add_rpath new] ... "
                 "[-delete_rpath old] ... [-id name] input", 1)  # fmt: skip
    file_arg = argv[-1]
    target = sim.path(file_arg)
    prefix = f"error: {CLT_BIN}/install_name_tool: "
    proc = subprocess.run([tool, *argv[:-1], str(target)], capture_output=True, text=True, check=False)
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
