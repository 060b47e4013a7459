"""The rehearsal's install_name_tool against cctools-900's install_name_tool.c: what it refuses (and then leaves
byte for byte), what it writes (the header and load commands only, in place), checked with the LLVM tools; and
xcrun --find, which the fixer uses to find it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from egpu_lab import macho_build as build
from egpu_lab.macos import cctools_edit
from egpu_lab.macos.cctools import install_name_tool
from egpu_lab.macos.xcrun import xcrun
from egpu_lab.standins import install_clt, machos

PROG = "/Library/Developer/CommandLineTools/usr/bin/install_name_tool"
PREFIX = f"error: {PROG}: "
USAGE = (
    f"Usage: {PROG} [-change old new] ... [-rpath old new] ... [-add_rpath new] ... [-delete_rpath old] ... "
    "[-id name] input\n"
)
ARM = "aarch64-macos.11.0"
SRC = "int f(void) { return 1; }\n"


def otool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["llvm-otool-14", *map(str, args)], capture_output=True, text=True, check=False)


def room_of(path: Path) -> tuple[int, int]:
    """(free bytes before the first section data as cctools counts them, that first offset) of a thin file."""
    (arch,) = cctools_edit.read_archs(path.read_bytes())
    out = cctools_edit.plan_arch(arch, cctools_edit.Request(input="x"), "x")
    return out.low_fileoff - arch.header_size - arch.sizeofcmds, out.low_fileoff


def rpath_of_size(size: int) -> str:
    """A path whose LC_RPATH is exactly `size` bytes (a multiple of 8, at least 16)."""
    return "/" + "r" * (size - 12 - 2)


def test_room_is_checked_first_so_no_malformed_file_is_written(host):
    lib = build.build_dylib(host.root / "private/tmp/libtight.dylib", SRC, "@rpath/libtight.dylib", headerpad=0x40)
    mac = "/private/tmp/libtight.dylib"
    room, first_data = room_of(lib)
    assert room >= 16 and room % 8 == 0, room
    original = lib.read_bytes()

    # One byte past the room: refused with cctools' text, exit 1, not a byte written.
    over = host.run(install_name_tool, "-add_rpath", rpath_of_size(room + 8), mac)
    assert (over.code, over.err) == (
        1,
        f"{PREFIX}changing install names or rpaths can't be redone for: {mac} (for architecture x86_64) because "
        "larger updated load commands do not fit (the program must be relinked, and you may need to use -headerpad "
        "or -headerpad_max_install_names)\n",
    )
    assert lib.read_bytes() == original
    # What LLVM's tool does with the same request: exit 0 and a file the LLVM tools themselves reject, or one whose
    # section data moved; the reason the lab checks the room itself and never lets LLVM write the file.
    copy = host.root / "private/tmp/llvm-copy.dylib"
    shutil.copyfile(lib, copy)
    llvm = subprocess.run(["llvm-install-name-tool-14", "-add_rpath", rpath_of_size(room + 8), str(copy)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert llvm.returncode == 0
    assert otool("-l", copy).returncode != 0 or copy.read_bytes()[first_data:] != original[first_data:]

    # Exactly the room: written, the section data where it was, the file parses.
    fits = host.run(install_name_tool, "-add_rpath", rpath_of_size(room), mac)
    assert fits.code == 0, fits.err
    after = lib.read_bytes()
    assert len(after) == len(original) and after[first_data:] == original[first_data:]
    listing = otool("-l", lib)
    assert listing.returncode == 0 and "error" not in listing.stderr, listing.stderr
    assert f"path {rpath_of_size(room)} (offset 12)" in listing.stdout
    assert room_of(lib)[0] == 0
    # Full now: the smallest LC_RPATH (16 bytes) is refused.
    assert host.run(install_name_tool, "-add_rpath", "/a", mac).code == 1
    assert lib.read_bytes() == after


def test_only_the_header_is_written_and_a_signature_stays_as_it_was(host):
    # zig's linker signs arm64 ad hoc; cctools leaves the signature (now invalid) alone, LLVM's tool re-signs.
    lib = build.build_dylib(host.root / "private/tmp/libarm.dylib", SRC, "@rpath/libarm.dylib", target=ARM)
    original = lib.read_bytes()
    (arch,) = cctools_edit.read_archs(original)
    header_end = arch.header_size + arch.sizeofcmds

    def signature() -> list[str]:
        lines = otool("-l", lib).stdout.splitlines()
        at = lines.index("      cmd LC_CODE_SIGNATURE")
        return lines[at : at + 4]

    signed = signature()

    res = host.run(install_name_tool, "-add_rpath", "/usr/local/cuda/lib", "/private/tmp/libarm.dylib")

    assert res.code == 0, res.err
    after = lib.read_bytes()
    assert len(after) == len(original) and after[header_end + 32 :] == original[header_end + 32 :]
    assert signature() == signed and "datasize" in signed[3]


def test_every_architecture_is_checked_before_anything_is_written(host, tmp_path):
    x86 = build.build_dylib(tmp_path / "x86/libu.dylib", SRC, "@rpath/libu.dylib")
    arm = build.build_dylib(tmp_path / "arm/libu.dylib", SRC, "@rpath/libu.dylib", target=ARM)
    fat = build.make_universal(host.root / "private/tmp/libu.dylib", [x86, arm])
    mac = "/private/tmp/libu.dylib"
    assert host.run(install_name_tool, "-add_rpath", "/usr/local/cuda/lib", mac).code == 0
    once = fat.read_bytes()

    dup = host.run(install_name_tool, "-add_rpath", "/usr/local/cuda/lib", mac)

    assert dup.code == 1
    assert dup.err.splitlines() == [
        f'{PREFIX}for: {mac} (for architecture {arch}) option "-add_rpath /usr/local/cuda/lib" would duplicate path, '
        "file already has LC_RPATH for: /usr/local/cuda/lib"
        for arch in ("x86_64", "arm64")
    ]
    assert fat.read_bytes() == once
    # One slice without room: the other, which has room, is not written either.
    tight = build.build_dylib(tmp_path / "x86/libt.dylib", SRC, "@rpath/libt.dylib", headerpad=0)
    mixed = build.make_universal(host.root / "private/tmp/libm.dylib", [tight, arm])
    before = mixed.read_bytes()
    res = host.run(install_name_tool, "-add_rpath", "/usr/local/cuda/lib", "/private/tmp/libm.dylib")
    assert res.code == 1 and res.err.count("\n") == 1 and "(for architecture x86_64) because larger" in res.err
    assert mixed.read_bytes() == before


def test_change_rpath_delete_and_id_give_the_names_llvm_s_tool_gives(host, tmp_path):
    cudart = machos.dylib(tmp_path / "libcudart.9.1.dylib", "int c(void){return 0;}", "@rpath/libcudart.9.1.dylib")
    lib = build.build_dylib(host.root / "private/tmp/libe.dylib", SRC, "@rpath/libe.dylib", link=[cudart],
                            rpaths=["/first/rpath/that/is/long", "/b"])  # fmt: skip
    original = lib.read_bytes()
    edits = ["-change", "@rpath/libcudart.9.1.dylib", "/usr/local/cuda/lib/libcudart.9.1.dylib", "-rpath",
             "/first/rpath/that/is/long", "/a", "-delete_rpath", "/b", "-id", "@rpath/libE.dylib"]  # fmt: skip
    llvm_copy = tmp_path / "llvm.dylib"
    shutil.copyfile(lib, llvm_copy)
    subprocess.run(["llvm-install-name-tool-14", *edits, str(llvm_copy)], check=True)

    res = host.run(install_name_tool, *edits, "/private/tmp/libe.dylib")

    assert res.code == 0, res.err
    names = [otool(flag, lib).stdout.splitlines()[1:] for flag in ("-L", "-D")]
    assert names == [otool(flag, llvm_copy).stdout.splitlines()[1:] for flag in ("-L", "-D")]
    assert "/usr/local/cuda/lib/libcudart.9.1.dylib" in names[0][1] + names[0][2]

    def rpaths(path: Path) -> list[str]:
        return [line.split()[1] for line in otool("-l", path).stdout.splitlines() if line.strip().startswith("path ")]

    assert rpaths(lib) == rpaths(llvm_copy) == ["/a"]
    # The commands shrank: cctools zero-fills what they no longer use; everything after is as it was.
    (old,) = cctools_edit.read_archs(original)
    (new,) = cctools_edit.read_archs(lib.read_bytes())
    assert new.sizeofcmds < old.sizeofcmds
    after = lib.read_bytes()
    start, end = new.header_size + new.sizeofcmds, old.header_size + old.sizeofcmds
    assert after[start:end] == bytes(end - start) and after[end:] == original[end:]


def test_bad_command_lines_and_files_are_refused_as_cctools_does(host):
    lib = machos.cudnn_lib(host.root / "private/tmp")
    original = lib.read_bytes()
    mac = "/private/tmp/libcudnn.7.dylib"
    (host.root / "private/tmp/notes.txt").write_text("not a binary\n")
    cases = {
        ("-add_rpath",): f"{PREFIX}missing argument(s) to: -add_rpath option\n{USAGE}",
        ("-add_rpath", "/a", "-add_rpath", "/a", mac): f'{PREFIX}"-add_rpath /a" specified more than once\n{USAGE}',
        ("-add_rpath", "/a", "-delete_rpath", "/a", mac):
            f'{PREFIX}can\'t specify both "-add_rpath /a" and "-delete_rpath /a"\n{USAGE}',
        ("-add_rpath", "/a", mac, "/other"): f"{PREFIX}more than one input file specified (/other and {mac})\n{USAGE}",
        (mac,): USAGE,
        ("-delete_rpath", "/nowhere", mac): f"{PREFIX}no LC_RPATH load command with path: /nowhere found in: {mac} "
            '(for architecture x86_64), required for specified option "-delete_rpath /nowhere"\n',
        ("-add_rpath", "/a", "/private/tmp/missing"):
            f"{PREFIX}can't open file: /private/tmp/missing (No such file or directory)\n",
        ("-add_rpath", "/a", "/private/tmp/notes.txt"):
            f"{PREFIX}input file: /private/tmp/notes.txt is not a Mach-O file\n",
    }  # fmt: skip
    for argv, err in cases.items():
        res = host.run(install_name_tool, *argv)
        assert (res.code, res.out, res.err) == (1, "", err), argv
    assert lib.read_bytes() == original


def test_xcrun_finds_the_command_line_tools_install_name_tool(host):
    none = host.run(xcrun, "--find", "install_name_tool")
    assert (none.code, none.out) == (1, "")
    assert none.err.startswith("xcrun: error: invalid active developer path (/Library/Developer/CommandLineTools)")

    install_clt(host.root, "9.2")
    found = host.run(xcrun, "--find", "install_name_tool")
    assert (found.code, found.out, found.err) == (0, f"{PROG}\n", "")
    assert host.run(xcrun, "-f", "otool").out == "/Library/Developer/CommandLineTools/usr/bin/otool\n"
    missing = host.run(xcrun, "-f", "no-such-tool", env={"PATH": "/nonexistent"})
    assert (missing.code, missing.err) == (
        72,
        'xcrun: error: unable to find utility "no-such-tool", not a developer tool or in PATH\n',
    )
    sdk = host.run(xcrun, "--show-sdk-path")
    assert sdk.code == 1 and "rehearsal: option --show-sdk-path is not imitated" in sdk.err
