"""Running commands inside one rehearsal host: bubblewrap with the Mac tree as `/`.

Mounts inside a host (`<host>` = `<lab>/hosts/<name>`):

| inside | what | mode |
| --- | --- | --- |
| `/` | `<host>/root`, the Mac tree (see image.py) | read-write |
| `/.rehearsal/linux/usr` | the controller's `/usr` (behind the `/bin`, `/usr/bin` tool links) | read-only |
| `/.rehearsal/python3` | the controller's Python prefix (`sys.base_prefix`), `bin/python3.11` | read-only |
| `/.rehearsal/project/{egpu_lab,egpu_setup,macholib}` | the lab's package (shims, dyld), its imports | read-only |
| `/.rehearsal/machine` | `<host>/machine`, the machine state (`Machine.from_env()`) | read-write |
| `/.rehearsal/ziglang` | the ziglang wheel's package dir (`zig`), for the simulated clang | read-only |
| `/.rehearsal/zig-cache` | the controller's zig cache (egpu_lab.macho_build.zig_cache_dir) | read-write |
| `/System`, `/usr`, `/bin`, `/sbin` | SIP's filesystem protections on: the host's own (not /usr/local) | read-only |
| `/.rehearsal/root` | the same host tree, for the entitled tools (kextcache), while those are read-only | read-write |
| `/dev`, `/proc` | Linux's (bubblewrap's minimal /dev, a new /proc) | |

The Python 3 stand-in installer links `/Library/Frameworks/Python.framework/Versions/3.11` to the whole
prefix `/.rehearsal/python3` (`image.PYTHON3`); its `bin/python3.11` is then the interpreter
(`image.SIM_PYTHON`) and `python3 -m venv` works: a venv's python finds the standard library through
pyvenv.cfg's `home` (`<home>/../lib/python3.11`), so linking only `bin/python3.11` makes venv's ensurepip fail
("No module named 'encodings'"; PYTHONHOME cannot help: venv drops it). The interpreter's libpython is found
through `LD_LIBRARY_PATH=/.rehearsal/python3/lib`, set for every process of the host.

Environment of every command: macOS's default PATH (`/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin`), HOME/USER/
LOGNAME of the simulated user, `EGPU_REHEARSAL=1` (what the verify code keys on), `EGPU_SIM_USER` (`admin`, or
`root` under sudo), `EGPU_SIM_PYTHON` (the hidden interpreter the shims use). The sandbox has its own PID, IPC and
UTS namespaces (hostname = host name) and dies with its parent, so no process outlives a command.

A host that is rebooting (or whose reboot never comes back: fault switch) is down: `run` raises `HostDown`. The
first command after the reboot delay boots it (boot.boot): the reboot is a declared transition, instant in tests.
"""

from __future__ import annotations

import functools
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Constants and plain reads only at import: the ssh login shell (ssh_login.py) builds a session's command line with
# this module for every session of a host; the machine model, subprocess and the product's errors load when used.
from egpu_lab import layout
from egpu_lab.layout import ENV_ENTITLED_ROOT, SIP_EXEMPT, SIP_PROTECTED, read_state

if TYPE_CHECKING:
    import subprocess

    from egpu_lab.machine import Machine

MAC_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
# The host's whole tree, writable, for the entitled tools while SIP mounts its protected paths read-only.
ENTITLED_ROOT = f"{layout.HIDDEN}/root"
HOMES = {"root": "/var/root", "admin": "/Users/admin"}


def bwrap_path() -> str:
    found = shutil.which("bwrap")
    if not found:
        from egpu_setup.errors import EgpuError

        raise EgpuError(
            "bubblewrap (bwrap) is not installed; the rehearsal lab needs it",
            fix="install it (Debian/Ubuntu: apt-get install bubblewrap)",
        )
    return found


def project_package_dirs() -> dict[str, Path]:
    """The package directories of the running controller that the shims and the lab's dyld (the MXNet stand-in's
    dlopen) import inside a host, by package name: the lab, the product (EgpuError), macholib."""
    import macholib

    import egpu_lab
    import egpu_setup

    return {pkg.__name__: Path(pkg.__file__ or "").resolve().parent for pkg in (egpu_lab, egpu_setup, macholib)}


