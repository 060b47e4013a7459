"""`egpu-setup fix-rpaths` end to end on genuine Mach-O, checked with the LLVM tools."""

from __future__ import annotations

import json
import os
from pathlib import Path

MX = "/opt/mxnet/lib/libmxnet.so"
CUDA_LIB = "/usr/local/cuda/lib"
MX_REFS = ["@rpath/libcudart.9.1.dylib", "@rpath/libcublas.9.1.dylib", "@rpath/libcudnn.7.dylib"]


def rpaths(llvm, path: Path) -> list[str]:
    """The LC_RPATH paths that llvm-otool-14 -l prints."""
    lines = llvm("otool", "-l", path).splitlines()
    return [
        lines[i + 2].split()[1]
        for i, line in enumerate(lines)
        if line.strip() == "cmd LC_RPATH" and lines[i + 2].strip().startswith("path ")
    ]


def dylibs(llvm, path: Path) -> list[str]:
    """What llvm-otool-14 -L lists (install name first for a dylib)."""
    return [line.split(" (compatibility")[0].strip() for line in llvm("otool", "-L", path).splitlines()[1:]]


def test_mxnet_gets_an_rpath_and_every_dependency_resolves(cli, mac_tree, built, llvm):
    root = mac_tree(files={MX: built.mxnet})
    lib = root / MX.lstrip("/")
    assert rpaths(llvm, lib) == []

    res = cli("fix-rpaths", "--root", str(root), "/opt/mxnet/lib", "--json")

    assert res.code == 0, res.err
    doc = json.loads(res.out)
    (entry,) = doc["files"]
    assert entry["status"] == "fixed" and entry["changed"] is True
    assert sorted(u["name"] for u in entry["unresolved_before"]) == sorted(MX_REFS)
    assert [(a["action"], a["value"]) for a in entry["actions"]] == [("add_rpath", CUDA_LIB)]
    assert entry["still_failing"] == []
    # What the LLVM tools read from the rewritten file.
    assert rpaths(llvm, lib) == [CUDA_LIB]
    assert sorted(dylibs(llvm, lib)) == sorted(["lib/libmxnet.so", "/usr/lib/libSystem.B.dylib", *MX_REFS])
    assert "LC_RPATH" in llvm("objdump", "--macho", "--private-headers", lib)
    assert {r["name"]: (r["status"], r["via"]) for r in entry["references"]} == {
        "/usr/lib/libSystem.B.dylib": ("system", "dyld shared cache (not in the root)"),
        **{ref: ("resolved", f"rpath {CUDA_LIB}") for ref in MX_REFS},
    }
    # A fresh check agrees that every reference resolves, through the /usr/local/cuda symlink of the tree.
    again = json.loads(cli("fix-rpaths", "--root", str(root), MX, "--check", "--json").out)
    assert again["exit_code"] == 0 and again["files"][0]["unresolved_before"] == []


def test_second_run_has_nothing_to_do_and_leaves_the_file_byte_identical(cli, mac_tree, built):
    root = mac_tree(files={MX: built.mxnet})
    lib = root / MX.lstrip("/")
    assert cli("fix-rpaths", "--root", str(root), MX).code == 0
    first = lib.read_bytes()
    mtime = lib.stat().st_mtime_ns

    res = cli("fix-rpaths", "--root", str(root), MX, "--json")

    assert res.code == 0
    (entry,) = json.loads(res.out)["files"]
    assert entry["status"] == "ok" and entry["actions"] == [] and entry["unresolved_before"] == []
    assert lib.read_bytes() == first and lib.stat().st_mtime_ns == mtime


def test_check_mode_prints_the_plan_and_changes_nothing(cli, mac_tree, built):
    root = mac_tree(files={MX: built.mxnet})
    lib = root / MX.lstrip("/")
    before = lib.read_bytes()

    res = cli("fix-rpaths", "--root", str(root), MX, "--check")

    assert res.code == 1  # something is unresolved now
    assert "would: add LC_RPATH /usr/local/cuda/lib" in res.out
    assert "unresolved: @rpath/libcudnn.7.dylib" in res.out
    assert lib.read_bytes() == before


def test_absolute_mode_changes_the_references(cli, mac_tree, built, llvm):
    root = mac_tree(files={MX: built.mxnet})
    lib = root / MX.lstrip("/")

    res = cli("fix-rpaths", "--root", str(root), MX, "--mode", "absolute")

    assert res.code == 0, res.err
    assert sorted(dylibs(llvm, lib)[2:]) == sorted(f"{CUDA_LIB}/{r.removeprefix('@rpath/')}" for r in MX_REFS)
    assert rpaths(llvm, lib) == []
    llvm("objdump", "--macho", "--private-headers", lib)
    before = lib.read_bytes()
    assert cli("fix-rpaths", "--root", str(root), MX, "--mode", "absolute").code == 0
    assert lib.read_bytes() == before


