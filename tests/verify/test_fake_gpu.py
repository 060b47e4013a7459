"""The GPU path end to end through the real ctypes bindings, against stand-in CUDA libraries built with zig.

data/fake_cuda.c implements libcuda, libcudart, libcublas and libcudnn with host memory; `python -m
egpu_setup.verify` finds them the way it finds NVIDIA's (the ld path for libcuda.so.1, EGPU_VERIFY_LIBRARY_PATH
for the toolkit), so every ctypes signature, the copy timing, SGEMM's read-back check and the report run for
real. The figures are the stand-in's (memcpy speed), not a GPU's: bench/verify_gpu.sh measures real ones.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from egpu_lab.macho_build import zig_cc_command

pytestmark = pytest.mark.slow  # the first zig build for Linux in a session compiles libc stubs


@pytest.fixture(scope="module")
def fake_cuda(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fake-cuda")
    source = Path(__file__).with_name("data") / "fake_cuda.c"
    built = out / "build.so"
    argv = [*zig_cc_command(), "-target", "x86_64-linux-gnu", "-shared", "-fPIC", "-O2", "-o", str(built), str(source)]
    done = subprocess.run(argv, cwd=out, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    for name in ("libcuda.so.1", "libcudart.so.12", "libcublas.so.12", "libcudnn.so.9"):
        shutil.copy(built, out / name)
    return out


def run_verify(fake: Path, tmp_path: Path, repo_root: Path, *args: str, **env: str):
    report = tmp_path / "verify.json"
    environment = {k: v for k, v in os.environ.items() if k != "EGPU_REHEARSAL"}
    environment.update(LD_LIBRARY_PATH=str(fake), EGPU_VERIFY_LIBRARY_PATH=str(fake), PYTHONPATH=str(repo_root), **env)
    argv = [sys.executable, "-m", "egpu_setup.verify", "--quick", "--json", str(report), *args]
    done = subprocess.run(argv, env=environment, capture_output=True, text=True, timeout=300, check=False)
    document = json.loads(report.read_text()) if report.exists() else None
    return done, document


def test_gpu_path_runs_through_the_bindings(fake_cuda, tmp_path, repo_root, validate) -> None:
    done, doc = run_verify(fake_cuda, tmp_path, repo_root)
    assert done.returncode == 0, done.stdout + done.stderr
    validate(doc)
    checks = {c["name"]: c for c in doc["checks"]}
    assert doc["device"] == "gpu" and doc["devices"] == [
        {"name": "Fake GPU", "compute_capability": "8.6", "memory_gib": 16.0, "pci_bus_id": "0000:AB:00.0"}
    ]
    assert checks["gpu.present"]["measurements"]["source"] == "cuda"  # no NVML here: the driver API stands in
    assert checks["cuda.driver"]["measurements"]["supports_cuda"] == "12.8"
    assert checks["cuda.runtime"]["measurements"] == {"version": "12.4", "library": str(fake_cuda / "libcudart.so.12")}
    assert checks["cudnn"]["measurements"]["version"] == "9.1.0"
    link = checks["link.bandwidth"]["measurements"]
    assert link["h2d_gbps"] > 0 and link["d2h_gbps"] > 0 and link["size_mib"] == 64
    compute = checks["gpu.compute"]["measurements"]
    assert compute["max_relative_error"] < 1e-5 and compute["n"] == 2048
    assert compute["peak_gflops"] == 4 * 128 * 1500 * 2 / 1000  # 4 SMs x 128 cores (8.6) x 1500 MHz x 2
    assert compute["library"] == str(fake_cuda / "libcublas.so.12")
    # The MXNet CPU wheel on a "GPU" machine: it imports, and the GPU MXNet checks skip saying why.
    assert checks["mxnet.import"]["status"] == "pass"
    assert "built without CUDA" in checks["mxnet.features"]["reason"]


def test_wrong_sgemm_results_fail(fake_cuda, tmp_path, repo_root) -> None:
    done, doc = run_verify(fake_cuda, tmp_path, repo_root, FAKE_SGEMM_WRONG="1")
    assert done.returncode == 1
    compute = next(c for c in doc["checks"] if c["name"] == "gpu.compute")
    assert compute["status"] == "fail" and compute["reason"].startswith("SGEMM gave wrong results")
    assert "error: verification failed: gpu.compute" in done.stderr


def test_driver_without_device_is_no_gpu(fake_cuda, tmp_path, repo_root) -> None:
    done, doc = run_verify(fake_cuda, tmp_path, repo_root, FAKE_CUINIT="100")
    assert done.returncode == 3
    assert doc["no_gpu"].startswith("the CUDA driver sees no device (cuInit: CUDA_ERROR_NO_DEVICE)")
    assert "error: no NVIDIA GPU or driver found: the CUDA driver sees no device" in done.stderr


def test_driver_that_fails_to_start_is_a_failure_not_no_gpu(fake_cuda, tmp_path, repo_root) -> None:
    done, doc = run_verify(fake_cuda, tmp_path, repo_root, FAKE_CUINIT="999")
    # A driver is there but cuInit fails (a kernel module/library mismatch does this): broken, so exit 1.
    assert done.returncode == 1 and doc["no_gpu"] is None
    present = doc["checks"][0]
    assert present["status"] == "fail" and present["reason"].startswith("cuInit failed: CUDA_ERROR_UNKNOWN (999)")
    assert "error: verification failed: gpu.present, cuda.driver" in done.stderr
