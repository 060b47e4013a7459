"""A rich progress bar per file on stderr, for the downloader's Progress protocol."""

from __future__ import annotations

from typing import Any


class RichProgress:
    """One bar per file; the same label restarted (a resumed attempt) reuses its bar."""

    def __init__(self, console: Any) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._tasks: dict[str, Any] = {}
        self._current: Any = None

    def __enter__(self) -> RichProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._tasks:
            self._progress.stop()

    def start(self, label: str, total: int | None, completed: int) -> None:
        if not self._tasks:
            # Started on the first download only: a fetch that finds everything cached (or fails before any
            # transfer) prints no empty bar area on stderr.
            self._progress.start()
        if label not in self._tasks:
            self._tasks[label] = self._progress.add_task(label, total=total, completed=completed)
        else:
            self._progress.reset(self._tasks[label], total=total, completed=completed)
        self._current = self._tasks[label]

    def update(self, completed: int) -> None:
        if self._current is not None:
            self._progress.update(self._current, completed=completed)

    def finish(self) -> None:
        self._current = None
