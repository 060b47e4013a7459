"""The login shell of `admin` for the rehearsal Macs' sshd (sshd.py): enter the host's sandbox as admin.

sshd runs a session's command as `SHELL -c COMMAND` (the sftp subsystem as `SHELL -c /usr/libexec/sftp-server`),
an interactive login as `-SHELL`. This program runs that in the host named by `EGPU_LAB_HOST_DIR` (sshd_config's
SetEnv) as macOS runs it for admin: `/bin/bash -c COMMAND` (admin's shell on 10.13 is bash), in the home directory,
with the environment a non-interactive SSH command gets on a Mac (docs/rehearsal.md, sources there):

- PATH `/usr/bin:/bin:/usr/sbin:/sbin`: sshd's default path on macOS; /usr/local/bin is added only by
  path_helper in /etc/profile, which a non-interactive `bash -c` does not read;
- USER, LOGNAME, HOME, SHELL of admin, and sshd's SSH_CLIENT, SSH_CONNECTION, SSH_TTY, TERM.

Each session counts as one command for the fault switch lose-after (boot.ensure_up): from the Nth on, the session
ends at once with ssh's status 255, as a connection to a Mac that lost power or its network does, and the
supervisor takes the host's sshd down, so new connections are refused.
The transfer fault switches apply here, to a transfer's session (sftp-server, or the fallbacks `scp -t` and
`dd of=` of Ansible's smart transfer): `disk_full` refuses it with "No space left on device" (the Nth sftp
session of `disk_full_at` N included, as the Nth install is); `fail_download`
fails the Nth sftp session, and every transfer session after it until another command runs (its fallbacks),
with "connection reset".
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

# Started for every session of a host: what it imports at start is what every session costs (sandbox.py and
# layout.py are light; the machine model and the fault logic load only when a fault switch is set).
from egpu_lab.layout import read_state

SSH_PATH = "/usr/bin:/bin:/usr/sbin:/sbin"
PASSED = ("SSH_CLIENT", "SSH_CONNECTION", "SSH_TTY", "TERM")
FAILED_MARK = "transfer-failed"  # in the host's machine dir: a failed transfer's fallbacks fail too
FALLBACK_WINDOW_S = 10.0


def session_argv(host_dir: Path, args: list[str]) -> list[str]:
    from egpu_lab.sandbox import HOMES, Sandbox

    sandbox = Sandbox(host_dir)
    env = {key: os.environ[key] for key in PASSED if key in os.environ}
    env["PATH"] = SSH_PATH
    # an interactive login (ssh -t) runs a login bash, which reads /etc/profile
    command = ["/bin/bash", "-c", args[1]] if args[:1] == ["-c"] and len(args) > 1 else ["/bin/bash", "--login"]
    return sandbox.argv(command, user="admin", env=env, cwd=HOMES["admin"])


def transfer_refusal(host_dir: Path, command: str) -> str | None:
    """Why a fault switch refuses this session (a file transfer), or None."""
    words = command.split()
    sftp = bool(words) and words[0].endswith("sftp-server")
    fallback = bool(words) and (words[:2] == ["scp", "-t"] or (words[0] == "dd" and "of=" in command))
    mark = host_dir / "machine" / FAILED_MARK
    if not (sftp or fallback):
        mark.unlink(missing_ok=True)  # the next command: the failed transfer's fallbacks are over
        return None
    from egpu_lab.machine import Machine
    from egpu_lab.sshd import SFTP_SERVER

    machine = Machine(host_dir / "machine", host_dir / "root")
    reset = "Connection reset by peer (fault switch fail-download)"
    no_space = f"{SFTP_SERVER if sftp else words[0]}: write failed: No space left on device"
    if machine.read().faults.disk_full:
        return no_space
    if mark.exists() and time.time() - float(mark.read_text() or 0) < FALLBACK_WINDOW_S:
        return reset  # a fallback of the failed transfer (scp runs over sftp too, since OpenSSH 9.0)
    if not sftp:
        return None
    failed = machine.take_fault("download")
    if machine.read().faults.disk_full:
        return no_space  # this write filled the disk (disk-full-at): it fails, as the Nth install does
    if failed:
        mark.write_text(str(time.time()))
        return reset
    return None


def lost_reason(host_dir: Path) -> str | None:
    """Why this session finds the host lost (fault switch lose-after; this session counts as a command), or None."""
    if (read_state(host_dir / "machine").get("faults") or {}).get("lose_after") is None:
        return None
    from egpu_lab.boot import HostDown, ensure_up
    from egpu_lab.machine import Machine

    machine = Machine(host_dir / "machine", host_dir / "root")
    try:
        ensure_up(machine, host_dir.name)
    except HostDown as exc:
        return f"Connection to {host_dir.name} lost: {exc.message}"
    return None


def main() -> None:
    host_dir = Path(os.environ.get("EGPU_LAB_HOST_DIR", ""))
    args = sys.argv[1:]
    if not (host_dir / "machine").is_dir():
        sys.stderr.write(f"egpu-lab login: no rehearsal Mac at {host_dir}\n")
        sys.exit(255)
    lost = lost_reason(host_dir)
    if lost:
        sys.stderr.write(lost + "\n")
        sys.exit(255)
    if args[:1] == ["-c"] and len(args) > 1:
        refusal = transfer_refusal(host_dir, args[1])
        if refusal:
            sys.stderr.write(refusal + "\n")
            sys.exit(1)
    argv = session_argv(host_dir, args)
    os.execv(argv[0], argv)
