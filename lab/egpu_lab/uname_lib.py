"""A tiny LD_PRELOAD library that makes uname(2) say Darwin inside a rehearsal host.

Why: Python's `platform.system()` (and so Ansible's fact gathering, whose distribution facts pick the `macosx`
reboot commands: `who -b`) reads uname(2), which the Linux kernel answers. With this library preloaded, every
process of the host sees sysname `Darwin`, release `EGPU_SIM_KERNEL_RELEASE` (17.3.0 for 10.13.2) and version
`EGPU_SIM_KERNEL_VERSION`; the node name stays the sandbox's hostname. Divergence: Linux's utsname fields hold 64
characters, so the kernel version string is shorter than Darwin's.

Built once per source with the ziglang wheel (`python -m ziglang cc`, a few seconds) into a per-user build dir
that does not follow XDG overrides (tests point XDG_CACHE_HOME at fresh dirs; the build should still happen once),
and copied into each host tree at `image.UNAME_LIB`. Without ziglang the lab still works, but uname says Linux.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

SOURCE = r"""
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

static void put(char *dst, const char *env, const char *fallback) {
    const char *v = getenv(env);
    if (!v || !*v) v = fallback;
    strncpy(dst, v, 64);
    dst[64] = 0;
}

int uname(struct utsname *buf) {
    if (syscall(SYS_uname, buf) != 0) return -1;
    put(buf->sysname, "EGPU_SIM_SYSNAME", "Darwin");
    put(buf->release, "EGPU_SIM_KERNEL_RELEASE", "17.3.0");
    put(buf->version, "EGPU_SIM_KERNEL_VERSION", "Darwin Kernel Version 17.3.0");
    return 0;
}
"""


def build_dir() -> Path | None:
    """A private per-user dir for the build: ~/.cache/egpu-setup/rehearsal-build, else one in the temp dir."""
    for base in (Path.home() / ".cache" / "egpu-setup", Path(tempfile.gettempdir()) / f"egpu-setup-{os.getuid()}"):
        try:
            base.mkdir(parents=True, exist_ok=True, mode=0o700)
            info = base.stat()
        except OSError:
            continue
        # The library is preloaded into every process of a host: never take one from a dir others can write.
        if info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return base / "rehearsal-build"
    return None


def library() -> Path | None:
    """The built library, building it on first use; None where it cannot be built."""
    directory = build_dir()
    return build(directory) if directory else None


def build(cache: Path) -> Path | None:
    """The built library (cached by source digest), or None when it cannot be built here."""
    digest = hashlib.sha256(SOURCE.encode()).hexdigest()[:16]
    target = cache / f"libuname-darwin-{digest}.so"
    if target.exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    src = cache / f"uname-{digest}.c"
    src.write_text(SOURCE)
    tmp = cache / f".{target.name}.tmp"
    triple = f"{platform.machine()}-linux-gnu.2.17"
    cmd = [sys.executable, "-m", "ziglang", "cc", "-shared", "-fPIC", "-O2", "-target", triple]
    try:
        subprocess.run([*cmd, "-o", str(tmp), str(src)], check=True, capture_output=True, timeout=300)
    except (OSError, subprocess.SubprocessError):
        return None
    shutil.move(tmp, target)
    return target
