"""Rewrite the load commands of Mach-O slices in place: add LC_RPATH, change a dependency's name.

What install_name_tool does (cctools-900 install_name_tool.c): the load commands are rebuilt and must still end
before the first section data; a new LC_RPATH goes at the end; strings are NUL-padded to the pointer size. The
edited file is written next to the original and moved over it, so a failure never leaves half a file. Runs on the
target: standard library and macholib only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from macholib import mach_o

from egpu_setup.macho.reader import KIND_COMMANDS, MachOError, MachOFile, Slice

# mach_header: magic, cputype, cpusubtype, filetype, ncmds, sizeofcmds, flags -> ncmds sits at byte 16.
_NCMDS_OFFSET = 16


class NoHeaderRoom(MachOError):
    """The edited load commands would overwrite section data."""


@dataclass
class SliceEdit:
    """What to change in one slice: rpaths to append, dependency names to replace (by load command index)."""

    add_rpaths: list[str] = field(default_factory=list)
    rename: dict[int, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.add_rpaths or self.rename)


def _pad(data: bytes, fixed: int, sl: Slice) -> bytes:
    """The string NUL-terminated and padded so that the whole command (`fixed` bytes + string) is a multiple of
    8 bytes in a 64-bit file, 4 in a 32-bit one (ld64 and install_name_tool round cmdsize so)."""
    align = 8 if sl.is64 else 4
    data += b"\0"
    return data + b"\0" * (-(fixed + len(data)) % align)


def encode_rpath(path: str, sl: Slice) -> bytes:
    """An LC_RPATH: cmd, cmdsize, path offset (12), the path string."""
    text = _pad(path.encode(), 12, sl)
    return struct.pack(sl.endian + "3I", mach_o.LC_RPATH, 12 + len(text), 12) + text


def encode_dylib(cmd: int, name: str, timestamp: int, current: int, compat: int, sl: Slice) -> bytes:
    """A dylib_command: cmd, cmdsize, name offset (24), timestamp, current and compatibility versions, name."""
    text = _pad(name.encode(), 24, sl)
    return struct.pack(sl.endian + "6I", cmd, 24 + len(text), 24, timestamp, current, compat) + text


def rebuild_commands(raw: bytes, sl: Slice, edit: SliceEdit, path: Path) -> bytes:
    """The slice's new load-command region; NoHeaderRoom if it no longer fits before the section data."""
    refs = {d.index: d for d in sl.deps}
    out = bytearray()
    for lc in sl.commands:
        start = lc.offset - sl.header_size
        if lc.index in edit.rename:
            ref = refs[lc.index]
            out += encode_dylib(
                KIND_COMMANDS[ref.kind],
                edit.rename[lc.index],
                ref.timestamp,
                ref.current_version,
                ref.compatibility_version,
                sl,
            )
        else:
            out += raw[start : start + lc.size]
    for rpath in edit.add_rpaths:
        out += encode_rpath(rpath, sl)
    limit = sl.first_data_offset - sl.header_size
    if len(out) > limit:
        # Wording after install_name_tool's own error (cctools-900), plus what to do about it here.
        raise NoHeaderRoom(
            f"{path}: changing install names or rpaths can't be redone (for architecture {sl.arch}) because "
            f"larger updated load commands do not fit (they need {len(out) - limit} bytes more than the "
            f"{sl.room} free after the load commands)",
            fix="relink it with -headerpad_max_install_names (or -headerpad <size>) so the load commands can "
            "grow; the file was not changed",
        )
    return bytes(out)


def plan_bytes(path: Path, macho: MachOFile, edits: dict[int, SliceEdit]) -> dict[int, tuple[bytes, int]]:
    """For each edited slice (by index): the new load-command region and the new command count.

    Raises NoHeaderRoom before anything is written, so a file either gets all its edits or none.
    """
    result: dict[int, tuple[bytes, int]] = {}
    with open(path, "rb") as fh:
        for i, edit in edits.items():
            if not edit:
                continue
            sl = macho.slices[i]
            fh.seek(sl.offset + sl.header_size)
            raw = fh.read(sl.sizeofcmds)
            result[i] = (rebuild_commands(raw, sl, edit, path), sl.ncmds + len(edit.add_rpaths))
    return result


def write_edits(path: Path, macho: MachOFile, new_regions: dict[int, tuple[bytes, int]]) -> None:
    """Copy the file beside itself, patch the load commands of each slice, keep the mode, rename over it."""
    path = Path(path)
    st = path.stat()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".egpu-tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "r+b") as out:
            with open(path, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
            for i, (region, ncmds) in new_regions.items():
                sl = macho.slices[i]
                out.seek(sl.offset + _NCMDS_OFFSET)
                out.write(struct.pack(sl.endian + "2I", ncmds, len(region)))
                out.seek(sl.offset + sl.header_size)
                # Zero what the old, longer commands occupied, as install_name_tool does.
                out.write(region + b"\0" * max(0, sl.sizeofcmds - len(region)))
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, st.st_mode & 0o7777)
        with contextlib.suppress(PermissionError):  # only root may give the file back to its owner
            os.chown(tmp, st.st_uid, st.st_gid)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
