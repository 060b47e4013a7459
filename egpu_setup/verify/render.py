"""The report for people: a rich table, or plain aligned text where rich is not installed (a Mac's target venv)."""

from __future__ import annotations

from typing import Any, TextIO

from egpu_setup.verify.report import Report
from egpu_setup.verify.result import Status

_STYLE = {Status.PASS: "green", Status.FAIL: "bold red", Status.SKIP: "yellow"}


def title(report: Report) -> str:
    where = {"gpu": "on the GPU", "cpu": "on the CPU (no GPU, --cpu-ok)", "none": "no GPU work"}[report.device]
    rehearsal = ", rehearsal host" if report.host.rehearsal else ""
    return f"egpu-setup verify: {report.host.hostname} ({report.host.platform}{rehearsal}; {where})"


def footer(report: Report) -> str:
    passed, failed, skipped = (report.count(s) for s in (Status.PASS, Status.FAIL, Status.SKIP))
    counts = f"{passed} passed, {failed} failed, {skipped} skipped"
    return f"{report.outcome.upper().replace('_', ' ')}: {counts}"


def render_rich(report: Report, console: Any) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title(report), title_justify="left", show_lines=False)
    table.add_column("check", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("result")
    for check in report.checks:
        table.add_row(check.name, Text(check.status.value, style=_STYLE[check.status]), Text(check.reason))
    console.print(table)
    console.print(Text(footer(report), style=_STYLE[Status.PASS if report.outcome == "pass" else Status.FAIL]))


def render_text(report: Report, stream: TextIO) -> None:
    width = max(len(c.name) for c in report.checks)
    stream.write(title(report) + "\n")
    for check in report.checks:
        stream.write(f"  {check.name:<{width}}  {check.status.value:<4}  {check.reason}\n")
    stream.write(footer(report) + "\n")
    stream.flush()
