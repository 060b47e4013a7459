"""`egpu-setup fix-rpaths --tool`: the plan written by an install_name_tool (the rehearsal's cctools-900 one on PATH)
or by the built-in writer; checked with the LLVM tools."""

from __future__ import annotations

import json
import shlex

from egpu_lab.macho_build import build_dylib, make_universal

MX = "/opt/mxnet/lib/libmxnet.so"
OTHER = "/opt/other/libmxnet.so"
CUDA_LIB = "/usr/local/cuda/lib"
REFUSAL = "changing install names or rpaths can't be redone for: "
NO_FIT = "because larger updated load commands do not fit"


def rpaths(llvm, path) -> list[str]:
    lines = llvm("otool", "-l", path).splitlines()
    return [lines[i + 2].split()[1] for i, line in enumerate(lines) if line.strip() == "cmd LC_RPATH"]


def test_install_name_tool_writes_the_plan_one_invocation_per_file(cli, mac_tree, built, llvm, tool_bin, monkeypatch):
    tools = tool_bin("sim")
    monkeypatch.setenv("PATH", tools.path_env())
    root = mac_tree(files={MX: built.mxnet})
    lib = root / MX.lstrip("/")

    res = cli("fix-rpaths", "--root", str(root), MX, "--tool", "install_name_tool", "--json")

    assert res.code == 0, res.err
    doc = json.loads(res.out)
    invocation = [str(tools.dir / "install_name_tool"), "-add_rpath", CUDA_LIB, str(lib)]
    assert (doc["tool"], doc["tool_how"]) == ("install_name_tool", "PATH")
    assert doc["commands"] == [shlex.join(invocation)]
    (entry,) = doc["files"]
    assert (entry["writer"], entry["command"], entry["ran"], entry["status"]) == (
        "install_name_tool", invocation, True, "fixed"
    )  # fmt: skip
    assert tools.calls() == [invocation[1:]]
    assert rpaths(llvm, lib) == [CUDA_LIB]
    assert entry["still_failing"] == [] and {r["status"] for r in entry["references"]} == {"resolved", "system"}
    # Only the header changed: cctools writes the load commands in place and nothing else.
    before, after = built.mxnet.read_bytes(), lib.read_bytes()
    assert len(before) == len(after) and before[4096:] == after[4096:]

    again = cli("fix-rpaths", "--root", str(root), MX, "--tool", "install_name_tool", "--json")
    assert again.code == 0 and json.loads(again.out)["commands"] == [] and len(tools.calls()) == 1


def test_auto_takes_install_name_tool_only_where_there_is_one(cli, mac_tree, built, tool_bin, monkeypatch):
    root = mac_tree(files={MX: built.mxnet})
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert json.loads(cli("fix-rpaths", "--root", str(root), MX, "--check", "--json").out)["tool"] == "builtin"

    tools = tool_bin("sim")
    monkeypatch.setenv("PATH", tools.path_env("/usr/bin:/bin"))
    res = cli("fix-rpaths", "--root", str(root), MX, "-v")
    assert res.code == 0, res.err
    assert f"writer: install_name_tool ({tools.dir}/install_name_tool, by PATH)" in res.out
    assert f"ran: {tools.dir}/install_name_tool -add_rpath {CUDA_LIB} {root}{MX}" in res.out


def test_check_mode_lists_the_invocation_and_runs_nothing(cli, mac_tree, built, tool_bin, monkeypatch):
    tools = tool_bin("sim")
    monkeypatch.setenv("PATH", tools.path_env())
    root = mac_tree(files={MX: built.mxnet})
    lib = root / MX.lstrip("/")

    res = cli("fix-rpaths", "--root", str(root), MX, "--tool", "install_name_tool", "--check", "--json")

    assert res.code == 1
    doc = json.loads(res.out)
    assert doc["commands"] == [shlex.join([str(tools.dir / "install_name_tool"), "-add_rpath", CUDA_LIB, str(lib)])]
    assert doc["files"][0]["ran"] is False and tools.calls() == []
    assert lib.read_bytes() == built.mxnet.read_bytes()
    verbose = cli("fix-rpaths", "--root", str(root), MX, "--tool", "install_name_tool", "--check", "-v")
    assert f"would run: {tools.dir}/install_name_tool -add_rpath" in verbose.out


