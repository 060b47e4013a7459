"""shutdown, reboot, who -b: the reboot transition of the boot model."""

from __future__ import annotations

import time

from egpu_lab.macos.base import Sim

EXECUTABLES = {"/sbin/shutdown": "shutdown", "/sbin/reboot": "reboot", "/usr/bin/who": "who"}

SHUTDOWN_USAGE = "usage: shutdown [-] [-h [-u] [-n] | -r [-n] | -s | -k] time [warning-message ...]"


def shutdown(argv: list[str], sim: Sim) -> int:
    """Imitates shutdown(8) of macOS 10.13 (system_cmds-790 shutdown.tproj; macos-commands.md).

    Root only: `shutdown: NOT super-user`, exit 1. `-r now` / `-r +0 "msg"` (Ansible's reboot action for macosx):
    prints `Shutdown NOW!` and the reboot starts: the host goes down (boot.request_reboot). `-h` / `-s` halt or
    sleep: not imitated (exit 1 with a note). A delay other than now/+0 is treated as now (divergence).
    """
    sim.require_root("shutdown: NOT super-user", 1)
    args = [a for a in argv if a != "-"]
    flags = [a for a in args if a.startswith("-")]
    rest = [a for a in args if not a.startswith("-")]
    if not rest:
        sim.fail(SHUTDOWN_USAGE, 1)
    if "-r" not in flags:
        sim.fail("shutdown: only -r (reboot) is imitated on a rehearsal Mac", 1)
    if "-k" in flags:
        return 0
    sim.out("Shutdown NOW!")
    _go_down(sim)
    return 0


def reboot(argv: list[str], sim: Sim) -> int:
    """Imitates reboot(8) (system_cmds-790 reboot.tproj): root only (`reboot: Operation not permitted`, exit 1)."""
    if not sim.is_root:
        sim.fail("reboot: Operation not permitted", 1)
    _go_down(sim)
    return 0


def _go_down(sim: Sim) -> None:
    from egpu_lab import boot

    sim.stdout.flush()
    boot.request_reboot(sim.machine)


def who(argv: list[str], sim: Sim) -> int:
    """Imitates who(1) -b of macOS (shell_cmds-203 who.c; the line format of macos-commands.md):
    `reboot   ~        Nov 28 15:13` (name and line columns of width 8, time `%b %e %H:%M`, UTC here).
    Plain `who` lists the simulated user on `console`. Divergence: -q, -m, -T, -u are not imitated.
    """
    st = sim.machine.read()
    if argv[:1] == ["-b"]:
        stamp = time.strftime("%b %e %H:%M", time.gmtime(st.boot.time))
        sim.out(f"{'reboot':<8} {'~':<8} {stamp}")
        return 0
    if argv:
        sim.fail("usage: who [-abdHlmpqrsTtu] [file]", 1)
    stamp = time.strftime("%b %e %H:%M", time.gmtime(st.boot.time + 60))
    sim.out(f"{'admin':<8} {'console':<8} {stamp}")
    return 0
