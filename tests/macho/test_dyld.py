"""dyld's 10.13 resolution rules (egpu_setup.macho.dyld) on genuine Mach-O laid out in Mac trees."""

from __future__ import annotations

import shutil

from egpu_setup.macho.dyld import Root, check_slice, expand_rpaths
from egpu_setup.macho.reader import read_macho

CUDART = "@rpath/libcudart.9.1.dylib"


def only_slice(root: Root, mac_path: str):
    (sl,) = root.image(mac_path).slices
    return sl


def by_name(check):
    return {r.name: r for r in check.direct}


def test_rpath_unresolved_without_lc_rpath_then_fallback_in_usr_local_lib(mac_tree, built):
    root_dir = mac_tree(files={"/opt/mx/libmxnet.so": built.mxnet})
    fs = Root(root_dir)
    check = check_slice(fs, "/opt/mx/libmxnet.so", only_slice(fs, "/opt/mx/libmxnet.so"))
    res = by_name(check)[CUDART]
    assert res.status == "missing" and res.failing
    assert res.tried[0] == "no LC_RPATH in the image or its loaders"
    assert "/usr/local/lib/libcudart.9.1.dylib: no such file" in res.tried  # dyld's default fallback path
    # libSystem is not in the tree: counted as in the dyld shared cache.
    assert by_name(check)["/usr/lib/libSystem.B.dylib"].status == "system"

    (root_dir / "usr/local/lib").mkdir(parents=True)
    shutil.copyfile(built.cuda["libcudart.9.1.dylib"], root_dir / "usr/local/lib/libcudart.9.1.dylib")
    fs = Root(root_dir)
    res = by_name(check_slice(fs, "/opt/mx/libmxnet.so", only_slice(fs, "/opt/mx/libmxnet.so")))[CUDART]
    assert (res.status, res.via, res.path) == (
        "resolved",
        "fallback /usr/local/lib",
        "/usr/local/lib/libcudart.9.1.dylib",
    )


def test_first_usable_rpath_wins_and_a_wrong_architecture_is_skipped(mac_tree, built, tmp_path):
    # Two LC_RPATHs: the first directory holds an arm64-only libcudart, the second the x86_64 one.
    from egpu_lab.macho_build import build_dylib, build_stub_dylib

    arm = build_stub_dylib(tmp_path / "arm" / "libcudart.9.1.dylib", CUDART, target="aarch64-macos.11.0")
    lib = build_dylib(tmp_path / "libuser.dylib", "int u(void) { return 0; }\n", "@rpath/libuser.dylib",
                      link=[built.cuda["libcudart.9.1.dylib"]], rpaths=["/opt/arm", "/usr/local/cuda/lib"])  # fmt: skip
    root_dir = mac_tree(files={"/opt/arm/libcudart.9.1.dylib": arm, "/opt/u/libuser.dylib": lib})
    fs = Root(root_dir)

    res = by_name(check_slice(fs, "/opt/u/libuser.dylib", only_slice(fs, "/opt/u/libuser.dylib")))[CUDART]

    assert res.status == "resolved" and res.via == "rpath /usr/local/cuda/lib"
    assert res.tried == ("/opt/arm/libcudart.9.1.dylib: mach-o, but wrong architecture (arm64)",)


def test_loader_path_and_the_rpath_chain(mac_tree, built):
    root_dir = mac_tree(files={"/opt/app/bin/app": built.app, "/opt/app/lib/libA.dylib": built.lib_a,
                               "/opt/app/lib/libB.dylib": built.lib_b})  # fmt: skip
    fs = Root(root_dir)
    check = check_slice(fs, "/opt/app/bin/app", only_slice(fs, "/opt/app/bin/app"))

    a = by_name(check)["@rpath/libA.dylib"]
    assert (a.status, a.path, a.via) == ("resolved", "/opt/app/lib/libA.dylib", "rpath /opt/app/lib")
    transitive = {(loader, r.name): r for loader, r in check.transitive}
    b = transitive[("/opt/app/lib/libA.dylib", "@loader_path/libB.dylib")]
    assert (b.status, b.path, b.via) == ("resolved", "/opt/app/lib/libB.dylib", "@loader_path")
    cudart = transitive[("/opt/app/lib/libB.dylib", CUDART)]
    assert cudart.failing  # neither libB, libA nor app has /usr/local/cuda/lib

    # libB checked on its own (no loader known): @loader_path is its own directory.
    b_alone = check_slice(fs, "/opt/app/lib/libB.dylib", only_slice(fs, "/opt/app/lib/libB.dylib"))
    assert by_name(b_alone)[CUDART].failing


