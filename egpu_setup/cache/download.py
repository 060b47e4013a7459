"""Fetching one URL into a partial file: http(s) with resume (HTTP Range), and file:// for lab mirrors.

A cut connection keeps what arrived; the next attempt (in this run, or the next run) asks for the rest with
`Range: bytes=N-` (RFC 9110 section 14). A server that ignores Range answers 200 with the whole file, which then
replaces the partial one. Checksums are the caller's business (egpu_setup.cache.store); the size, where the caller
knows it (the matrix's or overlay's `size`, else the lock's), is a limit here: a body or a Content-Length beyond it
ends the download at once, with nothing kept, so a wrong URL never fills the disk.
"""

from __future__ import annotations

import http.client
import math
import os
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from egpu_setup import __version__
from egpu_setup.errors import CheckFailed, EgpuError

CHUNK = 1 << 20


@dataclass(frozen=True)
class Limits:
    """What bounds one download (README "Downloads"): set by the environment for every command that downloads
    (`cache fetch`, `provision`, `--rehearse`), so one setting reaches the controller however it was started."""

    connect_s: float = 30.0  # EGPU_DOWNLOAD_CONNECT_TIMEOUT: to connect and get the answer's headers
    stall_s: float = 60.0  # EGPU_DOWNLOAD_STALL_TIMEOUT: no byte for this long ends the attempt
    min_rate: float = 1024.0  # EGPU_DOWNLOAD_MIN_RATE (bytes/s, 0: none), averaged over rate_window_s
    rate_window_s: float = 60.0  # EGPU_DOWNLOAD_RATE_WINDOW

    @classmethod
    def from_env(cls) -> Limits:
        values = {}
        for name, variable in ENV.items():
            text = os.environ.get(variable)
            if text in (None, ""):
                continue
            try:
                value = float(text)
            except ValueError:
                value = -1.0
            if not math.isfinite(value) or value < 0 or (value == 0 and name != "min_rate"):
                raise EgpuError(
                    f"{variable}={text!r} is not a positive number",
                    fix=f"set {variable} to seconds (or bytes/s), e.g. {getattr(cls(), name):g}, or unset it",
                )
            values[name] = value
        return cls(**values)


ENV = {
    "connect_s": "EGPU_DOWNLOAD_CONNECT_TIMEOUT",
    "stall_s": "EGPU_DOWNLOAD_STALL_TIMEOUT",
    "min_rate": "EGPU_DOWNLOAD_MIN_RATE",
    "rate_window_s": "EGPU_DOWNLOAD_RATE_WINDOW",
}
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


class Progress(Protocol):
    """What the downloader reports to; the CLI draws a rich bar per file, the Python API may pass nothing."""

    def start(self, label: str, total: int | None, completed: int) -> None: ...
    def update(self, completed: int) -> None: ...
    def finish(self) -> None: ...


class _Quiet:
    def start(self, label: str, total: int | None, completed: int) -> None:
        pass

    def update(self, completed: int) -> None:
        pass

    def finish(self) -> None:
        pass


class _Interrupted(Exception):
    """The transfer stopped early; what arrived is in the partial file."""


# Another source, as each command that downloads takes it: `cache fetch` has flags, provision reads the inventory.
OTHER_SOURCE = (
    "(`cache fetch`: --url ID=URL or --mirror URL; provision: egpu_artifact_urls or egpu_mirror_url in the inventory)"
)
# Another cache directory, likewise.
OTHER_CACHE = "(`cache fetch`, `cache add`: --cache-dir DIR; provision: egpu_cache_dir in the inventory)"


