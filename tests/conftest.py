"""Fixtures shared by every test package: the CLI called in-process with injected streams, and the digest of a
rehearsal Mac (provisioning state: what check mode and a refusal must leave as it was, what rollback restores)."""

from __future__ import annotations

import http.server
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from egpu_setup.cli import main


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli() -> Callable[..., CliResult]:
    """`cli("matrix", "--json")` runs the real entry point and returns exit code, stdout and stderr."""

    def run(*argv: str) -> CliResult:
        out, err = io.StringIO(), io.StringIO()
        code = main(list(argv), stdout=out, stderr=err)
        return CliResult(code, out.getvalue(), err.getvalue())

    return run


ROOT = Path(__file__).resolve().parents[1]
ANSIBLE = Path(sys.executable).with_name("ansible")


@pytest.fixture(scope="session")
def ansible_tool() -> Callable[..., subprocess.CompletedProcess[str]]:
    """`ansible_tool("ansible-playbook", "-i", inventory, "egpu.mac.verify")` runs one of Ansible's commands (the
    one beside this Python) as people run it in the checkout: there, with the checkout's ansible.cfg. The output is
    captured, the exit status left to the test."""

    def run(tool: str, *args: str, cwd: Path = ROOT, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
        return subprocess.run(
            [str(Path(sys.executable).with_name(tool)), *args],
            cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip

    return run


@pytest.fixture
def ad_hoc(tmp_path: Path) -> Callable[..., tuple[str, dict]]:
    """`ad_hoc("egpu.mac.macho_rpaths", "paths=... root=...", "--check")` runs one module on localhost through real
    Ansible (`ansible localhost -m`; `args` as k=v text or a dict), with this Python as the interpreter unless
    `interpreter` is given and PATH `path` when given. Returns Ansible's status word (SUCCESS, CHANGED, FAILED) and
    the module's result, with what the callback printed (the --diff text) in `_stdout`."""
    if not ANSIBLE.exists():
        pytest.skip("ansible is not installed next to this Python")

    def run(
        module: str, args: str | dict, *flags: str, interpreter: str = sys.executable, path: str | None = None
    ) -> tuple[str, dict]:
        env = {
            **os.environ,
            **({"PATH": path} if path is not None else {}),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_LOCALHOST_WARNING": "false",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
            "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-local"),
            "ANSIBLE_REMOTE_TEMP": str(tmp_path / "ansible-remote"),
        }
        text = args if isinstance(args, str) else json.dumps(args)
        proc = subprocess.run(
            [str(ANSIBLE), "localhost", "-e", f"ansible_python_interpreter={interpreter}", "-m", module, "-a", text,
             *flags],
            capture_output=True, text=True, cwd=tmp_path, env=env, check=False, timeout=120,
        )  # fmt: skip
        match = re.search(r"^localhost \| (\w+)!? => (\{.*?^\})", proc.stdout, re.S | re.M)
        assert match, proc.stdout + proc.stderr
        result = json.loads(match.group(2))
        result["_stdout"] = proc.stdout
        return match.group(1), result

    return run


# Parts of a host tree that are not provisioning state: the sandbox's mount points, Linux's /dev and /proc, the
# temp directory (the sandbox's and Ansible's scratch files), and Ansible's own working directory in the homes
# (remote_tmp). Everything else counts, /var/tmp, /var/log and the kext caches included.
VOLATILE = (
    ".rehearsal",
    "dev",
    "proc",
    "private/tmp",
    "Users/admin/.ansible",
    "private/var/root/.ansible",
)


def host_digest(host_dir: Path) -> dict[str, str]:
    """SHA-256 of a rehearsal Mac: its tree (paths, kinds, modes, link targets, contents; receipts included, they
    are files under /private/var/db/receipts) and the machine state a Mac keeps outside its file system that
    provisioning touches: NVRAM and the xcode-select selection (on a Mac a link under /var/db)."""
    import hashlib
    import json
    import os
    import stat

    root = host_dir / "root"
    tree = hashlib.sha256()
    receipts = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        dirnames[:] = sorted(d for d in dirnames if os.path.normpath(os.path.join(rel_dir, d)) not in VOLATILE)
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            rel = os.path.normpath(os.path.join(rel_dir, name))
            info = os.lstat(path)
            kind = "l" if stat.S_ISLNK(info.st_mode) else "d" if stat.S_ISDIR(info.st_mode) else "f"
            entry = f"{rel}\0{kind}\0{stat.S_IMODE(info.st_mode):o}\0"
            if kind == "l":
                entry += os.readlink(path)
            elif kind == "f":
                with open(path, "rb") as f:
                    entry += hashlib.file_digest(f, "sha256").hexdigest()
            tree.update(entry.encode() + b"\n")
            if rel.startswith("private/var/db/receipts/"):
                receipts.update(entry.encode() + b"\n")
    state = json.loads((host_dir / "machine" / "state.json").read_text())
    return {
        "tree": tree.hexdigest(),
        "receipts": receipts.hexdigest(),
        "nvram": json.dumps(state.get("nvram", {}), sort_keys=True),
        "developer_dir": str(state.get("developer_dir")),
    }


@pytest.fixture(scope="session")
def digest_of() -> Callable[[Path], dict[str, str]]:
    return host_digest


# --- HTTP servers that misbehave, in threads of the test process (tests/cache, tests/corpus: the download limits) ---


class Trickle(http.server.BaseHTTPRequestHandler):
    """`size` bytes announced, then one byte every `pause` seconds."""

    pause = 0.3
    size = 1000

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(self.size))
        self.end_headers()
        try:
            for _ in range(self.size):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(self.pause)
        except OSError:
            pass  # the client gave up: what the test waits for

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def trickling() -> Callable[[float], type[Trickle]]:
    """trickling(pause) -> a Trickle handler with its own pause: a long one is a server that stalls after the first
    byte."""
    return lambda pause: type(f"Trickle{pause:g}s", (Trickle,), {"pause": pause})


@pytest.fixture
def serve() -> Iterator[Callable[..., str]]:
    """start(handler, path="/file.pkg") -> the URL of `path` on a server running `handler`; all stopped after."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(handler: type, path: str = "/file.pkg") -> str:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}{path}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def no_hang() -> Iterator[None]:
    """A test that blocks (a read on a FIFO) fails after 20 s instead of hanging the suite: SIGALRM's handler
    raises in the main thread, where the blocking call is."""

    def expired(*_args: object) -> None:
        raise TimeoutError("blocked (on a FIFO?) for 20 s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)