def test_mode_bits_are_kept_and_no_temporary_file_is_left(cli, mac_tree, built):
    root = mac_tree(files={MX: built.mxnet})
    lib = root / MX.lstrip("/")
    lib.chmod(0o750)

    assert cli("fix-rpaths", "--root", str(root), MX).code == 0

    assert lib.stat().st_mode & 0o7777 == 0o750
    assert sorted(os.listdir(lib.parent)) == ["libmxnet.so"]


def test_search_directory_other_than_cuda(cli, mac_tree, built, llvm):
    root = mac_tree(cuda=None, files={MX: built.mxnet, **{f"/opt/cuda91/{n}": p for n, p in built.cuda.items()}})
    lib = root / MX.lstrip("/")

    default = cli("fix-rpaths", "--root", str(root), MX)
    assert default.code == 1  # /usr/local/cuda/lib does not exist in this tree
    assert "still failing" in default.out and "add --search DIR" in default.out

    res = cli("fix-rpaths", "--root", str(root), MX, "--search", "/opt/cuda91")
    assert res.code == 0, res.out
    assert rpaths(llvm, lib) == ["/opt/cuda91"]


def test_universal_file_gets_the_rpath_in_every_slice(cli, mac_tree, built, llvm):
    root = mac_tree(cuda="fat", files={MX: built.mxnet_fat})
    lib = root / MX.lstrip("/")

    res = cli("fix-rpaths", "--root", str(root), MX, "--json")

    assert res.code == 0, res.err
    (entry,) = json.loads(res.out)["files"]
    assert entry["archs"] == ["x86_64", "arm64"]
    assert [(a["value"], a["archs"]) for a in entry["actions"]] == [(CUDA_LIB, ["x86_64", "arm64"])]
    # zig signs arm64 output ad hoc: the edit invalidates that signature and there is no codesign here.
    assert any("code signature is now invalid" in n and "codesign --force --sign -" in n for n in entry["notes"])
    for arch in ("x86_64", "arm64"):
        headers = llvm("objdump", "--macho", "--private-headers", f"--arch={arch}", lib)
        assert "path /usr/local/cuda/lib (offset 12)" in headers
    assert "architecture x86_64" in llvm("objdump", "--macho", "--universal-headers", lib)


def test_universal_file_needs_libraries_of_its_own_architecture(cli, mac_tree, built):
    # x86_64-only CUDA libraries cannot serve the arm64 slice: dyld would skip them ("wrong architecture").
    root = mac_tree(cuda="x86", files={MX: built.mxnet_fat})

    res = cli("fix-rpaths", "--root", str(root), MX, "--json")

    assert res.code == 1
    (entry,) = json.loads(res.out)["files"]
    assert {s["arch"] for s in entry["still_failing"]} == {"arm64"}
    assert any("libcudart.9.1.dylib: mach-o, but wrong architecture (x86_64)" in n for n in entry["notes"])


def test_loader_path_chain_is_fixed_in_the_executable(cli, mac_tree, built, llvm):
    # app --@rpath--> libA --@loader_path--> libB --@rpath--> libcudart: libB is loaded through app's chain, so an
    # LC_RPATH in app serves it (dyld's RPathChain).
    root = mac_tree(files={"/opt/app/bin/app": built.app, "/opt/app/lib/libA.dylib": built.lib_a,
                           "/opt/app/lib/libB.dylib": built.lib_b})  # fmt: skip
    app = root / "opt/app/bin/app"

    check = cli("fix-rpaths", "--root", str(root), "/opt/app/bin/app", "--check", "--json")
    (entry,) = json.loads(check.out)["files"]
    assert [(u["name"], u["loaded_by"]) for u in entry["unresolved_before"]] == [
        ("@rpath/libcudart.9.1.dylib", "/opt/app/lib/libB.dylib")
    ]

    res = cli("fix-rpaths", "--root", str(root), "/opt/app/bin/app")

    assert res.code == 0, res.out
    assert rpaths(llvm, app) == ["@executable_path/../lib", CUDA_LIB]
    assert (root / "opt/app/lib/libB.dylib").read_bytes() == built.lib_b.read_bytes()  # untouched


