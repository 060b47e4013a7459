# Copyright: egpu-setup developers
# Apache License 2.0
"""Connection plugin egpu.lab.sandbox: run tasks inside a rehearsal Mac (egpu_lab.sandbox)."""

from __future__ import annotations

import os
import selectors
import subprocess
import time
import typing as t

from ansible.errors import AnsibleConnectionFailure, AnsibleError, AnsibleFileNotFound
from ansible.module_utils.common.text.converters import to_bytes, to_native
from ansible.plugins.connection import ConnectionBase
from ansible.utils.display import Display

DOCUMENTATION = r"""
name: sandbox
short_description: Run tasks inside a rehearsal Mac of an egpu-setup lab
description:
  - Runs commands inside a simulated macOS High Sierra host of an C(egpu-setup lab), a bubblewrap sandbox whose
    C(/) is the host's Mac tree (C(<lab>/hosts/<name>/root)). Commands run with C(/bin/sh -c) as on a Mac.
  - Files are put into and fetched from the host tree through the sandbox, so macOS links such as C(/tmp) resolve
    as on the Mac; files put as C(admin) belong to uid 501, group staff.
  - C(become) works with the C(sudo) become plugin; the host's C(sudo) makes the simulated user root. Where the
    host's sudo asks for the password (C(egpu-setup lab up --sudo-password)), the become password
    (C(--ask-become-pass), C(ansible_become_password)) is written to sudo's standard input once its prompt shows,
    and the command's input only after the become success marker, as the C(ssh) and C(local) connections do; no
    become password fails with C(Missing sudo password), a wrong one with C(Incorrect sudo password).
  - A host that is rebooting, or whose reboot never comes back (fault switch), raises a connection failure, which
    is what C(ansible.builtin.reboot) waits through.
author: egpu-setup developers
version_added: 0.1.0
options:
  host_dir:
    description:
      - The host's directory in the lab, C(<lab>/hosts/<name>); C(egpu-setup lab up) writes it into the inventory.
    type: path
    required: true
    vars:
      - name: egpu_rehearsal_host_dir
    env:
      - name: EGPU_REHEARSAL_HOST_DIR
  remote_user:
    description:
      - The simulated Mac user the commands run as (C(admin) or C(root)); any other name is unreachable, as an
        unknown account would be over ssh.
    type: str
    default: admin
    vars:
      - name: ansible_user
    keyword:
      - name: remote_user
  command_timeout:
    description:
      - Seconds a single command may run before it is killed.
      - Not named C(timeout), because Ansible gives a connection's C(timeout) option its connect timeout (10 s
        by default), which would kill an MXNet build.
    type: int
    default: 3600
    vars:
      - name: egpu_rehearsal_command_timeout
extends_documentation_fragment:
  - connection_pipelining
notes:
  - Needs bubblewrap (C(bwrap)) on the controller and the rehearsal lab (C(pip install 'egpu-setup[lab]'), which
    ships this collection) installed in Ansible's Python.
"""

EXAMPLES = r"""
# inventory.yml written by `egpu-setup lab up`
rehearsal_macs:
  hosts:
    mac1:
      ansible_connection: egpu.lab.sandbox
      egpu_rehearsal_host_dir: /home/me/.local/share/egpu-setup/lab/hosts/mac1
      ansible_user: admin
"""

display = Display()


