"""`egpu-setup status --html FILE`: one self-contained page (inline CSS and SVG, no script, nothing fetched), one
row per Mac; a drifting cell has the class `drift` and a visible `!`, the verify figures are small SVG charts."""

from __future__ import annotations

from html import escape
from typing import Any

from egpu_setup.fleet.status import HostStatus
from egpu_setup.fleet.table import COLUMNS, DRIFT_MARK

CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.drift { background: #fde2e2; color: #a00; font-weight: bold; }
tr.drift th { color: #a00; }
.mark { font-weight: bold; color: #a00; }
.note { color: #666; font-size: 11px; }
svg text { font: 9px sans-serif; }
"""
STATUS_COLOURS = {"pass": "#2e7d32", "fail": "#c62828", "skip": "#9e9e9e"}


def checks_chart(checks: dict[str, str]) -> str:
    """One square per verify check, coloured by its status, the name in its tooltip."""
    squares = []
    for index, (name, state) in enumerate(sorted(checks.items())):
        colour = STATUS_COLOURS.get(state, "#000")
        squares.append(f'<rect x="{index * 12}" y="0" width="10" height="10" fill="{colour}">'
                       f"<title>{escape(name)}: {escape(state)}</title></rect>")  # fmt: skip
    width = max(12 * len(checks), 12)
    return f'<svg class="checks" width="{width}" height="10" role="img">{"".join(squares)}</svg>'


def figures_chart(figures: dict[str, float]) -> str:
    """A horizontal bar per figure, scaled to the largest of its kind (the check), labelled with its value."""
    if not figures:
        return ""
    rows = []
    for index, (name, value) in enumerate(sorted(figures.items())):
        group = name.rsplit(".", 1)[0]
        top = max(v for k, v in figures.items() if k.startswith(group + ".")) or 1.0
        width = int(100 * value / top)
        y = index * 14
        rows.append(f'<rect x="0" y="{y}" width="{width}" height="10" fill="#1565c0"/>'
                    f'<text x="{width + 3}" y="{y + 9}">{escape(name)} {value:g}</text>')  # fmt: skip
    return f'<svg class="figures" width="260" height="{14 * len(figures)}" role="img">{"".join(rows)}</svg>'


def _cell(item: Any) -> str:
    if item is None:
        return "<td>-</td>"
    text = escape("-" if item.value in (None, "") else str(item.value))
    note = f'<div class="note">{escape(item.note)}</div>' if item.note else ""
    if item.drift:
        want = f'<div class="note">expected {escape(str(item.expected))}</div>' if item.expected else ""
        return f'<td class="drift"><span class="mark">{DRIFT_MARK}</span> {text}{want}{note}</td>'
    return f"<td>{text}{note}</td>"


def _row(status: HostStatus) -> str:
    host = escape(status.host)
    if not status.reachable:
        return (f'<tr class="host drift" data-host="{host}"><th><span class="mark">{DRIFT_MARK}</span> {host}</th>'
                f'<td class="drift" colspan="{len(COLUMNS) + 1}">not read: {escape(status.error or "")}</td></tr>')
    items = {item.name: item for item in status.items}
    cells = "".join(_cell(items.get(name)) for name in COLUMNS)
    verify = status.verify or {}
    charts = checks_chart(verify.get("checks") or {}) + figures_chart(verify.get("figures") or {})
    css = "host drift" if status.drift else "host"
    mark = f'<span class="mark">{DRIFT_MARK}</span> ' if status.drift else ""
    return f'<tr class="{css}" data-host="{host}"><th>{mark}{host}</th>{cells}<td>{charts}</td></tr>'


def render_html(statuses: list[HostStatus], generated: str) -> str:
    head = "".join(f"<th>{escape(name)}</th>" for name in ("host", *COLUMNS, "verify figures"))
    rows = "\n".join(_row(s) for s in statuses)
    drifting = [s.host for s in statuses if s.drift]
    summary = f"drift on: {', '.join(drifting)}" if drifting else "no drift"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>egpu-setup status</title>
<style>{CSS}</style></head>
<body><h1>egpu-setup status</h1>
<p id="summary">{escape(summary)} ({len(statuses)} Macs, {escape(generated)})</p>
<table id="status"><thead><tr>{head}</tr></thead>
<tbody>
{rows}
</tbody></table></body></html>
"""
