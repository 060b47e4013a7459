"""egpu_lab.macho_build: the ziglang-wheel builder that tests and the rehearsal stand-ins use."""

from __future__ import annotations

import pytest

from egpu_lab import macho_build as build
from egpu_setup.errors import EgpuError
from egpu_setup.macho.reader import read_macho


def test_install_names_and_references_as_otool_reads_them(built, llvm):
    out = llvm("otool", "-L", built.weak).splitlines()
    assert out[1].strip().startswith("@rpath/libweak.dylib (compatibility version 1.0.0")
    assert "cmd LC_LOAD_WEAK_DYLIB" in llvm("otool", "-l", built.weak)
    assert "@executable_path/../lib" in llvm("otool", "-l", built.app)
    header_row = llvm("objdump", "--macho", "--private-headers", built.app).splitlines()[3].split()
    assert header_row[:2] == ["MH_MAGIC_64", "X86_64"] and header_row[4] == "EXECUTE"


def test_headerpad_options_change_the_room(built, tmp_path):
    src = "int f(void) { return 0; }\n"
    deps = [built.cuda[n] for n in ("libcudart.9.1.dylib", "libcublas.9.1.dylib", "libcudnn.7.dylib")]
    default = build.build_dylib(tmp_path / "a.dylib", src, "@rpath/a.dylib", link=deps)
    maxpad = build.build_dylib(tmp_path / "b.dylib", src, "@rpath/b.dylib", link=deps, headerpad_max=True)
    nopad = build.build_dylib(tmp_path / "c.dylib", src, "@rpath/c.dylib", link=deps, headerpad=0)
    rooms = [read_macho(p).slices[0].room for p in (nopad, default, maxpad)]
    assert rooms[0] < 16 < rooms[1] < rooms[2]


def test_own_fat_writer_matches_llvm_lipo(built, tmp_path):
    lipo = built.cuda_fat["libcudart.9.1.dylib"]  # made with llvm-lipo-14 from the x86_64 and arm64 stubs
    arm = built.dir / "arm" / "libcudart.9.1.dylib"
    slices = [built.cuda["libcudart.9.1.dylib"].read_bytes(), arm.read_bytes()]
    ours = build._write_fat(tmp_path / "fat.dylib", slices)
    assert ours.read_bytes() == lipo.read_bytes()


def test_compiler_errors_are_egpu_errors(tmp_path):
    with pytest.raises(EgpuError, match=r"zig cc failed building bad\.dylib"):
        build.build_dylib(tmp_path / "bad.dylib", "this is not C\n", "@rpath/bad.dylib")


def test_weak_library_must_be_named_lib_dylib(built, tmp_path):
    odd = tmp_path / "cudart.so"
    odd.write_bytes(built.cuda["libcudart.9.1.dylib"].read_bytes())
    with pytest.raises(EgpuError, match=r"lib<name>\.dylib"):
        build.build_dylib(tmp_path / "w.dylib", "int w(void) { return 0; }\n", "@rpath/w.dylib", weak=[odd])


def test_zig_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ZIG_GLOBAL_CACHE_DIR", str(tmp_path / "z"))
    assert build.zig_cache_dir() == tmp_path / "z"
    monkeypatch.delenv("ZIG_GLOBAL_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert build.zig_cache_dir() == tmp_path / "xdg" / "egpu-setup" / "zig"
    assert build.zig_cc_command()[1:] == ["-m", "ziglang", "cc"]


def test_versions_as_otool_prints_them(tmp_path, llvm):
    lib = build.build_stub_dylib(tmp_path / "libcudart.9.1.dylib", "@rpath/libcudart.9.1.dylib",
                                 current_version="9.1.85", compatibility_version="9.1.0")  # fmt: skip
    first = llvm("otool", "-L", lib).splitlines()[1].strip()
    assert first == "@rpath/libcudart.9.1.dylib (compatibility version 9.1.0, current version 9.1.85)"