def test_executable_path_needs_the_executable(mac_tree, built, tmp_path):
    from egpu_lab.macho_build import build_dylib

    plugin = build_dylib(tmp_path / "libplug.dylib", "int p(void) { return 0; }\n", "@rpath/libplug.dylib",
                         rpaths=["@executable_path/../lib"], link=[built.lib_a])  # fmt: skip
    files = {"/opt/app/bin/app": built.app, "/opt/app/lib/libA.dylib": built.lib_a,
             "/opt/app/lib/libB.dylib": built.lib_b, "/opt/app/plug/libplug.dylib": plugin}  # fmt: skip
    root_dir = mac_tree(files=files)
    fs = Root(root_dir)
    sl = only_slice(fs, "/opt/app/plug/libplug.dylib")

    unknown = check_slice(fs, "/opt/app/plug/libplug.dylib", sl)
    assert by_name(unknown)["@rpath/libA.dylib"].failing
    assert any("depends on the main executable" in n for n in unknown.notes)

    known = check_slice(fs, "/opt/app/plug/libplug.dylib", sl, executable="/opt/app/bin/app")
    assert by_name(known)["@rpath/libA.dylib"].via == "rpath /opt/app/lib"


def test_symlinks_resolve_inside_the_root_and_never_escape(mac_tree, built):
    root_dir = mac_tree()
    fs = Root(root_dir)
    assert (
        fs.realpath("/usr/local/cuda/lib/libcudart.9.1.dylib") == "/Developer/NVIDIA/CUDA-9.1/lib/libcudart.9.1.dylib"
    )
    # ".." above / stays at / (as on the Mac): the link lands on the tree's /etc, not this machine's.
    (root_dir / "etc").mkdir()
    (root_dir / "etc/hosts").write_text("tree\n")
    (root_dir / "usr/local/escape").symlink_to("../../../../../../../../etc")
    assert fs.realpath("/usr/local/escape/hosts") == "/etc/hosts"
    assert fs.realpath("/usr/local/escape/passwd") is None
    (root_dir / "loop").symlink_to("/loop")
    assert fs.realpath("/loop/x") is None


def test_relative_and_loader_path_rpaths_are_expanded_like_getrpaths(built, tmp_path):
    from egpu_lab.macho_build import build_dylib

    lib = build_dylib(tmp_path / "librp.dylib", "int r(void) { return 0; }\n", "@rpath/librp.dylib",
                      rpaths=["@loader_path/../lib", "@loader_path", "relative/dir", "/abs/dir/"])  # fmt: skip
    (sl,) = read_macho(lib).slices
    expanded, notes = expand_rpaths("/opt/x/bin/librp.dylib", sl, None)
    assert expanded == ("/opt/x/lib", "/opt/x/bin", "/abs/dir")
    assert notes == ["LC_RPATH relative/dir is relative to the current directory; not followed"]


def test_an_older_compatibility_version_is_refused_and_the_search_stops_there(mac_tree, built, tmp_path, llvm):
    """dyld takes the first file found and then checks its LC_ID_DYLIB compatibility version against the one
    the loading image recorded: lower is "Incompatible library version", fatal for a required library (the next
    LC_RPATH, holding a good one, is not tried), ignored for a weak one."""
    from egpu_lab.macho_build import build_dylib, build_stub_dylib

    curand = "@rpath/libcurand.9.1.dylib"
    made = {
        (d, name): build_stub_dylib(tmp_path / d / name, f"@rpath/{name}", compatibility_version=v)
        for d, v in (("old", "9.0.0"), ("new", "9.1.0"))
        for name in ("libcudart.9.1.dylib", "libcurand.9.1.dylib")
    }
    lib = build_dylib(tmp_path / "libuser.dylib", "int u(void) { return 0; }\n", "@rpath/libuser.dylib",
                      link=[made["new", "libcudart.9.1.dylib"]], weak=[made["new", "libcurand.9.1.dylib"]],
                      rpaths=["/opt/old", "/opt/new"])  # fmt: skip
    assert "@rpath/libcudart.9.1.dylib (compatibility version 9.1.0" in llvm("otool", "-L", lib)
    files = {f"/opt/{d}/{name}": path for (d, name), path in made.items()}
    root_dir = mac_tree(cuda=None, files={**files, "/opt/u/libuser.dylib": lib})
    fs = Root(root_dir)

    check = check_slice(fs, "/opt/u/libuser.dylib", only_slice(fs, "/opt/u/libuser.dylib"))

    cudart = by_name(check)[CUDART]
    assert (cudart.status, cudart.path, cudart.failing) == ("incompatible", "/opt/old/libcudart.9.1.dylib", True)
    assert cudart.note == (
        "Incompatible library version: libuser.dylib requires version 9.1.0 or later, "
        "but libcudart.9.1.dylib provides version 9.0.0"
    )
    weak = by_name(check)[curand]
    assert (weak.status, weak.failing) == ("incompatible", False) and weak.note.endswith("carries on without it")

    # The same or a higher compatibility version is accepted.
    shutil.copyfile(made["new", "libcudart.9.1.dylib"], root_dir / "opt/old/libcudart.9.1.dylib")
    fs = Root(root_dir)
    check = check_slice(fs, "/opt/u/libuser.dylib", only_slice(fs, "/opt/u/libuser.dylib"))
    assert by_name(check)[CUDART].status == "resolved" and check.ok


