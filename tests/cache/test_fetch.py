"""`cache fetch` against a real HTTP server: resume, checksum mismatch, 404, lock pinning, mirrors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from egpu_setup.cache import Cache, Lock
from egpu_setup.errors import EgpuError
from egpu_setup.matrix import load_matrix


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def dirs(tmp_path: Path) -> dict[str, Path]:
    return {"cache": tmp_path / "cache", "lock": tmp_path / "inventory" / "egpu-setup.lock"}


def _fetch(cli, dirs, *extra: str):
    return cli("cache", "fetch", "--cache-dir", str(dirs["cache"]), "--lock", str(dirs["lock"]), *extra)


def test_cut_connection_is_resumed_with_range(cli, http_server, payload, lab, dirs) -> None:
    http_server.files["/py.pkg"] = payload
    http_server.cuts["/py.pkg"] = (1_000_000, 1)  # the first response dies after 1 MB
    overlay = lab(**{"python3@3.11.9": {"sha256": _sha(payload)}})
    result = _fetch(
        cli, dirs, "--overlay", str(overlay), "--only", "python3", "--url", f"python3={http_server.url('/py.pkg')}"
    )
    assert result.code == 0, result.err
    assert http_server.requests == [("/py.pkg", None), ("/py.pkg", "bytes=1000000-")]
    stored = Cache(dirs["cache"]).path_for(_sha(payload))
    assert stored.read_bytes() == payload
    assert not any((dirs["cache"] / "partial").iterdir())


def test_partial_download_survives_a_failed_run(cli, http_server, payload, lab, dirs) -> None:
    http_server.files["/py.pkg"] = payload
    http_server.cuts["/py.pkg"] = (1_000_000, 99)  # the link keeps dying at 1 MB
    overlay = lab(**{"python3@3.11.9": {"sha256": _sha(payload)}})
    args = ("--overlay", str(overlay), "--only", "python3", "--url", f"python3={http_server.url('/py.pkg')}")
    first = _fetch(cli, dirs, *args)
    assert first.code == 1
    assert "interrupted" in first.err and "run the same command again" in first.err
    (partial,) = (dirs["cache"] / "partial").iterdir()
    assert partial.stat().st_size == 1_000_000
    http_server.cuts.clear()
    http_server.requests.clear()
    second = _fetch(cli, dirs, *args)
    assert second.code == 0, second.err
    assert http_server.requests == [("/py.pkg", "bytes=1000000-")]  # only the rest was fetched
    assert Cache(dirs["cache"]).path_for(_sha(payload)).read_bytes() == payload


def test_server_without_range_support_restarts_the_file(cli, http_server, payload, lab, dirs) -> None:
    http_server.files["/py.pkg"] = payload
    http_server.cuts["/py.pkg"] = (1_000_000, 1)
    http_server.ignore_range = True  # the retry gets 200 and the whole file, which must replace the partial one
    overlay = lab(**{"python3@3.11.9": {"sha256": _sha(payload)}})
    result = _fetch(
        cli, dirs, "--overlay", str(overlay), "--only", "python3", "--url", f"python3={http_server.url('/py.pkg')}"
    )
    assert result.code == 0, result.err
    assert http_server.requests[1] == ("/py.pkg", "bytes=1000000-")
    assert Cache(dirs["cache"]).path_for(_sha(payload)).read_bytes() == payload


def test_checksum_mismatch_keeps_nothing_and_names_both_digests(cli, http_server, payload, lab, dirs) -> None:
    http_server.files["/py.pkg"] = payload
    expected = _sha(b"the real installer")
    overlay = lab(**{"python3@3.11.9": {"sha256": expected}})
    result = _fetch(
        cli, dirs, "--overlay", str(overlay), "--only", "python3", "--url", f"python3={http_server.url('/py.pkg')}"
    )
    assert result.code == 1
    assert "python-3.11.9-macos11.pkg" in result.err
    assert expected in result.err and _sha(payload) in result.err
    assert not (dirs["cache"] / "sha256").exists() or not any((dirs["cache"] / "sha256").iterdir())
    assert not any((dirs["cache"] / "partial").iterdir())
    assert "Traceback" not in result.err


def test_404_is_a_clear_error(cli, http_server, dirs) -> None:
    result = _fetch(cli, dirs, "--only", "cuda_driver", "--url", f"cuda_driver={http_server.url('/gone.dmg')}")
    assert result.code == 2 and result.err.startswith("error: ")  # no empty progress area before it
    assert "HTTP 404" in result.err and http_server.url("/gone.dmg") in result.err
    assert "--url ID=URL" in result.err and "Traceback" not in result.err


def test_unpublished_checksum_is_pinned_then_a_different_file_refused(cli, http_server, payload, dirs) -> None:
    url = http_server.url("/cudadriver_387.128_macos.dmg")
    http_server.files["/cudadriver_387.128_macos.dmg"] = payload
    assert _fetch(cli, dirs, "--only", "cuda_driver", "--url", f"cuda_driver={url}").code == 0
    entry = Lock.load(dirs["lock"]).entries["cuda_driver@387.128"]
    assert (entry.sha256, entry.origin) == (_sha(payload), "pinned")

    # The server now hands out another file; a fresh cache must not accept it.
    other = payload[::-1]
    http_server.files["/cudadriver_387.128_macos.dmg"] = other
    dirs["cache"] = dirs["cache"].with_name("fresh-cache")
    result = _fetch(cli, dirs, "--only", "cuda_driver", "--url", f"cuda_driver={url}")
    assert result.code == 2
    assert _sha(payload) in result.err and _sha(other) in result.err
    assert "delete the 'cuda_driver@387.128' entry" in result.err
    assert Lock.load(dirs["lock"]).entries["cuda_driver@387.128"].sha256 == _sha(payload)  # lock unchanged


def test_second_fetch_uses_the_cache(cli, http_server, payload, lab, dirs) -> None:
    http_server.files["/py.pkg"] = payload
    overlay = lab(**{"python3@3.11.9": {"sha256": _sha(payload), "url": http_server.url("/py.pkg")}})
    assert _fetch(cli, dirs, "--overlay", str(overlay), "--only", "python3").code == 0
    assert _fetch(cli, dirs, "--overlay", str(overlay), "--only", "python3").code == 0
    assert len(http_server.requests) == 1
    assert Lock.load(dirs["lock"]).entries["python3@3.11.9"].origin == "published"


def test_mirror_with_file_urls(cli, tmp_path, payload, lab, dirs) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "python-3.11.9-macos11.pkg").write_bytes(payload)
    overlay = lab(**{"python3@3.11.9": {"sha256": _sha(payload)}})
    result = _fetch(cli, dirs, "--overlay", str(overlay), "--only", "python3", "--mirror", mirror.as_uri())
    assert result.code == 0, result.err
    assert Cache(dirs["cache"]).path_for(_sha(payload)).read_bytes() == payload


def test_files_behind_a_login_get_a_manual_download_message(cli, dirs) -> None:
    result = _fetch(cli, dirs, "--only", "cudnn")
    assert result.code == 2  # an input only the user can supply: bad input, as under plan and provision
    assert not dirs["lock"].exists()  # nothing was verified, so no lock file appears
    assert "cudnn 7.0.5 (cudnn-9.1-osx-x64-v7-ga.tgz) has no download URL" in result.err
    assert "egpu-setup cache add cudnn-9.1-osx-x64-v7-ga.tgz" in result.err


def test_python_api_ensure_returns_the_content_addressed_path(http_server, payload, lab, tmp_path) -> None:
    http_server.files["/py.pkg"] = payload
    overlay = lab(**{"python3@3.11.9": {"sha256": _sha(payload), "url": http_server.url("/py.pkg")}})
    artifact = load_matrix(overlay=overlay).resolve("17C88").artifacts["python3"]
    assert artifact is not None
    cache, lock = Cache(tmp_path / "c"), Lock.load(tmp_path / "egpu-setup.lock")
    path = cache.ensure(artifact, lock=lock)
    assert path == tmp_path / "c" / "sha256" / _sha(payload)
    index = json.loads((tmp_path / "c" / "index.json").read_text())
    assert index[_sha(payload)] == {"id": "python3", "version": "3.11.9", "filename": "python-3.11.9-macos11.pkg",
                                    "size": len(payload)}  # fmt: skip
    assert lock.get(artifact) is not None and not lock.path.exists()  # saving is the caller's decision


def test_bad_url_override_is_a_usage_error(cli, dirs) -> None:
    result = _fetch(cli, dirs, "--url", "nvidia=http://x")
    assert result.code == 2 and "expected ID=URL" in result.err


def test_unknown_scheme_is_refused(tmp_path) -> None:
    from egpu_setup.cache.download import download

    with pytest.raises(EgpuError, match=r"is not an http://, https:// or file:// URL"):
        download("ftp://example.org/x.pkg", tmp_path / "x.part", label="x.pkg")


def test_fetch_for_a_build_takes_only_what_its_resolution_needs(cli, dirs) -> None:
    result = _fetch(cli, dirs, "--build", "17G65", "--only", "egpu_support")
    assert result.code == 0
    assert "egpu_support is not needed on this build" in result.err


def test_fetch_native_profile_needs_a_build(cli, dirs) -> None:
    result = _fetch(cli, dirs, "--profile", "native")
    assert result.code == 2 and "--build 17C88" in result.err


def test_ctrl_c_keeps_what_arrived_and_the_next_run_resumes(cli, http_server, payload, lab, dirs) -> None:
    import os
    import signal
    import threading
    import time

    http_server.files["/py.pkg"] = payload
    http_server.trickle_s = 0.05  # about 1.3 MB/s: the whole transfer would take 2 s
    overlay = lab(**{"python3@3.11.9": {"sha256": _sha(payload), "url": http_server.url("/py.pkg")}})
    args = ("--overlay", str(overlay), "--only", "python3")
    partial_dir = dirs["cache"] / "partial"

    def ctrl_c_once_bytes_arrive() -> None:  # Ctrl-C is SIGINT to the process: KeyboardInterrupt in the main thread
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if partial_dir.is_dir() and any(p.stat().st_size for p in partial_dir.iterdir()):
                os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.005)

    watcher = threading.Thread(target=ctrl_c_once_bytes_arrive)
    watcher.start()
    try:
        first = _fetch(cli, dirs, *args)
    finally:
        watcher.join()
    assert first.code == 130
    assert first.err.splitlines()[-2:] == [
        "error: interrupted",
        "fix: run the same command again to carry on (cut downloads resume; provisioning skips what is done)",
    ]
    (partial,) = (dirs["cache"] / "partial").iterdir()
    kept = partial.stat().st_size
    assert 0 < kept < len(payload)
    assert not dirs["lock"].exists()  # nothing was verified, so nothing is pinned

    http_server.trickle_s = 0.0
    http_server.requests.clear()
    second = _fetch(cli, dirs, *args)
    assert second.code == 0, second.err
    assert http_server.requests == [("/py.pkg", f"bytes={kept}-")]
    assert Cache(dirs["cache"]).path_for(_sha(payload)).read_bytes() == payload
