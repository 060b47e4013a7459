"""Where things are inside a rehearsal host, and the read of its machine state that a session needs: constants and
plain file reads only, so that the ssh login shell (ssh_login.py), which starts for every session of a host, imports
little (image.py, permissions.py and machine.py re-export these names).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

# Hidden mount points inside a host (see sandbox.py, which binds them).
HIDDEN = "/.rehearsal"
LINUX = f"{HIDDEN}/linux"  # the controller's /usr, read-only
PYTHON3 = f"{HIDDEN}/python3"  # the controller's Python prefix (sys.base_prefix), read-only
PROJECT = f"{HIDDEN}/project"  # holds egpu_lab/, egpu_setup/, macholib/ (read-only)
STATE = f"{HIDDEN}/machine"  # the host's machine state dir, read-write
ZIGLANG = f"{HIDDEN}/ziglang"  # the controller's ziglang package (zig binary + lib), read-only, for the toolchain
ZIG_CACHE = f"{HIDDEN}/zig-cache"  # the controller's zig cache, read-write (zig locks its entries)
SIM_PYTHON = f"{PYTHON3}/bin/python3.11"
# LD_PRELOAD library that makes uname(2) answer Darwin (see uname_lib.py); copied into each tree.
UNAME_LIB = f"{HIDDEN}/lib/libuname-darwin.so"

# SIP's filesystem protections (System Integrity Protection Guide): these trees are read-only for everyone but
# Apple's entitled tools, except the exempt ones below them.
SIP_PROTECTED = ("/System", "/usr", "/bin", "/sbin")
SIP_EXEMPT = ("/usr/local",)

STATE_FILE = "state.json"  # in <host>/machine
# Inside a host, the env variables that override where the machine state and the Mac's / are (tests point them
# elsewhere); by default the state dir's mount point and /.
ENV_STATE = "EGPU_SIM_STATE"
ENV_ROOT = "EGPU_SIM_ROOT"
# Where the entitled writers (kextcache) reach paths that SIP keeps read-only for everyone else (sandbox.py).
ENV_ENTITLED_ROOT = "EGPU_SIM_ENTITLED_ROOT"


def read_state(state_dir: Path | str) -> dict[str, Any]:
    """The machine state as JSON, without machine.py's lock: the machine writes it by an atomic rename, so a reader
    sees one whole state (the last one); what edits it takes the lock (machine.Machine)."""
    with open(os.path.join(state_dir, STATE_FILE), encoding="utf-8") as handle:
        data = json.load(handle)
    return data if isinstance(data, dict) else {}


def sandbox_root() -> Path:
    """The Mac's / as the current process inside a host sees it."""
    return Path(os.environ.get(ENV_ROOT, "/"))


def under_root(root: Path, mac_path: str) -> Path:
    """Where the absolute Mac path `mac_path` of the host whose tree is `root` is, from the current process."""
    return root / mac_path.lstrip("/")


def zig_cache_dir() -> Path:
    """The one zig cache shared by every build in this account (see macho_build.py's docstring)."""
    override = os.environ.get("ZIG_GLOBAL_CACHE_DIR")
    if override:
        return Path(override)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    candidate = base / "egpu-setup" / "zig"
    try:
        candidate.mkdir(parents=True, exist_ok=True)
        return candidate
    except OSError:  # read-only home (sandboxes): fall back to a per-user temp dir
        import tempfile

        return Path(tempfile.gettempdir()) / f"egpu-setup-zig-{os.getuid()}"
