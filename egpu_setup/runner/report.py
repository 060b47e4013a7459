"""The end of a run: the JSON run report (kept in the run directory) and the human summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from egpu_setup.output import JSON_SCHEMA_VERSION, size_text
from egpu_setup.runner.run_state import HostState, RunState
from egpu_setup.runner.stops import NOT_RUN, STOPPED_MESSAGE, batches, not_run_entry, stopped_early

REPORT_KIND = "run_report"


def host_entry(host: HostState, verify: dict[str, Any] | None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "status": host.status,
        "ok": host.ok,
        "changed": host.changed,
        "failed": host.failed,
        "unreachable": host.unreachable,
        "skipped": host.skipped,
        "rescued": host.rescued,
        "ignored": host.ignored,
        "duration_s": round(host.duration_s, 2),
        "failures": [failure.to_dict() for failure in host.failures],
        # In check mode these are the changes the run would make; otherwise the ones it made.
        "changes": [change.to_dict() for change in host.changes],
        # Bytes the collection's plugins moved over the connection (runner/transfers.py), by file name.
        "bytes_sent": sum(host.sent.values()),
        "sent": dict(sorted(host.sent.items())),
        "bytes_received": sum(host.received.values()),
        "received": dict(sorted(host.received.items())),
    }
    if verify is not None:
        entry["verify"] = verify
    if host.status == "stopped":
        entry["message"] = STOPPED_MESSAGE
    return entry


def build_report(
    *,
    command: str,
    request: dict[str, Any],
    state: RunState,
    status: str,
    exit_code: int,
    run_dir: Path,
    log: Path,
    duration_s: float,
    verify_reports: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    return {
        "schema_version": JSON_SCHEMA_VERSION,
        "kind": REPORT_KIND,
        "command": command,
        **request,
        "status": status,
        "exit_code": exit_code,
        "duration_s": round(duration_s, 2),
        "run_dir": str(run_dir),
        "log": str(log),
        "batches": batches(state, request.get("serial")),
        "stopped_early": stopped_early(state, request.get("max_fail_percent")),
        "hosts": {
            name: host_entry(state.hosts[name], verify_reports.get(name)) if name in state.hosts else not_run_entry()
            for name in sorted({*state.hosts, *state.not_run()})
        },
    }


def write_report(report: dict[str, Any], run_dir: Path) -> Path:
    path = run_dir / "report.json"
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return path


def print_summary(console: Any, report: dict[str, Any]) -> None:
    """The per-host table, then for `plan` what would change on each host, then where the log is."""
    from rich.table import Table

    table = Table(title=f"egpu-setup {report['command']}: {report['status']}", title_justify="left")
    for column in ("host", "ok", "changed", "failed", "unreachable", "sent", "duration", "verify"):
        table.add_column(column, justify="left" if column in ("host", "verify") else "right")
    for name, host in report["hosts"].items():
        if host.get("status") == NOT_RUN:
            table.add_row(name, "-", "-", "-", "-", "-", f"[yellow]{NOT_RUN}[/yellow]")
            continue
        table.add_row(
            name,
            str(host["ok"]),
            _count(host["changed"], "yellow"),
            _count(host["failed"], "red"),
            _count(host["unreachable"], "red"),
            size_text(host.get("bytes_sent", 0)),
            f"{host['duration_s']:.1f} s",
            "[yellow]stopped[/yellow]" if host.get("status") == "stopped" else _verify_cell(host.get("verify")),
        )
    console.print(table)
    if report.get("stopped_early"):
        console.print(report["stopped_early"], style="red", markup=False, soft_wrap=True)
    for name, host in report["hosts"].items():
        for failure in host["failures"]:
            where = f"{failure['role']} : {failure['task']}" if failure["role"] else failure["task"]
            console.print(f"[red]{name}: failed: {where}[/red]", markup=True, soft_wrap=True)
            console.print(_indent(failure["message"]), markup=False, soft_wrap=True)
    if report.get("check"):
        print_plan(console, report)
    console.print(f"log: {report['log']}", markup=False, soft_wrap=True)
    console.print(f"report: {Path(report['run_dir']) / 'report.json'}", markup=False, soft_wrap=True)


def print_plan(console: Any, report: dict[str, Any]) -> None:
    for name, host in report["hosts"].items():
        changes = host["changes"]
        complete = host["status"] == "ok"
        if not changes:
            text = "nothing to change" if complete else "no change found before it stopped (see the failure above)"
            console.print(f"{name}: {text}", markup=False, soft_wrap=True)
            continue
        head = "change(s) to make" if complete else "change(s) found before it stopped (the plan is incomplete)"
        console.print(f"{name}: {len(changes)} {head}:", markup=False, soft_wrap=True)
        for change in changes:
            where = f"{change['role']} : {change['task']}" if change["role"] else change["task"]
            console.print(f"  ~ {where}", markup=False, soft_wrap=True)
            if change["diff"]:
                console.print(_indent(change["diff"], "      "), markup=False, soft_wrap=True)


def _verify_cell(verify: dict[str, Any] | None) -> str:
    """The GPU verification fetched from the host, in a few words ("-" when the run did not get that far)."""
    if not verify:
        return "-"
    summary = verify.get("summary", {})
    outcome = str(summary.get("outcome", "?"))
    style = "green" if outcome == "pass" else "red"
    counts = ", ".join(f"{summary.get(key, 0)} {key}" for key in ("passed", "failed", "skipped"))
    return f"[{style}]{outcome}[/{style}] ({counts})"


def _count(value: int, style: str) -> str:
    return f"[{style}]{value}[/{style}]" if value else "0"


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())