def download(
    url: str, dest: Path, label: str, progress: Progress | None = None, attempts: int = 3, size: int | None = None
) -> None:
    """Fetch `url` into `dest` (a partial file, resumed if it exists). Raises EgpuError / CheckFailed.

    `size`: the file's exact size in bytes where known; more is refused (CheckFailed, the partial file deleted).
    """
    progress = progress or _Quiet()
    scheme = check_url(url, f"the URL of {label}")
    if size is not None and dest.exists() and dest.stat().st_size > size:
        dest.unlink()  # a partial file longer than the whole one is not a prefix of it: resuming could never succeed
    if scheme == "file":
        _copy_file(url, dest, label, progress, size)
        return
    limits = Limits.from_env()
    for attempt in range(1, attempts + 1):
        try:
            _http_attempt(url, dest, label, progress, limits, size)
            return
        except _Interrupted as exc:
            if attempt == attempts:
                have = dest.stat().st_size if dest.exists() else 0
                raise CheckFailed(
                    f"download of {label} from {url} was interrupted ({exc}); {have} bytes kept in {dest}",
                    fix="run the same command again: it resumes where the transfer stopped",
                ) from None
            time.sleep(0.2 * attempt)  # a short back-off: a flapping link often comes back at once
        finally:
            progress.finish()


def check_url(url: str, what: str) -> str:
    """The scheme of `url` when the downloader can fetch it (http, https, file with a path); else an EgpuError."""
    parts = urllib.parse.urlsplit(url)
    if (parts.scheme in ("http", "https") and parts.netloc) or (parts.scheme == "file" and parts.path):
        return parts.scheme
    raise EgpuError(
        f"{what} {url!r} is not an http://, https:// or file:// URL",
        fix="give a full URL, e.g. https://mirror.example/egpu/ or file:///srv/egpu-mirror/",
    )


def _http_attempt(url: str, dest: Path, label: str, progress: Progress, limits: Limits, size: int | None) -> None:
    have = dest.stat().st_size if dest.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": f"egpu-setup/{__version__}"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=limits.connect_s)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:
            # The partial file is not a prefix the server can continue (often: already complete, or another file):
            # start over rather than guess.
            dest.unlink()
            raise _Interrupted("the server refused to resume; starting over") from None
        hint = "the URL is wrong or the file moved" if exc.code in (403, 404, 410) else "the server failed"
        raise EgpuError(
            f"download of {label} failed: HTTP {exc.code} {exc.reason} for {url}",
            fix=f"{hint}: check the URL, or give another {OTHER_SOURCE}",
        ) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, (TimeoutError, socket.timeout)):
            reason = f"no answer within {limits.connect_s:g} s (raise {ENV['connect_s']} for a slow server)"
        raise EgpuError(
            f"cannot reach {url} for {label}: {reason}",
            fix=f"check the network (or proxy) and the URL, or give a mirror {OTHER_SOURCE}",
        ) from None
    with response:
        _set_stall_timeout(response, limits.stall_s)
        start, total = _plan(response, have)
        if size is not None and total is not None and total > size:  # refused before a byte of the body is read
            raise _oversize(url, dest, label, size, f"the server announces {total} bytes")
        mode = "ab" if start else "wb"
        completed = start
        progress.start(label, total, completed)
        rate = _RateWatch(url, label, limits)
        with _writing(dest, mode) as out:
            while True:
                try:
                    # read1: what has arrived (up to CHUNK), so the bar moves and a cut keeps all that came
                    chunk = response.read1(CHUNK)
                except TimeoutError:
                    raise CheckFailed(
                        f"download of {label} from {url} stalled: no byte for {limits.stall_s:g} s after "
                        f"{completed} of {total or '?'} bytes (kept in {dest})",
                        fix=f"run again later (it resumes), or raise {ENV['stall_s']} for a slow server",
                    ) from None
                except (http.client.HTTPException, ConnectionError, OSError) as exc:
                    raise _Interrupted(f"{type(exc).__name__} after {completed} of {total or '?'} bytes") from None
                if not chunk:
                    break
                if size is not None and completed + len(chunk) > size:
                    raise _oversize(url, dest, label, size, f"the server sent at least {completed + len(chunk)} bytes")
                out.write(chunk)
                completed += len(chunk)
                progress.update(completed)
                rate.check(completed - start)
        if total is not None and completed < total:
            raise _Interrupted(f"connection closed after {completed} of {total} bytes")


