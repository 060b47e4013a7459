"""Read the library references of a Mach-O file (thin or universal) with macholib's structure definitions.

Only the headers and load commands are read, never section data: a CUDA-enabled libmxnet.so is hundreds of
MiB. The layout follows <mach-o/loader.h> and <mach-o/fat.h> (cctools-900, the Xcode 9 era of High Sierra),
whose structures macholib mirrors. Runs on the target: standard library and macholib only.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from macholib import mach_o
from macholib.ptypes import sizeof

from egpu_setup.errors import EgpuError
from egpu_setup.files import open_regular

# Dependency load commands and the word used for each in reports (dyld: ImageLoaderMachO::doGetDependentLibraries).
DEPENDENCY_KINDS: dict[int, str] = {
    mach_o.LC_LOAD_DYLIB: "load",
    mach_o.LC_LOAD_WEAK_DYLIB: "weak",
    mach_o.LC_REEXPORT_DYLIB: "reexport",
    mach_o.LC_LAZY_LOAD_DYLIB: "lazy",
    mach_o.LC_LOAD_UPWARD_DYLIB: "upward",
}
KIND_COMMANDS: dict[str, int] = {kind: cmd for cmd, kind in DEPENDENCY_KINDS.items()}
# References whose absence does not stop a launch. Weak: dyld sets lib->required = (cmd != LC_LOAD_WEAK_DYLIB).
# Lazy: dyld does not load LC_LAZY_LOAD_DYLIB with the image at all (doGetDependentLibraries skips it); the
# linker's stubs dlopen it at the first call, and calls into one that is missing return 0 (dyld_lazy_dylib_proxy,
# dyld's unit test lazy-dylib-missing-dylib).
OPTIONAL_KINDS = ("weak", "lazy")
COMMAND_NAMES: dict[int, str] = {
    mach_o.LC_ID_DYLIB: "LC_ID_DYLIB",
    mach_o.LC_LOAD_DYLIB: "LC_LOAD_DYLIB",
    mach_o.LC_LOAD_WEAK_DYLIB: "LC_LOAD_WEAK_DYLIB",
    mach_o.LC_REEXPORT_DYLIB: "LC_REEXPORT_DYLIB",
    mach_o.LC_LAZY_LOAD_DYLIB: "LC_LAZY_LOAD_DYLIB",
    mach_o.LC_LOAD_UPWARD_DYLIB: "LC_LOAD_UPWARD_DYLIB",
    mach_o.LC_RPATH: "LC_RPATH",
    mach_o.LC_CODE_SIGNATURE: "LC_CODE_SIGNATURE",
}
# The file types dyld loads; objects, dSYMs and kexts carry no references worth fixing.
LOADABLE_FILETYPES = {mach_o.MH_EXECUTE: "executable", mach_o.MH_DYLIB: "dylib", mach_o.MH_BUNDLE: "bundle"}

_THIN_MAGICS = {
    # first 4 bytes read big-endian -> (endian of the file, 64-bit)
    mach_o.MH_MAGIC: (">", False),
    mach_o.MH_CIGAM: ("<", False),
    mach_o.MH_MAGIC_64: (">", True),
    mach_o.MH_CIGAM_64: ("<", True),
}
_FAT_MAGICS = {mach_o.FAT_MAGIC, mach_o.FAT_MAGIC_64}
# lipo refuses more slices than this; 0xCAFEBABE is also the magic of Java class files, whose next word (the
# class file version, >= 45) is what tells them apart.
_MAX_FAT_ARCHS = 30
_ZEROFILL_TYPES = (mach_o.S_ZEROFILL, mach_o.S_GB_ZEROFILL, mach_o.S_THREAD_LOCAL_ZEROFILL)
_ARCH_NAMES = {7: "i386", 0x01000007: "x86_64", 12: "arm", 0x0100000C: "arm64", 18: "ppc", 0x01000012: "ppc64"}


class MachOError(EgpuError):
    """A file that is not Mach-O, or is truncated or corrupt (exit 2)."""


@dataclass(frozen=True)
class LoadCommand:
    index: int
    cmd: int
    offset: int  # from the start of the slice
    size: int

    @property
    def name(self) -> str:
        return COMMAND_NAMES.get(self.cmd, f"0x{self.cmd:x}")


@dataclass(frozen=True)
class DylibRef:
    """One LC_LOAD_DYLIB (or weak/re-export/lazy/upward) reference."""

    index: int  # index of its load command in the slice
    kind: str
    name: str
    timestamp: int
    current_version: int
    compatibility_version: int

    @property
    def required(self) -> bool:
        return self.kind not in OPTIONAL_KINDS


@dataclass(frozen=True)
class Slice:
    """One architecture of a Mach-O file: its header facts and the load commands that matter here."""

    arch: str
    cputype: int
    cpusubtype: int
    offset: int  # of the slice in the file (0 for a thin file)
    size: int
    endian: str  # struct prefix, "<" or ">"
    is64: bool
    filetype: int
    ncmds: int
    sizeofcmds: int
    first_data_offset: int  # where section/segment data starts: the load commands must end before it
    install_name: str | None
    # LC_ID_DYLIB's compatibility version: dyld refuses this library to an image that was linked against a
    # higher one ("Incompatible library version"); None when the slice has no LC_ID_DYLIB.
    id_compatibility_version: int | None
    deps: tuple[DylibRef, ...]
    rpaths: tuple[str, ...]
    code_signed: bool
    commands: tuple[LoadCommand, ...] = field(repr=False)

    @property
    def header_size(self) -> int:
        return 32 if self.is64 else 28

    @property
    def room(self) -> int:
        """Free bytes between the end of the load commands and the first section data."""
        return self.first_data_offset - self.header_size - self.sizeofcmds

    def describe(self) -> list[str]:
        """The load commands that concern library references, one line each (for diffs and reports)."""
        lines = []
        if self.install_name is not None:
            lines.append(f"LC_ID_DYLIB {self.install_name}")
        lines += [f"{COMMAND_NAMES[KIND_COMMANDS[d.kind]]} {d.name}" for d in self.deps]
        lines += [f"LC_RPATH {r}" for r in self.rpaths]
        if self.code_signed:
            lines.append("LC_CODE_SIGNATURE")
        return lines


@dataclass(frozen=True)
class MachOFile:
    path: Path
    fat: bool
    size: int
    slices: tuple[Slice, ...]

    @property
    def filetype(self) -> int:
        return self.slices[0].filetype

    @property
    def archs(self) -> list[str]:
        return [s.arch for s in self.slices]

    @property
    def code_signed(self) -> bool:
        return any(s.code_signed for s in self.slices)

    def describe(self) -> list[str]:
        if not self.fat:
            return self.slices[0].describe()
        return [f"[{s.arch}] {line}" for s in self.slices for line in s.describe()]


def sniff(path: Path) -> str | None:
    """'thin', 'fat' or None (not Mach-O) from the first 8 bytes; never raises for unreadable files."""
    try:
        with open_regular(path) as fh:  # a FIFO is refused, not waited on
            head = fh.read(8)
    except OSError:
        return None
    if len(head) < 4:
        return None
    magic = struct.unpack(">I", head[:4])[0]
    if magic in _THIN_MAGICS:
        return "thin"
    if magic in _FAT_MAGICS and len(head) == 8 and 0 < struct.unpack(">I", head[4:])[0] <= _MAX_FAT_ARCHS:
        return "fat"
    return None


def read_macho(path: Path) -> MachOFile:
    """Parse the headers and load commands of every slice; MachOError when the file is not sound Mach-O."""
    path = Path(path)
    kind = sniff(path)
    if kind is None:
        raise MachOError(f"{path}: not a Mach-O file", fix="name a Mach-O executable, dylib or bundle")
    try:
        with open_regular(path) as fh:
            size = os.fstat(fh.fileno()).st_size
            if kind == "thin":
                return MachOFile(path, False, size, (_read_slice(fh, path, 0, size),))
            return MachOFile(path, True, size, tuple(_read_fat(fh, path, size)))
    except MachOError:
        raise
    except (struct.error, ValueError, EOFError, OverflowError) as exc:
        raise _corrupt(path, str(exc)) from exc
    except OSError as exc:
        raise MachOError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def _corrupt(path: Path, why: str) -> MachOError:
    return MachOError(
        f"{path}: truncated or malformed Mach-O file ({why})",
        fix="rebuild or re-copy the file; nothing was changed",
    )


def _read_exact(fh: BinaryIO, path: Path, offset: int, count: int, what: str) -> bytes:
    fh.seek(offset)
    data = fh.read(count)
    if len(data) != count:
        raise _corrupt(path, f"{what} extends past the end of the file")
    return data


def _read_fat(fh: BinaryIO, path: Path, size: int) -> list[Slice]:
    header = mach_o.fat_header.from_str(_read_exact(fh, path, 0, sizeof(mach_o.fat_header), "fat header"))
    arch_cls = mach_o.fat_arch64 if header.magic == mach_o.FAT_MAGIC_64 else mach_o.fat_arch
    table = _read_exact(fh, path, sizeof(mach_o.fat_header), sizeof(arch_cls) * header.nfat_arch, "fat arch table")
    slices = []
    for i in range(header.nfat_arch):
        arch = arch_cls.from_str(table[i * sizeof(arch_cls) : (i + 1) * sizeof(arch_cls)])
        if arch.offset + arch.size > size:
            raise _corrupt(path, f"slice {i} ends at {arch.offset + arch.size}, the file has {size} bytes")
        slices.append(_read_slice(fh, path, int(arch.offset), int(arch.size)))
    return slices


def _read_slice(fh: BinaryIO, path: Path, offset: int, size: int) -> Slice:
    magic = struct.unpack(">I", _read_exact(fh, path, offset, 4, "Mach-O header"))[0]
    if magic not in _THIN_MAGICS:
        raise _corrupt(path, f"slice at offset {offset} has no Mach-O magic")
    endian, is64 = _THIN_MAGICS[magic]
    header_cls = mach_o.mach_header_64 if is64 else mach_o.mach_header
    header_size = sizeof(header_cls)
    header = header_cls.from_str(_read_exact(fh, path, offset, header_size, "Mach-O header"), _endian_=endian)
    if header_size + header.sizeofcmds > size:
        raise _corrupt(path, "load commands extend past the end of the file")
    blob = _read_exact(fh, path, offset + header_size, header.sizeofcmds, "load commands")

    lc_size = sizeof(mach_o.load_command)
    commands: list[LoadCommand] = []
    deps: list[DylibRef] = []
    rpaths: list[str] = []
    install_name: str | None = None
    id_compat: int | None = None
    code_signed = False
    first_data = size  # no section data at all: everything up to the end of the slice is header room
    data_ends = 0
    pos = 0
    for index in range(header.ncmds):
        if pos + lc_size > len(blob):
            raise _corrupt(path, f"load command {index} extends past sizeofcmds")
        lc = mach_o.load_command.from_str(blob[pos : pos + lc_size], _endian_=endian)
        if lc.cmdsize < lc_size or pos + lc.cmdsize > len(blob) or lc.cmdsize % 4:
            raise _corrupt(path, f"load command {index} has an impossible size {lc.cmdsize}")
        body = blob[pos : pos + lc.cmdsize]
        commands.append(LoadCommand(index, lc.cmd, header_size + pos, lc.cmdsize))
        if lc.cmd in DEPENDENCY_KINDS or lc.cmd == mach_o.LC_ID_DYLIB:
            # struct dylib: name offset, timestamp, current_version, compatibility_version (plain uint32s;
            # macholib wraps the versions in helper objects meant for printing)
            name_offset, timestamp, current, compat = struct.unpack_from(endian + "4I", body, lc_size)
            name = _lc_str(body, name_offset, path, index)
            if lc.cmd == mach_o.LC_ID_DYLIB:
                install_name, id_compat = name, compat
            else:
                deps.append(DylibRef(index, DEPENDENCY_KINDS[lc.cmd], name, timestamp, current, compat))
        elif lc.cmd == mach_o.LC_RPATH:
            rp = mach_o.rpath_command.from_str(body[lc_size : lc_size + sizeof(mach_o.rpath_command)], _endian_=endian)
            rpaths.append(_lc_str(body, int(rp.path), path, index))
        elif lc.cmd == mach_o.LC_CODE_SIGNATURE:
            code_signed = True
        elif lc.cmd in (mach_o.LC_SEGMENT, mach_o.LC_SEGMENT_64):
            first, end = _segment_extent(body, lc.cmd == mach_o.LC_SEGMENT_64, endian, path, index)
            first_data = min(first_data, first)
            data_ends = max(data_ends, end)
        pos += lc.cmdsize
    if pos != header.sizeofcmds:
        raise _corrupt(path, f"load commands fill {pos} bytes, the header says {header.sizeofcmds}")
    if data_ends > size:
        raise _corrupt(path, f"segment data ends at {data_ends}, the slice has {size} bytes")
    if first_data < header_size + header.sizeofcmds:
        raise _corrupt(path, "section data overlaps the load commands")
    return Slice(
        arch=_ARCH_NAMES.get(header.cputype & 0xFFFFFFFF, f"cpu{header.cputype}"),
        cputype=int(header.cputype),
        cpusubtype=int(header.cpusubtype),
        offset=offset,
        size=size,
        endian=endian,
        is64=is64,
        filetype=int(header.filetype),
        ncmds=int(header.ncmds),
        sizeofcmds=int(header.sizeofcmds),
        first_data_offset=first_data,
        install_name=install_name,
        id_compatibility_version=id_compat,
        deps=tuple(deps),
        rpaths=tuple(rpaths),
        code_signed=code_signed,
        commands=tuple(commands),
    )


def _lc_str(body: bytes, offset: int, path: Path, index: int) -> str:
    if not sizeof(mach_o.load_command) <= offset < len(body):
        raise _corrupt(path, f"load command {index} names a string outside itself")
    raw = body[offset:]
    end = raw.find(b"\0")
    return (raw if end < 0 else raw[:end]).decode("utf-8", "surrogateescape")


def _segment_extent(body: bytes, is64: bool, endian: str, path: Path, index: int) -> tuple[int, int]:
    """(first file offset holding data, end of the segment's file range), as install_name_tool measures room:
    the lowest offset of a non-zerofill section, else the segment's own file offset when it has contents."""
    seg_cls, sect_cls = (
        (mach_o.segment_command_64, mach_o.section_64) if is64 else (mach_o.segment_command, mach_o.section)
    )
    start = sizeof(mach_o.load_command)
    seg = seg_cls.from_str(body[start : start + sizeof(seg_cls)], _endian_=endian)
    if len(body) != start + sizeof(seg_cls) + seg.nsects * sizeof(sect_cls):
        raise _corrupt(path, f"segment command {index} size does not match its {seg.nsects} sections")
    first = 1 << 62
    end = int(seg.fileoff + seg.filesize)
    if seg.nsects == 0 and seg.filesize and seg.fileoff:
        first = int(seg.fileoff)
    pos = start + sizeof(seg_cls)
    for _ in range(seg.nsects):
        sect = sect_cls.from_str(body[pos : pos + sizeof(sect_cls)], _endian_=endian)
        pos += sizeof(sect_cls)
        zerofill = (sect.flags & mach_o.SECTION_TYPE) in _ZEROFILL_TYPES
        if not zerofill and sect.size and sect.offset:
            first = min(first, int(sect.offset))
    return first, end
