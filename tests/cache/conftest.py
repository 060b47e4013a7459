"""A real HTTP server on 127.0.0.1 for cache tests: serves bytes, honours Range, and can cut connections."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


@dataclass
class Served:
    """What the server holds and what it saw."""

    files: dict[str, bytes] = field(default_factory=dict)
    # path -> (offset, times): the next `times` responses for path stop at file offset `offset` and drop the link
    cuts: dict[str, tuple[int, int]] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Range header)
    ignore_range: bool = False  # behave like a server without Range support (always 200, whole file)
    trickle_s: float = 0.0  # pause after each 64 KiB sent: a slow link, so a test can interrupt a transfer
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def _handler(served: Served) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
            pass

        def do_GET(self) -> None:
            range_header = self.headers.get("Range")
            served.requests.append((self.path, range_header))
            body = served.files.get(self.path)
            if body is None:
                self.send_error(404, "Not Found")
                return
            start = 0
            if range_header and not served.ignore_range:
                start = int(range_header.removeprefix("bytes=").split("-")[0])
                if start >= len(body):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(body) - start))
            self.end_headers()
            end = len(body)
            offset, times = served.cuts.get(self.path, (0, 0))
            if times > 0:
                served.cuts[self.path] = (offset, times - 1)
                end = max(start, offset)
            try:
                for piece in range(start, end, 1 << 16):
                    self.wfile.write(body[piece : min(end, piece + (1 << 16))])
                    self.wfile.flush()
                    time.sleep(served.trickle_s)
            except ConnectionError:  # the client went away (an interrupted test download)
                return
            self.close_connection = True  # with Content-Length unmet, the client sees a cut connection

    return Handler


@pytest.fixture
def http_server() -> Iterator[Served]:
    served = Served()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(served))
    served.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def payload() -> bytes:
    """2.5 MB that is not compressible or repetitive, so offsets matter."""
    return hashlib.sha256(b"seed").digest() * (2_500_000 // 32)


@pytest.fixture
def lab(tmp_path: Path) -> Callable[..., Path]:
    """`lab(**{"python3@3.11.9": {"sha256": ...}})` writes a matrix overlay; returns its path."""

    def write(**changes: dict[str, object]) -> Path:
        lines = ["artifacts:"]
        for key, fields in changes.items():
            artifact_id, version = key.split("@")
            lines += [f"  - id: {artifact_id}", f"    version: {version}"]
            lines += [f"    {name}: {'null' if value is None else value}" for name, value in fields.items()]
        path = tmp_path / "overlay.yaml"
        path.write_text("\n".join(lines) + "\n")
        return path

    return write
