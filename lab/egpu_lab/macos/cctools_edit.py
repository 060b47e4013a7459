"""cctools-900's install_name_tool, its checks and its write, for the rehearsal's `install_name_tool` (stdlib only).

Source: apple-oss-distributions/cctools, tag cctools-900 (4142b9e7b4ada56b55d655ef8ec910fe3e874ccf):
misc/install_name_tool.c
- `main`: the options (-id, -change, -rpath, -add_rpath, -delete_rpath, one input file, anywhere on the line) and
  their errors (`missing argument(s) to: -X option`, `"-add_rpath P" specified more than once`, `can't specify
  both ...`, `more than one input file specified (A and B)`), each followed by the usage line and exit 1;
- `update_load_commands`, per architecture: the new size of the load commands (a changed name or path is
  `sizeof(command) + rnd(strlen + 1, 8)` bytes, 4 in a 32-bit file); the room ends at the lowest file offset of a
  section with size != 0 that is not zerofill -- tested as `(flags & S_ZEROFILL) == S_ZEROFILL` and
  `(flags & S_THREAD_LOCAL_ZEROFILL) == S_THREAD_LOCAL_ZEROFILL`, bit masks that also skip some other section
  types -- or of a section-less segment with file contents; an -add_rpath equal to an LC_RPATH of the file, an
  -rpath / -delete_rpath whose path the file lacks, and new commands that do not fit are `error()`s: all are
  printed (every architecture), then exit 1 before anything is opened for writing;
- `write_on_input`: the file is written in place (same inode), only the header and load commands of each
  architecture, zero-filled up to the larger of the old and new size; everything else stays byte for byte.
libstuff/errors.c: messages are `error: <argv[0]>: ...`; `system_error` appends ` (<strerror>)`.
libstuff/ofile.c: `can't open file: F (<strerror>)`; install_name_tool.c `process`: `input file: F is not a
Mach-O file`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

FAT_MAGIC, FAT_MAGIC_64 = 0xCAFEBABE, 0xCAFEBABF
THIN_MAGICS = {0xFEEDFACE: (">", False), 0xCEFAEDFE: ("<", False), 0xFEEDFACF: (">", True), 0xCFFAEDFE: ("<", True)}
LC_SEGMENT, LC_SEGMENT_64, LC_ID_DYLIB, LC_PREBOUND_DYLIB, LC_RPATH = 0x1, 0x19, 0xD, 0x10, 0x8000001C
# LC_LOAD_DYLIB, LC_LOAD_WEAK_DYLIB, LC_REEXPORT_DYLIB, LC_LAZY_LOAD_DYLIB, LC_LOAD_UPWARD_DYLIB
DYLIB_LOADS = (0xC, 0x80000018, 0x8000001F, 0x20, 0x80000023)
S_ZEROFILL, S_GB_ZEROFILL, S_THREAD_LOCAL_ZEROFILL = 0x1, 0xC, 0x12
MH_DYLIB_STUB = 0x9
# libstuff/arch.c names of the CPUs a High Sierra Mac meets
ARCH_NAMES = {(0x01000007, 8): "x86_64h", (0x01000007, None): "x86_64", (7, None): "i386",
              (0x0100000C, None): "arm64", (12, 9): "armv7", (12, 11): "armv7s", (18, None): "ppc",
              (0x01000012, None): "ppc64"}  # fmt: skip


def usage(prog: str) -> str:
    return (
        f"Usage: {prog} [-change old new] ... [-rpath old new] ... [-add_rpath new] ... [-delete_rpath old] ... "
        "[-id name] input"
    )


class UsageError(Exception):
    """A command line install_name_tool refuses; `message` is printed, then the usage line, exit 1."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Malformed(Exception):
    """A file whose header or load commands cannot be read."""


@dataclass
class Request:
    """The command line, as install_name_tool.c's main() collects it."""

    input: str | None = None
    id: str | None = None
    changes: list[tuple[str, str]] = field(default_factory=list)
    rpaths: list[tuple[str, str]] = field(default_factory=list)
    add_rpaths: list[str] = field(default_factory=list)
    delete_rpaths: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.id is None and not (self.changes or self.rpaths or self.add_rpaths or self.delete_rpaths)

    def option_args(self) -> list[str]:
        """The edits as options again (for llvm-install-name-tool-14)."""
        args = ["-id", self.id] if self.id is not None else []
        for old, new in self.changes:
            args += ["-change", old, new]
        for old, new in self.rpaths:
            args += ["-rpath", old, new]
        for new in self.add_rpaths:
            args += ["-add_rpath", new]
        for old in self.delete_rpaths:
            args += ["-delete_rpath", old]
        return args


