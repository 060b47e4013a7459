"""FileVault and a password-asking sudo on rehearsal Macs: `lab up --filevault / --sudo-password`, `lab unlock`,
fdesetup, sudo's prompt, and the connection answering sudo with the become password."""

from __future__ import annotations

import json
import plistlib

import pytest

from egpu_lab import accounts, boot, facts
from egpu_lab.lab import PASSWORD_ENV, Lab
from egpu_lab.macos import fdesetup as fdesetup_cmd
from egpu_lab.macos import sudo as sudo_cmd

pytestmark = pytest.mark.lab

PASSWORD = "s3cret pass"  # a space, as real passwords may have


def plist(password: str) -> bytes:
    return plistlib.dumps({"Username": "admin", "Password": password})


@pytest.fixture
def locked(tmp_path, cli, monkeypatch):
    """One host with FileVault on and a sudo that asks for the password, made through the CLI."""
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    directory = tmp_path / "lab"
    r = cli("lab", "up", "--dir", str(directory), "--hosts", "1", "--reboot-seconds", "0", "--no-mirror",
            "--filevault", "--sudo-password")  # fmt: skip
    assert r.code == 0, r.err
    assert "FileVault on, sudo asks for the password" in r.out
    yield Lab(directory)
    Lab(directory).down()


def sh(lab: Lab, command: str, user: str = "admin", input: bytes | None = None) -> tuple[int, str, str]:
    proc = lab.sandbox("mac1").run(command, user=user, input=input)
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


# --- lab up / status --------------------------------------------------------------------------------------------


def test_fdesetup_answers_like_a_filevault_mac_and_the_password_is_nowhere_in_the_lab(locked, cli):
    assert sh(locked, "fdesetup status") == (0, "FileVault is On.\n", "")
    assert sh(locked, "fdesetup isactive") == (0, "true\n", "")
    assert sh(locked, "fdesetup supportsauthrestart") == (0, "true\n", "")
    rc, out, _ = sh(locked, "fdesetup list", user="root")
    assert rc == 0 and out.startswith("admin,") and len(out.strip().split(",")[1]) == 36
    assert sh(locked, "fdesetup list")[0] == 1  # root only
    status = json.loads(cli("lab", "status", "--dir", str(locked.dir), "--json").out)
    host = status["hosts"][0]
    assert (host["filevault"], host["sudo_asks_password"]) == (True, True)
    assert status["options"]["admin_password"] is True and "password_hash" not in status["options"]
    for path in locked.dir.rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert PASSWORD.encode() not in path.read_bytes(), path


def test_a_default_lab_has_filevault_off_and_passwordless_sudo(make_host):
    host = make_host()
    assert host.sh("fdesetup status").out == "FileVault is Off.\n"
    assert (host.sh("fdesetup isactive").rc, host.sh("fdesetup isactive").out) == (1, "false\n")
    assert host.sh("sudo -n id -un").out == "root\n"
    assert "NOPASSWD: ALL" in (host.root / "private/etc/sudoers").read_text()


def test_status_shows_the_conversion_line_while_encrypting(make_host):
    host = make_host(filevault=True, password_hash=accounts.hash_password(PASSWORD))
    with host.machine.edit() as st:
        st.filevault.conversion = "Encryption in progress: Percent completed = 42.1"
    assert host.sh("fdesetup status").out == "FileVault is On.\nEncryption in progress: Percent completed = 42.1\n"


def test_filevault_and_sudo_password_need_a_password_and_never_take_it_on_the_command_line(
    tmp_path, cli, monkeypatch
):
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    r = cli("lab", "up", "--dir", str(tmp_path / "lab"), "--no-mirror", "--filevault")
    assert r.code == 2
    assert "no password given for the lab's admin account, which --filevault needs" in r.err
    assert "--password-file FILE, or the environment variable EGPU_LAB_PASSWORD" in r.err
    assert not (tmp_path / "lab" / "lab.json").exists()
    r = cli("lab", "up", "--dir", str(tmp_path / "lab"), "--no-mirror", "--sudo-password", "hunter2")
    assert r.code == 2 and "unrecognized arguments: hunter2" in r.err
    empty = tmp_path / "empty"
    empty.write_text("")
    r = cli("lab", "up", "--dir", str(tmp_path / "lab"), "--no-mirror", "--filevault", "--password-file", str(empty))
    assert r.code == 2 and "is empty" in r.err


def test_password_file_is_read_and_reset_keeps_filevault_and_the_password(tmp_path, cli, monkeypatch):
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    secret = tmp_path / "secret"
    secret.write_text(PASSWORD + "\n")
    directory = tmp_path / "lab"
    r = cli("lab", "up", "--dir", str(directory), "--no-mirror", "--hosts", "1", "--reboot-seconds", "0",
            "--filevault", "--password-file", str(secret))  # fmt: skip
    assert r.code == 0, r.err
    lab = Lab(directory)
    assert sh(lab, "sudo -n id -un") == (0, "root\n", "")  # --filevault alone keeps NOPASSWD
    assert cli("lab", "reset", "--dir", str(directory)).code == 0
    assert sh(lab, "fdesetup status")[1] == "FileVault is On.\n"
    assert sh(lab, "fdesetup authrestart -delayminutes -1 -inputplist", user="root", input=plist(PASSWORD))[0] == 0
    lab.down()


