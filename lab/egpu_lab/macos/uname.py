"""uname: Darwin's answers (the LD_PRELOAD library covers uname(2) for other programs)."""

from __future__ import annotations

from egpu_lab.builds import kernel_build_string
from egpu_lab.macos.base import Sim

EXECUTABLES = {"/usr/bin/uname": "uname"}


def uname(argv: list[str], sim: Sim) -> int:
    """Imitates uname(1) of macOS (BSD shell_cmds uname.c): -s Darwin, -n host, -r 17.3.0, -v kernel version,
    -m x86_64, -p i386, -a all of s n r v m. Default -s. Divergence: combined flags keep the fixed s n r v m p order.
    """
    st = sim.machine.read()
    fields = {
        "s": "Darwin",
        "n": st.hostname,
        "r": st.kernel_version,
        "v": f"Darwin Kernel Version {st.kernel_version}: {kernel_build_string(st.kernel_version)}",
        "m": "x86_64",
        "p": "i386",
    }
    wanted: list[str] = []
    for arg in argv:
        if not arg.startswith("-") or len(arg) < 2:
            sim.fail("usage: uname [-amnprsv]", 1)
        for flag in arg[1:]:
            if flag == "a":
                wanted += ["s", "n", "r", "v", "m"]
            elif flag in fields:
                wanted.append(flag)
            else:
                sim.fail(f"uname: illegal option -- {flag}\nusage: uname [-amnprsv]", 1)
    order = [f for f in "snrvmp" if f in wanted] or ["s"]
    sim.out(" ".join(fields[f] for f in order))
    return 0