def parse(argv: list[str]) -> Request:
    """install_name_tool.c main()'s option loop: UsageError with its message for what it refuses."""
    req = Request()
    i = 0
    while i < len(argv):
        opt = argv[i]
        if opt == "-id":
            if i + 1 == len(argv):
                raise UsageError(f"missing argument to: {opt} option")
            if req.id is not None:
                raise UsageError(f"more than one: {opt} option specified")
            req.id = argv[i + 1]
            i += 2
        elif opt == "-change":
            if i + 2 >= len(argv):
                raise UsageError(f"missing argument(s) to: {opt} option")
            req.changes.append((argv[i + 1], argv[i + 2]))
            i += 3
        elif opt == "-rpath":
            if i + 2 >= len(argv):
                raise UsageError(f"missing argument(s) to: {opt} option")
            _check_rpath(req, argv[i + 1], argv[i + 2])
            req.rpaths.append((argv[i + 1], argv[i + 2]))
            i += 3
        elif opt == "-add_rpath":
            if i + 1 == len(argv):
                raise UsageError(f"missing argument(s) to: {opt} option")
            new = argv[i + 1]
            if new in req.add_rpaths:
                raise UsageError(f'"-add_rpath {new}" specified more than once')
            for old, repl in req.rpaths:
                if new in (old, repl):
                    raise UsageError(f'can\'t specify both "-rpath {old} {repl}" and "-add_rpath {new}"')
            if new in req.delete_rpaths:
                raise UsageError(f'can\'t specify both "-delete_rpath {new}" and "-add_rpath {new}"')
            req.add_rpaths.append(new)
            i += 2
        elif opt == "-delete_rpath":
            if i + 1 == len(argv):
                raise UsageError(f"missing argument(s) to: {opt} option")
            old = argv[i + 1]
            if old in req.delete_rpaths:
                raise UsageError(f'"-delete_rpath {old}" specified more than once')
            for r_old, r_new in req.rpaths:
                if old in (r_old, r_new):
                    raise UsageError(f'can\'t specify both "-rpath {r_old} {r_new}" and "-delete_rpath {old}"')
            if old in req.add_rpaths:
                raise UsageError(f'can\'t specify both "-add_rpath {old}" and "-delete_rpath {old}"')
            req.delete_rpaths.append(old)
            i += 2
        else:
            if req.input is not None:
                raise UsageError(f"more than one input file specified ({opt} and {req.input})")
            req.input = opt
            i += 1
    return req


def _check_rpath(req: Request, old: str, new: str) -> None:
    for r_old, r_new in req.rpaths:
        if r_old == old:
            if r_new == new:
                raise UsageError(f'"-rpath {old} {new}" specified more than once')
            raise UsageError(f'can\'t specify both "-rpath {r_old} {r_new}" and "-rpath {old} {new}"')
        if r_new in (old, new) or r_old == new:
            raise UsageError(f'can\'t specify both "-rpath {r_old} {r_new}" and "-rpath {old} {new}"')
    for added in req.add_rpaths:
        if added in (old, new):
            raise UsageError(f'can\'t specify both "-add_rpath {added}" and "-rpath {old} {new}"')
    for deleted in req.delete_rpaths:
        if deleted in (old, new):
            raise UsageError(f'can\'t specify both "-delete_rpath {deleted}" and "-rpath {old} {new}"')


@dataclass
class Command:
    cmd: int
    data: bytes  # the whole load command


@dataclass
class Arch:
    """One architecture (a thin file, or one slice of a universal file)."""

    offset: int
    size: int
    endian: str
    is64: bool
    cputype: int
    cpusubtype: int
    filetype: int
    ncmds: int
    sizeofcmds: int
    commands: list[Command]

    @property
    def header_size(self) -> int:
        return 32 if self.is64 else 28

    @property
    def round(self) -> int:
        return 8 if self.is64 else 4

    @property
    def name(self) -> str:
        sub = self.cpusubtype & 0x00FFFFFF
        return (
            ARCH_NAMES.get((self.cputype, sub))
            or ARCH_NAMES.get((self.cputype, None))
            or f"cputype ({self.cputype}) cpusubtype ({sub})"
        )

    def u32(self, data: bytes, at: int) -> int:
        return int(struct.unpack_from(self.endian + "I", data, at)[0])

    def string(self, command: Command, offset_at: int) -> str:
        """The lc_str whose offset field is at `offset_at` of the command."""
        start = self.u32(command.data, offset_at)
        raw = command.data[start:]
        return raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def read_archs(data: bytes) -> list[Arch] | None:
    """The architectures of a Mach-O file; None when it is not one; Malformed when it cannot be read."""
    if len(data) < 4:
        return None
    magic = struct.unpack_from(">I", data)[0]
    if magic in (FAT_MAGIC, FAT_MAGIC_64):
        wide = magic == FAT_MAGIC_64
        if len(data) < 8:
            raise Malformed("fat header truncated")
        nfat = struct.unpack_from(">I", data, 4)[0]
        entry = 32 if wide else 20
        if 8 + nfat * entry > len(data):
            raise Malformed(f"fat_arch structs extend past the end of the file ({nfat} of them)")
        archs = []
        for i in range(nfat):
            at = 8 + i * entry
            if wide:
                offset, size = struct.unpack_from(">QQ", data, at + 8)
            else:
                offset, size = struct.unpack_from(">II", data, at + 8)
            if offset + size > len(data):
                raise Malformed(f"offset plus size of cputype of fat_arch {i} extends past the end of the file")
            archs.append(_thin(data, offset, size))
        return archs
    if magic not in THIN_MAGICS:
        return None
    return [_thin(data, 0, len(data))]