def test_a_missing_lazy_library_does_not_stop_the_launch(mac_tree, built, tmp_path):
    """LC_LAZY_LOAD_DYLIB is dlopened at the first call, and calls into a missing one return 0: never failing.
    zig cannot link with -lazy_library, so the weak command of a genuine file becomes a lazy one (same layout)."""
    import struct

    from egpu_setup.macho.reader import read_macho

    lazy = tmp_path / "liblazy.dylib"
    shutil.copyfile(built.weak, lazy)
    (sl,) = read_macho(lazy).slices
    ref = next(d for d in sl.deps if d.kind == "weak")
    data = bytearray(lazy.read_bytes())
    struct.pack_into("<I", data, sl.commands[ref.index].offset, 0x20)  # LC_LAZY_LOAD_DYLIB
    lazy.write_bytes(bytes(data))
    root_dir = mac_tree(files={"/opt/l/liblazy.dylib": lazy})
    (root_dir / "Developer/NVIDIA/CUDA-9.1/lib/libcurand.9.1.dylib").unlink()
    fs = Root(root_dir)

    check = check_slice(fs, "/opt/l/liblazy.dylib", only_slice(fs, "/opt/l/liblazy.dylib"))

    curand = by_name(check)["@rpath/libcurand.9.1.dylib"]
    assert (curand.kind, curand.status, curand.failing) == ("lazy", "missing", False)
    assert curand.note.startswith("lazy: loaded at its first call")
    assert by_name(check)[CUDART].failing  # the plain LC_LOAD_DYLIB still must resolve


def test_each_library_gets_the_rpath_chain_of_the_first_image_to_recurse_into_it(mac_tree, built, tmp_path):
    """dyld's recursiveLoadLibraries loads all of an image's libraries, then recurses into each in turn (depth
    first); a library's own references use the chain of the first image that recurses into it, not of the one
    that loaded it. app needs libA and libC; libA also needs libC and has the LC_RPATH (/opt/extra) where libC's
    @rpath/libcudart lies. With libA first, libC is entered from libA and finds libcudart; with libC first, it is
    entered from app, whose chain lacks /opt/extra, and dyld stops."""
    from egpu_lab.macho_build import build_dylib, build_executable

    cudart = built.cuda["libcudart.9.1.dylib"]
    lib_c = build_dylib(tmp_path / "libC.dylib", "int c(void) { return 3; }\n", "@rpath/libC.dylib", link=[cudart])
    lib_a = build_dylib(tmp_path / "libA.dylib", "int a(void) { return 1; }\n", "@rpath/libA.dylib", link=[lib_c],
                        rpaths=["/opt/extra"])  # fmt: skip
    app_ac = build_executable(tmp_path / "appAC", "int main(void) { return 0; }\n", link=[lib_a, lib_c],
                              rpaths=["@executable_path/../lib"])  # fmt: skip
    # zig's linker keeps its own order of libraries: swap the two names (same length) for the other order.
    app_ca = tmp_path / "appCA"
    a, c, swap = b"@rpath/libA.dylib\0", b"@rpath/libC.dylib\0", b"@rpath/lib?.dylib\0"
    app_ca.write_bytes(app_ac.read_bytes().replace(a, swap).replace(c, a).replace(swap, c))
    results = {}
    for order, app in ((("A", "C"), app_ac), (("C", "A"), app_ca)):
        files = {"/opt/app/bin/app": app, "/opt/app/lib/libA.dylib": lib_a, "/opt/app/lib/libC.dylib": lib_c,
                 "/opt/extra/libcudart.9.1.dylib": cudart}  # fmt: skip
        root_dir = mac_tree(cuda=None, files=files)
        fs = Root(root_dir)
        sl = only_slice(fs, "/opt/app/bin/app")
        assert [d.name for d in sl.deps if d.name.startswith("@rpath/")] == [f"@rpath/lib{x}.dylib" for x in order]
        check = check_slice(fs, "/opt/app/bin/app", sl)
        results[order] = {(loader, r.name): r for loader, r in check.transitive}

    first_a = results["A", "C"][("/opt/app/lib/libC.dylib", CUDART)]
    assert (first_a.status, first_a.via) == ("resolved", "rpath /opt/extra")
    assert results["C", "A"][("/opt/app/lib/libC.dylib", CUDART)].failing
