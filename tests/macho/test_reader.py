"""egpu_setup.macho.reader against what llvm-otool-14 reads from the same genuine files."""

from __future__ import annotations

import random
import shutil
import struct
from pathlib import Path

import pytest

from egpu_setup.macho.reader import MachOError, read_macho, sniff

LC_LOAD_DYLIB = 0xC
LC_REEXPORT_DYLIB = 0x8000001F


def test_thin_dylib(built):
    m = read_macho(built.mxnet)
    assert not m.fat and m.archs == ["x86_64"]
    (sl,) = m.slices
    assert sl.install_name == "lib/libmxnet.so"
    assert sorted(d.name for d in sl.deps) == sorted(
        ["/usr/lib/libSystem.B.dylib", "@rpath/libcudart.9.1.dylib", "@rpath/libcublas.9.1.dylib",
         "@rpath/libcudnn.7.dylib"]
    )  # fmt: skip
    assert {d.kind for d in sl.deps} == {"load"}
    assert sl.rpaths == () and not sl.code_signed
    assert sl.room >= 0x1000  # zig's linker pads the header by 4 KiB by default


def test_headerpad_zero_leaves_no_room(built):
    (sl,) = read_macho(built.mxnet_nopad).slices
    assert sl.room < 16  # not even the smallest LC_RPATH fits


def test_universal_file_and_code_signature(built, llvm):
    m = read_macho(built.mxnet_fat)
    assert m.fat and m.archs == ["x86_64", "arm64"]
    x86, arm = m.slices
    assert x86.offset > 0 and arm.offset > x86.offset
    headers = {a: llvm("objdump", "--macho", "--private-headers", f"--arch={a}", built.mxnet_fat) for a in m.archs}
    assert "LC_CODE_SIGNATURE" in headers["arm64"] and "LC_CODE_SIGNATURE" not in headers["x86_64"]
    assert not x86.code_signed
    assert arm.code_signed and m.code_signed
    assert m.describe()[0] == "[x86_64] LC_ID_DYLIB lib/libmxnet.so"


def test_executable_rpath_and_weak(built):
    (app,) = read_macho(built.app).slices
    assert app.install_name is None and app.rpaths == ("@executable_path/../lib",)
    (weak,) = read_macho(built.weak).slices
    assert {d.name: d.kind for d in weak.deps}["@rpath/libcurand.9.1.dylib"] == "weak"
    assert not next(d for d in weak.deps if d.name.endswith("libcurand.9.1.dylib")).required


def test_reexport_dylib(built, tmp_path, llvm):
    # zig cannot link with -reexport_library: turn one LC_LOAD_DYLIB into LC_REEXPORT_DYLIB (same layout).
    lib = tmp_path / "libre.dylib"
    shutil.copyfile(built.weak, lib)
    (sl,) = read_macho(lib).slices
    ref = next(d for d in sl.deps if d.name == "@rpath/libcudart.9.1.dylib")
    cmd = sl.commands[ref.index]
    data = bytearray(lib.read_bytes())
    assert struct.unpack_from("<I", data, cmd.offset)[0] == LC_LOAD_DYLIB
    struct.pack_into("<I", data, cmd.offset, LC_REEXPORT_DYLIB)
    lib.write_bytes(bytes(data))

    (sl,) = read_macho(lib).slices
    assert {d.name: d.kind for d in sl.deps}["@rpath/libcudart.9.1.dylib"] == "reexport"
    assert "cmd LC_REEXPORT_DYLIB" in llvm("otool", "-l", lib)


@pytest.mark.parametrize(
    ("content", "expected"),
    [(b"", None), (b"\xcf\xfa\xed\xfe", "thin"), (bytes.fromhex("cafebabe00000002"), "fat"),
     (bytes.fromhex("cafebabe00000034"), None), (b"#!/bin/sh\n", None)],
)  # fmt: skip
def test_sniff(tmp_path, content, expected):
    f = tmp_path / "f"
    f.write_bytes(content)
    assert sniff(f) == expected


def test_every_truncation_is_a_clear_error(built, tmp_path):
    data = built.mxnet_fat.read_bytes()
    f = tmp_path / "cut.dylib"
    for size in [*range(4, 200, 7), *range(200, len(data), 997), len(data) - 1]:
        f.write_bytes(data[:size])
        with pytest.raises(MachOError, match=r"truncated or malformed|not a Mach-O file"):
            read_macho(f)


def test_random_damage_never_raises_anything_but_machoerror(built, tmp_path):
    data = built.mxnet.read_bytes()
    (sl,) = read_macho(built.mxnet).slices
    end = sl.header_size + sl.sizeofcmds
    f = tmp_path / "bad.dylib"
    rng = random.Random(5)
    errors = 0
    for _ in range(300):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            damaged[rng.randrange(16, end)] = rng.randrange(256)
        f.write_bytes(bytes(damaged))
        try:
            read_macho(f)
        except MachOError:
            errors += 1
    assert errors > 0  # the damage was noticed at least sometimes; never a traceback of another type


def test_missing_file(tmp_path: Path):
    with pytest.raises(MachOError, match="not a Mach-O file"):
        read_macho(tmp_path / "absent.dylib")