def _thin(data: bytes, offset: int, size: int) -> Arch:
    if size < 28 or struct.unpack_from(">I", data, offset)[0] not in THIN_MAGICS:
        raise Malformed(f"no Mach-O header at offset {offset}")
    endian, is64 = THIN_MAGICS[struct.unpack_from(">I", data, offset)[0]]
    cputype, cpusubtype, filetype, ncmds, sizeofcmds = struct.unpack_from(endian + "iiIII", data, offset + 4)
    header = 32 if is64 else 28
    if header + sizeofcmds > size:
        raise Malformed("load commands extend past the end of the file")
    commands = []
    pos = offset + header
    end = pos + sizeofcmds
    for index in range(ncmds):
        if pos + 8 > end:
            raise Malformed(f"load command {index} extends past the end all load commands in the file")
        cmd, cmdsize = struct.unpack_from(endian + "II", data, pos)
        if cmdsize < 8 or pos + cmdsize > end:
            raise Malformed(f"load command {index} cmdsize {cmdsize} is impossible")
        commands.append(Command(cmd, data[pos : pos + cmdsize]))
        pos += cmdsize
    return Arch(offset, size, endian, is64, cputype & 0xFFFFFFFF, cpusubtype & 0xFFFFFFFF, filetype, ncmds,
                sizeofcmds, commands)  # fmt: skip


def _rnd(value: int, to: int) -> int:
    return (value + to - 1) // to * to


@dataclass
class Outcome:
    """What install_name_tool decides for one architecture, and what the result must read like."""

    errors: list[str] = field(default_factory=list)
    new_sizeofcmds: int = 0
    new_ncmds: int = 0
    low_fileoff: int = 1 << 64  # cctools' bound (ULLONG_MAX when no section holds data)
    data_start: int = 1 << 64  # the first byte of any section or segment data (the lab's own, stricter bound)
    prebound_changed: bool = False
    id: str | None = None
    dylibs: list[str] = field(default_factory=list)
    rpaths: list[str] = field(default_factory=list)


