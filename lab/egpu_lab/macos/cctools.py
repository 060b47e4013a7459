"""otool and install_name_tool (cctools-900 of the Command Line Tools): otool by llvm-otool-14, install_name_tool here.

Sources: otool(1), install_name_tool(1); macos-commands.md for cctools-900's texts: `otool -L` prints the file,
then tab-indented `path (compatibility version X, current version Y)`; cctools-900's misc/install_name_tool.c
(apple-oss-distributions/cctools@cctools-900) for install_name_tool's checks, errors and in-place write
(`cctools_edit`, which also writes the edits). llvm-otool-14 prints `-L` the same way.
Paths given are Mac paths (relative to the cwd), mapped into the host tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from egpu_lab.macos import cctools_edit as ce
from egpu_lab.macos.base import Sim

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
    from egpu_lab.macos.toolchain import require_developer_dir

    require_developer_dir(sim)
    return otool(argv, sim)


def xcrun_install_name_tool(argv: list[str], sim: Sim) -> int:
    """/usr/bin/install_name_tool: the xcrun stub (xcrun(1)), then `install_name_tool`."""
    from egpu_lab.macos.toolchain import require_developer_dir

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


def install_name_tool(argv: list[str], sim: Sim) -> int:
    """Imitates cctools-900 install_name_tool(1) (misc/install_name_tool.c; see `cctools_edit`): its option
    errors, and per architecture its refusals -- an -add_rpath the file already has ("would duplicate path"), an
    -rpath/-delete_rpath path it lacks, load commands that no longer fit before the first section data ("can't
    be redone ... -headerpad_max_install_names") -- all printed as `error: <path>/install_name_tool: ...`, then
    exit 1 with the file untouched. Otherwise the load commands are rebuilt as cctools does and only each
    architecture's header and load commands are written, in place; the rest of the file stays byte for byte (a
    code signature becomes invalid, as on the Mac). llvm-install-name-tool-14 is not used: it re-lays out
    __LINKEDIT (string table alignment), re-signs arm64 slices, and writes a malformed file when the header has
    no room -- none of which cctools does.

    Divergences, each a refusal where a Mac would go on (so none hides a Mac failure): new commands that would
    overwrite a section that cctools' bit-mask test skips (a Mac would corrupt the file), and a -change of an
    LC_PREBOUND_DYLIB, exit 1 with a `rehearsal:` message; malformed files get the lab's wording of cctools'
    "truncated or malformed".
    """
    prog = f"{CLT_BIN}/install_name_tool"
    prefix = f"error: {prog}: "
    try:
        req = ce.parse(argv)
    except ce.UsageError as exc:
        sim.err(prefix + exc.message)
        sim.fail(ce.usage(prog), 1)
    if req.input is None or req.empty:
        sim.fail(ce.usage(prog), 1)
    name = req.input
    target = sim.path(name)
    try:
        before = target.read_bytes()
    except OSError as exc:
        sim.fail(f"{prefix}can't open file: {name} ({exc.strerror})", 1)
    try:
        archs = ce.read_archs(before)
    except ce.Malformed as exc:
        sim.fail(f"{prefix}{name} truncated or malformed object ({exc})", 1)
    if archs is None:
        sim.fail(f"{prefix}input file: {name} is not a Mach-O file", 1)
    outcomes = []
    for arch in archs:
        if arch.filetype == ce.MH_DYLIB_STUB:
            sim.fail(f"fatal error: {prog}: input file: {name} is Mach-O dynamic shared library stub file and "
                     "can't be changed", 1)  # fmt: skip
        outcomes.append(ce.plan_arch(arch, req, name))
    errors = [e for o in outcomes for e in o.errors]
    if errors:
        for e in errors:
            sim.err(prefix + e)
        sim.fail(None, 1)
    for arch, o in zip(archs, outcomes, strict=True):
        if o.prebound_changed:
            sim.fail(f"{prefix}rehearsal: -change of an LC_PREBOUND_DYLIB in {name} is not imitated; not changed", 1)
        if arch.header_size + o.new_sizeofcmds > o.data_start:
            sim.fail(f"{prefix}rehearsal: the new load commands of {name} ({arch.name}) would overwrite section "
                     "data that cctools-900's room check skips (it would corrupt the file); not imitated, not "
                     "changed", 1)  # fmt: skip
    after = ce.rewrite(before, archs, req)
    why = ce.result_differs(before, after, archs, outcomes)
    if why:  # pragma: no cover - a bug of the lab's writer; never written
        sim.fail(f"{prefix}rehearsal: the lab's rewrite of {name} is not what cctools-900 writes ({why}); not "
                 "changed", 1)  # fmt: skip
    try:
        with open(target, "r+b") as f:  # write_on_input: in place, headers only
            for start, end in ce.header_windows(before, after):
                f.seek(start)
                f.write(after[start:end])
    except OSError as exc:
        sim.fail(f"{prefix}can't open input file: {name} for writing ({exc.strerror})", 1)
    return 0
