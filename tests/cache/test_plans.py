"""Plans resolved on the controller: check mode downloads nothing, and lock writers never lose each other's pins."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from egpu_setup.cache import Lock
from egpu_setup.matrix import load_matrix
from egpu_setup.runner.plans import PlanInputs, resolve_all, resolve_plan, resolve_saving_lock


def _inputs(tmp_path: Path, url: str, digest: str) -> PlanInputs:
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(f"artifacts:\n  - {{id: python3, version: 3.11.9, url: '{url}', sha256: {digest}}}\n")
    return PlanInputs(build="17C88", overlay=str(overlay), cache_dir=str(tmp_path / "cache"),
                      lock_file=str(tmp_path / "egpu-setup.lock"), urls={"python3": url})  # fmt: skip


def test_plan_in_check_mode_downloads_nothing_and_writes_no_lock(tmp_path, http_server):
    body = b"stand-in python installer\n"
    http_server.files["/python.pkg"] = body
    inputs = _inputs(tmp_path, http_server.url("/python.pkg"), hashlib.sha256(body).hexdigest())

    resolved = resolve_all({"mac1": inputs, "mac2": inputs}, fetch=False)

    assert http_server.requests == []
    assert not (tmp_path / "egpu-setup.lock").exists()
    # what it lacks is named, with the command that fetches it, rather than a plan without its installers
    refused = resolved[inputs.key()]
    assert "plan downloads nothing" in refused["error"] and "python-3.11.9-macos11.pkg (python3 3.11.9)" in refused[
        "error"
    ]
    assert "egpu-setup cache fetch --build" in refused["fix"]

    # once fetched (what `cache fetch` or provision does), the same check-mode resolution is served from the cache
    resolve_saving_lock(inputs, fetch=True, wanted=["python3"])
    served = len(http_server.requests)
    plan = resolve_plan(inputs, fetch=False, wanted=["python3"])
    assert served and len(http_server.requests) == served
    assert Path(plan["artifacts"]["python3"]["local_path"]).read_bytes() == body


def test_two_writers_of_one_lock_keep_both_entries(tmp_path):
    """Two hosts of different builds, each pinning its own artifact: the second save merges, nobody's pin is lost."""
    path = tmp_path / "egpu-setup.lock"
    artifacts = load_matrix().resolve("17C88").artifacts
    first, second = Lock.load(path), Lock.load(path)  # both loaded before either saved, as two forks did
    first.record(artifacts["webdriver"], "a" * 64)
    second.record(artifacts["cuda_driver"], "b" * 64)
    first.save()
    second.save()

    entries = Lock.load(path).entries
    assert entries[artifacts["webdriver"].key].sha256 == "a" * 64
    assert entries[artifacts["cuda_driver"].key].sha256 == "b" * 64
    assert (tmp_path / "egpu-setup.lock.lock").exists()  # the file lock beside it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["egpu-setup.lock", "egpu-setup.lock.lock"]  # no temp left


def test_two_hosts_of_different_builds_in_one_run_leave_both_in_the_lock(tmp_path, http_server):
    """Under profile native each build gets its own web driver: one resolve_all pins both in the one lock file."""
    builds = {"mac1": "17D47", "mac2": "17D102"}
    matrix = load_matrix()
    artifacts = {a.key: a for b in builds.values() for a in matrix.resolve(b, profile="native").artifacts.values() if a}
    lines = ["artifacts:"]
    for artifact in artifacts.values():  # a stand-in of every artifact, served on 127.0.0.1
        http_server.files[f"/{artifact.filename}"] = _stand_in(artifact.key)
        url = http_server.url(f"/{artifact.filename}")
        lines.append(f"  - {{id: {artifact.id}, version: '{artifact.version}', url: '{url}', "
                     f"sha256: {_sha256(artifact.key)}, sha512: null}}")  # fmt: skip
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("\n".join(lines) + "\n")
    lock_file = tmp_path / "egpu-setup.lock"
    inputs = {host: PlanInputs(build=build, profile="native", overlay=str(overlay), cache_dir=str(tmp_path / "cache"),
                               lock_file=str(lock_file)) for host, build in builds.items()}  # fmt: skip

    resolved = resolve_all(inputs, fetch=True)

    plans = {host: resolved[i.key()]["plan"] for host, i in inputs.items()}
    webdrivers = {host: plan["artifacts"]["webdriver"]["version"] for host, plan in plans.items()}
    assert webdrivers == {"mac1": "387.10.10.10.25.156", "mac2": "387.10.10.10.25.161"}
    entries = Lock.load(lock_file).entries
    for version in webdrivers.values():
        assert entries[f"webdriver@{version}"].sha256 == _sha256(f"webdriver@{version}")
    assert set(entries) == set(artifacts)  # every artifact of both hosts, each once


def _stand_in(key: str) -> bytes:
    return f"stand-in {key}\n".encode()


def _sha256(key: str) -> str:
    return hashlib.sha256(_stand_in(key)).hexdigest()


def test_a_gpu_id_that_is_no_hex_number_is_named_not_a_traceback(tmp_path):
    from egpu_setup.errors import EgpuError

    with pytest.raises(EgpuError, match=r"gpu '0xZZ' is not a PCI device id") as refused:
        resolve_plan(PlanInputs(build="17C88", gpu="0xZZ", cache_dir=str(tmp_path / "cache")), fetch=False)
    assert refused.value.fix and "0x1b80" in refused.value.fix


def test_a_saver_keeps_its_own_pin_of_an_artifact_another_saved_meanwhile(tmp_path):
    """Merging with what is on disk adds the others' entries; for one artifact both pinned, the saver's own digest
    (the one it just checked and used) is what it writes."""
    path = tmp_path / "egpu-setup.lock"
    webdriver = load_matrix().resolve("17C88").artifacts["webdriver"]
    first, second = Lock.load(path), Lock.load(path)
    first.record(webdriver, "a" * 64)
    first.save()
    second.record(webdriver, "b" * 64)
    second.save()
    assert Lock.load(path).entries[webdriver.key].sha256 == "b" * 64
