"""Downloads from a server that misbehaves (issue 11, point 2), through `cache fetch` as a user runs it: a server
that trickles, one that stops sending and one that never answers end within the EGPU_DOWNLOAD_* limits (set small
here) with exit 1, the URL and the variable to raise named, and nothing of the cache changed but the partial file
kept for the next run to resume (<cache>/partial, and its lock under <cache>/.locks): no index entry, nothing under
sha256/, no lock file written. Local servers in threads of this process."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import pytest
from corpus_harness import Case, Where, check_case, dirs

FETCH = ("cache", "fetch", "--cache-dir", "{t}/c", "--lock", "{t}/egpu-setup.lock", "--only", "webdriver")
# a partial download is kept on purpose (the fix says "run again: it resumes"); nothing else may change
RESUMABLE = ("c/partial", "c/.locks")
LIMITS = {"EGPU_DOWNLOAD_CONNECT_TIMEOUT": "2", "EGPU_DOWNLOAD_STALL_TIMEOUT": "3", "EGPU_DOWNLOAD_MIN_RATE": "100",
          "EGPU_DOWNLOAD_RATE_WINDOW": "3"}  # fmt: skip
WITHIN = 20.0  # seconds: the limits above end every attempt within a few seconds (3 attempts for a cut link)


@pytest.fixture
def serve_webdriver(serve: Callable[..., str]) -> Callable[[type], str]:
    return lambda handler: serve(handler, "/WebDriver.pkg")


@pytest.fixture
def silent() -> Iterator[str]:
    """A port that accepts connections (the kernel's backlog) and never answers a byte."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/WebDriver.pkg"
    sock.close()


def _fetch_case(name: str, url: str, expect: tuple[str, ...]) -> Case:
    return Case(name, (*FETCH, "--url", f"webdriver={url}"), code=1, expect=(url, *expect), setup=dirs("c"),
                env=LIMITS, timeout=WITHIN, may_add=RESUMABLE)


def test_a_trickling_server_ends_on_the_minimum_rate(serve_webdriver, trickling, where: Where) -> None:
    url = serve_webdriver(trickling(2.0))  # one byte every 2 s of 1000: 33 minutes
    check_case(_fetch_case("fetch-trickle", url, ("too slow", "EGPU_DOWNLOAD_MIN_RATE")), where)
    _no_more_than_arrived(where, 3)


def test_a_stalled_server_ends_on_the_stall_timeout(serve_webdriver, trickling, where: Where) -> None:
    url = serve_webdriver(trickling(60.0))  # headers, one byte, then nothing for a minute
    check_case(_fetch_case("fetch-stall", url, ("stalled", "EGPU_DOWNLOAD_STALL_TIMEOUT")), where)
    _no_more_than_arrived(where, 1)


def test_a_server_that_never_answers_ends_on_the_connect_timeout(silent: str, where: Where) -> None:
    check_case(_fetch_case("fetch-no-answer", silent, ("no answer within 2 s", "EGPU_DOWNLOAD_CONNECT_TIMEOUT")), where)
    assert not list((where.root / "c").rglob("*.part")), "a partial file for a server that sent nothing"


def _no_more_than_arrived(where: Where, most: int) -> None:
    """The kept partial file holds only what the server sent (a prefix to resume from), never more."""
    parts = list((where.root / "c/partial").glob("*.part"))
    assert len(parts) <= 1 and all(p.read_bytes() == b"x" * p.stat().st_size for p in parts)
    assert all(p.stat().st_size <= most for p in parts), [p.stat().st_size for p in parts]
