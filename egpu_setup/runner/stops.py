"""A run that Ansible stopped before its end: the serial batches it ran, the Macs it never reached ("not run"), the
Macs it ended in a batch that failed too much ("stopped"), and the one line that says so in the report."""

from __future__ import annotations

from typing import Any

from egpu_setup.runner.run_state import RunState

NOT_RUN = "not run"
NOT_RUN_MESSAGE = "not run: the run stopped before this Mac's batch started; nothing on it was touched"
STOPPED_MESSAGE = (
    "stopped: Ansible ended this Mac's run when the failures in its batch passed --max-fail-percent "
    "(max_fail_percentage); it did not fail itself"
)


def not_run_entry() -> dict[str, Any]:
    """The report's entry for a targeted Mac that no task ran on."""
    return {
        "status": NOT_RUN, "ok": 0, "changed": 0, "failed": 0, "unreachable": 0, "skipped": 0, "rescued": 0,
        "ignored": 0, "duration_s": 0.0, "failures": [], "changes": [], "message": NOT_RUN_MESSAGE,
    }  # fmt: skip


def batches(state: RunState, serial: int | str | None) -> dict[str, Any]:
    return {"serial": serial, "run": state.batches_run, "total": state.batches_total}


def stopped_early(state: RunState, max_fail_percent: int | None) -> str | None:
    """Why the batches after the last one that ran never started, or None when every batch ran (or the run was
    stopped from outside: Ctrl-C, a kill, which the report's status names)."""
    not_run = state.not_run()
    if state.stats is None or not not_run or not state.batches_run:
        return None
    last = state.batches_run
    failed = [name for name, host in state.hosts.items() if host.batch == last and host.status != "ok"]
    failed_text = ", ".join(failed) or "a Mac"
    if max_fail_percent is not None:
        why = f"{failed_text} failed and --max-fail-percent is {max_fail_percent}"
    else:
        why = f"every Mac of the batch failed ({failed_text}), which ends an Ansible play"
    return f"stopped after batch {last} of {state.batches_total}: {why}; not run: {', '.join(not_run)}"
