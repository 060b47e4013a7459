"""Fetching one URL into a partial file: http(s) with resume (HTTP Range), and file:// for lab mirrors.

A cut connection keeps what arrived; the next attempt (in this run, or the next run) asks for the rest with
`Range: bytes=N-` (RFC 9110 section 14). A server that ignores Range answers 200 with the whole file, which then
replaces the partial one. Checksums are the caller's business (egpu_setup.cache.store).
"""

from __future__ import annotations

import http.client
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Protocol

from egpu_setup import __version__
from egpu_setup.errors import CheckFailed, EgpuError

CHUNK = 1 << 20
TIMEOUT_S = 60
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


def download(url: str, dest: Path, label: str, progress: Progress | None = None, attempts: int = 3) -> None:
    """Fetch `url` into `dest` (a partial file, resumed if it exists). Raises EgpuError / CheckFailed."""
    progress = progress or _Quiet()
    scheme = check_url(url, f"the URL of {label}")
    if scheme == "file":
        _copy_file(url, dest, label, progress)
        return
    for attempt in range(1, attempts + 1):
        try:
            _http_attempt(url, dest, label, progress)
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


def _http_attempt(url: str, dest: Path, label: str, progress: Progress) -> None:
    have = dest.stat().st_size if dest.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": f"egpu-setup/{__version__}"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
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
        raise EgpuError(
            f"cannot reach {url} for {label}: {reason}",
            fix=f"check the network (or proxy) and the URL, or give a mirror {OTHER_SOURCE}",
        ) from None
    with response:
        start, total = _plan(response, have)
        mode = "ab" if start else "wb"
        completed = start
        progress.start(label, total, completed)
        with _writing(dest, mode) as out:
            while True:
                try:
                    # read1: what has arrived (up to CHUNK), so the bar moves and a cut keeps all that came
                    chunk = response.read1(CHUNK)
                except (http.client.HTTPException, ConnectionError, TimeoutError, OSError) as exc:
                    raise _Interrupted(f"{type(exc).__name__} after {completed} of {total or '?'} bytes") from None
                if not chunk:
                    break
                out.write(chunk)
                completed += len(chunk)
                progress.update(completed)
        if total is not None and completed < total:
            raise _Interrupted(f"connection closed after {completed} of {total} bytes")


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


def _copy_file(url: str, dest: Path, label: str, progress: Progress) -> None:
    parts = urllib.parse.urlsplit(url)
    source = Path(urllib.request.url2pathname(parts.path))
    if not source.is_file():
        raise EgpuError(
            f"download of {label} failed: {source} does not exist (from {url})",
            fix=f"check the mirror directory, or give another URL {OTHER_SOURCE}",
        )
    total = source.stat().st_size
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
            fix="free some space or make the cache writable (or give another with --cache-dir), then run again",
        ) from None
