"""The egpu.mac.build_archive module run by real Ansible (`ansible localhost -m ...`): pack in check mode, pack,
pack again, then install the archive under another root, twice."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from egpu_setup.builds.archive import MANIFEST, build_key

INPUTS = {"cuda": "9.1.128", "cuda_arch": ["61"]}
KEY = build_key("mxnet", "1.0.0", INPUTS)
Module = Callable[..., tuple[str, dict[str, Any]]]


@pytest.fixture
def module(ad_hoc: Module) -> Module:
    """egpu.mac.build_archive through `ansible localhost -m` (conftest's ad_hoc)."""
    return functools.partial(ad_hoc, "egpu.mac.build_archive")


def test_pack_then_install_elsewhere(module: Module, tmp_path: Path) -> None:
    build = tmp_path / "build/mxnet-1.0.0"
    (build / "lib").mkdir(parents=True)
    (build / "lib/libmxnet.so").write_bytes(b"\xcf\xfa\xed\xfe" + b"built once" * 100)
    (build / "python/mxnet").mkdir(parents=True)
    (build / "python/mxnet/__init__.py").write_text("__version__ = '1.0.0'\n")
    dest = tmp_path / "out/mxnet-build.tar.gz"
    packing = {"state": "packed", "root": str(build), "key": KEY, "members": ["lib/libmxnet.so", "python/mxnet"],
               "version": "1.0.0", "inputs": INPUTS, "dest": str(dest)}  # fmt: skip

    status, checked = module(packing, "--check")
    assert (status, checked["changed"]) == ("CHANGED", True)
    assert not (tmp_path / "out").exists() and not (build / MANIFEST).exists()  # check mode writes nothing

    status, packed = module(packing)
    assert (status, packed["changed"], packed["files"]) == ("CHANGED", True, 2)
    assert packed["sha256"] == checked["sha256"] == hashlib.sha256(dest.read_bytes()).hexdigest()
    assert packed["size"] == dest.stat().st_size and (build / MANIFEST).is_file()

    status, again = module(packing)
    assert (status, again["changed"], again["sha256"]) == ("SUCCESS", False, packed["sha256"])
    assert sorted(p.name for p in dest.parent.iterdir()) == [dest.name]  # no .partial left behind

    mac = tmp_path / "mac/mxnet-1.0.0"
    installing = {"state": "unpacked", "root": str(mac), "key": KEY, "src": str(dest)}
    status, installed = module(installing)
    assert (status, installed["changed"]) == ("CHANGED", True)
    assert (mac / "lib/libmxnet.so").read_bytes() == (build / "lib/libmxnet.so").read_bytes()
    assert installed["file_sha256"] == packed["file_sha256"]
    assert module(installing)[1]["changed"] is False

    status, failed = module({**packing, "members": ["lib/libmxnet.dylib"]})
    assert status == "FAILED" and "lib/libmxnet.dylib is missing" in failed["msg"] and failed["fix"] == "build again"
    assert sorted(p.name for p in dest.parent.iterdir()) == [dest.name]  # the failed pack left no .partial