def _oversize(url: str, dest: Path, label: str, size: int, received: str) -> CheckFailed:
    """The refusal of a body larger than the known size; the partial file goes (it is not the file wanted)."""
    dest.unlink(missing_ok=True)  # POSIX: an open file may be unlinked; the writer's close follows
    return CheckFailed(
        f"download of {label} from {url} refused: {size} bytes expected (the matrix's or lock's size), "
        f"{received}; nothing was kept",
        fix="the server sent something else (an error or login page, another file): check the URL, or the mirror "
        "it came from, then fetch again",
    )


def _set_stall_timeout(response: http.client.HTTPResponse, seconds: float) -> None:
    """From the body on, a read waits at most `seconds` for the next byte (the connect timeout ruled until here)."""
    sock = getattr(getattr(response.fp, "raw", None), "_sock", None)  # http.client's socket reader
    if isinstance(sock, socket.socket):
        sock.settimeout(seconds)


class _RateWatch:
    """Ends a download whose average rate over the last window fell under the minimum (a server that trickles)."""

    def __init__(self, url: str, label: str, limits: Limits) -> None:
        self.url, self.label, self.limits = url, label, limits
        self.since, self.at = time.monotonic(), 0

    def check(self, received: int) -> None:
        elapsed = time.monotonic() - self.since
        if self.limits.min_rate <= 0 or elapsed < self.limits.rate_window_s:
            return
        seen = (received - self.at) / elapsed
        if seen < self.limits.min_rate:
            raise CheckFailed(
                f"download of {self.label} from {self.url} is too slow: {seen:.0f} bytes/s over the last "
                f"{elapsed:.0f} s, under the minimum of {self.limits.min_rate:g} bytes/s",
                fix=f"run again later (it resumes), or lower {ENV['min_rate']} (0 turns the check off)",
            )
        self.since, self.at = time.monotonic(), received


def _plan(response: http.client.HTTPResponse, have: int) -> tuple[int, int | None]:
    """Where this response's body starts in the file, and the file's full size if known."""
    length = response.headers.get("Content-Length")
    if response.status == 206:
        match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
        if not match or int(match[1]) != have:
            raise _Interrupted(f"the server resumed at the wrong offset ({response.headers.get('Content-Range')})")
        return have, None if match[3] == "*" else int(match[3])
    # 200: the whole file; whatever partial we had is replaced.
    return 0, int(length) if length and length.isdigit() else None


def _copy_file(url: str, dest: Path, label: str, progress: Progress, size: int | None) -> None:
    parts = urllib.parse.urlsplit(url)
    source = Path(urllib.request.url2pathname(parts.path))
    if not source.is_file():
        raise EgpuError(
            f"download of {label} failed: {source} does not exist (from {url})",
            fix=f"check the mirror directory, or give another URL {OTHER_SOURCE}",
        )
    total = source.stat().st_size
    if size is not None and total > size:  # a mirror's file is measured before it is copied
        raise _oversize(url, dest, label, size, f"the mirror's file holds {total} bytes")
    progress.start(label, total, 0)
    try:
        with source.open("rb") as src, _writing(dest, "wb") as out:
            copied = 0
            while chunk := _read_source(src, source, label):
                out.write(chunk)
                copied += len(chunk)
                progress.update(copied)
    except OSError as exc:  # opening the mirror's file
        raise _unreadable(label, source, exc) from None
    finally:
        progress.finish()


def _read_source(src: BinaryIO, source: Path, label: str) -> bytes:
    try:
        return src.read(CHUNK)
    except OSError as exc:
        raise _unreadable(label, source, exc) from None


def _unreadable(label: str, source: Path, exc: OSError) -> EgpuError:
    return EgpuError(
        f"download of {label} failed: cannot read {source}: {exc}",
        fix=f"check the mirror directory, or give another URL {OTHER_SOURCE}",
    )


@contextmanager
def _writing(dest: Path, mode: str) -> Iterator[BinaryIO]:
    """`dest` opened for writing; an OSError on it (full disk, read-only cache) is an EgpuError, not a cut link.

    The code inside must catch its own read errors: every OSError that reaches here is the partial file's.
    """
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with dest.open(mode) as out:
            yield out
    except OSError as exc:
        raise EgpuError(
            f"cannot write {dest}: {exc}",
            fix=f"free some space or make the cache writable (or give another {OTHER_CACHE}), then run again",
        ) from None
