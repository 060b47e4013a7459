"""Fixtures for the packaging tests: a bare host (tree + machine state) and a handler runner."""

from __future__ import annotations

import io
import os
import stat
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from egpu_lab.machine import Machine, MachineState
from egpu_lab.macos import xar_pkg
from egpu_lab.macos.base import Sim, SimExit


@dataclass
class Run:
    code: int
    out: str
    err: str


@dataclass
class Host:
    dir: Path
    machine: Machine

    @property
    def root(self) -> Path:
        return self.machine.root

    def run(
        self, handler: Callable[[list[str], Sim], int], *argv: str, user: str = "root", env: dict | None = None
    ) -> Run:
        out, err = io.StringIO(), io.StringIO()
        sim = Sim(
            handler.__name__,
            machine=self.machine,
            env={"EGPU_SIM_USER": user, **(env or {})},
            stdout=out,
            stderr=err,
            cwd="/",
        )
        try:
            code = int(handler(list(argv), sim) or 0)
        except SimExit as exc:
            code = exc.code
        return Run(code, out.getvalue(), err.getvalue())


@pytest.fixture
def host(tmp_path: Path) -> Host:
    """A host directory like the lab's: root/ with the receipts dir, machine/ with a 10.13.2 (17C88) state."""
    root = tmp_path / "mac1" / "root"
    for d in ("private/var/db/receipts", "private/tmp", "private/var/log", "Library/Extensions", "Volumes"):
        (root / d).mkdir(parents=True)
    machine = Machine(tmp_path / "mac1" / "machine", root)
    machine.write(MachineState())
    return Host(tmp_path / "mac1", machine)


def tree(*files: tuple[str, bytes]) -> list[xar_pkg.CpioEntry]:
    """Payload entries for `files` (paths './a/b'), with their parent directories."""
    entries = {".": xar_pkg.CpioEntry(".", stat.S_IFDIR | 0o755)}
    for path, data in files:
        parts = path.removeprefix("./").split("/")
        for i in range(1, len(parts)):
            d = "./" + "/".join(parts[:i])
            entries.setdefault(d, xar_pkg.CpioEntry(d, stat.S_IFDIR | 0o755))
        entries[path] = xar_pkg.CpioEntry(path, stat.S_IFREG | 0o644, data)
    return list(entries.values())


@pytest.fixture
def make_tree() -> Callable[..., list[xar_pkg.CpioEntry]]:
    return tree


# --- building the MXNet stand-in outside a sandbox ---------------------------------------------------------------

WRAPPER = """#!{python}
import sys
from egpu_lab.macos.__main__ import dispatch
sys.exit(dispatch("{module}", "{handler}", sys.argv[1:], "{prog}"))
"""
# The commands MXNet's make runs, as wrappers of the lab's handlers (the sandbox's shims, outside a sandbox).
BUILD_COMMANDS = {
    "clang": ("toolchain", "xcrun_clang"), "clang++": ("toolchain", "xcrun_clang"),
    "gcc": ("toolchain", "xcrun_clang"), "g++": ("toolchain", "xcrun_clang"),
    "nvcc": ("toolchain", "nvcc"), "ar": ("toolchain", "xcrun_ar"), "uname": ("uname", "uname"),
}  # fmt: skip


@dataclass
class BuildHost:
    """A host tree with the CLT, the CUDA toolkit and driver and cuDNN, and a bin dir of command wrappers."""

    host: Host
    bindir: Path
    env: dict[str, str]

    @property
    def cuda(self) -> Path:
        """/usr/local/cuda of the host, as a path here (USE_CUDA_PATH for a build outside the sandbox)."""
        return self.host.root / "usr/local/cuda"

    def source(self, where: Path) -> Path:
        """A fresh copy of the MXNet stand-in tree (what the source tarball unpacks to)."""
        import shutil

        from egpu_lab.standins import mxnet

        shutil.copytree(mxnet.TEMPLATE, where, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        return where

    def make(self, src: Path, *args: str) -> subprocess.CompletedProcess[str]:
        """`make` in `src` with the host's nvcc (NVCC= on the command line: the toolkit's own shim runs only
        inside a sandbox); everything else as the Makefile says."""
        return subprocess.run(["make", f"NVCC={self.bindir}/nvcc", *args], cwd=src, env=self.env,
                              capture_output=True, text=True, check=False)  # fmt: skip


@pytest.fixture
def build_host(host: Host, tmp_path: Path) -> Callable[..., BuildHost]:
    """`build_host(clt="9.2", driver=True)`: the host with what an MXNet build needs (the CUDA driver's
    libcuda.dylib only with `driver`), and wrappers first on PATH (plus `ccache`, which runs its arguments)."""
    import sys

    from egpu_lab.standins import CUDA_DRIVER_VERSION, cuda, install_clt, machos

    def make(clt: str | None = "9.2", driver: bool = True) -> BuildHost:
        if clt:
            install_clt(host.root, clt)
        cuda._toolkit_tree(host.root)
        if driver:
            cuda._driver_tree(host.root, CUDA_DRIVER_VERSION)
        lib = host.root / "usr/local/cuda/lib"
        machos.cudnn_lib(lib)
        (lib / "libcudnn.dylib").symlink_to(machos.CUDNN_LIB)
        bindir = tmp_path / "bin"
        bindir.mkdir()
        for prog, (module, handler) in BUILD_COMMANDS.items():
            text = WRAPPER.format(python=sys.executable, module=module, handler=handler, prog=prog)
            (bindir / prog).write_text(text)
        (bindir / "ccache").write_text('#!/bin/sh\nexec "$@"\n')  # ccache runs the compiler it is given
        for wrapper in bindir.iterdir():
            wrapper.chmod(0o755)
        env = {
            **os.environ,
            "PATH": f"{bindir}:{os.environ['PATH']}",
            "PYTHONPATH": str(Path(__file__).resolve().parents[3]),
            "EGPU_SIM_STATE": str(host.machine.state_dir),
            "EGPU_SIM_ROOT": str(host.root),
            "EGPU_SIM_USER": "admin",
        }
        return BuildHost(host, bindir, env)

    return make