def plan_arch(arch: Arch, req: Request, file_name: str) -> Outcome:
    """update_load_commands()'s first pass: the errors (in cctools' order) and the new size and names."""
    out = Outcome(new_sizeofcmds=arch.sizeofcmds, new_ncmds=arch.ncmds)
    r = arch.round
    rpath_found: set[str] = set()
    deleted: set[str] = set()
    for c in arch.commands:
        if c.cmd == LC_ID_DYLIB:
            out.id = arch.string(c, 8)
            if req.id is not None:
                out.new_sizeofcmds += 24 + _rnd(len(req.id.encode()) + 1, r) - len(c.data)
                out.id = req.id
        elif c.cmd in DYLIB_LOADS:
            name = arch.string(c, 8)
            new = next((n for o, n in req.changes if o == name), None)
            if new is not None:
                out.new_sizeofcmds += 24 + _rnd(len(new.encode()) + 1, r) - len(c.data)
            out.dylibs.append(name if new is None else new)
        elif c.cmd == LC_PREBOUND_DYLIB:
            name = arch.string(c, 8)
            if any(o == name for o, _ in req.changes):
                out.prebound_changed = True  # sized by cctools too; the lab does not imitate changing it
        elif c.cmd in (LC_SEGMENT, LC_SEGMENT_64):
            _segment_bounds(arch, c, out)
        elif c.cmd == LC_RPATH:
            path = arch.string(c, 8)
            for new in req.add_rpaths:
                if new == path:
                    out.errors.append(
                        f'for: {file_name} (for architecture {arch.name}) option "-add_rpath {new}" would '
                        f"duplicate path, file already has LC_RPATH for: {path}"
                    )
            renamed = next(((o, n) for o, n in req.rpaths if o == path), None)
            if renamed and path not in rpath_found:
                rpath_found.add(path)
                out.new_sizeofcmds += _rnd(12 + len(renamed[1].encode()) + 1, r) - len(c.data)
                out.rpaths.append(renamed[1])
            elif path in req.delete_rpaths and path not in deleted:
                deleted.add(path)
                out.new_sizeofcmds -= len(c.data)
                out.new_ncmds -= 1
            else:
                out.rpaths.append(path)
    for old in req.delete_rpaths:
        if old not in deleted:
            out.errors.append(
                f"no LC_RPATH load command with path: {old} found in: {file_name} (for architecture {arch.name}), "
                f'required for specified option "-delete_rpath {old}"'
            )
    for old, new in req.rpaths:
        if old not in rpath_found:
            out.errors.append(
                f"no LC_RPATH load command with path: {old} found in: {file_name} (for architecture {arch.name}), "
                f'required for specified option "-rpath {old} {new}"'
            )
    for new in req.add_rpaths:
        out.new_sizeofcmds += _rnd(12 + len(new.encode()) + 1, r)
        out.new_ncmds += 1
        out.rpaths.append(new)
    if out.new_sizeofcmds + arch.header_size > out.low_fileoff:
        out.errors.append(
            f"changing install names or rpaths can't be redone for: {file_name} (for architecture {arch.name}) "
            "because larger updated load commands do not fit (the program must be relinked, and you may need to "
            "use -headerpad or -headerpad_max_install_names)"
        )
    return out


def _segment_bounds(arch: Arch, c: Command, out: Outcome) -> None:
    """Lower `low_fileoff` as cctools does and `data_start` by the section types proper."""
    if arch.is64:
        fileoff, filesize, nsects = (*struct.unpack_from(arch.endian + "QQ", c.data, 40),
                                     arch.u32(c.data, 64))  # fmt: skip
        first, sect_size, size_fmt, size_at, offset_at, flags_at = 72, 80, "Q", 40, 48, 64
    else:
        fileoff, filesize, nsects = (*struct.unpack_from(arch.endian + "II", c.data, 32),
                                     arch.u32(c.data, 48))  # fmt: skip
        first, sect_size, size_fmt, size_at, offset_at, flags_at = 56, 68, "I", 36, 40, 56
    if nsects == 0:
        if filesize != 0:
            out.low_fileoff = min(out.low_fileoff, fileoff)
            out.data_start = min(out.data_start, fileoff)
        return
    for i in range(nsects):
        at = first + i * sect_size
        if at + sect_size > len(c.data):
            raise Malformed("section headers extend past their segment command")
        size = struct.unpack_from(arch.endian + size_fmt, c.data, at + size_at)[0]
        offset = arch.u32(c.data, at + offset_at)
        flags = arch.u32(c.data, at + flags_at)
        if (
            size != 0
            and (flags & S_ZEROFILL) != S_ZEROFILL
            and (flags & S_THREAD_LOCAL_ZEROFILL) != S_THREAD_LOCAL_ZEROFILL
        ):
            out.low_fileoff = min(out.low_fileoff, offset)
        if size != 0 and (flags & 0xFF) not in (S_ZEROFILL, S_GB_ZEROFILL, S_THREAD_LOCAL_ZEROFILL):
            out.data_start = min(out.data_start, offset)


