"""Machine state: JSON round trip, the file lock under concurrent writers, fault counting, the command runner."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys

import pytest

from egpu_lab.machine import Gpu, Hardware, Machine, MachineState, sip_preset


def _bump(state_dir: str, root: str, times: int) -> None:
    machine = Machine(state_dir, root)
    for _ in range(times):
        with machine.edit() as st:
            st.boot.count += 1


def test_state_round_trips_through_json(tmp_path):
    machine = Machine(tmp_path / "machine", tmp_path / "root")
    state = MachineState(hostname="m", sip=sip_preset("kext-off"), hardware=Hardware(gpu=Gpu(vram_mb=4096)))
    state.nvram_set("nvda_drv", b"1\x00")
    machine.write(state)
    back = machine.read()
    assert back == state
    assert back.nvram_get("nvda_drv") == b"1\x00"
    assert back.kext_signing is False
    assert machine.path("/Library/Extensions") == tmp_path / "root/Library/Extensions"


def test_concurrent_edits_are_not_lost(tmp_path):
    machine = Machine(tmp_path / "machine", tmp_path / "root")
    machine.write(MachineState())
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_bump, args=(str(machine.state_dir), str(machine.root), 50)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    assert machine.read().boot.count == 200


def test_an_edit_that_raises_changes_nothing(tmp_path):
    machine = Machine(tmp_path / "machine", tmp_path / "root")
    machine.write(MachineState())
    with pytest.raises(RuntimeError), machine.edit() as st:
        st.hostname = "changed"
        raise RuntimeError("boom")
    assert machine.read().hostname == "mac1"


def test_take_fault_fails_exactly_the_nth(tmp_path):
    machine = Machine(tmp_path / "machine", tmp_path / "root")
    state = MachineState()
    state.faults.fail_download = 2
    machine.write(state)
    assert [machine.take_fault("download") for _ in range(4)] == [False, True, False, False]
    assert machine.take_fault("install") is False


def test_sip_presets():
    assert sip_preset("enabled")["Kext Signing"] and not sip_preset("enabled")["Apple Internal"]
    assert not sip_preset("kext-off")["Kext Signing"] and sip_preset("kext-off")["Filesystem Protections"]
    assert not any(sip_preset("disabled").values())
    with pytest.raises(ValueError):
        sip_preset("half")


def test_runner_dispatches_a_handler_outside_the_sandbox(tmp_path):
    """`python -m egpu_lab.macos MODULE HANDLER args` with the state pointed at by the environment."""
    machine = Machine(tmp_path / "machine", tmp_path / "root")
    state = MachineState()
    state.nvram_set("nvda_drv", b"1")
    machine.write(state)
    env = dict(os.environ, EGPU_SIM_STATE=str(machine.state_dir), EGPU_SIM_ROOT=str(machine.root))
    cmd = [sys.executable, "-m", "egpu_lab.macos", "nvram", "nvram", "nvda_drv"]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert (r.returncode, r.stdout) == (0, "nvda_drv\t1\n")
    r = subprocess.run([*cmd[:-1], "missing"], env=env, capture_output=True, text=True)
    assert r.returncode == 1 and "data was not found" in r.stderr


def test_every_registered_executable_has_a_documented_handler():
    import importlib

    from egpu_lab.macos import executables

    table = executables()
    for path in ("/usr/bin/sw_vers", "/usr/sbin/kextstat", "/usr/libexec/PlistBuddy", "/sbin/shutdown",
                 "/usr/bin/who", "/usr/bin/sudo", "/usr/bin/python", "/usr/bin/xcode-select"):  # fmt: skip
        assert path in table
    mine = {"sw_vers", "sysctl", "uname", "csrutil", "nvram", "kext", "system_profiler", "ioreg", "xcode_select",
            "plistbuddy", "power", "identity", "sudo", "df", "python2"}  # fmt: skip
    for path, (module, handler) in table.items():
        if module not in mine:  # the installer/toolchain families are tested with them (tests/rehearsal/packaging)
            continue
        func = getattr(importlib.import_module(f"egpu_lab.macos.{module}"), handler)
        assert func.__doc__ and len(func.__doc__) > 40, f"{path}: handler {module}.{handler} needs its source"


def test_builds_come_from_the_matrix_with_their_darwin_version():
    from egpu_lab import builds
    from egpu_setup.errors import EgpuError

    assert builds.product_version("17C88") == "10.13.2"
    assert builds.product_version("17A365") == "10.13"  # sw_vers of the first release says 10.13
    assert [builds.kernel_version(v) for v in ("10.13", "10.13.2", "10.13.6")] == ["17.0.0", "17.3.0", "17.7.0"]
    with pytest.raises(EgpuError, match="unknown macOS build '18A391'"):
        builds.product_version("18A391")


def test_a_lost_host_stays_lost_from_the_nth_command_and_the_disk_fills_at_the_nth_write(tmp_path):
    from egpu_lab import boot

    machine = Machine(tmp_path / "machine", tmp_path / "root")
    state = MachineState()
    state.faults.lose_after, state.faults.disk_full_at = 3, 2
    machine.write(state)
    assert [machine.take_fault("command") for _ in range(4)] == [False, False, True, True]
    with pytest.raises(boot.HostDown, match="lost power or its network"):
        boot.ensure_up(machine, "mac1")
    assert [machine.take_fault("install"), machine.read().faults.disk_full] == [False, False]
    assert [machine.take_fault("download"), machine.read().faults.disk_full] == [False, True]
