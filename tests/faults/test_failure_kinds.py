"""The one mapping from a failure outside the task to its message and fix, and how a run's events are told by it
(fast: events fed to RunState by hand; the fault matrix checks the same on rehearsal Macs)."""

from __future__ import annotations

from egpu_setup.runner import failure_kinds
from egpu_setup.runner.run_state import UNREACHABLE_FIX, RunState


def result(kind: str, host: str, task: str, role: str = "r", action: str = "x", **extra) -> dict:
    data = {"host": host, "task": task, "role": role, "task_action": action, **extra}
    return {"event": f"runner_on_{kind}", "event_data": data}


def test_every_kind_has_a_message_and_a_fix_line():
    fields = {"artifact": "A", "host": "mac1", "detail": "D", "package": "P", "log": "L", "free": 0, "what": "W",
              "need": 9, "seconds": 3, "task": "T"}  # fmt: skip
    for kind in failure_kinds.KINDS:
        message, fix = failure_kinds.describe(kind, **fields)
        assert "mac1" in message and fix.startswith("fix: ") and "run again" in fix, kind
    error = failure_kinds.failure("disk_full", **fields)
    assert (error.kind, error.exit_code, str(error)) == ("disk_full", 1, "the disk of mac1 is full: 0 bytes free, W "
            "needs 9\nfix: free space on mac1's startup disk, then run again")  # fmt: skip


def test_an_action_plugins_kind_is_kept_with_its_fix_once():
    state = RunState()
    msg = "copying x.pkg to mac1 failed: reset\nfix: check the connection to mac1"
    state.apply(result("failed", "mac1", "Put", res={"msg": msg, "fix": "check the connection to mac1",
                                                    "failure_kind": "transfer"}))  # fmt: skip
    (failure,) = state.hosts["mac1"].failures
    assert (failure.kind, failure.message, failure.fix) == ("transfer", msg, "fix: check the connection to mac1")


def test_a_restart_that_never_comes_back_is_one_failure_without_connection_advice():
    state = RunState()
    restart = {"task": "Restart", "action": "ansible.builtin.reboot"}
    state.apply(result("ok", "mac1", "Before", res={}))
    state.apply(result("failed", "mac1", **restart, res={"msg": "Timed out waiting for last boot time check "
                                                               "(timeout=600)"}))  # fmt: skip
    state.apply(result("unreachable", "mac1", **restart, res={"msg": "ssh: connect to host mac1 port 22"}))
    (failure,) = state.hosts["mac1"].failures
    assert failure.kind == "reboot_hang"
    assert failure.message.startswith("mac1 did not come back after 600 s from the restart")
    assert "FileVault unlock? kernel panic?" in failure.fix and "ssh" not in failure.message.lower()


def test_a_task_after_the_host_is_gone_is_not_a_second_failure():
    """Over SSH the run lock's release still tries a host that did not come back or was lost: one failure."""
    for first in ({"task": "Restart", "action": "ansible.builtin.reboot", "res": {"msg": "(timeout=3)"}},
                  {"task": "Install", "role": "cudnn", "res": {"msg": "no route"}}):  # fmt: skip
        state = RunState()
        state.apply(result("ok", "mac1", "Before", res={}))
        state.apply(result("failed" if "action" in first else "unreachable", "mac1", **first))
        state.apply(result("unreachable", "mac1", "Release the Mac's run lock", role="egpu_common",
                           res={"msg": "Failed to connect to the host via ssh"}))  # fmt: skip
        (failure,) = state.hosts["mac1"].failures
        assert failure.kind in ("reboot_hang", "host_lost") and failure.task == first["task"], failure


def test_a_host_lost_mid_run_is_not_told_to_check_its_ssh_settings():
    state = RunState()
    state.apply(result("unreachable", "mac1", "First", res={"msg": "no route"}))
    state.apply(result("ok", "mac2", "First", res={}))
    state.apply(result("unreachable", "mac2", "Second", role="cudnn", res={"msg": "no route to host"}))
    never, lost = state.hosts["mac1"].failures[0], state.hosts["mac2"].failures[0]
    assert (never.kind, never.fix) == (None, UNREACHABLE_FIX)
    assert lost.kind == "host_lost"
    assert lost.message.startswith("mac2 stopped answering during cudnn : Second: no route to host")


def test_a_file_ansible_copies_itself_is_a_transfer_failure_naming_it():
    state = RunState()
    msg = "failed to transfer /c/tmpx to /Users/admin/.ansible/tmp/t/AnsiballZ_setup.py on mac1: connection reset"
    state.apply(result("failed", "mac1", "Restart", res={"msg": msg}))
    (failure,) = state.hosts["mac1"].failures
    assert failure.kind == "transfer"
    assert failure.message.startswith("copying AnsiballZ_setup.py to mac1 failed: ")


def test_a_lost_hosts_reason_is_said_once():
    state = RunState()
    why = "rehearsal host mac1 does not answer: it lost power (fault switch lose-after)"
    state.apply(result("ok", "mac1", "First", res={}))
    state.apply(result("unreachable", "mac1", "Second", res={"msg": f"Task failed: {why}. do this: {why}"}))
    message = state.hosts["mac1"].failures[0].message
    assert message.splitlines()[0] == f"mac1 stopped answering during r : Second: {why}. do this"
