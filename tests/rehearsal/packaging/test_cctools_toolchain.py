"""otool/install_name_tool with cctools' texts on genuine Mach-O; clang's and make's CLT faces."""

from __future__ import annotations

from egpu_lab import macho_build as build
from egpu_lab.macos.cctools import install_name_tool, otool, xcrun_otool
from egpu_lab.macos.toolchain import clang, make, xcrun_clang
from egpu_lab.standins import install_clt, machos

PREFIX = "error: /Library/Developer/CommandLineTools/usr/bin/install_name_tool: "


def test_otool_lists_rpath_names_by_mac_path(host):
    machos.cudnn_lib(host.root / "usr/local/cuda/lib")
    r = host.run(otool, "-L", "/usr/local/cuda/lib/libcudnn.7.dylib")
    assert r.code == 0
    assert r.out.splitlines()[:2] == [
        "/usr/local/cuda/lib/libcudnn.7.dylib:",
        "\t@rpath/libcudnn.7.dylib (compatibility version 1.0.0, current version 1.0.0)",
    ]
    assert xcrun_otool.__name__ and host.run(xcrun_otool, "-L", "/usr/local/cuda/lib/libcudnn.7.dylib").code == 1


def test_install_name_tool_errors_are_cctools(host):
    lib = machos.cudnn_lib(host.root / "private/tmp")
    mac = "/private/tmp/libcudnn.7.dylib"
    assert host.run(install_name_tool, "-add_rpath", "/usr/local/cuda/lib", mac).code == 0
    dup = host.run(install_name_tool, "-add_rpath", "/usr/local/cuda/lib", mac)
    assert (dup.code, dup.err) == (
        1,
        f'{PREFIX}for: {mac} (for architecture x86_64) option "-add_rpath /usr/local/cuda/lib" would duplicate '
        "path, file already has LC_RPATH for: /usr/local/cuda/lib\n",
    )
    tight = build.build_dylib(
        host.root / "private/tmp/libtight.dylib", "int f(void){return 1;}", "@rpath/t", headerpad=0
    )
    room = host.run(install_name_tool, "-add_rpath", "/" + "x" * 200, "/private/tmp/libtight.dylib")
    assert room.code == 1
    assert room.err.startswith(f"{PREFIX}changing install names or rpaths can't be redone for: /private/tmp/libtight")
    assert lib.exists() and tight.exists()


def test_clang_and_make_of_clt_92(host):
    install_clt(host.root, "9.2")
    v = host.run(xcrun_clang, "--version")
    assert v.out.splitlines() == [
        "Apple LLVM version 9.0.0 (clang-900.0.39.2)",
        "Target: x86_64-apple-darwin17.3.0",
        "Thread model: posix",
        "InstalledDir: /Library/Developer/CommandLineTools/usr/bin",
    ]
    omp = host.run(clang, "-fopenmp", "-c", "x.c")
    assert (omp.code, omp.err) == (1, "clang: error: unsupported option '-fopenmp'\n")
    assert host.run(make, "--version").out.startswith("GNU Make 3.81\n")
