"""`/usr/bin/hdiutil attach|detach`: disk images mounted under /Volumes.

Sources: hdiutil(1) (attach [-nobrowse] [-quiet] [-mountpoint PATH] [-noverify] [-noautoopen]; detach
DEVICE|MOUNTPOINT [-force] [-quiet]; a volume whose name is taken is mounted as "<name> 1"), and
../shared/docs/macos-commands.md for the rows and messages (`"disk2" ejected.`, `hdiutil: attach failed - ...`,
`hdiutil: detach failed - No such file or directory`); `attach failed - image not recognized` for a file that is
no image (Homebrew cask issue transcripts).

The image format is the lab's (see standins.udif): UDIF around ISO 9660, or a bare ISO 9660 file. Attaching
extracts the volume read-only into the mount point; the attachments are listed in `<machine>/mounts.json` (a
rehearsal Mac keeps them in the kernel). Rows print as NVIDIA's real (GUID + HFS+) images print them:
`/dev/diskN` + `GUID_partition_scheme`, then `/dev/diskNs1` + `Apple_HFS` + mount point.
Divergences: no -readonly/-shadow/-plist, no encrypted images, no verification pass.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

from egpu_lab.macos.base import Sim
from egpu_lab.standins import udif

EXECUTABLES = {"/usr/bin/hdiutil": "hdiutil"}
MOUNTS_FILE = "mounts.json"
FIRST_DISK = 2  # disk0 is the internal disk, disk1 its APFS container on 10.13


def _mounts_path(sim: Sim) -> Path:
    return sim.machine.state_dir / MOUNTS_FILE


def _load(sim: Sim) -> list[dict[str, str]]:
    """The attachments whose volume is still there (a `lab reset` wipes /Volumes with the rest of the tree)."""
    try:
        mounts = list(json.loads(_mounts_path(sim).read_text()))
    except (OSError, ValueError):
        return []
    return [m for m in mounts if sim.path(m["mount"]).is_dir()]


def _save(sim: Sim, mounts: list[dict[str, str]]) -> None:
    path = _mounts_path(sim)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(mounts, indent=1))
    os.replace(tmp, path)


def _row(device: str, hint: str, mount: str) -> str:
    return f"{device:<20}\t{hint:<31}\t{mount}"


def hdiutil(argv: list[str], sim: Sim) -> int:
    """Imitates hdiutil(1) attach IMAGE [-nobrowse] [-quiet] [-mountpoint P] and detach DEV|MOUNTPOINT [-force]
    (rows and messages from macos-commands.md; `image not recognized` from Homebrew cask transcripts); see the
    module docstring for the divergences (extracted, not mounted; ISO 9660 inside)."""
    if not argv or argv[0] not in ("attach", "detach", "eject"):
        sim.fail("Usage: hdiutil <verb> <options>\n<verb> is one of the following:\nattach\ndetach", 1)
    verb, rest = argv[0], argv[1:]
    quiet = "-quiet" in rest
    if verb == "attach":
        return _attach(rest, sim, quiet)
    return _detach(rest, sim, quiet)


def _attach(args: list[str], sim: Sim, quiet: bool) -> int:
    mountpoint: str | None = None
    images = []
    it = iter(args)
    for arg in it:
        if arg == "-mountpoint":
            mountpoint = next(it, None)
            if mountpoint is None:
                sim.fail("hdiutil: attach: -mountpoint requires a path", 1)
        elif arg.startswith("-"):
            continue  # -nobrowse, -quiet, -noverify, -noautoopen, -readonly: no effect here
        else:
            images.append(arg)
    if len(images) != 1:
        sim.fail("hdiutil: attach: no image specified" if not images else "hdiutil: attach: extra arguments", 1)
    image = sim.path(images[0])
    if not image.exists():
        sim.fail("hdiutil: attach failed - No such file or directory", 1)
    try:
        iso = udif.read_dmg(image)
        volume = udif.dmg_volume_name(image) or udif.iso_volume_name(iso)
        if not volume:
            raise udif.ImageError("no file system", kind="no filesystem")
    except udif.ImageError as exc:
        if exc.kind == "not recognized":
            sim.fail("hdiutil: attach failed - image not recognized", 1)
        sim.fail("hdiutil: attach failed - no mountable file systems", 1)
    mounts = _load(sim)
    if mountpoint is None:
        mountpoint = f"/Volumes/{volume}"
        taken = {m["mount"] for m in mounts}
        n = 1
        while mountpoint in taken or sim.path(mountpoint).exists():
            mountpoint = f"/Volumes/{volume} {n}"
            n += 1
    target = sim.path(mountpoint)
    target.mkdir(parents=True, exist_ok=True)
    try:
        udif.extract_iso(iso, target)
    except udif.ImageError:
        _remove_tree(target)
        sim.fail("hdiutil: attach failed - no mountable file systems", 1)
    used = {int(m["disk"]) for m in mounts}
    disk = next(n for n in range(FIRST_DISK, FIRST_DISK + 1000) if n not in used)
    mounts.append({"disk": str(disk), "mount": mountpoint, "image": images[0], "volume": volume})
    _save(sim, mounts)
    _make_read_only(target)
    if not quiet:
        sim.out(_row(f"/dev/disk{disk}", "GUID_partition_scheme", ""))
        sim.out(_row(f"/dev/disk{disk}s1", "Apple_HFS", mountpoint))
    return 0


def _detach(args: list[str], sim: Sim, quiet: bool) -> int:
    targets = [a for a in args if not a.startswith("-")]
    if len(targets) != 1:
        sim.fail("hdiutil: detach: no device specified", 1)
    what = targets[0].rstrip("/") or "/"
    mounts = _load(sim)
    for m in mounts:
        dev = f"/dev/disk{m['disk']}"
        if what in (m["mount"], dev, f"{dev}s1", f"disk{m['disk']}", f"disk{m['disk']}s1"):
            _remove_tree(sim.path(m["mount"]))
            _save(sim, [x for x in mounts if x is not m])
            if not quiet:
                sim.out(f'"disk{m["disk"]}" ejected.')
            return 0
    sim.fail("hdiutil: detach failed - No such file or directory", 1)


def _make_read_only(top: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(top):
        for name in filenames:
            p = Path(dirpath) / name
            if not p.is_symlink():
                p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        for name in dirnames:
            p = Path(dirpath) / name
            if not p.is_symlink():
                p.chmod(0o555)
    top.chmod(0o555)


def _remove_tree(top: Path) -> None:
    if not top.exists():
        return
    for dirpath, dirnames, _files in os.walk(top):
        os.chmod(dirpath, 0o755)
        for name in dirnames:
            p = Path(dirpath) / name
            if not p.is_symlink():
                p.chmod(0o755)
    shutil.rmtree(top, ignore_errors=True)
