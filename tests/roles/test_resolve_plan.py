"""egpu.mac.resolve_plan's work: the matrix's plan with each artifact put in the cache and checked."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.egpu.mac.plugins.action.resolve_plan import resolve_and_fetch
from egpu_setup.errors import EgpuError


def _args(tmp_path: Path, **over: Any) -> dict[str, Any]:
    base = {
        "build": "17C88", "profile": "default", "overlay": None, "gpu": None, "allow_nearest": False,
        "cache_dir": str(tmp_path / "cache"), "lock_file": str(tmp_path / "egpu-setup.lock"), "mirror_url": None,
        "urls": {}, "fetch": [],
    }  # fmt: skip
    return {**base, **over}


def test_plan_for_17c88_fetches_the_asked_artifact_from_an_overlay_url(tmp_path: Path) -> None:
    pkg = tmp_path / "python-3.11.9-macos11.pkg"
    pkg.write_bytes(b"stand-in python installer\n")
    digest = hashlib.sha256(pkg.read_bytes()).hexdigest()
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(f"artifacts:\n  - {{id: python3, version: 3.11.9, url: 'file://{pkg}', sha256: {digest}}}\n")
    plan = resolve_and_fetch(_args(tmp_path, overlay=str(overlay), fetch=["python3"]))
    assert plan["webdriver_patch"] == {"required": True, "from": "17D47", "to": "17C88"}
    assert plan["cuda_arch_flags"] == "-gencode arch=compute_61,code=sm_61"
    local = Path(plan["artifacts"]["python3"]["local_path"])
    assert local.read_bytes() == pkg.read_bytes() and local.name == digest
    assert plan["artifacts"]["python3"]["local_sha256"] == digest
    assert "local_path" not in plan["artifacts"]["webdriver"]  # only what was asked is fetched
    assert digest in (tmp_path / "egpu-setup.lock").read_text()


def test_a_device_id_from_system_profiler_picks_the_gpu(tmp_path: Path) -> None:
    plan = resolve_and_fetch(_args(tmp_path, gpu="0x1b06"))
    assert plan["gpu"]["key"] == "gtx1080ti"


def test_a_build_outside_high_sierra_is_refused_with_a_remedy(tmp_path: Path) -> None:
    with pytest.raises(EgpuError) as refused:
        resolve_and_fetch(_args(tmp_path, build="16G29"))
    assert refused.value.fix