@functools.cache
def hidden_perl_lib() -> str:
    """PERL5LIB for the controller's Perl modules at their hidden path.

    macOS ships Perl and scripts on it (shasum, the CUDA uninstaller); the host runs Linux's perl from the hidden
    runtime, whose compiled-in @INC points at /usr/share/perl..., which is the Mac's /usr inside a host.
    """
    perl = shutil.which("perl")
    if not perl:
        return ""
    import subprocess

    try:
        out = subprocess.run(
            [perl, "-e", 'print join("\\n", @INC)'], capture_output=True, text=True, check=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    dirs = [f"{layout.LINUX}{d}" for d in out.splitlines() if d.startswith("/usr/")]
    return ":".join(dirs)


class Sandbox:
    """One rehearsal host: `Sandbox(<lab>/hosts/<name>)`."""

    def __init__(self, host_dir: Path) -> None:
        self.host_dir = host_dir

    def __repr__(self) -> str:
        return f"Sandbox({str(self.host_dir)!r})"

    @property
    def name(self) -> str:
        return self.host_dir.name

    @property
    def root(self) -> Path:
        return self.host_dir / "root"

    @property
    def machine(self) -> Machine:
        from egpu_lab.machine import Machine

        return Machine(self.host_dir / "machine", self.root)

    def _state(self) -> dict[str, Any]:
        """The machine state as the next command sees it (layout.read_state: one whole state, no lock)."""
        return read_state(self.host_dir / "machine")

    def env(
        self, user: str = "admin", extra: dict[str, str] | None = None, state: dict[str, Any] | None = None
    ) -> dict[str, str]:
        """The environment of a command in the host (`state`: the machine state, read once per command line)."""
        state = self._state() if state is None else state
        home = HOMES.get(user, HOMES["admin"])
        env = {
            "PATH": MAC_PATH,
            "HOME": home,
            "USER": user,
            "LOGNAME": user,
            "SHELL": "/bin/bash",
            "TMPDIR": "/tmp/",
            "EGPU_REHEARSAL": "1",
            "EGPU_SIM_USER": user,
            "EGPU_SIM_PYTHON": layout.SIM_PYTHON,
            "LD_LIBRARY_PATH": f"{layout.PYTHON3}/lib",
        }
        if self.sip_protects_files(state):
            env[ENV_ENTITLED_ROOT] = ENTITLED_ROOT
        perl_lib = hidden_perl_lib()
        if perl_lib:
            env["PERL5LIB"] = perl_lib
        preload = self.root / layout.UNAME_LIB.lstrip("/")
        if preload.exists():
            kernel = str(state.get("kernel_version") or self.machine.read().kernel_version)
            env["LD_PRELOAD"] = layout.UNAME_LIB
            env["EGPU_SIM_KERNEL_RELEASE"] = kernel
            env["EGPU_SIM_KERNEL_VERSION"] = f"Darwin Kernel Version {kernel}"
        env.update(extra or {})
        return env

    def sip_protects_files(self, state: dict[str, Any] | None = None) -> bool:
        sip = (self._state() if state is None else state).get("sip") or {}
        return bool(sip.get("Filesystem Protections", True))

    def _sip_binds(self, state: dict[str, Any]) -> list[str]:
        """SIP's filesystem protections as the kernel enforces them: the protected trees mounted read-only, so a
        write there fails even for root (EROFS here, EPERM "Operation not permitted" on a Mac). The entitled
        tools (kextcache) write through ENTITLED_ROOT, as Apple's are allowed to."""
        if not self.sip_protects_files(state):
            return []
        binds = ["--bind", str(self.root), ENTITLED_ROOT]
        for top in SIP_PROTECTED:
            source = self.root / top.lstrip("/")
            if source.is_dir() and not source.is_symlink():
                binds += ["--ro-bind", str(source), top]
        for exempt in SIP_EXEMPT:
            if (self.root / exempt.lstrip("/")).is_dir():
                binds += ["--bind", str(self.root / exempt.lstrip("/")), exempt]
        return binds

    def argv(
        self, command: list[str], user: str = "admin", env: dict[str, str] | None = None, cwd: str | None = None
    ) -> list[str]:
        """The bwrap command line that runs `command` in this host."""
        state = self._state()
        args = [
            bwrap_path(),
            "--bind", str(self.root), "/",
            "--ro-bind", "/usr", f"{layout.LINUX}/usr",
            "--ro-bind", sys.base_prefix, layout.PYTHON3,
            *_project_binds(),
            "--bind", str(self.host_dir / "machine"), layout.STATE,
            *self._sip_binds(state),
            *_zig_binds(),
            "--dev", "/dev",
            "--proc", "/proc",
            "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            "--hostname", self.name,
            "--die-with-parent",
            "--clearenv",
        ]  # fmt: skip
        for key, value in self.env(user, env, state).items():
            args += ["--setenv", key, value]
        args += ["--chdir", cwd or HOMES.get(user, "/"), "--", *command]
        return args

    def ensure_up(self) -> None:
        """Raise HostDown while the host is rebooting; boot it when its reboot delay is over."""
        from egpu_lab import boot

        boot.ensure_up(self.machine, self.name)

    def run(
        self,
        command: str | list[str],
        user: str = "admin",
        input: bytes | None = None,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        timeout: float | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run a shell command string (`/bin/sh -c`) or an argv in the host; output captured as bytes."""
        import subprocess

        self.ensure_up()
        argv = ["/bin/sh", "-c", command] if isinstance(command, str) else command
        return subprocess.run(
            self.argv(argv, user=user, env=env, cwd=cwd),
            input=input,
            capture_output=True,
            timeout=timeout,
            check=False,
        )


def _project_binds() -> list[str]:
    """The lab's and the product's packages, read-only, where the shims import them from."""
    return [a for name, d in project_package_dirs().items() for a in ("--ro-bind", str(d), f"{layout.PROJECT}/{name}")]


def _zig_binds() -> list[str]:
    """Bind the ziglang package and the zig cache when this controller has them (the toolchain compiles with zig)."""
    import importlib.util

    spec = importlib.util.find_spec("ziglang")
    if spec is None or spec.origin is None:
        return []
    from egpu_lab.layout import zig_cache_dir

    package = str(Path(spec.origin).parent)
    return ["--ro-bind", package, layout.ZIGLANG, "--bind", str(zig_cache_dir()), layout.ZIG_CACHE]
