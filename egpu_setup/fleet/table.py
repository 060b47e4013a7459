"""`egpu-setup status` in the terminal: one row per Mac, one column per part of the stack, drift in red with `!`."""

from __future__ import annotations

from typing import Any

from egpu_setup.fleet.status import HostStatus

COLUMNS = ("build", "sip", "filevault", "webdriver", "webdriver_loaded", "required_os", "egpu", "cuda_driver",
           "cuda_toolkit", "cudnn", "clt", "mxnet", "verify")  # fmt: skip
DRIFT_MARK = "!"
HEADINGS = {"filevault": "FV", "webdriver": "web driver", "webdriver_loaded": "loaded", "required_os": "RequiredOS",
            "cuda_driver": "CUDA drv", "cuda_toolkit": "CUDA", "sip": "SIP", "clt": "CLT", "mxnet": "MXNet"}


def cell(value: str | None, drift: bool) -> str:
    text = "-" if value in (None, "") else str(value)
    if len(text) > 24:  # digests: the first characters tell two apart
        text = text[:12] + "…"
    return f"{DRIFT_MARK} {text}" if drift else text


def print_table(console: Any, statuses: list[HostStatus]) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(title="egpu-setup status", show_lines=False)
    table.add_column("host", no_wrap=True)
    for name in COLUMNS:
        table.add_column(HEADINGS.get(name, name), overflow="fold")
    for status in statuses:
        if not status.reachable:
            table.add_row(Text(f"{DRIFT_MARK} {status.host}", style="bold red"),
                          Text(f"not read: {status.error}", style="red"))  # fmt: skip
            continue
        items = {item.name: item for item in status.items}
        row = [Text(status.host, style="bold red" if status.drift else "bold")]
        for name in COLUMNS:
            item = items.get(name)
            drift = bool(item and item.drift)
            row.append(Text(cell(item.value if item else None, drift), style="red" if drift else ""))
        table.add_row(*row)
    console.print(table)
    for status in statuses:
        for item in status.items:
            if item.drift:
                want = f", expected {item.expected}" if item.expected else ""
                console.print(f"{DRIFT_MARK} {status.host}: {item.name} is {item.value or 'missing'}{want}"
                              + (f" ({item.note})" if item.note else ""), markup=False, highlight=False)  # fmt: skip
    drifting = [s.host for s in statuses if s.drift]
    console.print(f"drift on: {', '.join(drifting)}" if drifting else "no drift", markup=False, highlight=False)
