"""Every download is bounded: a connect timeout, a stall timeout and a minimum rate (EGPU_DOWNLOAD_*), so a server
that never answers, stops sending or trickles ends the download within the limits, with a message naming the URL,
what was seen and the variable to raise. Local servers in a thread; small limits keep each test a few seconds."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from egpu_setup.cache.download import download
from egpu_setup.errors import EgpuError


class _Trickle(http.server.BaseHTTPRequestHandler):
    pause = 0.3  # seconds between bytes
    size = 1000

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(self.size))
        self.end_headers()
        try:
            for _ in range(self.size):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(self.pause)
        except OSError:
            pass

    def log_message(self, *_args: object) -> None:
        pass


class _Stall(_Trickle):
    pause = 30.0


@pytest.fixture
def serve() -> Iterator:
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(handler: type) -> str:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/file.pkg"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_trickling_server_fails_on_the_minimum_rate(serve, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("EGPU_DOWNLOAD_MIN_RATE", "100")
    monkeypatch.setenv("EGPU_DOWNLOAD_RATE_WINDOW", "1")
    url = serve(_Trickle)
    started = time.monotonic()
    with pytest.raises(EgpuError) as failed:
        download(url, tmp_path / "file.pkg.partial", "cuda-driver")
    assert time.monotonic() - started < 5
    assert failed.value.exit_code == 1
    assert f"download of cuda-driver from {url} is too slow" in str(failed.value) and "bytes/s" in str(failed.value)
    assert "EGPU_DOWNLOAD_MIN_RATE" in (failed.value.fix or "")


def test_a_stalled_server_fails_on_the_stall_timeout(serve, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("EGPU_DOWNLOAD_STALL_TIMEOUT", "1")
    url = serve(_Stall)
    started = time.monotonic()
    with pytest.raises(EgpuError) as failed:
        download(url, tmp_path / "file.pkg.partial", "cuda-driver")
    assert time.monotonic() - started < 5
    assert f"from {url} stalled: no byte for 1 s" in str(failed.value)
    assert "EGPU_DOWNLOAD_STALL_TIMEOUT" in (failed.value.fix or "")


def test_a_server_that_accepts_but_never_answers_fails_on_the_connect_timeout(tmp_path: Path, monkeypatch) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # connections are accepted by the kernel, never answered
    monkeypatch.setenv("EGPU_DOWNLOAD_CONNECT_TIMEOUT", "1")
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/file.pkg"
    started = time.monotonic()
    try:
        with pytest.raises(EgpuError) as failed:
            download(url, tmp_path / "file.pkg.partial", "cuda-driver")
    finally:
        listener.close()
    assert time.monotonic() - started < 5
    assert f"cannot reach {url}" in str(failed.value) and "no answer within 1 s" in str(failed.value)
    assert "EGPU_DOWNLOAD_CONNECT_TIMEOUT" in str(failed.value)


@pytest.mark.parametrize("value", ["-1", "fast", "nan", "0"])
def test_a_bad_limit_is_refused_naming_the_variable(tmp_path: Path, monkeypatch, value) -> None:
    monkeypatch.setenv("EGPU_DOWNLOAD_STALL_TIMEOUT", value)
    with pytest.raises(EgpuError, match=f"EGPU_DOWNLOAD_STALL_TIMEOUT={value!r} is not a positive number") as bad:
        download("http://127.0.0.1:9/x", tmp_path / "x.partial", "x")
    assert bad.value.exit_code == 2 and not (tmp_path / "x.partial").exists()