def result_differs(before: bytes, after: bytes, archs: list[Arch], outcomes: list[Outcome]) -> str | None:
    """Why `after` is not what cctools writes for these outcomes; None when it is (a check of `rewrite`).

    cctools changes nothing but each architecture's header and load commands, within the larger of the old and
    new size (zero-filled past the new end), so: same size, same universal layout, same bytes elsewhere, the
    other load commands byte for byte, and the names and paths the edits give.
    """
    if len(after) != len(before):
        return f"the file's size changed from {len(before)} to {len(after)} bytes"
    try:
        new_archs = read_archs(after)
    except Malformed as exc:
        return f"the result does not parse: {exc}"
    if new_archs is None or [(a.offset, a.size) for a in new_archs] != [(a.offset, a.size) for a in archs]:
        return "the universal file's layout changed"
    windows = []
    for old, new, expect in zip(archs, new_archs, outcomes, strict=True):
        if (new.ncmds, new.sizeofcmds) != (expect.new_ncmds, expect.new_sizeofcmds):
            return (f"{old.name}: {new.ncmds} load commands of {new.sizeofcmds} bytes, cctools writes "
                    f"{expect.new_ncmds} of {expect.new_sizeofcmds}")  # fmt: skip
        start = old.offset + old.header_size
        end = start + max(old.sizeofcmds, new.sizeofcmds)
        if any(after[start + new.sizeofcmds : end]):
            return f"{old.name}: bytes after the new load commands are not zero"
        windows.append((old.offset, end))
        edited = (LC_ID_DYLIB, LC_RPATH, *DYLIB_LOADS)
        if [c.data for c in old.commands if c.cmd not in edited] != [
            c.data for c in new.commands if c.cmd not in edited
        ]:
            return f"{old.name}: load commands other than dylib names and rpaths changed"
        got_id = next((new.string(c, 8) for c in new.commands if c.cmd == LC_ID_DYLIB), None)
        got_dylibs = [new.string(c, 8) for c in new.commands if c.cmd in DYLIB_LOADS]
        got_rpaths = [new.string(c, 8) for c in new.commands if c.cmd == LC_RPATH]
        if (got_id, got_dylibs, got_rpaths) != (expect.id, expect.dylibs, expect.rpaths):
            got, want = (got_id, got_dylibs, got_rpaths), (expect.id, expect.dylibs, expect.rpaths)
            return f"{old.name}: names and paths {got}, cctools writes {want}"
    pos = 0
    for start, end in [*windows, (len(before), len(before))]:
        if before[pos:start] != after[pos:start]:
            return "bytes outside the load commands changed"
        pos = end
    return None


def rewrite(before: bytes, archs: list[Arch], req: Request) -> bytes:
    """The file as cctools writes it: each architecture's load commands rebuilt (update_load_commands' second
    pass) and written over its header, zero-filled up to the larger of the old and new size (write_on_input)."""
    out = bytearray(before)
    for arch in archs:
        commands = _rebuilt(arch, req)
        ncmds = arch.ncmds + len(req.add_rpaths) - sum(1 for c in arch.commands if c.cmd == LC_RPATH
                                                       and _first(arch, c, req.delete_rpaths))  # fmt: skip
        start = arch.offset + arch.header_size
        region = commands + b"\0" * max(0, arch.sizeofcmds - len(commands))
        out[arch.offset + 16 : arch.offset + 24] = struct.pack(arch.endian + "II", ncmds, len(commands))
        out[start : start + len(region)] = region
    return bytes(out)


def _first(arch: Arch, command: Command, paths: list[str]) -> bool:
    """Whether this LC_RPATH is the first one with a path in `paths` (cctools acts on the first only)."""
    path = arch.string(command, 8)
    if path not in paths:
        return False
    return next(c for c in arch.commands if c.cmd == LC_RPATH and arch.string(c, 8) == path) is command


def _lc_str(arch: Arch, head: bytes, text: str) -> bytes:
    """A command of fixed part `head` (cmd, cmdsize, offset, ... as given) with its string after it."""
    raw = text.encode("utf-8", "surrogateescape")
    body = raw + b"\0" * (_rnd(len(head) + len(raw) + 1, arch.round) - len(head) - len(raw))
    return head[:4] + struct.pack(arch.endian + "II", len(head) + len(body), len(head)) + head[12:] + body


def _rebuilt(arch: Arch, req: Request) -> bytes:
    out = bytearray()
    for c in arch.commands:
        if c.cmd == LC_ID_DYLIB and req.id is not None:
            out += _lc_str(arch, c.data[:24], req.id)
        elif c.cmd in DYLIB_LOADS:
            name = arch.string(c, 8)
            new = next((n for o, n in req.changes if o == name), None)
            out += c.data if new is None else _lc_str(arch, c.data[:24], new)
        elif c.cmd == LC_RPATH and _first(arch, c, req.delete_rpaths):
            continue
        elif c.cmd == LC_RPATH and _first(arch, c, [o for o, _ in req.rpaths]):
            new = next(n for o, n in req.rpaths if o == arch.string(c, 8))
            out += _lc_str(arch, c.data[:12], new)
        else:
            out += c.data
    for new in req.add_rpaths:
        out += _lc_str(arch, struct.pack(arch.endian + "III", LC_RPATH, 0, 12), new)
    return bytes(out)


def header_windows(before: bytes, after: bytes) -> list[tuple[int, int]]:
    """(start, end) of what write_on_input writes per architecture: the header and load commands, up to the
    larger of the old and new size."""
    return [
        (old.offset, old.offset + old.header_size + max(old.sizeofcmds, new.sizeofcmds))
        for old, new in zip(read_archs(before) or [], read_archs(after) or [], strict=True)
    ]
