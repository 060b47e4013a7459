"""Every download is bounded: a connect timeout, a stall timeout and a minimum rate (EGPU_DOWNLOAD_*), so a server
that never answers, stops sending or trickles ends the download within the limits, with a message naming the URL,
what was seen and the variable to raise; and the known size (matrix/overlay, else the lock's), so a server sending
more is refused at once with nothing kept. Local servers in a thread; small limits keep each test a few seconds."""

from __future__ import annotations

import http.server
import re
import socket
import time
from pathlib import Path

import pytest

from egpu_setup.cache import Cache, Lock
from egpu_setup.cache.download import download
from egpu_setup.errors import EgpuError
from egpu_setup.matrix import load_matrix


def test_a_trickling_server_fails_on_the_minimum_rate(serve, trickling, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("EGPU_DOWNLOAD_MIN_RATE", "100")
    monkeypatch.setenv("EGPU_DOWNLOAD_RATE_WINDOW", "1")
    url = serve(trickling(0.3))  # one byte every 0.3 s of 1000: about 5 minutes
    started = time.monotonic()
    with pytest.raises(EgpuError) as failed:
        download(url, tmp_path / "file.pkg.partial", "cuda-driver")
    assert time.monotonic() - started < 5
    assert failed.value.exit_code == 1
    assert f"download of cuda-driver from {url} is too slow" in str(failed.value) and "bytes/s" in str(failed.value)
    assert "EGPU_DOWNLOAD_MIN_RATE" in (failed.value.fix or "")


def test_a_stalled_server_fails_on_the_stall_timeout(serve, trickling, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("EGPU_DOWNLOAD_STALL_TIMEOUT", "1")
    url = serve(trickling(30.0))  # one byte, then 30 s of nothing
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


# --- the size limit: a known size (matrix/overlay, else the lock's) bounds every download -------------------------


class _Endless(http.server.BaseHTTPRequestHandler):
    """200 with no Content-Length and a body that never ends: only the size limit stops the client."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        try:
            while True:
                self.wfile.write(b"x" * 65536)
        except OSError:
            pass

    def log_message(self, *_args: object) -> None:
        pass


class _HugeThenSilent(_Endless):
    """Announces 10 GB, then sends nothing for 30 s: a client that read the body would wait."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(10 * 1024**3))
        self.end_headers()
        self.wfile.flush()
        time.sleep(30)


def test_a_body_past_the_known_size_is_refused_at_once_and_deleted(serve, tmp_path: Path) -> None:
    url, dest = serve(_Endless), tmp_path / "file.pkg.partial"
    started = time.monotonic()
    with pytest.raises(EgpuError) as refused:
        download(url, dest, "numpy-1.23.5.whl", size=200_000)
    assert time.monotonic() - started < 5
    assert refused.value.exit_code == 1 and not dest.exists()
    message = str(refused.value)
    assert f"download of numpy-1.23.5.whl from {url} refused: 200000 bytes expected" in message
    sent = re.search(r"the server sent at least (\d+) bytes; nothing was kept", message)
    assert sent and int(sent[1]) > 200_000
    assert "the server sent something else" in (refused.value.fix or "") and "check the URL" in refused.value.fix


def test_a_content_length_past_the_known_size_is_refused_before_the_body(serve, tmp_path: Path) -> None:
    url, dest = serve(_HugeThenSilent), tmp_path / "file.pkg.partial"
    started = time.monotonic()
    with pytest.raises(EgpuError) as refused:
        download(url, dest, "cuda-driver", size=1000)
    assert time.monotonic() - started < 5  # the silent body was never waited for
    assert refused.value.exit_code == 1 and not dest.exists()
    assert f"1000 bytes expected (the matrix's or lock's size), the server announces {10 * 1024**3} bytes" in str(
        refused.value
    )


def test_a_body_of_exactly_the_known_size_passes(http_server, payload, tmp_path: Path) -> None:
    http_server.files["/f"] = payload
    dest = tmp_path / "f.partial"
    download(http_server.url("/f"), dest, "f", size=len(payload))
    assert dest.read_bytes() == payload


def test_a_partial_file_larger_than_the_known_size_is_discarded_not_resumed(http_server, payload, tmp_path) -> None:
    http_server.files["/f"] = payload
    dest = tmp_path / "f.partial"
    dest.write_bytes(b"y" * (len(payload) + 10))  # left by a server that sent another file
    download(http_server.url("/f"), dest, "f", size=len(payload))
    assert http_server.requests == [("/f", None)]  # no Range: the partial file was dropped first
    assert dest.read_bytes() == payload


def test_a_mirror_file_larger_than_the_known_size_is_not_copied(tmp_path: Path) -> None:
    source, dest = tmp_path / "mirror" / "f.pkg", tmp_path / "f.partial"
    source.parent.mkdir()
    source.write_bytes(b"z" * 5000)
    with pytest.raises(EgpuError) as refused:
        download(source.as_uri(), dest, "f.pkg", size=4000)
    assert refused.value.exit_code == 1 and not dest.exists()
    assert "4000 bytes expected" in str(refused.value) and "the mirror's file holds 5000 bytes" in str(refused.value)


def test_the_lock_records_the_size_on_first_pin_and_bounds_the_next_download(http_server, payload, tmp_path) -> None:
    """cuda_driver 387.128: no published digest or size, so the lock's pin (digest and size) is what bounds it."""
    artifact = load_matrix().artifacts[("cuda_driver", "387.128")]
    assert artifact.size is None and artifact.sha256 is None
    http_server.files["/drv.dmg"] = payload
    lock = Lock.load(tmp_path / "egpu-setup.lock")
    Cache(tmp_path / "c1").ensure(artifact, lock=lock, url=http_server.url("/drv.dmg"))
    lock.save()
    entry = Lock.load(lock.path).entries["cuda_driver@387.128"]
    assert (entry.origin, entry.size) == ("pinned", len(payload))
    assert f"size: {len(payload)}" in lock.path.read_text()

    http_server.files["/drv.dmg"] = payload + b"an appended login page"  # the server now sends something longer
    fresh = Cache(tmp_path / "c2")
    with pytest.raises(EgpuError) as refused:
        fresh.ensure(artifact, lock=Lock.load(lock.path), url=http_server.url("/drv.dmg"))
    assert refused.value.exit_code == 1
    assert f"{len(payload)} bytes expected" in str(refused.value)
    assert f"the server announces {len(payload) + 22} bytes" in str(refused.value)
    assert not list((tmp_path / "c2").rglob("*.part")) and not fresh.has(entry.sha256)  # nothing kept


def test_the_overlay_size_bounds_and_a_same_size_other_file_is_the_digest_refusal(http_server, payload, lab, tmp_path):
    overlay = lab(**{"python3@3.11.9": {"sha256": "a" * 64, "size": len(payload), "url": http_server.url("/py")}})
    artifact = load_matrix(overlay=overlay).artifacts[("python3", "3.11.9")]
    http_server.files["/py"] = payload  # the right size, the wrong bytes
    with pytest.raises(EgpuError) as wrong:
        Cache(tmp_path / "c").ensure(artifact, lock=Lock.load(tmp_path / "egpu-setup.lock"))
    assert "checksum mismatch" in str(wrong.value) and "bytes expected" not in str(wrong.value)
    http_server.files["/py"] = payload + b"!"
    with pytest.raises(EgpuError, match=f"{len(payload)} bytes expected"):
        Cache(tmp_path / "c").ensure(artifact, lock=Lock.load(tmp_path / "egpu-setup.lock"))