def test_no_header_room_is_install_name_tool_s_refusal_and_nothing_changes(cli, mac_tree, built, tool_bin,
                                                                           monkeypatch):  # fmt: skip
    tools = tool_bin("sim")
    monkeypatch.setenv("PATH", tools.path_env())
    # The file with room comes first in the walk; the one our model says will not fit is run first.
    root = mac_tree(files={"/opt/a/libmxnet.so": built.mxnet, "/opt/b/libmxnet.so": built.mxnet_nopad})
    fits, tight = root / "opt/a/libmxnet.so", root / "opt/b/libmxnet.so"

    res = cli("fix-rpaths", "--root", str(root), "/opt", "--tool", "install_name_tool", "--json")

    assert res.code == 2
    assert (
        f"error: install_name_tool refused {tight} (exit 1): error: /Library/Developer/CommandLineTools/usr/bin/"
        f"install_name_tool: {REFUSAL}{tight} (for architecture x86_64) {NO_FIT} (the program must be relinked, "
        "and you may need to use -headerpad or -headerpad_max_install_names)"
    ) in res.err
    assert "fix: relink it with -headerpad_max_install_names" in res.err and "the file is unchanged" in res.err
    assert tight.read_bytes() == built.mxnet_nopad.read_bytes()  # install_name_tool wrote nothing
    assert fits.read_bytes() == built.mxnet.read_bytes()  # and the run stopped before the other file
    assert tools.calls() == [["-add_rpath", CUDA_LIB, str(tight)]]
    doc = json.loads(res.out)
    by_path = {f["path"]: f for f in doc["files"]}
    assert by_path[str(fits)]["ran"] is False and "run stopped" in " ".join(by_path[str(fits)]["notes"])
    assert by_path[str(tight)]["tool_output"].endswith("-headerpad_max_install_names)")


def test_builtin_still_writes_it_itself(cli, mac_tree, built, llvm, tool_bin, monkeypatch):
    tools = tool_bin("sim")
    monkeypatch.setenv("PATH", tools.path_env())
    root = mac_tree(files={MX: built.mxnet, OTHER: built.mxnet_nopad})
    lib = root / MX.lstrip("/")

    res = cli("fix-rpaths", "--root", str(root), MX, "--tool", "builtin", "--json")

    assert res.code == 0, res.err
    doc = json.loads(res.out)
    assert (doc["tool"], doc["tool_path"], doc["commands"]) == ("builtin", None, [])
    assert doc["files"][0]["writer"] == "builtin" and tools.calls() == []
    assert rpaths(llvm, lib) == [CUDA_LIB]
    # Its own refusal (nothing runs install_name_tool), before anything is written.
    tight = cli("fix-rpaths", "--root", str(root), OTHER, "--tool", "builtin")
    assert tight.code == 2 and NO_FIT in tight.err and tools.calls() == []


def test_install_name_tool_asked_for_where_there_is_none(cli, mac_tree, built, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    root = mac_tree(files={MX: built.mxnet})

    res = cli("fix-rpaths", "--root", str(root), MX, "--tool", "install_name_tool")

    assert res.code == 2
    assert res.err.splitlines() == [
        "error: install_name_tool was asked for, but there is none here (no xcrun and no install_name_tool on PATH)",
        "fix: install Apple's Command Line Tools (`xcode-select --install`, or the xcode_clt role), or use --tool "
        "builtin (tool: builtin), egpu-setup's own load-command writer",
    ]
    assert (root / MX.lstrip("/")).read_bytes() == built.mxnet.read_bytes()


def test_a_tool_that_does_not_write_the_plan_fails_clearly(cli, mac_tree, built, tool_bin, monkeypatch):
    tools = tool_bin("noop")  # exits 0, writes nothing
    monkeypatch.setenv("PATH", tools.path_env())
    root = mac_tree(files={MX: built.mxnet})

    res = cli("fix-rpaths", "--root", str(root), MX, "--tool", "install_name_tool", "--json")

    assert res.code == 2
    assert "install_name_tool's result differs from the plan" in res.err
    assert "'LC_RPATH /usr/local/cuda/lib'" in res.err
    assert json.loads(res.out)["files"][0]["status"] == "error"


def test_slices_needing_different_edits_go_to_the_builtin_writer_or_fail(cli, mac_tree, built, llvm, tool_bin,
                                                                          monkeypatch, tmp_path):  # fmt: skip
    tools = tool_bin("sim")
    monkeypatch.setenv("PATH", tools.path_env())
    # x86_64 has LC_RPATH /usr/local/cuda/lib already, arm64 lacks it: one -add_rpath would be a duplicate.
    src = "int MXGetVersion(int *out) { *out = 10100; return 0; }\n"
    x86 = build_dylib(tmp_path / "x86/libmxnet.so", src, "lib/libmxnet.so", rpaths=[CUDA_LIB],
                      link=[built.cuda[n] for n in ("libcudart.9.1.dylib", "libcublas.9.1.dylib")])  # fmt: skip
    mixed = make_universal(tmp_path / "fat/libmxnet.so", [x86, built.mxnet_arm])
    root = mac_tree(cuda="fat", files={MX: mixed})
    lib = root / MX.lstrip("/")

    asked = cli("fix-rpaths", "--root", str(root), MX, "--tool", "install_name_tool")
    assert asked.code == 2
    assert "install_name_tool edits every slice alike" in asked.err and "--tool builtin" in asked.err
    assert lib.read_bytes() == mixed.read_bytes() and tools.calls() == []

    auto = cli("fix-rpaths", "--root", str(root), MX, "--json")
    assert auto.code == 0, auto.err
    (entry,) = json.loads(auto.out)["files"]
    assert entry["writer"] == "builtin" and "written by the built-in writer" in " ".join(entry["notes"])
    assert tools.calls() == []
    for arch in ("x86_64", "arm64"):  # each slice has the one LC_RPATH
        assert llvm("otool", "-arch", arch, "-l", lib).count("cmd LC_RPATH") == 1
