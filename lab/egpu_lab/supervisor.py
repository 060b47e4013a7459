"""The lab's supervisor: one process per lab that runs each rehearsal Mac's sshd while the Mac is up.

A Mac is up when its machine state says so (boot.ensure_up: not rebooting, its reboot did not hang, not waiting at
the FileVault unlock screen, and not lost: fault switch). The supervisor polls every host: a host whose reboot
delay is over is booted here (so it comes back by itself, as a Mac does, without anyone reaching it), a host that
is up gets its sshd started, a host that goes down has its sshd and every session killed (connections are then
refused, as by a Mac that is restarting), and so does a host that rebooted between two polls (a reboot with no
delay, `lab update`'s restart): no session or ControlPersist master outlives a boot. It ends, killing its
servers, when the lab's lab.json is gone.

`lab up` starts it (`start`), every lab command restarts it when it is missing (`ensure_running`), `lab down` stops
it (`stop`). Its command line names the lab directory, so `lab down` finds anything left by it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from egpu_lab import sshd

POLL_S = 0.25
START_TIMEOUT_S = 15.0


def pid_file(lab_dir: Path) -> Path:
    return sshd.ssh_dir(lab_dir) / "supervisor.pid"


def running_pid(lab_dir: Path) -> int | None:
    """The pid of this lab's live supervisor, or None."""
    import psutil

    try:
        pid = int(pid_file(lab_dir).read_text())
        cmdline = psutil.Process(pid).cmdline()
    except (OSError, ValueError, psutil.Error):
        return None
    return pid if "egpu_lab.supervisor" in cmdline and str(lab_dir) in cmdline else None


def ensure_running(lab_dir: Path, hosts: list[str], wait: bool = True) -> None:
    """Start the supervisor unless it runs; with `wait`, return once every host that is up answers on its port."""
    if running_pid(lab_dir) is None:
        log = open(sshd.ssh_dir(lab_dir) / "supervisor.log", "ab")  # noqa: SIM115 - handed to the child
        proc = subprocess.Popen([sys.executable, "-m", "egpu_lab.supervisor", str(lab_dir)], stdin=subprocess.DEVNULL,
                                stdout=log, stderr=log, start_new_session=True, close_fds=True)  # fmt: skip
        log.close()
        pid_file(lab_dir).write_text(str(proc.pid))
    if wait:
        wait_listening(lab_dir, hosts)


def wait_listening(lab_dir: Path, hosts: list[str], timeout: float = START_TIMEOUT_S) -> None:
    from egpu_setup.errors import EgpuError

    deadline = time.monotonic() + timeout
    for name in hosts:
        while not _host_is_down(lab_dir, name) and not (
            _served(lab_dir, name) and sshd.listening(sshd.port_of(lab_dir, name))
        ):
            if time.monotonic() > deadline:
                log = sshd.host_dir(lab_dir, name) / "sshd.log"
                raise EgpuError(
                    f"the sshd of rehearsal Mac {name} does not answer on port {sshd.port_of(lab_dir, name)}",
                    fix=f"see {log} and {sshd.ssh_dir(lab_dir) / 'supervisor.log'}",
                )
            time.sleep(0.05)


def stop(lab_dir: Path) -> None:
    """Stop the supervisor (its servers die with it: bwrap --die-with-parent) and wait for it."""
    import psutil

    pid = running_pid(lab_dir)
    if pid is not None:
        try:
            proc = psutil.Process(pid)
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=10)
        except psutil.TimeoutExpired:
            proc.kill()
        except psutil.Error:
            pass
    pid_file(lab_dir).unlink(missing_ok=True)


def served_file(lab_dir: Path, name: str) -> Path:
    """The boot count of the host whose sshd runs now (written by the supervisor when it starts one)."""
    return sshd.host_dir(lab_dir, name) / "sshd.boot"


def boot_count(lab_dir: Path, name: str) -> int:
    return int(_machine(lab_dir, name).read().boot.count)


