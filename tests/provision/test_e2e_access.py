"""End to end on rehearsal Macs that ask for passwords: a FileVault Mac is provisioned through an authenticated
restart or refused before any change, and a Mac whose sudo asks for the password converges with -K, the password
landing nowhere (run directory, the Mac's tree and journal, the process list)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import psutil
import pytest

from egpu_lab.accounts import hash_password

pytestmark = [pytest.mark.slow, pytest.mark.lab]

PASSWORD = "Corr3ct horse-battery"
ARM_TASK = "Arm FileVault's authenticated restart, so that the Mac comes back without the unlock screen"
RESTART_TASK = "Restart the Mac so that the drivers running are the ones installed"


class ProcessWatch:
    """Samples every process's command line (what `ps` shows, for any user) and environment while a run goes."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.seen: list[str] = []
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.is_set():
            for proc in psutil.process_iter(["pid", "cmdline", "environ"]):
                fields = [*(proc.info.get("cmdline") or []), *(proc.info.get("environ") or {}).values()]
                if any(self.secret in field for field in fields):
                    self.seen.append(" ".join(proc.info.get("cmdline") or []))
            self.samples += 1
            self._stop.wait(0.2)

    def __enter__(self) -> ProcessWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def files_holding(root: Path, secret: str) -> list[Path]:
    found = []
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            path = Path(dirpath) / name
            if path.is_symlink() or not path.is_file():
                continue
            if secret.encode() in path.read_bytes():
                found.append(path)
    return found


@pytest.fixture(scope="module")
def guarded(tmp_path_factory, make_lab):
    """One Mac with FileVault on whose sudo asks for the account password (`lab up --filevault --sudo-password`)."""
    with make_lab(
        tmp_path_factory.mktemp("guarded"), filevault=True, sudo_password=True, password_hash=hash_password(PASSWORD)
    ) as lab:
        yield lab
    print("\naccess e2e runs:", lab.runs)


def test_without_K_provision_stops_at_sudo_before_any_change_and_names_K(guarded, digest_of):
    before = digest_of(guarded.host_dir("mac1"))

    code, report, err, _ = guarded.run("provision")

    assert code == 1, err
    host = report["hosts"]["mac1"]
    assert (host["failed"], host["changed"]) == (1, 0)
    (failure,) = host["failures"]
    # the first task that needs sudo: the Mac's run lock (egpu_common's run_lock.yml), taken before preflight
    assert failure["role"] == "egpu_common"
    assert "Missing sudo password" in failure["message"]
    assert "fix: the Mac's sudo asks for the account password" in failure["message"]
    assert "-K (--ask-become-pass)" in failure["message"]
    assert digest_of(guarded.host_dir("mac1")) == before


def test_with_K_provision_converges_through_an_authenticated_restart_and_the_password_stays_secret(
    guarded, monkeypatch
):
    import getpass

    asked: list[str] = []
    monkeypatch.setattr(getpass, "getpass", lambda prompt="", stream=None: asked.append(prompt) or PASSWORD)
    monkeypatch.setattr("egpu_setup.cli.run_command.has_terminal", lambda: True)  # -K prompts on a terminal only
    machine = guarded.machine("mac1")
    boots = machine.read().boot.count

    with ProcessWatch(PASSWORD) as watch:
        code, report, err, _ = guarded.run("provision", "-K")

    assert asked == ["BECOME password: "]
    assert code == 0, err + "\n".join(f["message"] for h in (report or {}).get("hosts", {}).values()
                                      for f in h["failures"])  # fmt: skip
    tasks = [change["task"] for change in report["hosts"]["mac1"]["changes"]]
    assert tasks.count(ARM_TASK) == 1 and tasks.count(RESTART_TASK) == 1
    assert tasks.index(ARM_TASK) < tasks.index(RESTART_TASK)
    state = machine.read()
    assert state.boot.count == boots + 1  # restarted once, and came back without anyone at the unlock screen
    assert not state.boot.pending and not state.boot.unlock_pending and not state.filevault.authrestart_armed
    assert state.boot.gpu_driver == "web", state.boot.notes
    assert report["hosts"]["mac1"]["verify"]["summary"]["outcome"] == "pass"

    run_dir = Path(report["run_dir"])
    assert (run_dir / "report.json").is_file() and (run_dir / "ansible.log").exists()
    assert files_holding(run_dir, PASSWORD) == []  # ansible.log, report.json, events, command, env
    assert files_holding(guarded.host_dir("mac1") / "root", PASSWORD) == []  # the journal, logs, the whole Mac
    assert files_holding(guarded.dir, PASSWORD) == []  # the lab itself (inventory, lab.json, machine state)
    assert PASSWORD not in json.dumps(report) and PASSWORD not in err  # egpu-setup's stdout (--json) and stderr
    assert watch.samples > 10 and watch.seen == []


