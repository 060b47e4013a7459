"""fix-rpaths never blocks on a FIFO and never takes an unreadable library for a skip: a FIFO named is exit 2, one
found in a walk is skipped and listed; an unreadable file (named or walked) is exit 2 with nothing changed; after
a failed run the files not written say "not done", never "did"."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

MX = "/opt/mxnet/lib/libmxnet.so"


def digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def test_a_fifo_named_directly_is_exit_2_without_blocking(cli, tmp_path):
    fifo = tmp_path / "libfifo.dylib"
    os.mkfifo(fifo)
    res = cli("fix-rpaths", str(fifo))
    assert res.code == 2 and "Traceback" not in res.err
    assert f"error: {fifo}: a FIFO (named pipe)" in res.err and "fix: name a Mach-O executable" in res.err


def test_a_fifo_in_a_walk_is_skipped_and_listed(cli, mac_tree, built):
    root = mac_tree(files={MX: built.mxnet})
    os.mkfifo(root / "opt/mxnet/lib/pipe")
    res = cli("fix-rpaths", "--root", str(root), "/opt/mxnet", "--json")
    assert res.code == 0, res.err
    doc = json.loads(res.out)
    assert [f["mac_path"] for f in doc["files"]] == [MX] and doc["files"][0]["status"] == "fixed"
    assert {Path(s["path"]).name: s["why"] for s in doc["skipped"]} == {"pipe": "a FIFO (named pipe)"}


pytestmark = pytest.mark.usefixtures("no_hang")  # a read that blocks fails the test, not the suite


def _deny(monkeypatch, name: str) -> None:
    """As a file mode 000 is for a user other than root (the tests may run as root, who reads everything)."""
    import egpu_setup.files as files

    real_open = files.os.open

    def guarded(path, flags, *args, **kwargs):
        if Path(path).name == name:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(files.os, "open", guarded)


def test_an_unreadable_library_in_a_walk_is_exit_2_and_nothing_changes(cli, mac_tree, built, monkeypatch):
    root = mac_tree(files={MX: built.mxnet, "/opt/mxnet/lib/libsecret.dylib": built.weak})
    _deny(monkeypatch, "libsecret.dylib")
    before = digests(root)
    res = cli("fix-rpaths", "--root", str(root), "/opt/mxnet")
    assert res.code == 2, res.err
    assert "libsecret.dylib: cannot read: Permission denied" in res.err and "fix: make the file readable" in res.err
    assert "not loadable Mach-O" not in res.err + res.out and "Traceback" not in res.err
    assert "nothing was changed" in res.err
    assert "did:" not in res.out  # the plan of libmxnet.so was not carried out
    assert "not done: add LC_RPATH" in res.out
    assert digests(root) == before


def test_an_unreadable_file_named_is_exit_2(cli, mac_tree, built, monkeypatch):
    root = mac_tree(files={MX: built.mxnet})
    _deny(monkeypatch, "libmxnet.so")
    before = digests(root)
    res = cli("fix-rpaths", "--root", str(root), MX)
    assert res.code == 2 and f"{MX}: cannot read: Permission denied" in res.err and "Traceback" not in res.err
    assert digests(root) == before


def test_after_a_failed_write_the_files_not_written_do_not_say_did(cli, mac_tree, built):
    # nopad cannot take the new load command (exit 2): the other file's plan is not carried out
    root = mac_tree(files={MX: built.mxnet_nopad, "/opt/other/libmxnet.so": built.mxnet})
    before = digests(root)
    res = cli("fix-rpaths", "--root", str(root), "--tool", "builtin", "/opt/other/libmxnet.so", MX)
    assert res.code == 2
    assert "did:" not in res.out and "not done: add LC_RPATH" in res.out
    assert digests(root) == before