# --- the unlock screen ------------------------------------------------------------------------------------------


def test_a_plain_restart_waits_at_the_unlock_screen_until_lab_unlock(locked, cli, monkeypatch):
    machine = locked.sandbox("mac1").machine
    assert sh(locked, "shutdown -r now", user="root")[0] == 0
    with pytest.raises(boot.HostDown, match="waiting at the FileVault unlock screen") as down:
        locked.sandbox("mac1").ensure_up()
    assert "egpu-setup lab unlock mac1" in down.value.fix
    status = json.loads(cli("lab", "status", "--dir", str(locked.dir), "--json").out)
    assert status["hosts"][0]["state"] == "locked (FileVault unlock screen)"

    monkeypatch.setenv(PASSWORD_ENV, "wrong")
    r = cli("lab", "unlock", "mac1", "--dir", str(locked.dir))
    assert r.code == 2 and "refuses that password" in r.err
    assert machine.read().boot.unlock_pending

    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    r = cli("lab", "unlock", "mac1", "--dir", str(locked.dir))
    assert r.code == 0, r.err
    assert sh(locked, "true")[0] == 0
    assert machine.read().boot.count == 2
    r = cli("lab", "unlock", "mac1", "--dir", str(locked.dir))
    assert r.code == 2 and "not waiting at the FileVault unlock screen" in r.err


def test_authrestart_restarts_once_without_the_unlock_screen(locked):
    machine = locked.sandbox("mac1").machine
    rc, out, err = sh(locked, "fdesetup authrestart -inputplist", user="root", input=plist(PASSWORD))
    assert (rc, out) == (0, "") and fdesetup_cmd.RESTARTING in err
    state = machine.read()
    assert state.boot.pending and not state.boot.unlock_pending
    assert sh(locked, "true")[0] == 0  # came back by itself
    assert machine.read().boot.count == 2
    # The key is used up: the next plain restart stops at the screen again.
    sh(locked, "shutdown -r now", user="root")
    with pytest.raises(boot.HostDown, match="unlock screen"):
        locked.sandbox("mac1").ensure_up()


def test_authrestart_delay_minus_one_arms_the_next_plain_restart(locked):
    rc, out, err = sh(locked, "fdesetup authrestart -delayminutes -1 -inputplist", user="root",
                      input=plist(PASSWORD))  # fmt: skip
    assert (rc, out, err) == (0, "", "")
    assert not locked.sandbox("mac1").machine.read().boot.pending  # armed, not restarted
    sh(locked, "shutdown -r now", user="root")
    assert sh(locked, "true")[0] == 0
    assert locked.sandbox("mac1").machine.read().boot.count == 2


def test_authrestart_refuses_a_wrong_password_a_non_root_user_and_no_terminal(locked):
    machine = locked.sandbox("mac1").machine
    assert sh(locked, "fdesetup authrestart -inputplist", user="root", input=plist("wrong")) == (
        1, "", "Error: Unable to unlock FileVault.\n"
    )  # fmt: skip
    assert sh(locked, "fdesetup authrestart -inputplist", input=plist(PASSWORD))[0] == 1  # admin, not root
    rc, _, err = sh(locked, "fdesetup authrestart", user="root")  # asks on a terminal; a command has none
    assert rc == 1 and "Enter the user name:" in err
    state = machine.read()
    assert not state.boot.pending and not state.filevault.authrestart_armed


def test_authrestart_on_a_mac_without_filevault_fails(make_host):
    host = make_host(password_hash=accounts.hash_password(PASSWORD))
    result = host.sh("fdesetup authrestart -inputplist", user="root", input=plist(PASSWORD))
    assert result.rc == 1 and not host.machine.read().boot.pending


# --- sudo -------------------------------------------------------------------------------------------------------


def test_sudo_asks_for_the_password_like_macos_sudo(locked):
    assert sh(locked, "sudo -n id -un") == (1, "", "sudo: a password is required\n")
    # the lecture comes before sudo looks for a terminal (check.c display_lecture, then tgetpass)
    assert sh(locked, "sudo id -un") == (1, "", sudo_cmd.LECTURE + sudo_cmd.NO_TTY + "\n")
    # The first prompt comes after macOS's lecture; the password is read up to the newline, the rest is the command's.
    rc, out, err = sh(locked, "sudo -S sh -c 'id -un; cat'", input=f"{PASSWORD}\nrest of stdin\n".encode())
    assert (rc, out) == (0, "root\nrest of stdin\n")
    assert err == sudo_cmd.LECTURE + "Password: "
    assert (locked.sandbox("mac1").root / "private/var/db/sudo/lectured/admin").is_file()
    assert sh(locked, "sudo -S -p 'PW:' id -un", input=f"{PASSWORD}\n".encode()) == (0, "root\n", "PW:")  # lectured
    assert sh(locked, "sudo -S -p 'PW:' true", input=b"one\ntwo\nthree\n") == (
        1, "", "PW:Sorry, try again.\nPW:Sorry, try again.\nPW:sudo: 3 incorrect password attempts\n"
    )  # fmt: skip
    assert sh(locked, "sudo -S -p 'PW:' true", input=b"one\n") == (
        1, "", "PW:Sorry, try again.\nPW:sudo: 1 incorrect password attempt\n"
    )  # fmt: skip
    assert sh(locked, "sudo -S -p 'PW:' true", input=PASSWORD.encode()) == (1, "", "PW:")  # no newline: no password
    assert sh(locked, "sudo -n -u admin id -un") == (0, "admin\n", "")  # to oneself: no password
    assert sh(locked, "sudo -n id -un", user="root") == (0, "root\n", "")