def test_become_password_from_a_vault_file_without_K(guarded, tmp_path, monkeypatch):
    """ansible_become_password in a vault-encrypted host_vars file (Ansible's own way, never an extravar), its
    vault password in ANSIBLE_VAULT_PASSWORD_FILE: the converged Mac's re-run gets through sudo without -K."""
    vault_password = tmp_path / "vault-password"
    vault_password.write_text("vault-secret\n")
    host_vars = guarded.dir / "host_vars"
    host_vars.mkdir(exist_ok=True)
    secret = host_vars / "mac1.yml"
    secret.write_text(f"ansible_become_password: '{PASSWORD}'\n")
    vault = Path(sys.executable).with_name("ansible-vault")
    subprocess.run([str(vault), "encrypt", "--vault-password-file", str(vault_password), str(secret)], check=True,
                   capture_output=True)  # fmt: skip
    assert PASSWORD not in secret.read_text()
    monkeypatch.setenv("ANSIBLE_VAULT_PASSWORD_FILE", str(vault_password))
    try:
        code, report, err, _ = guarded.run("provision")
    finally:
        secret.unlink()

    assert code == 0, err + "\n".join(f["message"] for h in (report or {}).get("hosts", {}).values()
                                      for f in h["failures"])  # fmt: skip
    assert report["hosts"]["mac1"]["changed"] == 0
    assert files_holding(Path(report["run_dir"]), PASSWORD) == []
    assert PASSWORD not in json.dumps(report) and PASSWORD not in err


@pytest.fixture(scope="module")
def filevault_lab(tmp_path_factory, make_lab):
    """Two FileVault Macs with passwordless sudo: mac1 as it comes, mac2 told to refuse FileVault Macs."""
    with make_lab(
        tmp_path_factory.mktemp("filevault"), hosts=2, filevault=True, password_hash=hash_password(PASSWORD)
    ) as lab:
        host_vars = lab.dir / "host_vars"
        host_vars.mkdir()
        # A short reboot timeout, so that a regression (a plain restart of a FileVault Mac) fails in seconds.
        (host_vars / "mac1.yml").write_text("egpu_reboot_timeout: 20\n")
        (host_vars / "mac2.yml").write_text("egpu_reboot_timeout: 20\negpu_filevault_restart: refuse\n")
        yield lab


def test_a_filevault_mac_without_a_password_is_refused_before_any_change_with_the_remedy(filevault_lab, digest_of):
    before = {name: digest_of(filevault_lab.host_dir(name)) for name in ("mac1", "mac2")}

    code, report, err, _ = filevault_lab.run("provision")

    assert code == 1, err
    for name in ("mac1", "mac2"):
        host = report["hosts"][name]
        assert (host["failed"], host["changed"]) == (1, 0)
        assert digest_of(filevault_lab.host_dir(name)) == before[name]
        (failure,) = host["failures"]
        assert failure["role"] == "preflight"
        assert "FileVault is on (`fdesetup status`: FileVault is On.)" in failure["message"]
        assert "pre-boot unlock screen" in failure["message"] and "Nothing was changed." in failure["message"]
        assert "sudo fdesetup disable" in failure["message"]  # the other way out
        assert filevault_lab.machine(name).read().boot.count == 1
    no_password = report["hosts"]["mac1"]["failures"][0]["message"]
    assert "none was given" in no_password and "-K" in no_password and "egpu_filevault_password" in no_password
    refused = report["hosts"]["mac2"]["failures"][0]["message"]
    assert "egpu_filevault_restart is `refuse`" in refused