def test_weak_dependency_missing_is_not_a_failure(cli, mac_tree, built):
    root = mac_tree(files={"/opt/w/libweak.dylib": built.weak})
    (root / "Developer/NVIDIA/CUDA-9.1/lib/libcurand.9.1.dylib").unlink()

    res = cli("fix-rpaths", "--root", str(root), "/opt/w/libweak.dylib", "--json")

    assert res.code == 0, res.out
    (entry,) = json.loads(res.out)["files"]
    # The required libcudart was fixed; the weak libcurand stays absent and dyld carries on without it.
    assert [a["fixes"] for a in entry["actions"]] == [["@rpath/libcudart.9.1.dylib"]]
    assert entry["still_failing"] == []


def test_weak_dependency_present_in_search_is_fixed_too(cli, mac_tree, built, llvm):
    root = mac_tree(files={"/opt/w/libweak.dylib": built.weak})

    res = cli("fix-rpaths", "--root", str(root), "/opt/w/libweak.dylib", "--json")

    assert res.code == 0
    (entry,) = json.loads(res.out)["files"]
    assert entry["actions"][0]["fixes"] == ["@rpath/libcudart.9.1.dylib", "@rpath/libcurand.9.1.dylib"]
    assert "LC_LOAD_WEAK_DYLIB" in llvm("otool", "-l", root / "opt/w/libweak.dylib")


def test_no_header_room_stops_with_exit_2_and_the_file_untouched(cli, mac_tree, built):
    root = mac_tree(files={MX: built.mxnet_nopad, "/opt/other/libmxnet.so": built.mxnet})
    lib = root / MX.lstrip("/")
    other = root / "opt/other/libmxnet.so"

    res = cli("fix-rpaths", "--root", str(root), MX, "/opt/other/libmxnet.so")

    assert res.code == 2
    assert "-headerpad_max_install_names" in res.err
    assert "larger updated load commands do not fit" in res.err
    assert lib.read_bytes() == built.mxnet_nopad.read_bytes()
    assert other.read_bytes() == built.mxnet.read_bytes()  # the run stopped before writing anything


def test_truncated_file_is_rejected_and_left_alone(cli, tmp_path, built):
    lib = tmp_path / "libmxnet.so"
    data = built.mxnet.read_bytes()[:6000]
    lib.write_bytes(data)

    res = cli("fix-rpaths", str(lib))

    assert res.code == 2
    assert "truncated or malformed Mach-O file" in res.err and "Traceback" not in res.err
    assert lib.read_bytes() == data


def test_corrupt_load_commands_are_rejected(cli, tmp_path, built):
    lib = tmp_path / "libmxnet.so"
    data = bytearray(built.mxnet.read_bytes())
    data[20:24] = (0xFFFF).to_bytes(4, "little")  # sizeofcmds far larger than the commands
    lib.write_bytes(bytes(data))

    res = cli("fix-rpaths", str(lib))

    assert res.code == 2 and "malformed" in res.err
    assert lib.read_bytes() == bytes(data)


def test_non_macho_named_is_exit_2_but_skipped_in_a_walk(cli, mac_tree, built, tmp_path):
    text = tmp_path / "README.txt"
    text.write_text("not a library\n")
    named = cli("fix-rpaths", str(text))
    assert named.code == 2 and "not a Mach-O file" in named.err

    root = mac_tree(files={MX: built.mxnet})
    (root / "opt/mxnet/lib/README.txt").write_text("hello\n")
    (root / "opt/mxnet/lib/libmxnet.dylib").symlink_to("libmxnet.so")
    walked = cli("fix-rpaths", "--root", str(root), "/opt/mxnet", "--json")
    assert walked.code == 0, walked.err
    doc = json.loads(walked.out)
    assert [f["mac_path"] for f in doc["files"]] == [MX]
    assert {Path(s["path"]).name: s["why"] for s in doc["skipped"]} == {
        "README.txt": "not a Mach-O file",
        "libmxnet.dylib": "symbolic link",
    }


def test_java_class_file_is_not_taken_for_a_universal_binary(cli, tmp_path):
    cls = tmp_path / "Main.class"
    cls.write_bytes(bytes.fromhex("cafebabe00000034") + b"\0" * 64)  # Java 8 class file header

    res = cli("fix-rpaths", str(cls))

    assert res.code == 2 and "not a Mach-O file" in res.err


