"""The lab end to end: `egpu-setup lab ...` and plain `ansible` against its inventory (real subprocesses)."""

from __future__ import annotations

import json
from pathlib import Path

import psutil
import pytest
import yaml

from egpu_lab.lab import Lab

pytestmark = pytest.mark.lab


def mounts_under(path: Path) -> list[str]:
    return [line for line in Path("/proc/mounts").read_text().splitlines() if str(path) in line]


def sandbox_processes(path: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if any(str(path) in arg for arg in (proc.info.get("cmdline") or [])):
            found.append(proc)
    return found


@pytest.fixture
def lab_dir(tmp_path, cli):
    directory = tmp_path / "lab"
    r = cli("lab", "up", "--dir", str(directory), "--hosts", "2", "--reboot-seconds", "0", "--no-mirror")
    assert r.code == 0, r.err
    yield directory
    if Lab(directory).exists():
        cli("lab", "down", "--dir", str(directory))


def test_acceptance_raw_sw_vers_on_both_hosts_then_down_leaves_nothing(tmp_path, cli, ansible):
    directory = tmp_path / "lab"
    r = cli("lab", "up", "--dir", str(directory), "--hosts", "2", "--no-mirror")
    assert r.code == 0, r.err
    result = ansible("all", "-i", str(directory / "inventory.yml"), "-m", "ansible.builtin.raw", "-a", "sw_vers",
                     cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    for host in ("mac1", "mac2"):
        block = result.stdout[result.stdout.index(f"{host} | CHANGED | rc=0 >>") :]
        assert "ProductVersion:\t10.13.2" in block.split("\n\n")[0]
        assert "BuildVersion:\t17C88" in block.split("\n\n")[0]
    r = cli("lab", "down", "--dir", str(directory))
    assert r.code == 0, r.err
    assert not (directory / "hosts").exists() and not (directory / "inventory.yml").exists()
    assert (directory / "cache").is_dir()
    assert mounts_under(directory) == []
    assert sandbox_processes(directory) == []


def test_inventory_and_group_vars(lab_dir):
    inventory = yaml.safe_load((lab_dir / "inventory.yml").read_text())
    hosts = inventory["all"]["children"]["rehearsal_macs"]["hosts"]
    assert list(hosts) == ["mac1", "mac2"]
    port = int((lab_dir / "ssh/mac2/port").read_text())
    assert hosts["mac2"] == {"ansible_host": "127.0.0.1", "ansible_port": port}
    group_vars = yaml.safe_load((lab_dir / "group_vars/all.yml").read_text())
    assert group_vars["egpu_cache_dir"] == str(lab_dir / "cache")
    assert group_vars["egpu_lock_file"] == str(lab_dir / "egpu-setup.lock")
    assert "egpu_matrix_overlay" not in group_vars  # --no-mirror: no stand-ins, so no overlay to name
    assert group_vars["ansible_become"] is True


def test_status_json_and_faults(lab_dir, cli):
    r = cli("lab", "status", "--dir", str(lab_dir), "--json")
    data = json.loads(r.out)
    assert data["kind"] == "lab_status" and [h["name"] for h in data["hosts"]] == ["mac1", "mac2"]
    mac1 = data["hosts"][0]
    assert (mac1["state"], mac1["build"], mac1["sip"], mac1["gpu_driver"]) == ("up", "17C88", "enabled", "apple")
    assert cli("lab", "fault", "mac1", "--dir", str(lab_dir), "--disk-full", "--fail-install", "2").code == 0
    faults = json.loads(cli("lab", "status", "--dir", str(lab_dir), "--json").out)["hosts"][0]["faults"]
    assert faults == {
        "fail_install": 2, "fail_download": None, "disk_full": True, "reboot_hangs": False, "lose_after": None,
        "disk_full_at": None, "fail_build": None,
    }
    assert cli("lab", "fault", "mac1", "--dir", str(lab_dir), "--clear").code == 0
    faults = json.loads(cli("lab", "status", "--dir", str(lab_dir), "--json").out)["hosts"][0]["faults"]
    assert not any(faults.values())
    r = cli("lab", "fault", "mac9", "--dir", str(lab_dir), "--disk-full")
    assert r.code == 2 and "no host 'mac9'" in r.err
    assert cli("lab", "fault", "mac1", "--dir", str(lab_dir), "--fail-download", "0").code == 2


def test_bad_input_is_refused_without_a_traceback(tmp_path, cli, lab_dir):
    r = cli("lab", "up", "--dir", str(tmp_path / "other"), "--build", "99Z99")
    assert r.code == 2 and "unknown macOS build '99Z99'" in r.err and "Traceback" not in r.err
    assert not (tmp_path / "other" / "lab.json").exists()
    r = cli("lab", "up", "--dir", str(tmp_path / "other"), "--hosts", "0")
    assert r.code == 2 and "--hosts must be between 1 and 32" in r.err and "starting" not in r.err
    r = cli("lab", "up", "--dir", str(tmp_path / "other"), "--sip", "half")
    assert r.code == 2 and "invalid choice" in r.err
    r = cli("lab", "up", "--dir", str(lab_dir))
    assert r.code == 2 and "already up" in r.err
    r = cli("lab", "status", "--dir", str(tmp_path / "nothing"))
    assert r.code == 2 and "no lab at" in r.err
    assert "fix: give --hosts 1 to 32" in cli("lab", "up", "--dir", str(tmp_path / "other"), "--hosts", "40").err


@pytest.mark.parametrize("damage", ["{", '{"options": {"hosts": 1, "colour": "red"}}', "{}"])
def test_a_damaged_lab_record_is_named_and_down_still_cleans_up(lab_dir, cli, damage):
    (lab_dir / "lab.json").write_text(damage)
    for verb in ("status", "reset"):
        r = cli("lab", verb, "--dir", str(lab_dir))
        assert r.code == 2, r.err
        assert "lab.json is damaged" in r.err and "fix: `egpu-setup lab down" in r.err and "Traceback" not in r.err
    assert cli("lab", "down", "--dir", str(lab_dir)).code == 0
    assert not (lab_dir / "hosts").exists()


def test_non_default_build_and_options_reach_the_host(tmp_path, cli):
    directory = tmp_path / "lab"
    r = cli("lab", "up", "--dir", str(directory), "--hosts", "1", "--build", "17E199", "--sip", "kext-off",
            "--gpu", "none", "--reboot-seconds", "0", "--no-mirror")  # fmt: skip
    assert r.code == 0, r.err
    sandbox = Lab(directory).sandbox("mac1")
    out = sandbox.run("sw_vers -productVersion; sysctl -n kern.osversion; uname -r; csrutil status | head -1").stdout
    assert out.decode().splitlines() == [
        "10.13.4",
        "17E199",
        "17.5.0",
        "System Integrity Protection status: enabled (Custom Configuration).",
    ]
    assert b"NVIDIA" not in sandbox.run("system_profiler SPDisplaysDataType").stdout
    assert cli("lab", "down", "--dir", str(directory)).code == 0


def test_allow_kexts_records_the_users_approval(lab_dir, cli):
    r = cli("lab", "allow-kexts", "mac1", "--dir", str(lab_dir))
    assert r.code == 0, r.err
    assert Lab(lab_dir).sandbox("mac1").machine.read().kext_consent == ["6KR3T733EC"]
    assert Lab(lab_dir).sandbox("mac2").machine.read().kext_consent == []
    r = cli("lab", "allow-kexts", "mac1", "--team", "NOPE", "--dir", str(lab_dir))
    assert r.code == 2 and "unknown kext team 'NOPE'" in r.err and "6KR3T733EC" in r.err


def test_reset_brings_hosts_back_to_bare(lab_dir, cli):
    lab = Lab(lab_dir)
    sandbox = lab.sandbox("mac1")
    assert sandbox.run("sudo nvram nvda_drv=1 && sudo touch /Library/Extensions/x").returncode == 0
    assert cli("lab", "reset", "--dir", str(lab_dir)).code == 0
    assert sandbox.machine.read().nvram == {}
    assert not (sandbox.root / "Library/Extensions/x").exists()
    assert sandbox.run("sw_vers -buildVersion").stdout == b"17C88\n"


@pytest.mark.slow
def test_become_put_fetch_and_the_fail_download_fault(lab_dir, tmp_path, ansible, python3, cli):
    inventory = str(lab_dir / "inventory.yml")
    interpreter = python3(lab_dir / "hosts/mac1/root")
    py = f"ansible_python_interpreter={interpreter}"
    src = tmp_path / "payload.txt"
    src.write_text("stand-in payload\n")
    r = ansible("mac1", "-i", inventory, "-m", "ansible.builtin.copy", "-a", f"src={src} dest=/Library/x.txt",
                "-e", py, cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    placed = lab_dir / "hosts/mac1/root/Library/x.txt"
    assert placed.read_text() == "stand-in payload\n" and placed.stat().st_uid == 0  # become: root owns it
    r = ansible("mac1", "-i", inventory, "-m", "ansible.builtin.fetch", "-a",
                f"src=/System/Library/CoreServices/SystemVersion.plist dest={tmp_path}/fetched/ flat=true",
                "-e", py, cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert b"17C88" in (tmp_path / "fetched/SystemVersion.plist").read_bytes()

    assert cli("lab", "fault", "mac1", "--dir", str(lab_dir), "--fail-download", "1").code == 0
    src.write_text("changed\n")
    r = ansible("mac1", "-i", inventory, "-m", "ansible.builtin.copy", "-a", f"src={src} dest=/Library/x.txt",
                "-e", py, cwd=tmp_path)  # fmt: skip
    assert r.returncode != 0
    assert "fault switch fail-download" in r.stdout + r.stderr
    assert placed.read_text() == "stand-in payload\n"


def test_modules_fail_with_an_interpreter_error_before_python3_is_there(lab_dir, tmp_path, ansible):
    inventory = str(lab_dir / "inventory.yml")
    # the lab's inventory names the tools venv's python (as inventory/example), not there before the bootstrap
    r = ansible("mac1", "-i", inventory, "-m", "ansible.builtin.ping", cwd=tmp_path)
    assert r.returncode != 0
    assert "The module interpreter '/usr/local/egpu-setup/venv/bin/python3' was not found" in r.stdout + r.stderr
    # Ansible's own discovery finds no python3 on a bare High Sierra Mac
    discover = "ansible_python_interpreter=auto_silent"
    r = ansible("mac1", "-i", inventory, "-m", "ansible.builtin.ping", "-e", discover, cwd=tmp_path)
    assert r.returncode != 0
    assert "The module interpreter '/usr/bin/python3' was not found" in r.stdout + r.stderr
    py2 = "ansible_python_interpreter=/usr/bin/python"
    r = ansible("mac1", "-i", inventory, "-m", "ansible.builtin.ping", "-e", py2, cwd=tmp_path)
    assert r.returncode != 0
    assert "SyntaxError: future feature annotations is not defined" in r.stdout


@pytest.mark.slow
def test_ansible_reboot_action_waits_for_who_b_to_change(lab_dir, tmp_path, ansible, python3, cli):
    inventory = str(lab_dir / "inventory.yml")
    py = f"ansible_python_interpreter={python3(lab_dir / 'hosts/mac1/root')}"
    sandbox = Lab(lab_dir).sandbox("mac1")
    with sandbox.machine.edit() as st:
        st.boot.delay_s = 1.0
    before = sandbox.run("who -b").stdout
    r = ansible("mac1", "-i", inventory, "-m", "ansible.builtin.reboot", "-a", "reboot_timeout=30", "-e", py,
                cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert '"rebooted": true' in r.stdout
    assert sandbox.run("who -b").stdout != before
    assert sandbox.machine.read().boot.count == 2

    assert cli("lab", "fault", "mac1", "--dir", str(lab_dir), "--reboot-hangs").code == 0
    r = ansible("mac1", "-i", inventory, "-m", "ansible.builtin.reboot", "-a", "reboot_timeout=3", "-e", py,
                cwd=tmp_path, timeout=120)  # fmt: skip
    assert r.returncode != 0
    # Over SSH a Mac whose restart never ends refuses connections, as a real one does; the lab says why.
    assert "Connection refused" in r.stdout + r.stderr
    status = json.loads(cli("lab", "status", "--dir", str(lab_dir), "--json").out)
    assert status["hosts"][0]["state"] == "down (reboot hangs)"
    assert json.loads(cli("lab", "status", "--dir", str(lab_dir), "--json").out)["hosts"][0]["state"] == (
        "down (reboot hangs)"
    )


def test_clt_93_is_preinstalled_so_provisioning_must_replace_it(tmp_path, cli):
    directory = tmp_path / "lab"
    r = cli("lab", "up", "--dir", str(directory), "--hosts", "1", "--clt", "9.3", "--no-mirror")
    assert r.code == 0, r.err
    sandbox = Lab(directory).sandbox("mac1")
    out = sandbox.run("xcode-select -p; pkgutil --pkg-info com.apple.pkg.CLTools_Executables").stdout.decode()
    assert out.startswith("/Library/Developer/CommandLineTools\n")
    assert "version: 9.3.0.0.1.1521514116" in out
    assert cli("lab", "down", "--dir", str(directory)).code == 0


@pytest.mark.slow
def test_fault_switches_reach_the_hosts_installer_and_disk(tmp_path, cli):
    """`lab fault` as the installer (packaging's stand-in) and df see it: the Nth install fails, a full disk."""
    directory = tmp_path / "lab"
    assert cli("lab", "up", "--dir", str(directory), "--hosts", "1").code == 0
    lab = Lab(directory)
    group_vars = yaml.safe_load(lab.group_vars.read_text())
    assert group_vars["egpu_matrix_overlay"] == str(lab.overlay) and lab.overlay.is_file()
    packages = sorted(lab.mirror.glob("python-*.pkg"))
    assert packages, "the stand-in mirror has no Python package"
    sandbox = lab.sandbox("mac1")
    (sandbox.root / "private/tmp/py.pkg").write_bytes(packages[0].read_bytes())
    install = "installer -pkg /tmp/py.pkg -target /"
    assert cli("lab", "fault", "mac1", "--dir", str(directory), "--fail-install", "2").code == 0
    assert sandbox.run(install, user="root").returncode == 0
    second = sandbox.run(install, user="root")
    assert second.returncode == 1 and b"The install failed" in second.stdout + second.stderr
    assert sandbox.run(install, user="root").returncode == 0  # only the 2nd fails
    assert cli("lab", "fault", "mac1", "--dir", str(directory), "--disk-full").code == 0
    assert sandbox.run("df -k / | tail -1").stdout.split()[3] == b"0"
    assert sandbox.run(install, user="root").returncode == 1
    assert cli("lab", "down", "--dir", str(directory)).code == 0
