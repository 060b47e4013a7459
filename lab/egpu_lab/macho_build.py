"""Build genuine Mach-O files on Linux with the ziglang wheel (`python -m ziglang cc`).

Used by the tests of egpu_setup.macho and by the rehearsal lab's stand-in installers (libcudart.9.1.dylib,
libmxnet.so, ...). Nothing here runs on a Mac; it only needs the `ziglang` wheel (a test/lab dependency) and,
for universal files, llvm-lipo-14 (else the fat header is written here).

Zig needs a writable cache; its first compile for a target builds libc stubs (~12 s), later ones take well under
a second, so one cache directory is shared by all builds: $ZIG_GLOBAL_CACHE_DIR if set, else
$XDG_CACHE_HOME/egpu-setup/zig (~/.cache/egpu-setup/zig). It deliberately ignores $EGPU_SETUP_CACHE: tests point
that at throw-away artifact stores, and zig's cache is not an artifact.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from egpu_lab.layout import zig_cache_dir
from egpu_setup.errors import EgpuError

DEFAULT_TARGET = "x86_64-macos.10.13"
# Small, deterministic output: zig's default Debug mode links the UBSan runtime (hundreds of KiB per dylib).
DEFAULT_CFLAGS: tuple[str, ...] = ("-Os", "-fno-sanitize=all")
# A C body for libraries whose code does not matter, only their load commands.
STUB_SOURCE = "int egpu_stub_{name}(void) {{ return {value}; }}\n"


def zig_cc_command() -> list[str]:
    """argv prefix that runs the zig C compiler from the ziglang wheel of this interpreter."""
    return [sys.executable, "-m", "ziglang", "cc"]


def zig_env() -> dict[str, str]:
    """The environment to run `zig_cc_command()` in: this process's, with both zig caches set to the shared one."""
    cache = str(zig_cache_dir())
    Path(cache).mkdir(parents=True, exist_ok=True)
    # Both caches in one place: otherwise zig writes .zig-cache into the current directory.
    return {**os.environ, "ZIG_GLOBAL_CACHE_DIR": cache, "ZIG_LOCAL_CACHE_DIR": cache}


_zig_env = zig_env  # the name the rehearsal stand-ins first used


def _sources(sources: Sequence[Path] | str, workdir: Path) -> list[str]:
    if isinstance(sources, str):
        source = workdir / "source.c"
        source.write_text(sources)
        return [str(source)]
    return [str(Path(s)) for s in sources]


def _link_args(link: Iterable[Path], weak: Iterable[Path]) -> list[str]:
    # A dylib named by path is recorded by its install name (LC_LOAD_DYLIB). zig's linker takes weak libraries
    # only as -weak-l<name> searched in -L directories (not by path), so each must be named lib<name>.dylib.
    # It does not support -reexport_library.
    args = [str(Path(p)) for p in link]
    for p in map(Path, weak):
        if not (p.name.startswith("lib") and p.name.endswith(".dylib")):
            raise EgpuError(f"weak library {p.name}: zig links weak libraries only as lib<name>.dylib")
        args += [f"-L{p.parent}", f"-Wl,-weak-l{p.name[3:-6]}"]
    return args


