"""Apple's install_name_tool as the fixer's writer: finding it, one invocation per file, running it.

On a Mac /usr/bin/install_name_tool is an xcrun stub that exists even without developer tools (it then fails, or
offers to install them), so the tool is looked up the way the stubs do: `xcrun --find install_name_tool`
(xcrun(1)), which prints the Command Line Tools' /Library/Developer/CommandLineTools/usr/bin/install_name_tool.
Where there is no xcrun (Linux), an install_name_tool on PATH (cctools-port, a test's stand-in) is used.

cctools-900's install_name_tool (misc/install_name_tool.c) takes any number of -change OLD NEW and -add_rpath NEW
and one input file; it checks every architecture first (duplicate LC_RPATH, room for the larger load commands) and
on any error exits 1 before opening the file for writing; otherwise it writes the headers in place. Runs on the
target: standard library only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

from egpu_setup.errors import EgpuError

TOOL = "install_name_tool"
CHOICES = ("auto", "install_name_tool", "builtin")
FIX_MISSING = (
    "install Apple's Command Line Tools (`xcode-select --install`, or the xcode_clt role), or use --tool builtin "
    "(tool: builtin), egpu-setup's own load-command writer"
)


@dataclass(frozen=True)
class Found:
    path: str | None  # the install_name_tool to run; None when there is none
    how: str  # how it was found, or why not


def find_tool() -> Found:
    """Apple's install_name_tool via `xcrun --find`, else one on PATH (see the module docstring)."""
    xcrun = shutil.which("xcrun")
    if xcrun is not None:
        try:
            proc = subprocess.run([xcrun, "--find", TOOL], capture_output=True, text=True, check=False, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return Found(None, f"`xcrun --find {TOOL}` failed: {exc}")
        path = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
        if proc.returncode == 0 and path and os.access(path, os.X_OK):
            return Found(path, f"xcrun --find {TOOL}")
        why = (proc.stderr or proc.stdout).strip() or f"exit {proc.returncode}"
        return Found(None, f"`xcrun --find {TOOL}` found none: {why}")
    on_path = shutil.which(TOOL)
    if on_path is not None:
        return Found(on_path, "PATH")
    return Found(None, f"no xcrun and no {TOOL} on PATH")


def choose(tool: str | None) -> tuple[str, Found | None]:
    """("install_name_tool", Found) or ("builtin", None) for the option `tool` (auto, install_name_tool,
    builtin; None is auto); EgpuError when install_name_tool is asked for and there is none."""
    tool = tool or "auto"
    if tool not in CHOICES:
        raise EgpuError(f"tool {tool!r} is not one of {', '.join(CHOICES)}")
    if tool == "builtin":
        return "builtin", None
    found = find_tool()
    if found.path is not None:
        return TOOL, found
    if tool == TOOL:
        raise EgpuError(f"{TOOL} was asked for, but there is none here ({found.how})", fix=FIX_MISSING)
    return "builtin", found


def invocation(tool_path: str, changes: list[tuple[str, str]], add_rpaths: list[str], file: str) -> list[str]:
    """One install_name_tool command line with all of a file's edits."""
    argv = [tool_path]
    for old, new in changes:
        argv += ["-change", old, new]
    for directory in add_rpaths:
        argv += ["-add_rpath", directory]
    return [*argv, file]


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str


def run(argv: list[str]) -> Ran:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Ran(127, "", f"cannot run {argv[0]}: {exc}")
    return Ran(proc.returncode, proc.stdout, proc.stderr)