def test_missing_path_and_bad_root_are_usage_errors(cli, tmp_path):
    assert cli("fix-rpaths", str(tmp_path / "nope.dylib")).code == 2
    res = cli("fix-rpaths", "--root", str(tmp_path / "no-root"), "/x")
    assert res.code == 2 and "no-root: not a directory" in res.err
    res = cli("fix-rpaths", "--root", str(tmp_path), "--executable", "/Applications/Nope", str(tmp_path))
    assert res.code == 2 and "executable /Applications/Nope: no such file" in res.err


def test_universal_second_run_is_byte_identical(cli, mac_tree, built):
    root = mac_tree(cuda="fat", files={MX: built.mxnet_fat})
    lib = root / MX.lstrip("/")
    assert cli("fix-rpaths", "--root", str(root), MX).code == 0
    fixed = lib.read_bytes()

    res = cli("fix-rpaths", "--root", str(root), MX)

    assert res.code == 0 and "1 ok" in res.out
    assert lib.read_bytes() == fixed


def test_signed_file_is_resigned_ad_hoc_where_codesign_exists(cli, mac_tree, built, tmp_path, monkeypatch):
    # A stand-in codesign (there is none on Linux) records how it is called; on a Mac the real one runs.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "codesign.log"
    (bin_dir / "codesign").write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    (bin_dir / "codesign").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    root = mac_tree(cuda="fat", files={MX: built.mxnet_fat})
    lib = root / MX.lstrip("/")

    res = cli("fix-rpaths", "--root", str(root), MX, "--json")

    assert res.code == 0
    assert "re-signed ad hoc" in " ".join(json.loads(res.out)["files"][0]["notes"])
    assert log.read_text().split() == ["--force", "--sign", "-", str(lib)]


def test_a_named_symlink_fixes_its_target(cli, mac_tree, built, llvm):
    root = mac_tree(files={MX: built.mxnet})
    link = root / "opt/mxnet/lib/libmxnet.dylib"
    link.symlink_to("libmxnet.so")

    res = cli("fix-rpaths", "--root", str(root), "/opt/mxnet/lib/libmxnet.dylib")

    assert res.code == 0, res.err
    assert link.is_symlink()
    assert rpaths(llvm, root / MX.lstrip("/")) == [CUDA_LIB]


