"""dlopen() on a rehearsal Mac: whether a Mach-O library would load, with dyld's error text when not.

The resolution rules are egpu_setup.macho.dyld's (dyld-519/551 of 10.13: @rpath chain, @loader_path,
@executable_path, absolute names, the fallback path). The text is dyld's as 10.13 reports it through dlopen(3)
(and so Python's ctypes/OSError), e.g. in apache/mxnet#9217 and high-sierra-egpu.md:

    dlopen(/path/lib/libmxnet.so, 6): Library not loaded: @rpath/libcudart.9.1.dylib
      Referenced from: /path/lib/libmxnet.so
      Reason: image not found

DYLD_LIBRARY_PATH (dyld(1): its directories are searched first for the leaf name) is honoured only where dyld
would still see it: System Integrity Protection strips DYLD_* variables whenever a protected binary (/bin/sh,
/usr/bin/env, ...) is started (Apple's "Runtime Protections" documentation of SIP), and scripts, Ansible and
`make` always start one. So with SIP's filesystem protections on, the lab treats them as stripped.
Divergence: a process started directly by an unprotected parent would keep them on a real Mac.

No EXECUTABLES: macOS has no dyld command; the MXNet stand-in's Python package calls `dlopen`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from egpu_setup.rehearsal.machine import Machine

EXECUTABLES: dict[str, str] = {}
X86_64 = 0x01000007
RTLD_NOW_GLOBAL = 6  # what Python's ctypes passes (RTLD_NOW | RTLD_GLOBAL on macOS): printed by dlopen errors


def dyld_library_path(env: Mapping[str, str], machine: Machine) -> list[str]:
    """DYLD_LIBRARY_PATH as dyld would see it (empty when SIP strips it)."""
    value = env.get("DYLD_LIBRARY_PATH", "")
    if not value:
        return []
    try:
        sip = machine.read().sip
    except OSError:
        sip = {}
    if sip.get("Filesystem Protections", True):
        return []
    return [d for d in value.split(":") if d]


def dlopen(path: str, env: Mapping[str, str] | None = None, machine: Machine | None = None) -> str:
    """Check that the image at `path` (a path of this process) loads; return its Mac path, or raise OSError."""
    from egpu_setup.macho import dyld
    from egpu_setup.macho.reader import MachOError, read_macho

    env = dict(os.environ if env is None else env)
    machine = machine or Machine.from_env()
    root = dyld.Root(machine.root)
    try:
        mac_path = root.to_mac(os.path.abspath(path))
    except ValueError:
        mac_path = path
    prefix = f"dlopen({mac_path}, {RTLD_NOW_GLOBAL}): "
    if not os.path.exists(path):
        raise OSError(f"{prefix}image not found")
    try:
        image = read_macho(root.host(mac_path))
    except MachOError as exc:
        raise OSError(f"{prefix}no suitable image found.  Did find:\n\t{mac_path}: {exc}") from exc
    sl = dyld.slice_for(image, X86_64)
    if sl is None:
        raise OSError(f"{prefix}no suitable image found.  Did find:\n\t{mac_path}: mach-o, but wrong architecture")
    check = dyld.check_slice(root, mac_path, sl)
    extra_dirs = dyld_library_path(env, machine)
    failures = [(mac_path, r) for r in check.failing] + check.failing_transitive
    for loader, res in failures:
        leaf = res.name.rsplit("/", 1)[-1]
        if any(root.usable_dylib(f"{d.rstrip('/')}/{leaf}", X86_64)[0] for d in extra_dirs):
            continue
        raise OSError(f"{prefix}Library not loaded: {res.name}\n  Referenced from: {loader}\n  Reason: image not found")
    return mac_path
