"""Progress views fed on the main thread: a rich live table on a terminal, plain ordered lines elsewhere."""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol, TextIO

from egpu_setup.runner.run_state import RESULT_EVENTS, RunState

log = logging.getLogger(__name__)


class View(Protocol):
    def start(self) -> None: ...
    def event(self, event: dict[str, Any], state: RunState) -> None: ...
    def refresh(self, state: RunState) -> None: ...
    def stop(self, state: RunState) -> None: ...


def _elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"


def _task_label(role: str | None, task: str | None) -> str:
    if not task:
        return ""
    return f"{role} : {task}" if role else task


class PlainView:
    """One line per play and per task result, in the order Ansible reports them (logs, CI, pipes)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._told: dict[str, int] = {}  # host -> failures already written

    def start(self) -> None:
        pass

    def event(self, event: dict[str, Any], state: RunState) -> None:
        kind = event.get("event", "")
        data = event.get("event_data") or {}
        stamp = _elapsed(time.monotonic() - state.started)
        if kind == "playbook_on_play_start":
            self._write(f"[{stamp}] PLAY {data.get('name', '')}")
        elif kind in RESULT_EVENTS and data.get("host"):
            status = RESULT_EVENTS[kind]
            res = data.get("res") or {}
            if status == "ok" and res.get("changed"):
                status = "changed"
            if status == "failed" and data.get("ignore_errors"):
                status = "failed (ignored)"
            label = _task_label(data.get("role"), data.get("task"))
            self._write(f"[{stamp}] {data['host']}: {status}: {label}")
            host = state.hosts.get(data["host"])
            if status in ("failed", "unreachable") and host and len(host.failures) > self._told.get(host.name, 0):
                # each failure once: run_state keeps one for a task that failed and then left the host unreachable
                self._told[host.name] = len(host.failures)
                for line in host.failures[-1].message.splitlines():
                    self._write(f"    {line}")

    def refresh(self, state: RunState) -> None:
        pass

    def stop(self, state: RunState) -> None:
        pass

    def _write(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()


class LiveView:
    """A rich Live table, one row per host: current role and task, counts, a progress bar, elapsed time."""

    wants_task_total = True  # execute has Ansible list the play's tasks for the bar

    def __init__(self, console: Any, title: str) -> None:
        from rich.live import Live

        self.console = console
        self.title = title
        self._state = RunState()
        self._live = Live(get_renderable=self._render, console=console, refresh_per_second=8, transient=False)

    def start(self) -> None:
        self._live.start()

    def event(self, event: dict[str, Any], state: RunState) -> None:
        self._state = state

    def refresh(self, state: RunState) -> None:
        self._state = state
        self._live.refresh()

    def stop(self, state: RunState) -> None:
        self._state = state
        self._live.stop()

    def _render(self) -> Any:
        from rich.progress_bar import ProgressBar
        from rich.table import Table

        state = self._state
        table = Table(title=f"{self.title} - {state.play or 'starting'}", title_justify="left", expand=False)
        for column, justify in (
            ("host", "left"),
            ("now", "left"),
            ("ok", "right"),
            ("changed", "right"),
            ("failed", "right"),
            ("skipped", "right"),
            ("progress", "left"),
            ("elapsed", "right"),
        ):
            table.add_column(column, justify=justify, no_wrap=column != "now")  # type: ignore[arg-type]
        for host in state.hosts.values():
            total = max((state.tasks or {}).get(host.name, 0), host.done) or None  # listed: a lower bound
            now = _task_label(host.role, host.task)
            if state.stats is not None:  # the play is over: say how it ended instead of the last task
                now = f"{host.status}" if host.status != "ok" else "done"
            table.add_row(
                host.name,
                now[:60],
                str(host.ok),
                _styled(host.changed, "yellow"),
                _styled(host.failed + host.unreachable, "red"),
                str(host.skipped),
                ProgressBar(total=total, completed=total if state.stats and total else host.done, width=24),
                _elapsed(host.duration_s if host.finished and state.stats else time.monotonic() - host.started),
            )
        return table


def _styled(count: int, style: str) -> Any:
    from rich.text import Text

    return Text(str(count), style=style if count else "")


class SafeView:
    """Wraps a view so that a rendering error is logged and the view goes quiet, never failing the run."""

    def __init__(self, view: View) -> None:
        self.view: View | None = view

    def _call(self, method: str, *args: Any) -> None:
        if self.view is None:
            return
        try:
            getattr(self.view, method)(*args)
        except Exception:
            log.exception("progress view failed in %s; continuing without it", method)
            broken, self.view = self.view, None
            if method != "stop":
                try:
                    broken.stop(RunState())
                except Exception:
                    log.debug("stopping the broken view failed too", exc_info=True)

    def start(self) -> None:
        self._call("start")

    def event(self, event: dict[str, Any], state: RunState) -> None:
        self._call("event", event, state)

    def refresh(self, state: RunState) -> None:
        self._call("refresh", state)

    def stop(self, state: RunState) -> None:
        self._call("stop", state)