def test_target_side_modules_import_only_stdlib_and_macholib(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys, egpu_setup.macho.fixer, egpu_setup.macho.dyld, egpu_setup.macho.reader, egpu_setup.macho.edit\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('rich', 'yaml', 'ansible', 'ziglang', 'psutil')"
        " or m == 'egpu_lab.macho_build')\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert out.stdout.strip() == ""


def test_a_file_that_cannot_be_written_is_exit_2_and_stays_whole(cli, mac_tree, built, monkeypatch):
    import egpu_setup.macho.edit as edit

    def refuse(*_args, **_kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(edit.tempfile, "mkstemp", refuse)  # as when the directory is not writable
    root = mac_tree(files={MX: built.mxnet})

    res = cli("fix-rpaths", "--root", str(root), MX)

    assert res.code == 2 and "cannot write: Permission denied" in res.err
    assert (root / MX.lstrip("/")).read_bytes() == built.mxnet.read_bytes()


def test_an_incompatible_library_version_is_reported_with_dyld_s_reason(cli, mac_tree, built, tmp_path):
    from egpu_lab.macho_build import build_stub_dylib

    old = build_stub_dylib(tmp_path / "libcudnn.7.dylib", "@rpath/libcudnn.7.dylib", compatibility_version="0.0.1")
    root = mac_tree(files={MX: built.mxnet})  # linked against a libcudnn.7.dylib of compatibility version 1.0.0
    (root / "Developer/NVIDIA/CUDA-9.1/lib/libcudnn.7.dylib").write_bytes(old.read_bytes())
    lib = root / MX.lstrip("/")

    res = cli("fix-rpaths", "--root", str(root), MX)

    # The LC_RPATH is added (cudart and cublas resolve through it), but dyld would still refuse the old cuDNN.
    assert res.code == 1, res.out
    assert "still failing: @rpath/libcudnn.7.dylib: Incompatible library version: libmxnet.so requires version " \
           "1.0.0 or later, but libcudnn.7.dylib provides version 0.0.1" in res.out  # fmt: skip
    assert lib.read_bytes() != built.mxnet.read_bytes()


def _i386_dylib(out: Path, install_name: str, deps: tuple[str, ...] = ()) -> Path:
    """A minimal i386 MH_DYLIB written here (zig has no 32-bit macOS target; CUDA's libcuda.dylib of the era was
    universal i386 + x86_64): one __TEXT section at 0x1000, so 4 KiB minus the commands of header room."""
    import struct

    def dylib_command(cmd: int, name: str) -> bytes:
        text = name.encode() + b"\0"
        text += b"\0" * (-(24 + len(text)) % 4)  # 32-bit: commands are multiples of 4 bytes
        return struct.pack("<6I", cmd, 24 + len(text), 24, 2, 0x10000, 0x10000) + text

    section = struct.pack("<16s16s9I", b"__text", b"__TEXT", 0x1000, 16, 0x1000, 4, 0, 0, 0x80000400, 0, 0)
    commands = struct.pack("<2I16s8I", 1, 56 + 68, b"__TEXT", 0, 0x2000, 0, 0x1010, 7, 5, 1, 0) + section
    commands += dylib_command(0xD, install_name) + b"".join(dylib_command(0xC, d) for d in deps)
    head = struct.pack("<7I", 0xFEEDFACE, 7, 3, 6, 2 + len(deps), len(commands), 0x100085) + commands
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(head + b"\0" * (0x1000 - len(head)) + b"\xc3" * 16)
    return out


def test_a_32_bit_slice_gets_4_byte_aligned_commands_beside_the_64_bit_one(cli, mac_tree, built, llvm, tmp_path):
    from egpu_lab.macho_build import make_universal

    cudart = "libcudart.9.1.dylib"
    i386_mx = _i386_dylib(tmp_path / "i386/libmxnet.so", "lib/libmxnet.so", (f"@rpath/{cudart}",))
    i386_cudart = _i386_dylib(tmp_path / "i386" / cudart, f"@rpath/{cudart}")
    fat_mx = make_universal(tmp_path / "fat/libmxnet.so", [i386_mx, built.mxnet])
    files = {MX: fat_mx, f"/opt/cuda/lib/{cudart}": make_universal(tmp_path / "fat" / cudart,
                                                                   [i386_cudart, built.cuda[cudart]])}  # fmt: skip
    files |= {f"/opt/cuda/lib/{n}": built.cuda[n] for n in ("libcublas.9.1.dylib", "libcudnn.7.dylib")}
    root = mac_tree(cuda=None, files=files)
    lib = root / MX.lstrip("/")

    res = cli("fix-rpaths", "--root", str(root), "--search", "/opt/cuda/lib", MX, "--json")

    assert res.code == 0, res.out
    (entry,) = json.loads(res.out)["files"]
    assert entry["archs"] == ["i386", "x86_64"] and entry["still_failing"] == []
    assert entry["actions"][0]["archs"] == ["i386", "x86_64"]
    sizes = {}
    for arch in ("i386", "x86_64"):
        # llvm-otool-14 -arch picks the host's slice whatever is named; llvm-objdump-14 --arch does not.
        lines = llvm("objdump", "--macho", "--private-headers", f"--arch={arch}", lib).splitlines()
        (at,) = [i for i, line in enumerate(lines) if line.strip() == "cmd LC_RPATH"]
        sizes[arch] = int(lines[at + 1].split()[1])
        assert lines[at + 2].split()[1] == "/opt/cuda/lib"
    # 12 bytes + "/opt/cuda/lib\0" (14) rounded up to 4 bytes in the 32-bit slice, to 8 in the 64-bit one.
    assert sizes == {"i386": 28, "x86_64": 32}
    llvm("objdump", "--macho", "--private-headers", "--arch=all", lib)
    again = lib.read_bytes()
    assert cli("fix-rpaths", "--root", str(root), "--search", "/opt/cuda/lib", MX).code == 0
    assert lib.read_bytes() == again


def test_universal_file_with_room_in_one_slice_only_is_left_whole(cli, mac_tree, built, tmp_path):
    """Header room is per slice: the arm64 slice could take the LC_RPATH, the x86_64 one cannot; the file gets
    all its edits or none, so it stays byte-identical and the error names the slice."""
    import subprocess

    from egpu_lab.macho_build import make_universal

    arm = tmp_path / "arm64.so"
    subprocess.run(["llvm-lipo-14", "-thin", "arm64", "-output", str(arm), str(built.mxnet_fat)], check=True)
    mixed = make_universal(tmp_path / "mixed.so", [built.mxnet_nopad, arm])
    root = mac_tree(cuda="fat", files={MX: mixed})
    lib = root / MX.lstrip("/")

    res = cli("fix-rpaths", "--root", str(root), MX)

    assert res.code == 2
    assert "(for architecture x86_64)" in res.err and "arm64" not in res.err
    assert lib.read_bytes() == mixed.read_bytes()