def _compile(out: Path, argv: list[str]) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        proc = subprocess.run(argv, env=zig_env(), capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:  # pragma: no cover - interpreter vanished
        raise EgpuError(f"cannot run zig: {exc}", fix="pip install ziglang") from exc
    if proc.returncode != 0:
        hint = "pip install ziglang" if "No module named ziglang" in proc.stderr else "see the compiler output above"
        raise EgpuError(f"zig cc failed building {out.name}:\n{proc.stderr.strip()}", fix=hint)
    return out


def build_dylib(
    out: Path,
    sources: Sequence[Path] | str,
    install_name: str,
    link: Sequence[Path] = (),
    rpaths: Sequence[str] = (),
    weak: Sequence[Path] = (),
    headerpad_max: bool = False,
    headerpad: int | None = None,
    extra_flags: Sequence[str] = (),
    target: str = DEFAULT_TARGET,
    current_version: str | None = None,
    compatibility_version: str | None = None,
) -> Path:
    """Compile C `sources` (paths, or C code as a string) into a dylib with LC_ID_DYLIB `install_name`.

    `link`/`weak` are dylibs to depend on (recorded by *their* install names, e.g. @rpath/libfoo.dylib),
    `rpaths` become LC_RPATH. `headerpad=0` leaves no room after the load commands (zig pads 0x1000 bytes by
    default), `headerpad_max=True` passes -headerpad_max_install_names. The versions ("9.1.85") are what
    `otool -L` prints as current/compatibility version (default 1.0.0).
    """
    with tempfile.TemporaryDirectory(prefix="egpu-macho-build-") as tmp:
        argv = [*zig_cc_command(), "-target", target, *DEFAULT_CFLAGS, "-shared", "-o", str(out)]
        argv += _sources(sources, Path(tmp))
        argv += _link_args(link, weak)
        argv += ["-Wl,-install_name," + install_name]
        argv += ["-Wl,-rpath," + r for r in rpaths]
        if headerpad_max:
            argv.append("-Wl,-headerpad_max_install_names")
        if headerpad is not None:
            argv.append(f"-Wl,-headerpad,{headerpad:#x}")
        if current_version:
            argv.append(f"-Wl,-current_version,{current_version}")
        if compatibility_version:
            argv.append(f"-Wl,-compatibility_version,{compatibility_version}")
        argv += list(extra_flags)
        return _compile(Path(out), argv)


def build_stub_dylib(
    out: Path,
    install_name: str,
    link: Sequence[Path] = (),
    rpaths: Sequence[str] = (),
    target: str = DEFAULT_TARGET,
    current_version: str | None = None,
    compatibility_version: str | None = None,
) -> Path:
    """A dylib with one trivial exported function: for stand-ins whose load commands are what matters."""
    name = "".join(c if c.isalnum() else "_" for c in Path(out).name)
    return build_dylib(
        out,
        STUB_SOURCE.format(name=name, value=len(name)),
        install_name,
        link=link,
        rpaths=rpaths,
        target=target,
        current_version=current_version,
        compatibility_version=compatibility_version,
    )


def build_executable(
    out: Path,
    sources: Sequence[Path] | str,
    link: Sequence[Path] = (),
    rpaths: Sequence[str] = (),
    weak: Sequence[Path] = (),
    headerpad_max: bool = False,
    extra_flags: Sequence[str] = (),
    target: str = DEFAULT_TARGET,
) -> Path:
    """Compile C `sources` (with a main) into an MH_EXECUTE; the same dependency options as build_dylib."""
    with tempfile.TemporaryDirectory(prefix="egpu-macho-build-") as tmp:
        argv = [*zig_cc_command(), "-target", target, *DEFAULT_CFLAGS, "-o", str(out)]
        argv += _sources(sources, Path(tmp))
        argv += _link_args(link, weak)
        argv += ["-Wl,-rpath," + r for r in rpaths]
        if headerpad_max:
            argv.append("-Wl,-headerpad_max_install_names")
        argv += list(extra_flags)
        return _compile(Path(out), argv)


# Fat header constants (mach-o/fat.h): big-endian magic, then per arch cputype, cpusubtype, offset, size, align.
_FAT_MAGIC = 0xCAFEBABE
_FAT_ARCH = struct.Struct(">iiIII")
_ALIGN_LOG2 = {0x01000007: 12, 0x0100000C: 14}  # x86_64 4 KiB pages, arm64 16 KiB pages


def make_universal(out: Path, thin_files: Sequence[Path]) -> Path:
    """Combine thin Mach-O files into one universal (fat) file: llvm-lipo-14 -create, or written here."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    lipo = shutil.which("llvm-lipo-14") or shutil.which("lipo")
    if lipo:
        proc = subprocess.run(
            [lipo, "-create", "-output", str(out), *map(str, thin_files)], capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            raise EgpuError(f"lipo failed building {out.name}: {proc.stderr.strip()}")
        return out
    return _write_fat(out, [Path(p).read_bytes() for p in thin_files])


def _write_fat(out: Path, slices: list[bytes]) -> Path:
    header = bytearray(struct.pack(">II", _FAT_MAGIC, len(slices)))
    body = bytearray()
    offset = 8 + _FAT_ARCH.size * len(slices)
    for data in slices:
        cputype, cpusubtype = struct.unpack("<ii", data[4:12])
        align = _ALIGN_LOG2.get(cputype & 0xFFFFFFFF, 12)
        start = -(-offset // (1 << align)) * (1 << align)
        body += b"\0" * (start - offset) + data
        header += _FAT_ARCH.pack(cputype, cpusubtype, start, len(data), align)
        offset = start + len(data)
    out.write_bytes(bytes(header) + bytes(body))
    out.chmod(0o755)
    return out
