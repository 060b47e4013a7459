"""A rehearsal Mac: the real SystemBackend on a Mac tree, with kextstat and system_profiler as commands on PATH.

Nothing runs on a GPU there: the web driver must be loaded, the versions are read from the plists, version.txt
and cudnn.h, and libmxnet.so's references are resolved by dyld's rules on genuine Mach-O built with zig. MXNet is
the lab's stand-in package (MXNet 1.0.0's API, with the stand-in numpy): it imports, checks its library as dyld
would, and answers an array on gpu(0) from its build flags and the simulated CUDA driver.
"""

from __future__ import annotations

import os
import plistlib
import shutil
import stat
import sys
from pathlib import Path

import pytest

from egpu_lab.machine import Machine, MachineState
from egpu_lab.macho_build import build_dylib, build_stub_dylib
from egpu_lab.standins import mxnet as mxnet_standin
from egpu_lab.standins import numpy_wheel
from egpu_setup.errors import ExitCode
from egpu_setup.verify.backend import SystemBackend
from egpu_setup.verify.expectations import expectations_for
from egpu_setup.verify.result import Status
from egpu_setup.verify.state import REHEARSAL_REASON, Options
from egpu_setup.verify.suite import run_suite

pytestmark = pytest.mark.slow  # the first zig build of a session takes seconds


