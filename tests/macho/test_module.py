"""The egpu.mac.macho_rpaths module run by real Ansible (`ansible localhost -m ...`): check, apply, apply again."""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

MX = "/opt/mxnet/lib/libmxnet.so"


@pytest.fixture
def ansible(ad_hoc):
    """egpu.mac.macho_rpaths through `ansible localhost -m` (conftest's ad_hoc)."""
    return functools.partial(ad_hoc, "egpu.mac.macho_rpaths")


def test_check_then_apply_then_apply_again(ansible, tmp_path, mac_tree, built):
    root = mac_tree(files={MX: built.mxnet})
    lib = root / MX.lstrip("/")
    original = lib.read_bytes()
    args = f"paths=/opt/mxnet/lib root={root}"

    status, result = ansible(args, "--check", "--diff")
    assert (status, result["changed"]) == ("CHANGED", True)
    assert lib.read_bytes() == original  # check mode writes nothing
    assert result["files"][0]["status"] == "would-fix"
    assert "LC_RPATH /usr/local/cuda/lib" in result["files"][0]["load_commands_after"]

    status, result = ansible(args)
    assert (status, result["changed"]) == ("CHANGED", True)
    assert lib.read_bytes() != original
    fixed = lib.read_bytes()

    status, result = ansible(args)
    assert (status, result["changed"]) == ("SUCCESS", False)
    assert result["files"][0]["status"] == "ok"
    assert lib.read_bytes() == fixed


def test_failures_are_reported_not_raised(ansible, tmp_path, mac_tree, built):
    root = mac_tree(files={MX: built.mxnet_nopad})
    status, result = ansible(f"paths={MX} root={root}")
    assert status == "FAILED" and result["changed"] is False
    assert "-headerpad_max_install_names" in result["msg"]
    assert (root / MX.lstrip("/")).read_bytes() == built.mxnet_nopad.read_bytes()

    bare = mac_tree(cuda=None, files={MX: built.mxnet})
    status, result = ansible(f"paths={MX} root={bare}")
    assert status == "FAILED" and "still do not resolve" in result["msg"]


def test_without_egpu_setup_on_the_target_the_module_says_what_to_do(ansible, tmp_path, mac_tree, built):
    # A Python without egpu_setup (the system one): the module must fail with the fix, not a traceback.
    system_python = shutil.which("python3", path="/usr/bin:/bin")
    if system_python is None or subprocess.run([system_python, "-c", "import egpu_setup"], cwd=tmp_path,
                                               capture_output=True, check=False).returncode == 0:  # fmt: skip
        pytest.skip("no Python here that lacks egpu_setup")
    root = mac_tree(files={MX: built.mxnet})
    status, result = ansible(f"paths={MX} root={root}", interpreter=system_python)
    assert status == "FAILED"
    assert "/usr/local/egpu-setup/venv/bin/python" in result["msg"]


def test_install_name_tool_fixes_it_and_the_invocation_is_in_the_result(ansible, tmp_path, mac_tree, built, tool_bin):
    tools = tool_bin("sim")
    root = mac_tree(files={MX: built.mxnet})
    lib = root / MX.lstrip("/")
    args = f"paths={MX} root={root} tool=install_name_tool"
    invocation = f"{tools.dir}/install_name_tool -add_rpath /usr/local/cuda/lib {lib}"

    status, planned = ansible(args, "--check", "--diff", path=tools.path_env())
    assert (status, planned["commands"], tools.calls()) == ("CHANGED", [invocation], [])
    assert f"install_name_tool (would run):\n{invocation}\n" in planned["_stdout"]

    status, result = ansible(args, "--diff", path=tools.path_env())

    assert (status, result["tool"], result["tool_how"]) == ("CHANGED", "install_name_tool", "PATH")
    assert result["commands"] == [invocation] and tools.calls() == [["-add_rpath", "/usr/local/cuda/lib", str(lib)]]
    assert f"install_name_tool (ran):\n{invocation}\n" in result["_stdout"]
    assert "+LC_RPATH /usr/local/cuda/lib" in result["_stdout"]
    assert result["files"][0]["status"] == "fixed" and result["files"][0]["still_failing"] == []
    assert "LC_RPATH /usr/local/cuda/lib" in result["files"][0]["load_commands_after"]

    status, again = ansible(args, path=tools.path_env())
    assert (status, again["commands"], len(tools.calls())) == ("SUCCESS", [], 1)


def test_no_header_room_fails_with_install_name_tool_s_refusal_and_the_file_unchanged(
    ansible, tmp_path, mac_tree, built, tool_bin
):
    tools = tool_bin("sim")
    root = mac_tree(files={MX: built.mxnet_nopad})
    lib = root / MX.lstrip("/")

    status, result = ansible(f"paths={MX} root={root} tool=install_name_tool", path=tools.path_env())

    assert status == "FAILED" and result["changed"] is False
    assert result["msg"].startswith(f"nothing was changed: install_name_tool refused {MX} (exit 1): error: ")
    assert f"install_name_tool: changing install names or rpaths can't be redone for: {lib}" in result["msg"]
    assert "the file is unchanged" in result["msg"]
    assert result["commands"] == [f"{tools.dir}/install_name_tool -add_rpath /usr/local/cuda/lib {lib}"]
    assert result["files"][0]["ran"] is True
    assert lib.read_bytes() == built.mxnet_nopad.read_bytes()


def test_install_name_tool_asked_for_where_there_is_none_fails_with_the_fix(ansible, tmp_path, mac_tree, built):
    root = mac_tree(files={MX: built.mxnet})
    status, result = ansible(f"paths={MX} root={root} tool=install_name_tool",
                             path=f"{Path(sys.executable).parent}:/usr/bin:/bin")  # fmt: skip
    assert status == "FAILED" and result["changed"] is False
    assert result["msg"].startswith("install_name_tool was asked for, but there is none here")
    assert "xcode-select --install" in result["msg"] and "tool: builtin" in result["msg"]
    assert (root / MX.lstrip("/")).read_bytes() == built.mxnet.read_bytes()