def _served(lab_dir: Path, name: str) -> bool:
    """Whether the sshd answering is the one of the host's current boot (not the one a reboot is about to end)."""
    try:
        return int(served_file(lab_dir, name).read_text()) == boot_count(lab_dir, name)
    except (OSError, ValueError):
        return False


def _machine(lab_dir: Path, name: str):  # type: ignore[no-untyped-def]
    from egpu_lab.machine import Machine

    host = lab_dir / "hosts" / name
    return Machine(host / "machine", host / "root")


def _host_is_down(lab_dir: Path, name: str) -> bool:
    """Down as the machine state says (rebooting or lost), without booting it or counting a command."""
    from egpu_lab.boot import is_lost

    state = _machine(lab_dir, name).read()
    return state.boot.pending or is_lost(state)


def host_up(lab_dir: Path, name: str) -> bool:
    """Whether the host is up now (not rebooting, not lost: boot.ensure_up without counting a command); boots it
    when its reboot delay is over."""
    from egpu_lab.boot import HostDown, ensure_up

    try:
        ensure_up(_machine(lab_dir, name), name, count_command=False)
    except HostDown:
        return False
    return True


class Supervisor:
    def __init__(self, lab_dir: Path) -> None:
        self.lab_dir = lab_dir
        self.servers: dict[str, subprocess.Popen[bytes]] = {}
        self.served: dict[str, int] = {}  # the boot of each host its server was started for
        self.stopping = False

    def hosts(self) -> list[str]:
        base = sshd.ssh_dir(self.lab_dir)
        return sorted(p.parent.name for p in base.glob("*/sshd_config"))

    def tick(self) -> None:
        for name in self.hosts():
            try:
                up = host_up(self.lab_dir, name)
            except Exception as exc:
                # a host being rebuilt (lab reset) or a state being written: keep its server as it is, say why
                print(f"supervisor: {name}: {exc.__class__.__name__}: {exc}", file=sys.stderr, flush=True)
                continue
            server = self.servers.get(name)
            alive = server is not None and server.poll() is None
            count = boot_count(self.lab_dir, name)
            if up and alive and self.served.get(name) != count:
                self.kill(name)  # the Mac rebooted between two polls (an instant reboot): its sessions end too
                alive = False
            if up and not alive:
                self.start(name, count)
            elif not up and alive:
                self.kill(name)

    def start(self, name: str, count: int) -> None:
        """The host's sshd for boot `count`, recorded as served (what wait_listening waits for) only once it listens:
        an sshd that could not bind (the old one's socket not yet closed) exits, and the next tick starts it again."""
        with open(sshd.host_dir(self.lab_dir, name) / "sshd.log", "ab") as log:
            server = subprocess.Popen(sshd.argv(self.lab_dir, name), stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        self.servers[name] = server
        port = sshd.port_of(self.lab_dir, name)
        deadline = time.monotonic() + START_TIMEOUT_S
        while server.poll() is None and not sshd.listening(port) and time.monotonic() < deadline:
            time.sleep(0.05)
        if server.poll() is None:
            self.served[name] = count
            served_file(self.lab_dir, name).write_text(str(count))

    def kill(self, name: str) -> None:
        server = self.servers.pop(name, None)
        if server is not None and server.poll() is None:
            server.kill()  # bwrap's pid namespace ends with it: sshd and every session inside
            server.wait()
            # the kernel ends the namespace's other processes after bwrap, so the old sshd may hold its port a moment
            port, deadline = sshd.port_of(self.lab_dir, name), time.monotonic() + START_TIMEOUT_S
            while sshd.listening(port) and time.monotonic() < deadline:
                time.sleep(0.05)

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        while not self.stopping and (self.lab_dir / "lab.json").is_file():
            self.tick()
            time.sleep(POLL_S)
        for name in list(self.servers):
            self.kill(name)

    def _stop(self, _signum: int, _frame: object) -> None:
        self.stopping = True


def main() -> None:
    lab_dir = Path(sys.argv[1])
    os.chdir("/")  # hold no directory of the lab
    Supervisor(lab_dir).run()


if __name__ == "__main__":
    main()
