"""The egpu.mac.build_archive module run by real Ansible (`ansible localhost -m ...`): pack in check mode, pack,
pack again, then install the archive under another root, twice."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from egpu_setup.builds.archive import MANIFEST, build_key

ANSIBLE = Path(sys.executable).with_name("ansible")
INPUTS = {"cuda": "9.1.128", "cuda_arch": ["61"]}
KEY = build_key("mxnet", "1.0.0", INPUTS)

pytestmark = pytest.mark.skipif(not ANSIBLE.exists(), reason="ansible is not installed next to this Python")


def module(tmp_path: Path, args: dict[str, Any], *flags: str) -> tuple[str, dict[str, Any]]:
    """Ansible's status word and the module's result."""
    env = {
        **os.environ,
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-local"),
        "ANSIBLE_REMOTE_TEMP": str(tmp_path / "ansible-remote"),
    }
    proc = subprocess.run(
        [str(ANSIBLE), "localhost", "-e", f"ansible_python_interpreter={sys.executable}",
         "-m", "egpu.mac.build_archive", "-a", json.dumps(args), *flags],
        capture_output=True, text=True, cwd=tmp_path, env=env, check=False, timeout=120,
    )  # fmt: skip
    match = re.search(r"^localhost \| (\w+)!? => (\{.*?^\})", proc.stdout, re.S | re.M)
    assert match, proc.stdout + proc.stderr
    return match.group(1), json.loads(match.group(2))


def test_pack_then_install_elsewhere(tmp_path: Path) -> None:
    build = tmp_path / "build/mxnet-1.0.0"
    (build / "lib").mkdir(parents=True)
    (build / "lib/libmxnet.so").write_bytes(b"\xcf\xfa\xed\xfe" + b"built once" * 100)
    (build / "python/mxnet").mkdir(parents=True)
    (build / "python/mxnet/__init__.py").write_text("__version__ = '1.0.0'\n")
    dest = tmp_path / "out/mxnet-build.tar.gz"
    packing = {"state": "packed", "root": str(build), "key": KEY, "members": ["lib/libmxnet.so", "python/mxnet"],
               "version": "1.0.0", "inputs": INPUTS, "dest": str(dest)}  # fmt: skip

    status, checked = module(tmp_path, packing, "--check")
    assert (status, checked["changed"]) == ("CHANGED", True)
    assert not (tmp_path / "out").exists() and not (build / MANIFEST).exists()  # check mode writes nothing

    status, packed = module(tmp_path, packing)
    assert (status, packed["changed"], packed["files"]) == ("CHANGED", True, 2)
    assert packed["sha256"] == checked["sha256"] == hashlib.sha256(dest.read_bytes()).hexdigest()
    assert packed["size"] == dest.stat().st_size and (build / MANIFEST).is_file()

    status, again = module(tmp_path, packing)
    assert (status, again["changed"], again["sha256"]) == ("SUCCESS", False, packed["sha256"])
    assert sorted(p.name for p in dest.parent.iterdir()) == [dest.name]  # no .partial left behind

    mac = tmp_path / "mac/mxnet-1.0.0"
    installing = {"state": "unpacked", "root": str(mac), "key": KEY, "src": str(dest)}
    status, installed = module(tmp_path, installing)
    assert (status, installed["changed"]) == ("CHANGED", True)
    assert (mac / "lib/libmxnet.so").read_bytes() == (build / "lib/libmxnet.so").read_bytes()
    assert installed["file_sha256"] == packed["file_sha256"]
    assert module(tmp_path, installing)[1]["changed"] is False

    status, failed = module(tmp_path, {**packing, "members": ["lib/libmxnet.dylib"]})
    assert status == "FAILED" and "lib/libmxnet.dylib is missing" in failed["msg"] and failed["fix"] == "build again"
    assert sorted(p.name for p in dest.parent.iterdir()) == [dest.name]  # the failed pack left no .partial