class Connection(ConnectionBase):
    """Commands, files and become for one rehearsal Mac."""

    transport = "egpu.lab.sandbox"
    has_pipelining = True
    has_tty = False
    default_user = "admin"

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._sandbox: t.Any = None

    # --- connection life cycle -----------------------------------------------------------------------------------
    def _connect(self) -> Connection:
        if self._connected:
            return self
        try:
            from egpu_lab.sandbox import Sandbox
        except ImportError as exc:
            raise AnsibleError(
                f"egpu.lab.sandbox needs the rehearsal lab in Ansible's Python ({to_native(exc)}); "
                "install it with pip install 'egpu-setup[lab]' in the environment that runs ansible"
            ) from exc
        host_dir = self.get_option("host_dir")
        if not host_dir or not os.path.isfile(os.path.join(host_dir, "machine", "state.json")):
            raise AnsibleConnectionFailure(
                f"no rehearsal Mac at {host_dir!r}: run `egpu-setup lab up` (or check egpu_rehearsal_host_dir)"
            )
        self._sandbox = Sandbox(_path(host_dir))
        display.vvv(f"ESTABLISH REHEARSAL MAC CONNECTION FOR USER: {self._user()}", host=self._host())
        self._connected = True
        return self

    def close(self) -> None:
        self._connected = False

    def reset(self) -> None:
        self.close()

    # --- helpers -------------------------------------------------------------------------------------------------
    def _host(self) -> str:
        return str(self._play_context.remote_addr or (self._sandbox.name if self._sandbox else "?"))

    def _user(self) -> str:
        """The Mac account commands run as: a rehearsal Mac has admin and root only, like ssh, refuse others."""
        user = self.get_option("remote_user") or self.default_user
        if user not in ("admin", "root"):
            raise AnsibleConnectionFailure(
                f"no user {user!r} on rehearsal Mac {self._host()}: its accounts are admin and root; "
                "set ansible_user to admin (and become for root)"
            )
        return str(user)

    def _ensure_up(self) -> None:
        from egpu_lab.boot import HostDown

        try:
            self._sandbox.ensure_up()
        except HostDown as exc:
            raise AnsibleConnectionFailure(f"{exc.message}. {exc.fix or ''}".strip()) from exc

    def _run(self, argv: list[str], stdin: t.Any = None, in_data: bytes | None = None) -> tuple[int, bytes, bytes]:
        """The one place that starts the sandbox: argv inside the host, as the connection's user."""
        self._ensure_up()
        cmd = self._sandbox.argv(argv, user=self._user())
        try:
            proc = subprocess.run(
                cmd,
                input=in_data,
                stdin=stdin if in_data is None else None,
                capture_output=True,
                timeout=self.get_option("command_timeout"),
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise AnsibleConnectionFailure(f"command timed out after {exc.timeout} s on {self._host()}") from exc
        except OSError as exc:
            raise AnsibleConnectionFailure(f"could not start bubblewrap for {self._host()}: {exc}") from exc
        return proc.returncode, proc.stdout, proc.stderr

    def _run_with_become_password(self, argv: list[str], in_data: bytes | None) -> tuple[int, bytes, bytes]:
        """Run a command whose sudo may ask for the become password: answer its prompt, then wait for the become
        success marker before the command's own input goes in (so a refused password is never followed by module
        code that sudo would read as the next password)."""
        self._ensure_up()
        become = self.become
        timeout = float(self.get_option("command_timeout"))
        try:
            proc = subprocess.Popen(
                self._sandbox.argv(argv, user=self._user()),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except OSError as exc:
            raise AnsibleConnectionFailure(f"could not start bubblewrap for {self._host()}: {exc}") from exc
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        out, err = bytearray(), bytearray()
        buffers = {proc.stdout.fileno(): out, proc.stderr.fileno(): err}
        deadline = time.monotonic() + timeout
        self._answer_become_prompt(proc, buffers, out, err, deadline)
        for fd in buffers:
            os.set_blocking(fd, True)
        try:
            rest_out, rest_err = proc.communicate(in_data, timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired as exc:
            proc.kill()
            proc.wait()
            raise AnsibleConnectionFailure(f"command timed out after {timeout} s on {self._host()}") from exc
        except BrokenPipeError:  # sudo (or the command) ended without reading its input
            rest_out, rest_err = proc.stdout.read(), proc.stderr.read()
            proc.wait()
        # The prompt and macOS's lecture before it are sudo's, not the command's.
        return proc.returncode, bytes(out) + rest_out, become.strip_become_prompt(bytes(err)) + rest_err

    def _answer_become_prompt(
        self, proc: subprocess.Popen[bytes], buffers: dict[int, bytearray], out: bytearray, err: bytearray,
        deadline: float,
    ) -> None:
        """Read the command's output until the become success marker: the password goes in once, at sudo's prompt;
        a refusal ("Sorry, try again.") fails the task instead of sending the module as the next try."""
        assert proc.stdin is not None
        become = self.become
        sent_at: int | None = None  # len(err) when the password went in
        with selectors.DefaultSelector() as selector:
            for fd in buffers:
                os.set_blocking(fd, False)
                selector.register(fd, selectors.EVENT_READ)
            while not become.check_success(bytes(out)):
                if sent_at is None and become.check_password_prompt(bytes(err) + b"\n" + bytes(out)):
                    proc.stdin.write(to_bytes(become.get_option("become_pass") or "") + b"\n")
                    proc.stdin.flush()
                    sent_at = len(err)
                elif sent_at is not None and _refused(become, bytes(err[sent_at:])):
                    proc.kill()
                    proc.wait()
                    raise AnsibleError(
                        f"Incorrect {become.name} password: {self._host()}'s sudo refused the become password "
                        "(Sorry, try again.); give the account's password with --ask-become-pass (-K)"
                    )
                if not selector.get_map():
                    break  # sudo ended before the command started (no tty, -n, ...): its output says why
                events = selector.select(max(0.0, deadline - time.monotonic()))
                if not events:
                    proc.kill()
                    proc.wait()
                    raise AnsibleConnectionFailure(f"timed out waiting for {become.name} on {self._host()}")
                for key, _mask in events:
                    chunk = os.read(int(key.fd), 65536)
                    if chunk:
                        buffers[int(key.fd)] += chunk
                    else:
                        selector.unregister(key.fd)

    def _missing_password(self, rc: int, stderr: bytes) -> None:
        """sudo -n on a Mac whose sudo asks for a password: the ssh connection's error, with the remedy."""
        if rc != 0 and self.become is not None and self.become.check_missing_password(stderr):
            raise AnsibleError(
                f"Missing {self.become.name} password: {self._host()}'s sudo asks for the account password "
                f"({to_native(stderr).strip().splitlines()[-1]}); give it with --ask-become-pass (-K) or "
                "ansible_become_password (from a vault)"
            )

    # --- the three operations ------------------------------------------------------------------------------------
    def exec_command(self, cmd: str, in_data: bytes | None = None, sudoable: bool = True) -> tuple[int, bytes, bytes]:
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        display.vvv(f"EXEC {cmd}", host=self._host())
        argv = ["/bin/sh", "-c", cmd]
        become = self.become if sudoable else None
        if become is not None and become.expect_prompt() and become.success and become.success in cmd:
            return self._run_with_become_password(argv, in_data)
        stdin = None if in_data is not None else subprocess.DEVNULL
        rc, out, err = self._run(argv, stdin=stdin, in_data=in_data)
        if become is not None:
            self._missing_password(rc, err)
        return rc, out, err

    def put_file(self, in_path: str, out_path: str) -> None:
        super().put_file(in_path, out_path)
        display.vvv(f"PUT {in_path} TO {out_path}", host=self._host())
        if not os.path.exists(to_bytes(in_path, errors="surrogate_or_strict")):
            raise AnsibleFileNotFound(f"file or module does not exist: {in_path}")
        self._ensure_up()
        machine = self._sandbox.machine
        failing = machine.take_fault("download")  # first: it may fill the disk (fault switch disk-full-at)
        if machine.read().faults.disk_full:
            raise AnsibleError(f"failed to transfer {in_path} to {out_path} on {self._host()}: No space left on device")
        if failing:
            raise AnsibleError(
                f"failed to transfer {in_path} to {out_path} on {self._host()}: connection reset "
                "(fault switch fail-download)"
            )
        script = 'cat > "$1"'
        if self._user() != "root" and os.geteuid() == 0:  # unprivileged labs keep the controller user's files
            script += ' && chown 501:20 "$1"'
        with open(in_path, "rb") as src:
            rc, _out, err = self._run(["/bin/sh", "-c", script, "put_file", out_path], stdin=src)
        if rc != 0:
            raise AnsibleError(f"failed to transfer {in_path} to {out_path}: {to_native(err).strip()}")

    def fetch_file(self, in_path: str, out_path: str) -> None:
        super().fetch_file(in_path, out_path)
        display.vvv(f"FETCH {in_path} TO {out_path}", host=self._host())
        rc, out, err = self._run(["/bin/cat", in_path], stdin=subprocess.DEVNULL)
        if rc != 0:
            raise AnsibleError(f"failed to fetch {in_path} from {self._host()}: {to_native(err).strip()}")
        with open(to_bytes(out_path, errors="surrogate_or_strict"), "wb") as dst:
            dst.write(out)


def _refused(become: t.Any, since_answer: bytes) -> bool:
    """sudo said the password was wrong, or asked again."""
    return bool(become.check_incorrect_password(since_answer) or become.check_password_prompt(since_answer))


def _path(value: str) -> t.Any:
    from pathlib import Path

    return Path(value).expanduser().resolve()
