"""The rehearsal Macs over real SSH: sshd per host, an inventory shaped like inventory/example, host keys checked,
reboots drop the server, and `lab down` leaves nothing running."""

from __future__ import annotations

import io
import subprocess
import time
from pathlib import Path

import psutil
import pytest
import yaml

from egpu_lab import sshd
from egpu_lab.lab import Lab, LabOptions
from egpu_setup.cli import main

pytestmark = pytest.mark.lab
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def lab(tmp_path):
    lab = Lab(tmp_path / "lab")
    lab.up(LabOptions(hosts=1, reboot_seconds=2.0, mirror=False))
    yield lab
    lab.down()


def ssh(lab: Lab, command: str, *options: str) -> subprocess.CompletedProcess[str]:
    base = sshd.ssh_dir(lab.dir)
    return subprocess.run(
        ["ssh", "-p", str(sshd.port_of(lab.dir, "mac1")), "-i", str(base / sshd.KEY), "-o", "BatchMode=yes",
         "-o", f"UserKnownHostsFile={base / 'known_hosts'}", *options, "admin@127.0.0.1", command],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip


def test_ssh_sw_vers_answers_like_a_mac_with_a_macs_ssh_environment(lab):
    r = ssh(lab, "sw_vers")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "ProductName:\tMac OS X\nProductVersion:\t10.13.2\nBuildVersion:\t17C88\n"
    r = ssh(lab, 'echo "$PATH|$USER|$HOME|$SHELL|$(pwd)|$(id -un)"; command -v python; python --version')
    env = "/usr/bin:/bin:/usr/sbin:/sbin|admin|/Users/admin|/bin/bash|/Users/admin|admin"
    assert r.stdout.splitlines()[:2] == [env, "/usr/bin/python"]
    assert "Python 2.7.10" in r.stderr


def test_keys_and_files_of_the_lab(lab):
    base = sshd.ssh_dir(lab.dir)
    assert (base / sshd.KEY).stat().st_mode & 0o777 == 0o600
    port = sshd.port_of(lab.dir, "mac1")
    host_key = (base / "mac1" / f"{sshd.HOST_KEY}.pub").read_text().split()[:2]
    assert (base / "known_hosts").read_text().split() == [f"[127.0.0.1]:{port}", *host_key]


def test_sftp_and_scp_land_in_the_macs_tree(lab, tmp_path):
    src = tmp_path / "payload.txt"
    src.write_text("over ssh\n")
    base = sshd.ssh_dir(lab.dir)
    common = ["-P", str(sshd.port_of(lab.dir, "mac1")), "-i", str(base / sshd.KEY),
              "-o", f"UserKnownHostsFile={base / 'known_hosts'}", "-o", "BatchMode=yes"]  # fmt: skip
    r = subprocess.run(["scp", *common, str(src), "admin@127.0.0.1:/tmp/scp.txt"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(["sftp", "-b", "-", *common, "admin@127.0.0.1"], input=f"put {src} sftp.txt\n",
                       capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 0, r.stderr
    root = lab.hosts_dir / "mac1/root"
    assert (root / "private/tmp/scp.txt").read_text() == "over ssh\n"
    assert (root / "Users/admin/sftp.txt").read_text() == "over ssh\n"


def test_the_lab_inventory_has_the_shape_of_the_example(lab):
    example = yaml.safe_load((ROOT / "inventory/example/hosts.yml").read_text())
    example_vars = yaml.safe_load((ROOT / "inventory/example/group_vars/all.yml").read_text())
    ours = yaml.safe_load(lab.inventory.read_text())
    ours_vars = yaml.safe_load(lab.group_vars.read_text())
    assert list(example) == list(ours) == ["all"] and list(ours["all"]) == list(example["all"]) == ["children"]
    (example_group,) = example["all"]["children"].values()
    (our_group,) = ours["all"]["children"].values()
    host_keys = {"ansible_host", "ansible_port"}
    assert all(set(h) - {"egpu_profile"} <= host_keys for h in example_group["hosts"].values())
    assert all(set(h) == host_keys for h in our_group["hosts"].values())
    connection = {"ansible_user", "ansible_become", "ansible_become_method", "ansible_python_interpreter"}
    assert {k: example_vars[k] for k in connection} == {k: ours_vars[k] for k in connection}
    assert "ansible_connection" not in ours_vars  # Ansible's default: ssh
    assert f"UserKnownHostsFile={sshd.ssh_dir(lab.dir) / 'known_hosts'}" in ours_vars["ansible_ssh_common_args"]
    assert "StrictHostKeyChecking" not in ours_vars["ansible_ssh_common_args"]  # checked as ansible.cfg asks


def test_a_host_whose_key_changed_is_refused_by_ansible(lab, tmp_path, ansible):
    r = ansible("mac1", "-i", str(lab.inventory), "-m", "ansible.builtin.raw", "-a", "true", cwd=tmp_path)
    assert r.returncode == 0, r.stdout
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    known = sshd.ssh_dir(lab.dir) / "known_hosts"
    known.write_text(known.read_text().split(" ssh-ed25519 ")[0] + " " + " ".join(
        Path(f"{other}.pub").read_text().split()[:2]) + "\n")  # fmt: skip
    subprocess.run(["ssh", "-O", "exit", "-o", f"ControlPath={sshd.control_dir(lab.dir)}/%h-%p-%r",
                    "-p", str(sshd.port_of(lab.dir, "mac1")), "admin@127.0.0.1"], capture_output=True)  # fmt: skip
    r = ansible("mac1", "-i", str(lab.inventory), "-m", "ansible.builtin.raw", "-a", "true", cwd=tmp_path)
    assert r.returncode == 4, r.stdout  # unreachable
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in r.stdout + r.stderr
    assert "Host key verification failed" in r.stdout + r.stderr
    # egpu-setup's runs too (ansible-runner would turn the check off unless told otherwise)
    out, err = io.StringIO(), io.StringIO()
    code = main(["plan", "-i", str(lab.inventory), "--json"], stdout=out, stderr=err)
    assert code != 0
    assert "Host key verification failed" in out.getvalue() + err.getvalue()


def test_an_unknown_user_is_refused(lab, tmp_path, ansible):
    r = ansible("mac1", "-i", str(lab.inventory), "-m", "ansible.builtin.raw", "-a", "id -un", "-e", "ansible_user=bob",
                "-e", "ansible_become=false", cwd=tmp_path)  # fmt: skip
    assert r.returncode == 4
    assert "Permission denied" in r.stdout


def test_a_reboot_drops_sshd_until_the_mac_is_back(lab):
    assert ssh(lab, "sudo shutdown -r now").returncode in (0, 255)
    time.sleep(0.6)
    r = ssh(lab, "true")
    assert r.returncode == 255 and "Connection refused" in r.stderr
    deadline = time.monotonic() + 15
    while ssh(lab, "true").returncode != 0:
        assert time.monotonic() < deadline, "the Mac did not come back after its reboot delay"
        time.sleep(0.3)
    assert lab.sandbox("mac1").machine.read().boot.count == 2
    with lab.sandbox("mac1").machine.edit() as st:
        st.faults.reboot_hangs = True
    ssh(lab, "sudo reboot")
    time.sleep(3)  # past the reboot delay: the Mac never comes back
    assert "Connection refused" in ssh(lab, "true").stderr


def test_no_session_outlives_a_boot_an_instant_reboot_or_lab_update(tmp_path):
    """With no reboot delay the Mac is down for no poll of the supervisor: it still ends the server and every
    session of the old boot (a ControlPersist master too), and `lab update` waits for the new boot's server."""
    lab = Lab(tmp_path / "lab")
    lab.up(LabOptions(hosts=1, reboot_seconds=0.0, mirror=False))
    try:
        master = ("-o", "ControlMaster=auto", "-o", f"ControlPath={tmp_path}/cm", "-o", "ControlPersist=60")
        assert ssh(lab, "true", *master).returncode == 0
        assert ssh(lab, "true", "-o", f"ControlPath={tmp_path}/cm", "-O", "check").returncode == 0
        outcome = lab.update("mac1", "17C205")
        assert outcome.build == "17C205" and lab.sandbox("mac1").machine.read().boot.count == 2
        check = ssh(lab, "true", "-o", f"ControlPath={tmp_path}/cm", "-O", "check")
        assert check.returncode != 0  # the master of the old boot is gone
        r = ssh(lab, "sw_vers -buildVersion")  # and the new boot's server answers at once
        assert (r.returncode, r.stdout) == (0, "17C205\n"), r.stderr
    finally:
        lab.down()


def test_down_leaves_no_sshd_supervisor_socket_or_control_master(tmp_path, ansible):
    lab = Lab(tmp_path / "lab")
    lab.up(LabOptions(hosts=2, reboot_seconds=0.0, mirror=False))
    r = ansible("all", "-i", str(lab.inventory), "-m", "ansible.builtin.raw", "-a", "true", cwd=tmp_path)
    assert r.returncode == 0, r.stdout
    control = sshd.control_dir(lab.dir)
    assert len(list((sshd.ssh_dir(lab.dir) / "cp").iterdir())) == 2  # ControlPersist masters, one per Mac
    masters = [p for p in psutil.process_iter(["cmdline"]) if any(str(control) in a for a in p.info["cmdline"] or [])]
    assert masters
    lab.down()
    markers = (str(lab.dir), str(control))
    leftover = [p.info for p in psutil.process_iter(["pid", "cmdline"])
                if any(m in a for a in p.info["cmdline"] or [] for m in markers)]  # fmt: skip
    assert leftover == []
    assert not control.is_symlink() and not (lab.dir / "ssh").exists()
    assert [p for p in lab.dir.rglob("*") if p.is_socket()] == []


def test_a_command_may_outlast_ansibles_connect_timeout(tmp_path, ansible):
    # -T is ssh's connect timeout (ConnectTimeout): an MXNet build takes minutes, and -T must not cut it short.
    # (The old connection's own per-command limit, egpu_rehearsal_command_timeout, went with it: ssh has none.)
    lab = Lab(tmp_path / "lab")
    lab.up(LabOptions(hosts=1, reboot_seconds=0.0, mirror=False))
    r = ansible("mac1", "-i", str(lab.inventory), "-T", "1", "-m", "ansible.builtin.raw", "-a", "sleep 2; echo done",
                cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0 and "done" in r.stdout, r.stdout
    lab.down()


def test_down_stops_a_command_still_running_in_a_host(tmp_path):
    lab = Lab(tmp_path / "lab")
    lab.up(LabOptions(hosts=1, reboot_seconds=0.0, mirror=False))
    sandbox = lab.sandbox("mac1")
    hung = subprocess.Popen(sandbox.argv(["/bin/sh", "-c", "sleep 300"]), start_new_session=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(
        p.name() == "sleep" for p in psutil.Process(hung.pid).children(recursive=True)
    ):
        time.sleep(0.05)
    killed = lab.down()
    assert hung.pid in killed
    hung.wait(timeout=10)  # gone long before its 300 s
    leftover = [p for p in psutil.process_iter(["cmdline"]) if any(str(lab.dir) in a for a in p.info["cmdline"] or [])]
    assert leftover == []
    assert [line for line in Path("/proc/mounts").read_text().splitlines() if str(lab.dir) in line] == []
