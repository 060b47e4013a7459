"""Plans resolved on the controller: check mode downloads nothing, and lock writers never lose each other's pins."""

from __future__ import annotations

import hashlib
from pathlib import Path

from egpu_setup.cache import Lock
from egpu_setup.matrix import load_matrix
from egpu_setup.runner.plans import PlanInputs, resolve_all


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
    plan = resolved[inputs.key()]["plan"]
    assert "local_path" not in plan["artifacts"]["python3"]
    assert any("python3" in warning and "not in the cache" in warning for warning in plan["warnings"])


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
