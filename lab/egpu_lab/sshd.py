"""Remote Login on the rehearsal Macs: one real OpenSSH server (Debian's sshd) per host, on 127.0.0.1.

Layout under `<lab>/ssh/` (made by `prepare`, removed by `lab down`):

    id_ed25519, id_ed25519.pub   the lab's key pair: what Ansible logs in with (private key mode 0600)
    known_hosts                  every host's key as `[127.0.0.1]:PORT`, the file the inventory points ssh at
    passwd                       the controller's /etc/passwd plus `admin`, bound over /etc/passwd for sshd only
    cp/                          ControlPersist sockets of Ansible's ssh connection (ansible_control_path_dir)
    supervisor.pid, .log         the supervisor (supervisor.py) that starts and stops the servers
    <host>/ssh_host_ed25519_key  the host's own key (made per host: a reset keeps it, a new lab has new ones)
    <host>/sshd_config, port     the server's configuration and its port
    <host>/sshd.log              the server's log (-e)

The design: sshd runs on the controller, not inside the Mac tree (a Mac tree has no Linux sshd, its privilege
separation user or /run), in a mount namespace of its own (bubblewrap) where /etc/passwd holds `admin`, uid 0, whose
login shell is `egpu_lab.ssh_login`: sshd authenticates with the lab key and hands the session to that shell,
which enters the host's sandbox as the simulated user admin (`/bin/bash -c COMMAND` there, as macOS's sshd runs
the user's shell). uid 0 because the sandbox, not the kernel, is what makes admin (docs/rehearsal.md).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from egpu_lab.layout import zig_cache_dir
from egpu_setup.errors import EgpuError

SSH_DIR = "ssh"
USER = "admin"
KEY = "id_ed25519"
HOST_KEY = "ssh_host_ed25519_key"
ADDRESS = "127.0.0.1"
# macOS 10.13's /etc/ssh/sshd_config names the sftp server here; the Mac tree links it to OpenSSH's (image.py).
SFTP_SERVER = "/usr/libexec/sftp-server"


def ssh_dir(lab_dir: Path) -> Path:
    return lab_dir / SSH_DIR


def host_dir(lab_dir: Path, name: str) -> Path:
    return ssh_dir(lab_dir) / name


def port_of(lab_dir: Path, name: str) -> int:
    return int((host_dir(lab_dir, name) / "port").read_text())


def sshd_path() -> str:
    found = shutil.which("sshd") or ("/usr/sbin/sshd" if os.path.exists("/usr/sbin/sshd") else None)
    if not found:
        raise EgpuError(
            "OpenSSH's server (sshd) is not installed; the rehearsal Macs' Remote Login needs it",
            fix="install it (Debian/Ubuntu: apt-get install openssh-server openssh-client); no service needs to run",
        )
    return found


def _keygen(path: Path, comment: str) -> None:
    path.unlink(missing_ok=True)
    Path(f"{path}.pub").unlink(missing_ok=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                   check=True, capture_output=True)  # fmt: skip
    os.chmod(path, 0o600)


def free_ports(count: int) -> list[int]:
    """`count` distinct free loopback ports (held open together while picked, so no two are the same)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((ADDRESS, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def prepare(lab_dir: Path, hosts: list[str]) -> None:
    """Keys, ports, configurations and known_hosts for the lab's hosts; a host that has a key keeps it."""
    sshd_path()
    base = ssh_dir(lab_dir)
    (base / "cp").mkdir(parents=True, exist_ok=True)
    link = control_dir(lab_dir)
    if link != base / "cp" and not link.is_symlink():
        link.symlink_to(base / "cp")
    os.chmod(base, 0o700)
    if not (base / KEY).exists():
        _keygen(base / KEY, f"egpu-setup lab {lab_dir}")
    (base / "passwd").write_text(_passwd(lab_dir))
    ports = free_ports(len(hosts))
    for name, port in zip(hosts, ports, strict=True):
        d = host_dir(lab_dir, name)
        d.mkdir(exist_ok=True)
        if not (d / HOST_KEY).exists():
            _keygen(d / HOST_KEY, name)
        if not (d / "port").exists():
            (d / "port").write_text(str(port))
        (d / "sshd_config").write_text(_config(lab_dir, name))
    write_known_hosts(lab_dir, hosts)


def write_known_hosts(lab_dir: Path, hosts: list[str]) -> None:
    lines = []
    for name in hosts:
        kind, key = (host_dir(lab_dir, name) / f"{HOST_KEY}.pub").read_text().split()[:2]
        lines.append(f"[{ADDRESS}]:{port_of(lab_dir, name)} {kind} {key}\n")
    (ssh_dir(lab_dir) / "known_hosts").write_text("".join(lines))


def control_dir(lab_dir: Path) -> Path:
    """Where Ansible's ControlPersist sockets go: `<lab>/ssh/cp`, reached through a short link in /tmp when that
    path is too long for a socket (sun_path holds 108 bytes; ssh adds `/<host>-<port>-<user>.` and 16 random
    characters while it binds). The sockets themselves are in the lab either way."""
    real = ssh_dir(lab_dir) / "cp"
    if len(str(real)) <= 60:
        return real
    import hashlib

    return Path("/tmp") / f"egpu-lab-cp-{hashlib.sha256(str(lab_dir).encode()).hexdigest()[:12]}"


def remove_control_link(lab_dir: Path) -> None:
    link = control_dir(lab_dir)
    if link.is_symlink():
        link.unlink()


def login_shell(lab_dir: Path) -> Path:
    return ssh_dir(lab_dir) / "login"


def _passwd(lab_dir: Path) -> str:
    """The controller's users (sshd's privilege separation user among them) and admin, whose shell enters a Mac."""
    shell = login_shell(lab_dir)
    shell.write_text(f"#!{sys.executable}\nfrom egpu_lab.ssh_login import main\nmain()\n")
    os.chmod(shell, 0o755)
    own = [line for line in Path("/etc/passwd").read_text().splitlines() if not line.startswith(f"{USER}:")]
    return "\n".join([*own, f"{USER}:x:0:0:Admin:{ssh_dir(lab_dir)}:{shell}"]) + "\n"


def _config(lab_dir: Path, name: str) -> str:
    d = host_dir(lab_dir, name)
    # SetEnv hands the session its Mac and the controller's zig cache (the one `lab up` sees: sessions get no
    # environment of ours, and the default under sshd's HOME would be a second cache inside the lab's ssh/);
    # AuthorizedKeysFile is the lab's own public key (no ~/.ssh of the Mac).
    return f"""# Written by `egpu-setup lab up`: Remote Login of rehearsal Mac {name}
Port {port_of(lab_dir, name)}
ListenAddress {ADDRESS}
HostKey {d / HOST_KEY}
AuthorizedKeysFile {ssh_dir(lab_dir) / KEY}.pub
AllowUsers {USER}
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
PrintLastLog no
UseDNS no
PidFile none
MaxSessions 64
MaxStartups 64:30:128
SetEnv "EGPU_LAB_HOST_DIR={lab_dir / 'hosts' / name}" "ZIG_GLOBAL_CACHE_DIR={zig_cache_dir()}"
Subsystem sftp {SFTP_SERVER}
"""


def argv(lab_dir: Path, name: str) -> list[str]:
    """sshd in the foreground, in a mount namespace where /etc/passwd has admin; it dies with its supervisor."""
    from egpu_lab.sandbox import bwrap_path

    return [
        bwrap_path(), "--bind", "/", "/", "--ro-bind", str(ssh_dir(lab_dir) / "passwd"), "/etc/passwd",
        "--tmpfs", "/run", "--dir", "/run/sshd", "--dev", "/dev", "--proc", "/proc",
        "--unshare-pid", "--die-with-parent", "--",
        sshd_path(), "-D", "-e", "-f", str(host_dir(lab_dir, name) / "sshd_config"),
    ]  # fmt: skip


def listening(port: int) -> bool:
    try:
        with socket.create_connection((ADDRESS, port), timeout=0.5):
            return True
    except OSError:
        return False
