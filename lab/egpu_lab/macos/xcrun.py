"""xcrun: find or run a developer tool of the active developer directory (`xcrun --find TOOL`, `xcrun TOOL ...`).

Sources: xcrun(1) (-f/--find prints the tool's absolute path; -r/--run or a bare tool name runs it; the tools come
from the developer directory xcode-select chose, an Xcode's default toolchain first); with no developer directory
every /usr/bin developer stub, xcrun among them, prints `xcrun: error: invalid active developer path (...),
missing xcrun at: .../usr/bin/xcrun` and exits 1 (see macos.toolchain); a tool that is nowhere:
`xcrun: error: unable to find utility "TOOL", not a developer tool or in PATH` (quoted in many Homebrew and
Stack Overflow threads), exit 72 (EX_OSFILE, as those transcripts' `$?` show; confidence: medium).

Divergence: the other options (--sdk, --show-sdk-path, --toolchain, -v, -l, -n, -k ...) are not imitated and
exit 1 with a `rehearsal:` message, so nothing can rely on them unnoticed.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from egpu_lab.macos.base import Sim

EXECUTABLES = {"/usr/bin/xcrun": "xcrun"}
XCODE_TOOLCHAIN = "Toolchains/XcodeDefault.xctoolchain/usr/bin"


def find(sim: Sim, tool: str) -> tuple[str, str] | None:
    """(path to print, path here) of `tool` as xcrun finds it (developer dir, then PATH); None when nowhere."""
    from egpu_lab.macos.toolchain import require_developer_dir

    dev = require_developer_dir(sim)
    for directory in (f"{dev}/{XCODE_TOOLCHAIN}", f"{dev}/usr/bin"):
        here = sim.path(f"{directory}/{tool}")
        if here.is_file() and os.access(here, os.X_OK):
            return f"{directory}/{tool}", str(here)
    # PATH names paths of this process (inside the sandbox, the Mac's own).
    on_path = shutil.which(tool, path=sim.env.get("PATH", "/usr/bin:/bin:/usr/sbin:/sbin"))
    return (on_path, on_path) if on_path else None


def xcrun(argv: list[str], sim: Sim) -> int:
    """Imitates xcrun(1)'s --find and run forms (see the module docstring)."""
    args = list(argv)
    if not args:
        sim.fail("Usage: xcrun [options] <tool name> ... arguments ...", 1)
    mode = "run"
    if args[0] in ("-f", "--find"):
        mode = "find"
        args.pop(0)
    elif args[0] in ("-r", "--run"):
        args.pop(0)
    if not args or args[0].startswith("-"):
        sim.fail(f"xcrun: rehearsal: option {args[0] if args else argv[0]} is not imitated", 1)
    tool = args.pop(0)
    found = find(sim, tool)
    if found is None:
        sim.fail(f'xcrun: error: unable to find utility "{tool}", not a developer tool or in PATH', 72)
    shown, here = found
    if mode == "find":
        sim.out(shown)
        return 0
    proc = subprocess.run([shown, *args], executable=here, env=sim.env, cwd=sim.cwd, check=False,
                          capture_output=True, text=True)  # fmt: skip
    sim.stdout.write(proc.stdout)
    sim.stderr.write(proc.stderr)
    return proc.returncode