@pytest.fixture(scope="module")
def mach_o(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("verify-macho")
    cudart = build_stub_dylib(d / "libcudart.9.1.dylib", "@rpath/libcudart.9.1.dylib")
    fixed = build_dylib(d / "fixed" / "libmxnet.so", _library_source(cuda=True), "lib/libmxnet.so", link=[cudart],
                        rpaths=["/usr/local/cuda/lib"])  # fmt: skip
    broken = build_dylib(d / "broken" / "libmxnet.so", _library_source(cuda=True), "lib/libmxnet.so", link=[cudart])
    cpu = build_dylib(d / "cpu" / "libmxnet.so", _library_source(cuda=False), "lib/libmxnet.so")
    return {"cudart": cudart, "fixed": fixed, "broken": broken, "cpu": cpu}


def _library_source(cuda: bool) -> str:
    """A libmxnet with the build-flags marker the stand-in's c_api.c compiles in (USE_CUDA / USE_CUDNN)."""
    flag = int(cuda)
    return (
        f'__attribute__((used)) static const char f[] = "EGPU_MXNET_FEATURES:CUDA={flag};CUDNN={flag};OPENCV=0;";\n'
        "int MXGetVersion(int *out) { *out = 10000; return 0; }\n"
    )


def _script(path: Path, output: str) -> None:
    path.write_text(f"#!/bin/sh\ncat <<'EOF'\n{output}EOF\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def _plist(path: Path, data: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(plistlib.dumps(data))


@pytest.fixture
def rehearsal_mac(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mach_o, mac_command_output) -> Path:
    """A provisioned rehearsal Mac's tree; kextstat and system_profiler print what the real ones would."""

    root = tmp_path / "root"
    _plist(root / "System/Library/CoreServices/SystemVersion.plist",
           {"ProductName": "Mac OS X", "ProductVersion": "10.13.2", "ProductBuildVersion": "17C88"})  # fmt: skip
    _plist(root / "Library/Extensions/GeForceWeb.kext/Contents/Info.plist",
           {"CFBundleGetInfoString": "GeForceWeb 10.2.7 387.10.10.10.25.156"})  # fmt: skip
    _plist(root / "Library/Frameworks/CUDA.framework/Resources/Info.plist", {"CFBundleVersion": "387.128"})
    lib = root / "usr/local/cuda/lib"
    lib.mkdir(parents=True)
    (root / "usr/local/cuda/version.txt").write_text("CUDA Version 9.1.128\n")
    (lib / "libcudart.9.1.dylib").write_bytes(mach_o["cudart"].read_bytes())
    include = root / "usr/local/cuda/include"
    include.mkdir()
    (include / "cudnn.h").write_text("#define CUDNN_MAJOR 7\n#define CUDNN_MINOR 0\n#define CUDNN_PATCHLEVEL 5\n")
    for kind in ("fixed", "broken", "cpu"):
        target = root / "Users/admin" / kind / "lib/libmxnet.so"
        target.parent.mkdir(parents=True)
        target.write_bytes(mach_o[kind].read_bytes())
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _script(bin_dir / "kextstat", mac_command_output["kextstat"])
    _script(bin_dir / "system_profiler", mac_command_output["system_profiler"])
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("EGPU_REHEARSAL", "1")
    # The rehearsal's MXNet: the lab's stand-in package beside the fixed library (libinfo finds ../../lib), with the
    # stand-in numpy ahead of the controller's; its dyld check and its CUDA driver are this machine's.
    shutil.copytree(mxnet_standin.TEMPLATE / "python", root / "Users/admin/fixed/python",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    state = MachineState()
    state.boot.cuda_works = True
    Machine(tmp_path / "machine", root).write(state)
    monkeypatch.setenv("EGPU_SIM_STATE", str(tmp_path / "machine"))
    monkeypatch.setenv("EGPU_SIM_ROOT", str(root))
    monkeypatch.setenv("PYTHONPATH", f"{root / 'Users/admin/fixed/python'}{os.pathsep}{numpy_wheel.SOURCE}")
    return root


def _run(root: Path, library: str | None):
    backend = SystemBackend(mac_root=str(root))
    expect = expectations_for(None, backend.host().platform)
    return run_suite(backend, expect, Options(mxnet_library=library))


def test_rehearsal_runs_what_is_meaningful_and_skips_gpu_execution(rehearsal_mac, validate) -> None:
    report = _run(rehearsal_mac, "/Users/admin/fixed/lib/libmxnet.so")
    checks = {c.name: c for c in report.checks}
    assert {n: c.status.value for n, c in checks.items()} == {
        "gpu.present": "pass", "cuda.driver": "pass", "cuda.runtime": "pass", "cudnn": "pass",
        "link.bandwidth": "skip", "gpu.compute": "skip", "mxnet.import": "pass", "mxnet.features": "pass",
        "mxnet.ndarray": "skip", "mxnet.train": "skip", "mxnet.libraries": "pass",
    }  # fmt: skip
    for name in ("link.bandwidth", "gpu.compute", "mxnet.ndarray", "mxnet.train"):
        assert checks[name].reason == REHEARSAL_REASON
    assert checks["mxnet.import"].measurements["version"] == "1.0.0"
    # MXNet 1.0.0 tells CUDA only by an array on gpu(0); cuDNN shows in mxnet.libraries' references
    assert checks["mxnet.features"].measurements["features"] == {"CUDA": True}
    assert checks["mxnet.features"].measurements["num_gpus"] == 1
    assert report.host.platform == "darwin" and report.host.rehearsal and report.host.os_build == "17C88"
    present = checks["gpu.present"].measurements
    assert present["webdriver_loaded"] and present["webdriver_version"] == "387.10.10.10.25.156"
    assert present["displays"][0]["Device ID"] == "0x1b80"
    assert checks["cuda.runtime"].measurements == {"version": "9.1", "library": "/usr/local/cuda/version.txt"}
    assert checks["cudnn"].measurements["version"] == "7.0.5"
    assert checks["mxnet.libraries"].measurements["cuda_references"] == {
        "@rpath/libcudart.9.1.dylib": "/usr/local/cuda/lib/libcudart.9.1.dylib"
    }
    assert report.exit_code == ExitCode.OK and report.device == "none"
    validate(report.to_dict())


def test_rehearsal_finds_an_unresolved_rpath_and_a_web_driver_that_is_not_loaded(rehearsal_mac, tmp_path) -> None:
    _script(tmp_path / "bin" / "kextstat", "")  # nothing NVIDIA loaded (kextstat prints no rows, exit 0)
    report = _run(rehearsal_mac, "/Users/admin/broken/lib/libmxnet.so")
    checks = {c.name: c for c in report.checks}
    assert checks["gpu.present"].status is Status.FAIL
    assert checks["gpu.present"].reason == (
        "the NVIDIA web driver is not loaded (kextstat shows no com.nvidia.web.GeForceWeb; "
        "version 387.10.10.10.25.156 is installed)"
    )
    assert checks["cuda.driver"].reason == "the CUDA kext (com.nvidia.CUDA) is not loaded"
    libraries = checks["mxnet.libraries"]
    assert libraries.status is Status.FAIL
    assert libraries.reason.startswith("dyld would not find @rpath/libcudart.9.1.dylib (run `egpu-setup fix-rpaths")
    assert report.exit_code == ExitCode.CHECK_FAILED


def test_rehearsal_wrong_cudnn_version_fails(rehearsal_mac) -> None:
    header = rehearsal_mac / "usr/local/cuda/include/cudnn.h"
    header.write_text("#define CUDNN_MAJOR 7\n#define CUDNN_MINOR 1\n#define CUDNN_PATCHLEVEL 4\n")
    cudnn = next(c for c in _run(rehearsal_mac, None).checks if c.name == "cudnn")
    assert (cudnn.status, cudnn.reason) == (Status.FAIL, "cuDNN 7.1.4, the profile needs 7.0.5")


def test_rehearsal_fails_an_mxnet_built_without_cuda(rehearsal_mac) -> None:
    library = rehearsal_mac / "Users/admin/fixed/lib/libmxnet.so"
    library.write_bytes((rehearsal_mac / "Users/admin/cpu/lib/libmxnet.so").read_bytes())
    report = _run(rehearsal_mac, "/Users/admin/fixed/lib/libmxnet.so")
    features = next(c for c in report.checks if c.name == "mxnet.features")
    assert features.status is Status.FAIL
    assert "built without CUDA" in features.reason
    # MXNet 1.0.0's own words (src/storage/storage.cc), from the stand-in's MXNDArrayCreateEx
    assert "Compile with USE_CUDA=1 to enable GPU usage" in features.measurements["gpu_error"]
    assert features.measurements["features"] == {"CUDA": False} and features.measurements["num_gpus"] == 0
    assert report.exit_code == ExitCode.CHECK_FAILED


def test_rehearsal_fails_a_cuda_build_whose_cuda_driver_does_not_work(rehearsal_mac, tmp_path) -> None:
    machine = Machine(tmp_path / "machine", rehearsal_mac)
    state = machine.read()
    state.boot.cuda_works = False
    machine.write(state)
    features = next(c for c in _run(rehearsal_mac, None).checks if c.name == "mxnet.features")
    assert features.status is Status.FAIL
    assert features.reason.startswith("MXNet is built with CUDA but cannot allocate on gpu(0)")
    assert "CUDA driver version is insufficient for CUDA runtime version" in features.measurements["gpu_error"]


def test_rehearsal_without_numpy_fails_the_import_and_names_the_fix(rehearsal_mac, monkeypatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(rehearsal_mac / "Users/admin/fixed/python"))
    # the controller's venv has numpy: run the probe's Python without site-packages, as a tools venv without numpy
    backend = SystemBackend(mac_root=str(rehearsal_mac), mxnet_python=str(_python_without_site(rehearsal_mac)))
    report = run_suite(backend, expectations_for(None, "darwin"), Options())
    imported = next(c for c in report.checks if c.name == "mxnet.import")
    assert imported.status is Status.FAIL
    assert "ModuleNotFoundError: No module named 'numpy'" in imported.reason
    assert "the mxnet role installs it into the tools venv" in imported.reason


def _python_without_site(root: Path) -> Path:
    wrapper = root.parent / "python-without-site"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} -S "$@"\n')
    wrapper.chmod(0o755)
    return wrapper
