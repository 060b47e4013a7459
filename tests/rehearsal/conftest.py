"""Fixtures for the rehearsal lab: a fresh simulated Mac per test, kexts to install, plain Ansible against a lab.

- `host`: a bare 10.13.2 host (SIP enabled, GTX 1080 on Thunderbolt, reboots instant) in tmp_path;
  `host.sh("cmd")` runs a shell command in it as admin (`user="root"` for root) -> Result(rc, out, err).
- `make_host(**options)`: the same with other LabOptions (sip, gpu, build ...).
- `web_driver(host, ...)`: installs minimal web driver kexts (NVDAStartupWeb, GeForceWeb, NVDAEGPUSupport) into
  /Library/Extensions, built here with a real seal (kexts.make_kext), as the stand-in installer would.
- `ansible(*args, cwd=...)`: runs the .venv's `ansible` as a real subprocess.
Tests that start sandboxes are marked `lab` and skipped where bubblewrap cannot run.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from egpu_lab import boot, kexts
from egpu_lab.lab import LabOptions, make_host
from egpu_lab.machine import Machine
from egpu_lab.sandbox import Sandbox

WEB_VERSION = "387.10.10.10.25.156"


@functools.cache
def bwrap_works() -> bool:
    try:
        return subprocess.run(["bwrap", "--ro-bind", "/", "/", "true"], capture_output=True).returncode == 0
    except OSError:
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if bwrap_works():
        return
    skip = pytest.mark.skip(reason="bubblewrap cannot start sandboxes here")
    for item in items:
        if "lab" in item.keywords:
            item.add_marker(skip)


@dataclass
class Result:
    rc: int
    out: str
    err: str


@dataclass
class Host:
    sandbox: Sandbox

    @property
    def machine(self) -> Machine:
        return self.sandbox.machine

    @property
    def root(self) -> Path:
        return self.sandbox.root

    def sh(self, command: str, user: str = "admin", input: bytes | None = None) -> Result:
        proc = self.sandbox.run(command, user=user, input=input)
        return Result(proc.returncode, proc.stdout.decode(), proc.stderr.decode())

    def reboot(self) -> None:
        """Reboot the way a role does (`shutdown -r now` as root), and reach the host again."""
        result = self.sh("shutdown -r now", user="root")
        assert result.rc == 0, result
        assert self.machine.read().boot.pending
        self.sandbox.ensure_up()


@pytest.fixture
def make_host_fixture(tmp_path: Path) -> Callable[..., Host]:
    counter = iter(range(1, 100))

    def make(**options: Any) -> Host:
        opts = LabOptions(hosts=1, reboot_seconds=0.0, mirror=False, **options)
        host_dir = tmp_path / "hosts" / f"mac{next(counter)}"
        return Host(make_host(host_dir, opts, work=tmp_path / "work"))

    return make


@pytest.fixture
def host(make_host_fixture: Callable[..., Host]) -> Host:
    return make_host_fixture()


@pytest.fixture(name="make_host")
def _make_host(make_host_fixture: Callable[..., Host]) -> Callable[..., Host]:
    return make_host_fixture


def install_web_driver(
    host: Host,
    required_os: str = "17C88",
    egpu_required_os: str | None = "17C88",
    version: str = WEB_VERSION,
    signed: bool = True,
) -> None:
    """Minimal web driver kexts in /Library/Extensions (no cache rebuild, no nvram: the tests do those)."""
    ext = host.root / "Library/Extensions"
    personality = {"NVDAStartup": {"IOClass": "NVDAStartup", "IOProviderClass": "IOPCIDevice",
                                   "IOPCIMatch": "0x000010de&0x0000ffff", "NVDARequiredOS": required_os}}  # fmt: skip
    kexts.make_kext(ext / "NVDAStartupWeb.kext", kexts.WEB_NVDA, version, {"IOKitPersonalities": personality}, signed)
    kexts.make_kext(
        ext / "GeForceWeb.kext",
        kexts.WEB_GEFORCE,
        "10.2.5",
        {"CFBundleGetInfoString": f"GeForceWeb {version} (10.2.5) Copyright NVIDIA Corporation"},
        signed,
    )
    if egpu_required_os is not None:
        support = {"NVDAStartup": {"IOClass": "NVDAStartup", "IOPCITunnelCompatible": True,
                                   "NVDARequiredOS": egpu_required_os}}  # fmt: skip
        kexts.make_kext(ext / "NVDAEGPUSupport.kext", kexts.EGPU_SUPPORT, "1.0", {"IOKitPersonalities": support})


def install_cuda_driver(host: Host, version: str = "387.128") -> None:
    kexts.make_kext(host.root / "Library/Extensions/CUDA.kext", kexts.CUDA_KEXT, "1.1.0")
    plist = host.root / boot.CUDA_FRAMEWORK_PLIST.lstrip("/")
    plist.parent.mkdir(parents=True, exist_ok=True)
    import plistlib

    plist.write_bytes(plistlib.dumps({"CFBundleShortVersionString": version, "CFBundleVersion": version}))


@pytest.fixture
def web_driver() -> Callable[..., None]:
    return install_web_driver


@pytest.fixture
def cuda_driver() -> Callable[..., None]:
    return install_cuda_driver


def link_python3(host_root: Path) -> str:
    """Put a Python 3 where the python.org installer puts it (what the bootstrap role does with the stand-in)."""
    versions = host_root / "Library/Frameworks/Python.framework/Versions"
    versions.mkdir(parents=True, exist_ok=True)
    if not (versions / "3.11").is_symlink():
        (versions / "3.11").symlink_to("/.rehearsal/python3")
    return "/Library/Frameworks/Python.framework/Versions/3.11/bin/python3.11"


@pytest.fixture
def python3() -> Callable[[Path], str]:
    return link_python3


@pytest.fixture
def ansible() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Plain `ansible` of this environment as a subprocess (no ansible.cfg of the repo: run in cwd)."""
    exe = str(Path(sys.executable).with_name("ansible"))

    def run(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")  # host keys checked: the lab's known_hosts
        return subprocess.run([exe, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)

    return run
