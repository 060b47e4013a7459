"""Genuine Mach-O built once per session with the ziglang wheel, and fresh Mac trees made from them.

The first zig compile of a session with a cold cache builds libc stubs (~12 s); every later one is quick.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from egpu_lab.macho_build import build_dylib, build_executable, build_stub_dylib, make_universal

CUDA_LIBS = ("libcudart.9.1.dylib", "libcublas.9.1.dylib", "libcurand.9.1.dylib", "libcudnn.7.dylib")
MXNET_DEPS = ("libcudart.9.1.dylib", "libcublas.9.1.dylib", "libcudnn.7.dylib")
ARM = "aarch64-macos.11.0"


@dataclass(frozen=True)
class Built:
    """Paths of the files built for this session (never modified by tests: copy them with `mac_tree`)."""

    dir: Path
    cuda: dict[str, Path]  # x86_64 stand-ins, install name @rpath/<name>
    cuda_fat: dict[str, Path]  # x86_64 + arm64
    mxnet: Path  # libmxnet.so: id lib/libmxnet.so, needs @rpath/ cudart, cublas, cudnn
    mxnet_nopad: Path  # the same without any header room
    mxnet_fat: Path  # universal x86_64 + arm64 (the arm64 slice is ad-hoc signed by zig's linker)
    weak: Path  # libweak.dylib: @rpath/libcudart (load) and @rpath/libcurand (weak)
    app: Path  # executable with LC_RPATH @executable_path/../lib, needs @rpath/libA.dylib
    lib_a: Path  # @rpath/libA.dylib needs @loader_path/libB.dylib
    lib_b: Path  # @loader_path/libB.dylib needs @rpath/libcudart.9.1.dylib
    mxnet_arm: Path  # the arm64 slice of mxnet_fat, thin


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    d = tmp_path_factory.mktemp("macho-built")
    cuda = {n: build_stub_dylib(d / "x86" / n, f"@rpath/{n}") for n in CUDA_LIBS}
    cuda_arm = {n: build_stub_dylib(d / "arm" / n, f"@rpath/{n}", target=ARM) for n in MXNET_DEPS}
    cuda_fat = {n: make_universal(d / "fat" / n, [cuda[n], cuda_arm[n]]) for n in MXNET_DEPS}
    mx_src = "int MXGetVersion(int *out) { *out = 10100; return 0; }\n"
    mxnet = build_dylib(d / "libmxnet.so", mx_src, "lib/libmxnet.so", link=[cuda[n] for n in MXNET_DEPS])
    nopad = build_dylib(
        d / "nopad" / "libmxnet.so", mx_src, "lib/libmxnet.so", link=[cuda[n] for n in MXNET_DEPS], headerpad=0
    )
    mx_arm = build_dylib(
        d / "arm" / "libmxnet.so", mx_src, "lib/libmxnet.so", link=[cuda_arm[n] for n in MXNET_DEPS], target=ARM
    )
    mxnet_fat = make_universal(d / "fat" / "libmxnet.so", [mxnet, mx_arm])
    weak = build_dylib(
        d / "libweak.dylib",
        "int w(void) { return 1; }\n",
        "@rpath/libweak.dylib",
        link=[cuda["libcudart.9.1.dylib"]],
        weak=[cuda["libcurand.9.1.dylib"]],
    )
    # libB's install name is @loader_path/libB.dylib, so libA (linked against it) references it that way.
    lib_b = build_dylib(d / "chain" / "libB.dylib", "int b(void) { return 2; }\n", "@loader_path/libB.dylib",
                        link=[cuda["libcudart.9.1.dylib"]])  # fmt: skip
    lib_a = build_dylib(d / "chain" / "libA.dylib", "int a(void) { return 1; }\n", "@rpath/libA.dylib",
                        link=[lib_b])  # fmt: skip
    app = build_executable(d / "chain" / "app", "int main(void) { return 0; }\n", link=[lib_a],
                           rpaths=["@executable_path/../lib"])  # fmt: skip
    return Built(d, cuda, cuda_fat, mxnet, nopad, mxnet_fat, weak, app, lib_a, lib_b, mx_arm)


@pytest.fixture
def mac_tree(tmp_path: Path, built: Built) -> Callable[..., Path]:
    """`mac_tree(cuda=..., files={mac path: built file})` makes a fresh Mac root under tmp_path.

    `cuda`: "x86" puts the x86_64 CUDA stand-ins in /Developer/NVIDIA/CUDA-9.1/lib with /usr/local/cuda a symlink
    to /Developer/NVIDIA/CUDA-9.1 (as the CUDA installer lays them out); "fat" the universal ones; None none.
    """

    made: list[Path] = []

    def make(cuda: str | None = "x86", files: dict[str, Path] | None = None) -> Path:
        root = tmp_path / ("root" if not made else f"root{len(made) + 1}")
        root.mkdir()
        made.append(root)
        if cuda:
            lib = root / "Developer/NVIDIA/CUDA-9.1/lib"
            lib.mkdir(parents=True, exist_ok=True)
            for name, src in (built.cuda if cuda == "x86" else built.cuda_fat).items():
                shutil.copyfile(src, lib / name)
            (root / "usr/local").mkdir(parents=True, exist_ok=True)
            (root / "usr/local/cuda").symlink_to("/Developer/NVIDIA/CUDA-9.1")  # absolute, as on the Mac
        for mac_path, src in (files or {}).items():
            dest = root / mac_path.lstrip("/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest)
        return root

    return make


@pytest.fixture
def llvm() -> Callable[..., str]:
    """Run an llvm-*-14 tool; returns stdout, asserts exit 0 and no error output."""

    def run(tool: str, *args: str | Path) -> str:
        proc = subprocess.run([f"llvm-{tool}-14", *map(str, args)], capture_output=True, text=True, check=False)
        assert proc.returncode == 0 and "error" not in proc.stderr.lower(), proc.stderr
        return proc.stdout

    return run


@dataclass(frozen=True)
class ToolBin:
    """A directory holding an `install_name_tool` for PATH, and the log of its invocations (one argv a line)."""

    dir: Path
    log: Path

    def calls(self) -> list[list[str]]:
        import json

        return [json.loads(line) for line in self.log.read_text().splitlines()] if self.log.exists() else []

    def path_env(self, base: str | None = None) -> str:
        import os

        return f"{self.dir}{os.pathsep}{base if base is not None else os.environ.get('PATH', '')}"


@pytest.fixture
def tool_bin(tmp_path: Path) -> Callable[..., ToolBin]:
    """`tool_bin("sim")`: the rehearsal's cctools-900 install_name_tool (egpu_lab.macos.cctools) run
    on this machine's paths; `tool_bin("noop")`: one that exits 0 and writes nothing. Both log their argv."""
    import sys

    def make(kind: str = "sim") -> ToolBin:
        d = tmp_path / f"bin-{kind}"
        d.mkdir()
        log = tmp_path / f"bin-{kind}.log"
        body = (
            "from egpu_lab.macos.__main__ import dispatch\n"
            "sys.exit(dispatch('cctools', 'install_name_tool', sys.argv[1:], prog=sys.argv[0]))\n"
            if kind == "sim"
            else "sys.exit(0)\n"
        )
        script = d / "install_name_tool"
        script.write_text(
            f"#!{sys.executable}\nimport json, os, sys\n"
            "os.environ['EGPU_SIM_ROOT'] = '/'  # Mac paths are this machine's paths\n"
            f"with open({str(log)!r}, 'a') as f:\n    f.write(json.dumps(sys.argv[1:]) + '\\n')\n" + body
        )
        script.chmod(0o755)
        return ToolBin(d, log)

    return make
