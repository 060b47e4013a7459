"""Bytes sent to and received from each Mac: summed from the plugins' task results into the run report."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console

from egpu_setup.runner.report import host_entry, print_summary
from egpu_setup.runner.run_state import RunState


def _event(kind: str, host: str, res: dict[str, Any]) -> dict[str, Any]:
    return {"event": kind, "event_data": {"host": host, "task": "A task", "role": "r", "task_action": "x", "res": res}}


def _files(*pairs: tuple[str, int]) -> list[dict[str, Any]]:
    return [{"name": name, "bytes": size} for name, size in pairs]


def test_sent_and_received_bytes_are_summed_per_host_and_file() -> None:
    state = RunState()
    state.apply(_event("runner_on_ok", "mac1", {"changed": True, "egpu_sent": _files(("cuda.dmg", 1000))}))
    # a loop task: each item's result lists its own copies
    items = [{"egpu_sent": _files(("cudnn.tgz", 300))}, {"egpu_sent": _files(("Distribution", 20))}, {}]
    state.apply(_event("runner_on_ok", "mac1", {"changed": True, "results": items}))
    # a task that failed after its copy: the bytes were sent all the same
    state.apply(_event("runner_on_failed", "mac1", {"msg": "placing failed", "egpu_sent": _files(("cuda.dmg", 1000))}))
    state.apply(_event("runner_on_ok", "mac1", {"egpu_received": _files(("mxnet-build.tar.gz", 5000))}))
    state.apply(_event("runner_on_ok", "mac2", {"changed": False}))  # it held every digest: nothing sent
    # entries not of the documented shape count for nothing
    state.apply(_event("runner_on_ok", "mac2", {"egpu_sent": [{"name": "x", "bytes": "12"}, "junk", {"bytes": -1}]}))

    mac1, mac2 = (host_entry(state.hosts[name], None) for name in ("mac1", "mac2"))

    assert mac1["bytes_sent"] == 2320
    assert mac1["sent"] == {"Distribution": 20, "cuda.dmg": 2000, "cudnn.tgz": 300}
    assert (mac1["bytes_received"], mac1["received"]) == (5000, {"mxnet-build.tar.gz": 5000})
    assert (mac2["bytes_sent"], mac2["sent"], mac2["bytes_received"], mac2["received"]) == (0, {}, 0, {})


def test_the_summary_shows_the_bytes_sent_to_each_host_in_human_units() -> None:
    host = {"ok": 3, "changed": 1, "failed": 0, "unreachable": 0, "duration_s": 2.0, "failures": []}
    report = {
        "command": "provision", "status": "ok", "check": False, "log": "/runs/x/ansible.log", "run_dir": "/runs/x",
        "hosts": {"mac1": {**host, "bytes_sent": 3 * 1024 * 1024 + 512 * 1024}, "mac2": {**host, "bytes_sent": 0}},
    }  # fmt: skip
    out = io.StringIO()
    print_summary(Console(file=out, width=200, color_system=None), report)
    lines = out.getvalue().splitlines()
    assert "sent" in next(line for line in lines if "host" in line)
    rows = {line.split()[1]: line for line in lines if line.startswith("│ mac")}
    assert "3.5 MiB" in rows["mac1"] and "0 B" in rows["mac2"]
