"""sysctl: kernel and hardware values from the machine state."""

from __future__ import annotations

import time

from egpu_lab.builds import kernel_build_string
from egpu_lab.machine import MachineState
from egpu_lab.macos.base import Sim

EXECUTABLES = {"/usr/sbin/sysctl": "sysctl"}


def values(st: MachineState) -> dict[str, str]:
    boot = st.boot.time
    boottime = f"{{ sec = {boot}, usec = 0 }} {time.strftime('%a %b %e %H:%M:%S %Y', time.gmtime(boot))}"
    return {
        "kern.ostype": "Darwin",
        "kern.osrelease": st.kernel_version,
        "kern.version": f"Darwin Kernel Version {st.kernel_version}: {kernel_build_string(st.kernel_version)}",
        "kern.osversion": st.build,
        "kern.hostname": st.hostname,
        "kern.boottime": boottime,
        "hw.machine": "x86_64",
        "hw.model": st.hw_model,
        "hw.ncpu": str(st.ncpu),
        "hw.activecpu": str(st.ncpu),
        "hw.physicalcpu": str(max(1, st.ncpu // 2)),
        "hw.logicalcpu": str(st.ncpu),
        "hw.memsize": str(st.memsize),
        "machdep.cpu.brand_string": "Intel(R) Core(TM) i7-7820HQ CPU @ 2.90GHz",
    }


def sysctl(argv: list[str], sim: Sim) -> int:
    """Imitates sysctl(8) (system_cmds-790 sysctl.c; macos-commands.md): `name: value`, `-n` value only, `-a` all.

    Unknown name: `sysctl: unknown oid 'foo'`, exit 1 (other names still print). Setting `name=value` answers
    `sysctl: oid 'name' is read only` (divergence: every oid here is read only).
    """
    bare = False
    show_all = False
    names = []
    for arg in argv:
        if arg.startswith("-") and len(arg) > 1:
            for flag in arg[1:]:
                if flag == "n":
                    bare = True
                elif flag == "a":
                    show_all = True
                else:
                    sim.fail(
                        f"sysctl: illegal option -- {flag}\nusage: sysctl [-bdehiNnoqx] name[=value] ...\n"
                        "       sysctl [-bdehNnoqx] -a",
                        1,
                    )
        else:
            names.append(arg)
    table = values(sim.machine.read())
    if show_all or not names:
        names = sorted(table) if show_all else []
        if not names:
            sim.fail("usage: sysctl [-bdehiNnoqx] name[=value] ...\n       sysctl [-bdehNnoqx] -a", 1)
    code = 0
    for name in names:
        if "=" in name:
            sim.err(f"sysctl: oid '{name.split('=', 1)[0]}' is read only")
            code = 1
            continue
        matches = [k for k in table if k == name or k.startswith(name + ".")]
        if not matches:
            sim.err(f"sysctl: unknown oid '{name}'")
            code = 1
            continue
        for key in matches:
            sim.out(table[key] if bare else f"{key}: {table[key]}")
    return code