def test_sudo_texts_are_the_facts_tables():
    assert facts.value("sudo", "prompt") == sudo_cmd.PROMPT
    assert facts.value("sudo", "bad_password") == sudo_cmd.BAD_PASSWORD
    assert facts.value("sudo", "password_required") == sudo_cmd.PASSWORD_REQUIRED
    assert facts.value("sudo", "no_tty") == sudo_cmd.NO_TTY
    assert facts.value("sudo", "tries") == sudo_cmd.TRIES
    assert facts.value("sudo", "lecture") == sudo_cmd.LECTURE
    assert facts.value("filevault", "status_on") == fdesetup_cmd.STATUS_ON
    assert facts.value("filevault", "status_off") == fdesetup_cmd.STATUS_OFF
    assert facts.value("filevault", "unlock_failed") == fdesetup_cmd.UNLOCK_FAILED
    assert facts.value("filevault", "prompt_password") == fdesetup_cmd.PROMPT_PASSWORD


# --- the connection and Ansible's reboot on such a Mac --------------------------------------------------------------


def test_the_connection_answers_sudo_with_the_become_password(locked, tmp_path, ansible):
    inventory = str(locked.inventory)
    raw = ("-m", "ansible.builtin.raw", "-a", "id -un")
    r = ansible("mac1", "-i", inventory, *raw, cwd=tmp_path)
    assert r.returncode != 0
    # Ansible's ssh connection's own message (egpu-setup's runner adds the -K fix: test_e2e_access)
    assert "Missing sudo password" in r.stdout
    r = ansible("mac1", "-i", inventory, *raw, "-e", "ansible_become_password=wrong", cwd=tmp_path)
    assert r.returncode != 0 and "Incorrect sudo password" in r.stdout
    r = ansible("mac1", "-i", inventory, *raw, "-e", f"ansible_become_password='{PASSWORD}'", cwd=tmp_path)
    assert r.returncode == 0, r.stdout
    # raw runs in a terminal (ssh -tt), where sudo's lecture shows as on a Mac; the password is not echoed
    lines = [line for line in r.stdout.splitlines() if line.strip()]
    assert lines[-2:] == ["root", "Shared connection to 127.0.0.1 closed."]
    assert PASSWORD not in r.stdout
    # an action plugin that sends input after the prompt (the plist of egpu.mac.authrestart)
    r = ansible("mac1", "-i", inventory, "-m", "egpu.mac.authrestart", "-e", f"ansible_become_password='{PASSWORD}'",
                cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stdout
    assert locked.sandbox("mac1").machine.read().filevault.authrestart_armed


@pytest.mark.slow
def test_ansible_reboot_of_a_filevault_mac_stops_at_the_unlock_screen_unless_armed(
    locked, tmp_path, ansible, python3, cli, monkeypatch
):
    inventory = str(locked.inventory)
    become = f"ansible_become_password='{PASSWORD}'"
    py = f"ansible_python_interpreter={python3(locked.dir / 'hosts/mac1/root')}"
    r = ansible("mac1", "-i", inventory, "-m", "ansible.builtin.reboot", "-a", "reboot_timeout=3", "-e", py, "-e",
                become, cwd=tmp_path, timeout=120)  # fmt: skip
    assert r.returncode != 0
    # Over SSH a Mac at its unlock screen refuses connections (no sshd runs before the disk is unlocked)
    assert "Connection refused" in r.stdout + r.stderr
    status = json.loads(cli("lab", "status", "--dir", str(locked.dir), "--json").out)
    assert status["hosts"][0]["state"] == "locked (FileVault unlock screen)"
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    assert cli("lab", "unlock", "mac1", "--dir", str(locked.dir)).code == 0

    r = ansible("mac1", "-i", inventory, "-m", "egpu.mac.authrestart", "-e", become, cwd=tmp_path)
    assert r.returncode == 0, r.stdout
    r = ansible("mac1", "-i", inventory, "-m", "ansible.builtin.reboot", "-a", "reboot_timeout=30", "-e", py, "-e",
                become, cwd=tmp_path, timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert '"rebooted": true' in r.stdout
    assert locked.sandbox("mac1").machine.read().boot.count == 3
