"""The provisioning journal end to end on a real file tree: record, change everything, restore byte for byte."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ansible_collections.egpu.mac.plugins.module_utils import journal


def _seed(root: Path) -> None:
    (root / "etc").mkdir(parents=True)
    (root / "etc/profile").write_bytes(b"export A=1\n")
    os.chmod(root / "etc/profile", 0o640)
    (root / "Extensions/Old.kext").mkdir(parents=True)
    (root / "Extensions/Old.kext/Info.plist").write_text("<plist>old</plist>")
    os.symlink("Old.kext", root / "Extensions/current")


def test_track_change_restore_gives_back_the_same_tree(
    tmp_path: Path, local_action: object, digest_tree: Callable[[Path], dict]
) -> None:
    root, state = tmp_path / "root", str(tmp_path / "state")
    _seed(root)
    before = digest_tree(root)
    paths = [
        str(root / "etc/profile"),
        str(root / "Extensions"),
        str(root / "usr/local/cuda/lib/libcudnn.7.dylib"),
    ]
    first = journal.track(local_action, state, paths, check_mode=False)
    assert first["changed"]
    assert first["added"] == [str(root / "usr")]  # the topmost missing directory
    assert str(root / "etc/profile") in first["backed_up"]
    assert first["trees"] == [str(root / "Extensions")]
    # Recording again changes nothing: the first record of a path wins.
    assert journal.track(local_action, state, paths, check_mode=False)["changed"] is False

    # What provisioning does: patch, add, replace a link, create new trees.
    (root / "etc/profile").write_bytes(b"export A=1\n# BEGIN egpu-setup\nexport PATH=/usr/local/cuda/bin:$PATH\n")
    (root / "Extensions/Old.kext/Info.plist").write_text("<plist>patched</plist>")
    (root / "Extensions/NVDAStartupWeb.kext/Contents").mkdir(parents=True)
    (root / "Extensions/NVDAStartupWeb.kext/Contents/Info.plist").write_text("<plist>web</plist>")
    (root / "Extensions/current").unlink()
    os.symlink("NVDAStartupWeb.kext", root / "Extensions/current")
    (root / "usr/local/cuda/lib").mkdir(parents=True)
    (root / "usr/local/cuda/lib/libcudnn.7.dylib").write_bytes(b"\xcf\xfa\xed\xfe")
    marker = tmp_path / "undone"
    journal.record(local_action, state, f"undo\ttouch {marker}", check_mode=False)
    assert digest_tree(root) != before

    summary = journal.restore_all(local_action, state, check_mode=False)
    assert summary is not None and summary["mismatched"] == []
    assert digest_tree(root) == before
    assert marker.exists(), "the recorded undo command ran"
    assert not Path(state).exists(), "the journal is removed once everything matched"
    assert journal.restore_all(local_action, state, check_mode=False) is None


def test_check_mode_records_nothing(tmp_path: Path, local_action: object) -> None:
    root, state = tmp_path / "root", str(tmp_path / "state")
    _seed(root)
    result = journal.track(local_action, state, [str(root / "etc/profile")], check_mode=True)
    assert result["changed"] and result["backed_up"] == [str(root / "etc/profile")]
    assert not Path(state).exists()


def test_a_damaged_backup_keeps_the_journal(tmp_path: Path, local_action: object) -> None:
    root, state = tmp_path / "root", str(tmp_path / "state")
    _seed(root)
    journal.track(local_action, state, [str(root / "etc/profile")], check_mode=False)
    (root / "etc/profile").write_text("changed\n")
    for backup in (Path(state) / "files").iterdir():
        backup.write_text("bit rot\n")
    summary = journal.restore_all(local_action, state, check_mode=False)
    assert summary is not None and summary["mismatched"] == [str(root / "etc/profile")]
    assert Path(state, journal.JOURNAL).exists(), "a failed restore can be run again"


def test_journal_parsing_first_record_wins() -> None:
    text = "added\t/a\nbackup\tabc\t/f\nbackup\tdef\t/f\nnvram\tnvda_drv\tabsent\t\nnvram\tnvda_drv\tpresent\t1\n"
    records = journal.parse_journal(text)
    assert records.backups == {"/f": "abc"}
    assert records.nvram == {"nvda_drv": ("absent", "")}
    assert records.covers("/a/b/c") and not records.covers("/b")


def test_a_payloads_existing_directories_keep_their_mode_not_their_files(tmp_path: Path, local_action: object) -> None:
    root, state = tmp_path / "root", str(tmp_path / "state")
    _seed(root)
    os.chmod(root / "etc", 0o750)
    payload = [str(root / "etc"), str(root / "etc/new.conf")]
    result = journal.track(local_action, state, payload, check_mode=False, trees=False)
    assert result["trees"] == [] and result["backed_up"] == []
    assert result["added"] == [str(root / "etc/new.conf")]
    (root / "etc/new.conf").write_text("x")
    os.chmod(root / "etc", 0o755)  # an installer that sets the payload's mode on an existing directory
    journal.restore_all(local_action, state, check_mode=False)
    assert not (root / "etc/new.conf").exists()
    assert (root / "etc").stat().st_mode & 0o777 == 0o750


def test_kept_records_wait_for_a_second_pass(tmp_path: Path, local_action: object) -> None:
    root, state = tmp_path / "root", str(tmp_path / "state")
    _seed(root)
    python, kext = root / "Library/Frameworks/Python.framework", root / "Extensions/Web.kext"
    (root / "Library/Frameworks").mkdir(parents=True)
    journal.track(local_action, state, [str(python), str(kext)], check_mode=False, trees=False)
    python.mkdir(parents=True)
    kext.mkdir(parents=True)
    first = journal.restore_all(local_action, state, check_mode=False, keep=[str(root / "Library/Frameworks/Py*")])
    assert first is not None and first["kept"] == [str(python)]
    assert python.exists() and not kext.exists()
    second = journal.restore_all(local_action, state, check_mode=False)
    assert second is not None and second["removed"] == [str(python)]
    assert not python.exists() and not Path(state).exists()


def test_keeping_a_path_keeps_the_added_directory_above_it() -> None:
    assert journal.kept("/usr/local/egpu-setup", ["/usr/local/egpu-setup/venv"])
    assert journal.kept("/Library", ["/Library/Frameworks/Py*"])
    assert journal.kept("/private/var/db/receipts/org.python.x.plist", ["/private/var/db/receipts/org.python.*"])
    assert not journal.kept("/Library/Extensions/CUDA.kext", ["/Library/Frameworks/Py*", "/usr/local/bin/python3*"])


def test_ls_mode() -> None:
    assert journal.ls_mode("drwxr-xr-x") == 0o755
    assert journal.ls_mode("drwxrwxrwt") == 0o1777
    assert journal.ls_mode("drwxr-sr-T") == 0o3754
    assert journal.ls_mode("?") is None
