"""A lab directory is recognised by its marker (.egpu-setup-lab), never by its name: a directory of the user's own
is refused by every lab verb and by --rehearse --lab-dir, with exit 2, before a byte is written or removed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from egpu_lab import marker
from egpu_lab.lab import Lab

pytestmark = pytest.mark.lab


def digests(root: Path) -> dict[str, str]:
    """Every entry under `root`: a file's SHA-256, a link's target, a directory's mark."""
    out: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink():
            out[key] = "-> " + str(path.readlink())
        elif path.is_file():
            out[key] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            out[key] = "dir"
    return out


@pytest.fixture
def users_dir(tmp_path: Path) -> Path:
    """A directory of the user's own: an inventory and its group_vars."""
    directory = tmp_path / "mine"
    (directory / "group_vars").mkdir(parents=True)
    (directory / "inventory.yml").write_text("macs:\n  hosts:\n    studio.local:\n")
    (directory / "group_vars" / "all.yml").write_text("egpu_profile: default\n")
    return directory


def assert_refused(result, directory: Path) -> None:
    assert result.code == 2, result.err
    assert "Traceback" not in result.err
    assert f"{directory} is not" in result.err and ".egpu-setup-lab" in result.err
    assert "fix: " in result.err


def test_lab_up_refuses_a_users_directory_and_writes_nothing(users_dir, cli):
    before = digests(users_dir)
    r = cli("lab", "up", "--dir", str(users_dir), "--hosts", "1", "--no-mirror")
    assert_refused(r, users_dir)
    assert "starting" not in r.err
    assert digests(users_dir) == before


@pytest.mark.parametrize(
    "verb",
    [["down"], ["status"], ["reset"], ["fault", "mac1", "--disk-full"], ["allow-kexts", "mac1"], ["unlock", "mac1"]],
)
def test_every_lab_verb_refuses_a_directory_without_the_marker(users_dir, cli, verb, monkeypatch):
    monkeypatch.setenv("EGPU_LAB_PASSWORD", "secret")
    before = digests(users_dir)
    r = cli("lab", *verb, "--dir", str(users_dir))
    assert_refused(r, users_dir)
    assert digests(users_dir) == before


@pytest.mark.parametrize("command", ["plan", "provision", "rollback"])
def test_rehearse_refuses_a_lab_dir_without_the_marker(users_dir, cli, command):
    before = digests(users_dir)
    r = cli(command, "--rehearse", "--lab-dir", str(users_dir))
    assert_refused(r, users_dir)
    assert digests(users_dir) == before


def test_a_damaged_marker_is_named_with_its_fix(tmp_path, cli):
    directory = tmp_path / "lab"
    directory.mkdir()
    (directory / marker.NAME).write_text('{"kind": "something else"}')
    r = cli("lab", "down", "--dir", str(directory))
    assert r.code == 2 and "Traceback" not in r.err
    assert f"the lab marker {directory / marker.NAME} is damaged" in r.err and "fix: " in r.err
    assert (directory / marker.NAME).read_text() == '{"kind": "something else"}'


def test_lab_up_writes_the_marker_first_and_down_keeps_only_cache_and_marker(tmp_path, cli):
    directory = tmp_path / "lab"
    assert cli("lab", "up", "--dir", str(directory), "--hosts", "1", "--reboot-seconds", "0", "--no-mirror").code == 0
    record = json.loads((directory / marker.NAME).read_text())
    assert record["kind"] == "egpu-setup-lab" and record["format"] == 1
    r = cli("lab", "down", "--dir", str(directory))
    assert r.code == 0, r.err
    assert sorted(p.name for p in directory.iterdir()) == sorted([marker.NAME, "cache"])
    # the directory is still the lab's: up again there is accepted (its cache reused)
    r = cli("lab", "up", "--dir", str(directory), "--hosts", "1", "--reboot-seconds", "0", "--no-mirror")
    assert r.code == 0, r.err
    assert cli("lab", "down", "--dir", str(directory)).code == 0


def test_lab_up_accepts_an_empty_directory(tmp_path, cli):
    directory = tmp_path / "empty"
    directory.mkdir()
    assert cli("lab", "up", "--dir", str(directory), "--hosts", "1", "--reboot-seconds", "0", "--no-mirror").code == 0
    assert (directory / marker.NAME).is_file()
    assert cli("lab", "down", "--dir", str(directory)).code == 0


def test_a_lab_made_before_the_marker_is_recognised_once_and_marked(tmp_path, cli):
    directory = tmp_path / "lab"
    assert cli("lab", "up", "--dir", str(directory), "--hosts", "1", "--reboot-seconds", "0", "--no-mirror").code == 0
    (directory / marker.NAME).unlink()  # as a lab of the old layout
    r = cli("lab", "status", "--dir", str(directory), "--json")
    assert r.code == 0, r.err
    assert (directory / marker.NAME).is_file()
    assert Lab(directory).exists()
    assert cli("lab", "down", "--dir", str(directory)).code == 0
