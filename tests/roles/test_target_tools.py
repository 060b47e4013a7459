"""The target tools bundle: reproducible (its digest is the installed state) and pure Python."""

from __future__ import annotations

import hashlib
import io
import tarfile

from ansible_collections.egpu.mac.plugins.action.target_tools import build_bundle


def test_bundle_is_reproducible_and_holds_only_sources() -> None:
    first, second = build_bundle(["egpu_setup", "macholib"]), build_bundle(["egpu_setup", "macholib"])
    assert hashlib.sha256(first).digest() == hashlib.sha256(second).digest()
    with tarfile.open(fileobj=io.BytesIO(first), mode="r:gz") as tar:
        names = tar.getnames()
        assert {member.mtime for member in tar.getmembers()} == {0}
    assert "egpu_setup/__init__.py" in names and "macholib/MachO.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".so"))]
    assert "egpu_setup/verify/report.schema.json" in names  # data files travel too
