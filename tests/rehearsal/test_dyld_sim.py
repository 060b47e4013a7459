"""The lab's own dyld (egpu_lab.macos.dyld_sim) against recorded transcripts of real dyld errors.

Each case rebuilds, with genuine x86_64 Mach-O files (zig), the situation of a public report and compares the
lab's message with the transcript's, word for word but for the path given to dlopen:
- apache/mxnet#2754 (https://github.com/apache/mxnet/issues/2754): a library of a library is missing; dyld names
  the library's loader by the path it was found at (a Homebrew /usr/local/opt symlink), not the dlopened image.
- aria2/aria2#1096 (https://github.com/aria2/aria2/issues/1096): a library found through @rpath provides a lower
  compatibility version than its loader recorded; dyld names both by their leaf names.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from egpu_lab.machine import Machine
from egpu_lab.macos import dyld_sim

# Verbatim from apache/mxnet#2754 (macOS, Python's ctypes through dlopen(3)).
MXNET_2754 = (
    "OSError: dlopen(//anaconda/lib/python3.5/site-packages/mxnet-0.7.0-py3.5.egg/mxnet/libmxnet.so, 6): "
    "Library not loaded: /usr/local/lib/libHalf.12.dylib\n"
    "  Referenced from: /usr/local/opt/openexr/lib/libIlmImf-2_2.22.dylib\n"
    "  Reason: image not found"
)
# Verbatim from aria2/aria2#1096 (dyld at launch: "dyld: " where dlopen says "dlopen(<path>, <mode>): ").
ARIA2_1096 = (
    "dyld: Library not loaded: @rpath/libssh2.1.dylib\n"
    "  Referenced from: /Users/name/anaconda2/bin/aria2c\n"
    "  Reason: Incompatible library version: aria2c requires version 2.0.0 or later, but libssh2.1.dylib provides "
    "version 1.0.0"
)


def _place(root: Path, mac_path: str, built: Path) -> Path:
    dest = root / mac_path.lstrip("/")
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(built, dest)
    return dest


@pytest.fixture
def mac(tmp_path: Path) -> Machine:
    (tmp_path / "root").mkdir()
    return Machine(tmp_path / "state", tmp_path / "root")  # env={} below: the state (SIP) is never read


@pytest.mark.slow
def test_a_missing_library_of_a_library_reads_as_mxnet_2754(mac: Machine, tmp_path: Path) -> None:
    from egpu_lab.macho_build import build_stub_dylib

    half = build_stub_dylib(tmp_path / "libHalf.12.dylib", "/usr/local/lib/libHalf.12.dylib")
    ilm_name = "/usr/local/opt/openexr/lib/libIlmImf-2_2.22.dylib"
    ilm = build_stub_dylib(tmp_path / "libIlmImf-2_2.22.dylib", ilm_name, link=[half])
    mx = build_stub_dylib(tmp_path / "libmxnet.so", "libmxnet.so", link=[ilm])
    _place(mac.root, "/usr/local/Cellar/openexr/2.2.0/lib/libIlmImf-2_2.22.dylib", ilm)
    (mac.root / "usr/local/opt").mkdir(parents=True)
    (mac.root / "usr/local/opt/openexr").symlink_to("../Cellar/openexr/2.2.0")
    lib = _place(mac.root, "/anaconda/lib/python3.5/site-packages/mxnet-0.7.0-py3.5.egg/mxnet/libmxnet.so", mx)

    with pytest.raises(OSError) as refused:
        dyld_sim.dlopen(str(lib), {}, mac)
    assert f"OSError: {refused.value}" == MXNET_2754.replace("dlopen(//anaconda", "dlopen(/anaconda")

    _place(mac.root, "/usr/local/lib/libHalf.12.dylib", half)  # once it is there, everything loads
    assert (
        dyld_sim.dlopen(str(lib), {}, mac)
        == "/anaconda/lib/python3.5/site-packages/mxnet-0.7.0-py3.5.egg/mxnet/libmxnet.so"
    )


@pytest.mark.slow
def test_a_lower_compatibility_version_reads_as_aria2_1096(mac: Machine, tmp_path: Path) -> None:
    from egpu_lab.macho_build import build_stub_dylib

    linked = build_stub_dylib(
        tmp_path / "new" / "libssh2.1.dylib", "@rpath/libssh2.1.dylib", compatibility_version="2.0.0"
    )
    aria2c = build_stub_dylib(tmp_path / "aria2c", "@rpath/aria2c", link=[linked], rpaths=["@loader_path/../lib"])
    old = build_stub_dylib(
        tmp_path / "old" / "libssh2.1.dylib", "@rpath/libssh2.1.dylib", compatibility_version="1.0.0"
    )
    _place(mac.root, "/Users/name/anaconda2/lib/libssh2.1.dylib", old)
    exe = _place(mac.root, "/Users/name/anaconda2/bin/aria2c", aria2c)

    with pytest.raises(OSError) as refused:
        dyld_sim.dlopen(str(exe), {}, mac)
    assert str(refused.value) == ARIA2_1096.replace("dyld: ", "dlopen(/Users/name/anaconda2/bin/aria2c, 6): ", 1)

    _place(mac.root, "/Users/name/anaconda2/lib/libssh2.1.dylib", linked)  # the version it was linked with loads
    assert dyld_sim.dlopen(str(exe), {}, mac) == "/Users/name/anaconda2/bin/aria2c"


@pytest.mark.slow
def test_rpath_of_the_loaders_loader_loader_path_and_a_missing_weak_library(mac: Machine, tmp_path: Path) -> None:
    """@rpath in libB resolves through libA's LC_RPATH (its loader), @loader_path is the loader's directory, and
    a missing LC_LOAD_WEAK_DYLIB is no error; an @rpath name with no LC_RPATH on the chain is not found."""
    from egpu_lab.macho_build import build_dylib, build_stub_dylib

    c = build_stub_dylib(tmp_path / "libC.dylib", "@rpath/libC.dylib")
    weak = build_stub_dylib(tmp_path / "libW.dylib", "/opt/gone/libW.dylib")
    b = build_dylib(
        tmp_path / "libB.dylib", "int b(void) { return 0; }\n", "@loader_path/libB.dylib", link=[c], weak=[weak]
    )
    a = build_stub_dylib(tmp_path / "libA.dylib", "@rpath/libA.dylib", link=[b], rpaths=["/opt/c"])
    _place(mac.root, "/opt/c/libC.dylib", c)
    _place(mac.root, "/opt/app/libB.dylib", b)
    lib_a = _place(mac.root, "/opt/app/libA.dylib", a)
    assert dyld_sim.dlopen(str(lib_a), {}, mac) == "/opt/app/libA.dylib"

    with pytest.raises(
        OSError, match=r"Library not loaded: @rpath/libC.dylib\n  Referenced from: /opt/app/libB.dylib\n"
    ):
        dyld_sim.dlopen(str(mac.root / "opt/app/libB.dylib"), {}, mac)  # alone: no LC_RPATH names /opt/c
