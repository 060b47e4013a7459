"""xcode-select: the active developer directory (machine state), as the Command Line Tools roles set it."""

from __future__ import annotations

from egpu_lab.macos.base import Sim

EXECUTABLES = {"/usr/bin/xcode-select": "xcode_select"}

CLT = "/Library/Developer/CommandLineTools"
XCODE = "/Applications/Xcode.app/Contents/Developer"
NONE = (
    "xcode-select: error: unable to get active developer directory, use `sudo xcode-select --switch "
    "path/to/Xcode.app` to set one (or see `man xcode-select`)"
)
NOT_ROOT = "xcode-select: error: --switch must be run as root (e.g. `sudo xcode-select --switch <xcode_folder_path>`)."
USAGE = """Usage: xcode-select [options]

Print or change the path to the active developer directory. This directory
controls which tools are used for the Xcode command line tools (for example,
xcodebuild) as well as the BSD development commands (such as cc and make).

Options:
  -h, --help                  print this help message and exit
  -p, --print-path            print the path of the active developer directory
  -s <path>, --switch <path>  set the path for the active developer directory
  --install                   open a dialog for installation of the command line developer tools
  -v, --version               print the xcode-select version
  -r, --reset                 reset to the default command line tools path"""


def active(sim: Sim) -> str | None:
    """The selected directory, else the default one xcode-select finds (Xcode.app, then the CLT)."""
    selected = sim.machine.read().developer_dir
    if selected:
        return selected
    for candidate in (XCODE, CLT):
        if sim.path(candidate + "/usr/bin").is_dir():
            return candidate
    return None


def _developer_dir(sim: Sim, path: str) -> str | None:
    """The developer dir a --switch argument names (an Xcode.app stands for its Contents/Developer)."""
    path = path.rstrip("/") or "/"
    for candidate in (path, f"{path}/Contents/Developer"):
        if sim.path(candidate + "/usr/bin").is_dir():
            return candidate
    return None


def xcode_select(argv: list[str], sim: Sim) -> int:
    """Imitates xcode-select of 10.13 (xcode-select(1); messages in macos-commands.md and public transcripts).

    `-p`: the active developer dir (selected, else Xcode.app, else /Library/Developer/CommandLineTools); none:
    the `unable to get active developer directory` error, exit 2. `--switch PATH` / `-s PATH`: root only
    (``xcode-select: error: --switch must be run as root (e.g. `sudo xcode-select --switch <xcode_folder_path>`).``,
    exit 1); PATH must hold usr/bin (a CLT dir or an Xcode.app), else
    `xcode-select: error: invalid developer directory 'PATH'`, exit 1. `--reset` (root) forgets the selection.
    `-v`: `xcode-select version 2349.`. Divergence: `--install` cannot open a dialog: says so, exit 1.
    """
    if not argv or argv[0] in ("-h", "--help"):
        sim.out(USAGE)
        return 0 if argv else 1
    cmd = argv[0]
    if cmd in ("-p", "--print-path"):
        path = active(sim)
        if path is None:
            sim.fail(NONE, 2)
        sim.out(path)
        return 0
    if cmd in ("-v", "--version"):
        sim.out("xcode-select version 2349.")
        return 0
    if cmd in ("-s", "--switch") or cmd.startswith("--switch="):
        target = cmd.split("=", 1)[1] if "=" in cmd else (argv[1] if len(argv) > 1 else None)
        if target is None:
            sim.fail(f"xcode-select: error: option '{cmd}' requires an argument\n{USAGE}", 1)
        sim.require_root(NOT_ROOT, 1)
        developer = _developer_dir(sim, target)
        if developer is None:
            sim.fail(f"xcode-select: error: invalid developer directory '{target}'", 1)
        with sim.machine.edit() as st:
            st.developer_dir = developer
        return 0
    if cmd in ("-r", "--reset"):
        sim.require_root("xcode-select: error: --reset must be run as root (e.g. `sudo xcode-select --reset`).", 1)
        with sim.machine.edit() as st:
            st.developer_dir = None
        return 0
    if cmd == "--install":
        sim.fail(
            "xcode-select: note: a rehearsal Mac has no installer dialog; install the Command Line Tools "
            "package with installer(8)",
            1,
        )
    sim.fail(f"xcode-select: error: invalid argument '{cmd}'\n{USAGE}", 1)
