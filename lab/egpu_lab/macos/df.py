"""df: free disk space from the machine state (the disk-full fault makes it zero)."""

from __future__ import annotations

from egpu_lab.macos.base import Sim

EXECUTABLES = {"/bin/df": "df"}


def _human(n: int) -> str:
    for unit in ("B", "Ki", "Mi", "Gi", "Ti"):
        if n < 1024 or unit == "Ti":
            return f"{n:.0f}{unit}" if unit == "B" or n >= 10 else f"{n:.1f}{unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def df(argv: list[str], sim: Sim) -> int:
    """Imitates df(1) of macOS 10.13 (file_cmds df.c): one APFS volume `/dev/disk1s1` mounted on `/`, columns
    `Filesystem 512-blocks Used Available Capacity iused ifree %iused Mounted on`; -k 1024-byte blocks, -h human
    sizes. The disk-full fault shows 0 available and 100% capacity. Divergence: only `/` is listed; path arguments
    all map to it; inode figures are made up.
    """
    st = sim.machine.read()
    total = st.disk.total_bytes
    free = 0 if st.faults.disk_full else st.disk.free_bytes
    used = total - free
    flags = "".join(a[1:] for a in argv if a.startswith("-"))
    human = "h" in flags
    block = 1024 if "k" in flags else 512
    capacity = f"{round(100 * used / total) if total else 100}%"
    iused, ifree = 1_000_000, free // 4096
    iperc = f"{round(100 * iused / (iused + ifree)) if ifree + iused else 100}%"
    if human:
        sim.out("Filesystem     Size   Used  Avail Capacity  iused     ifree %iused  Mounted on")
        sim.out(
            f"/dev/disk1s1  {_human(total):>5}  {_human(used):>5}  {_human(free):>5} {capacity:>8} {iused:>8} "
            f"{ifree:>9} {iperc:>6}   /"
        )
        return 0
    head = "1024-blocks" if block == 1024 else "512-blocks"
    sim.out(f"Filesystem   {head}      Used Available Capacity  iused     ifree %iused  Mounted on")
    sim.out(
        f"/dev/disk1s1 {total // block:>10} {used // block:>9} {free // block:>9} {capacity:>8} {iused:>8} "
        f"{ifree:>9} {iperc:>6}   /"
    )
    return 0
