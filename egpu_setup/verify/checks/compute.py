"""gpu.compute: SGEMM through cuBLAS in GFLOPS, against the GPU's FP32 peak.

The peak comes from the matrix when it knows the GPU (GTX 1080: 8873 GFLOPS), else from cores x clock x 2
(an FMA is two operations): cores from NVML, or CUDA's SMs x cores per SM of the compute capability when NVML has
no count or CUDA sees fewer (a MIG slice), the clock NVML's maximum SM clock or the CUDA attribute's.
"""

from __future__ import annotations

from typing import Any

from egpu_setup.verify import cuda_api
from egpu_setup.verify.result import Check, failed, passed, skipped
from egpu_setup.verify.state import GpuDevice, SuiteState

NAME = "gpu.compute"
MAX_RELATIVE_ERROR = 1e-3  # FP32 sums of n equal products: far below this unless the result is wrong


def peak_gflops(state: SuiteState, device: GpuDevice) -> tuple[float | None, str]:
    known = state.expect.peak_gflops(device.name, device.pci_device_id)
    if known:
        return known, "matrix"
    cores = device.cuda_cores
    if device.multiprocessors and device.compute_capability:
        major, _, minor = device.compute_capability.partition(".")
        per_sm = cuda_api.cores_per_sm(int(major), int(minor or 0))
        from_sms = per_sm * device.multiprocessors if per_sm else None
        # NVML counts the whole board; CUDA's SMs are what SGEMM runs on (fewer in a MIG slice).
        if from_sms and (not cores or from_sms < cores):
            cores = from_sms
    if cores and device.clock_mhz:
        return cores * device.clock_mhz * 2 / 1000, f"{cores} cores x {device.clock_mhz:.0f} MHz x 2"
    return None, "unknown"


def check_gpu_compute(state: SuiteState) -> Check:
    reason = state.gpu_skip_reason() or state.needs("cuda.runtime")
    if reason:
        return skipped(NAME, reason)
    n, repeat = (2048, 8) if state.options.quick else (4096, 20)
    try:
        result = state.backend.sgemm(n, repeat)
    except cuda_api.CudaError as exc:
        return failed(NAME, f"SGEMM failed: {exc}")
    measurements: dict[str, Any] = {
        "gflops": round(result.gflops, 1), "n": n, "repeat": repeat, "milliseconds": round(result.milliseconds, 2),
        "max_relative_error": result.max_relative_error, "library": result.library,
    }  # fmt: skip
    if result.max_relative_error > MAX_RELATIVE_ERROR:
        return failed(
            NAME, f"SGEMM gave wrong results (relative error {result.max_relative_error:.2g})", **measurements
        )
    peak, source = peak_gflops(state, state.devices[0])
    if peak is None:
        return passed(NAME, f"SGEMM {result.gflops:.0f} GFLOPS (peak unknown: reported only)", **measurements)
    measurements.update(peak_gflops=round(peak, 1), peak_source=source, ratio=round(result.gflops / peak, 3))
    floor = state.expect.compute_min_ratio
    text = f"SGEMM {result.gflops:.0f} GFLOPS of {peak:.0f} peak: {result.gflops / peak:.0%}"
    if result.gflops > 1.05 * peak:  # no FP32 GEMM beats the peak: the peak's inputs (or the clock) are off
        text += f" (above the peak from {source}: the peak is not this GPU's)"
    check = (
        passed(NAME, text, **measurements)
        if result.gflops >= floor * peak
        else failed(NAME, f"{text}, below {floor:.0%}", **measurements)
    )
    check.expected = {"peak_gflops": round(peak, 1), "min_ratio": floor}
    return check
