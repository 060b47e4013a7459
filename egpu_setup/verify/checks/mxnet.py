"""mxnet.import, mxnet.features, mxnet.ndarray, mxnet.train, mxnet.libraries.

MXNet runs in a child process without DYLD_* variables (backend.run_mxnet_probe), once per run; the checks judge
its result. Whether MXNet has CUDA is asked as MXNet 1.0.0 allows: one NDArray allocated on gpu(0) (mxnet_probe),
which a CPU build refuses with "Compile with USE_CUDA=1 to enable GPU usage"; on a rehearsal Mac that is all that
runs. On a GPU machine the GPU is exercised (NDArray results against the CPU's, a small conv net trained
with cuDNN, images per second on GPU and CPU); without a GPU, `--cpu-ok` runs the same on the CPU (NDArray
against numpy). An MXNet that is missing or built without CUDA fails where the profile needs it (a provisioned
Mac) and is skipped elsewhere (a Linux GPU box with only PyTorch's CUDA wheels). mxnet.libraries reads
libmxnet.so's load commands (macOS): every library it loads must resolve the way dyld would (egpu_setup.macho).
"""

from __future__ import annotations

import re
from typing import Any

from egpu_setup.verify.backend import ProbeError
from egpu_setup.verify.result import Check, Status, failed, passed, skipped
from egpu_setup.verify.state import REHEARSAL_REASON, SuiteState

CUDA_LIBRARY = re.compile(r"lib(cuda|cudart|cublas|cublasLt|curand|cufft|cusolver|cusparse|nvrtc|cudnn)[.\d]*\.dylib$")


def _cpu_run(state: SuiteState) -> bool:
    return state.no_gpu is not None and state.options.cpu_ok


def _mode_skip(state: SuiteState, runs_on_rehearsal: bool = False) -> str | None:
    """Why a check skips in this mode. On a rehearsal Mac only importing MXNet (its stand-in libmxnet.so is checked
    the way dyld would load it) and allocating one array on gpu(0) can happen; nothing runs on a GPU."""
    if state.rehearsal:
        return None if runs_on_rehearsal else REHEARSAL_REASON
    if state.no_gpu is not None and not state.options.cpu_ok:
        return "no GPU (see gpu.present); --cpu-ok runs the MXNet checks on the CPU"
    return None


def _probe(state: SuiteState) -> dict[str, Any] | None:
    """The probe's result, run once; None with state.mxnet_error when it could not run."""
    if state.mxnet is None and state.mxnet_error is None:
        try:
            state.mxnet = state.backend.mxnet(
                want_gpu=state.no_gpu is None and not state.rehearsal,
                quick=state.options.quick,
                import_only=state.rehearsal,
            )
        except ProbeError as exc:
            state.mxnet_error = str(exc)
    return state.mxnet


def check_mxnet_import(state: SuiteState) -> Check:
    name = "mxnet.import"
    reason = _mode_skip(state, runs_on_rehearsal=True)
    if reason:
        return skipped(name, reason)
    probe = _probe(state)
    if probe is None:
        return failed(name, state.mxnet_error or "the MXNet probe failed")
    result = probe.get("import", {})
    measurements = {"python": probe.get("python"), "dyld_removed": probe.get("dyld_removed", [])}
    if not result.get("ok"):
        error = str(result.get("error", "unknown error"))
        if "No module named 'mxnet'" in error and not state.expect.mxnet_required:
            return skipped(name, f"MXNet is not installed for {probe.get('python')}", **measurements)
        hint = " (run `egpu-setup fix-rpaths` on libmxnet.so)" if "Library not loaded" in error else ""
        if "No module named 'numpy'" in error:
            hint = " (MXNet imports numpy: the mxnet role installs it into the tools venv from the controller cache)"
        return failed(name, f"import mxnet failed without DYLD_* variables: {error}{hint}", **measurements)
    measurements.update(version=result.get("version"), path=result.get("path"), import_s=result.get("seconds"))
    text = f"MXNet {result.get('version')} imports in {result.get('seconds')} s without DYLD_* variables"
    return passed(name, text, **measurements)


def _dependent_skip(state: SuiteState, on: str, runs_on_rehearsal: bool = False) -> str | None:
    reason = _mode_skip(state, runs_on_rehearsal)
    if reason:
        return reason
    check = state.results.get(on)
    if check is None or check.status is Status.PASS:
        return None
    return check.reason if check.status is Status.SKIP else f"needs {on}, which failed"


def check_mxnet_features(state: SuiteState) -> Check:
    name = "mxnet.features"
    reason = _dependent_skip(state, "mxnet.import", runs_on_rehearsal=True)
    if reason:
        return skipped(name, reason)
    probe = state.mxnet or {}
    features: dict[str, bool] = probe.get("features", {})
    enabled = sorted(k for k, v in features.items() if v)
    measurements = {"features": features, "num_gpus": probe.get("num_gpus", 0), "source": probe.get("features_source")}
    gpu_error = (probe.get("gpu_array") or {}).get("error")
    if gpu_error:
        measurements["gpu_error"] = gpu_error
    said = f" (MXNet: {gpu_error})" if gpu_error else ""
    listed = ", ".join(enabled) or "none of " + ", ".join(sorted(features))
    if state.rehearsal:
        if not features:
            return skipped(name, f"{REHEARSAL_REASON}: {probe.get('features_source')}", **measurements)
        if not features.get("CUDA"):
            why = f"this MXNet is built without CUDA: the profile builds it with USE_CUDA=1{said}"
            return failed(name, why, **measurements)
        if not probe.get("num_gpus"):
            return failed(name, f"MXNet is built with CUDA but cannot allocate on gpu(0){said}", **measurements)
        text = f"{listed} (an array is allocated on gpu(0); nothing runs on a {REHEARSAL_REASON})"
        return passed(name, text, **measurements)
    if _cpu_run(state):
        return passed(name, f"on the CPU (no GPU, --cpu-ok): {listed}", **measurements)
    if not features.get("CUDA"):
        text = f"this MXNet is built without CUDA (a CPU build): the MXNet GPU checks need USE_CUDA=1{said}"
        check = failed if state.expect.mxnet_required else skipped
        return check(name, text, **measurements)
    if features.get("CUDNN") is False and (state.expect.mxnet_required or state.expect.cudnn):
        return failed(name, "this MXNet is built without cuDNN (USE_CUDNN=1 is expected)", **measurements)
    if not probe.get("num_gpus"):
        return failed(name, f"MXNet is built with CUDA but sees no GPU{said}", **measurements)
    unknown = "; cuDNN unknown (MXNet < 1.5)" if "CUDNN" not in features else ""
    return passed(name, f"{listed}; {probe.get('num_gpus')} GPU(s){unknown}", **measurements)


def check_mxnet_ndarray(state: SuiteState) -> Check:
    name = "mxnet.ndarray"
    reason = _dependent_skip(state, "mxnet.features")
    if reason:
        return skipped(name, reason)
    result = (state.mxnet or {}).get("ndarray", {})
    measurements = {k: result[k] for k in ("device", "against", "max_abs_error") if k in result}
    if not result.get("ok"):
        return failed(name, result.get("error") or f"NDArray results differ from the {result.get('against')}'s",
                      **measurements)  # fmt: skip
    errors = result.get("max_abs_error", {})
    worst = max(errors.values()) if errors else 0.0
    text = f"{result.get('device', '?').upper()} results equal the {result.get('against')}'s (max error {worst:.1e})"
    return passed(name, text, **measurements)


def check_mxnet_train(state: SuiteState) -> Check:
    name = "mxnet.train"
    reason = _dependent_skip(state, "mxnet.features")
    if reason:
        return skipped(name, reason)
    probe = state.mxnet or {}
    run = probe.get("train_cpu" if _cpu_run(state) else "train_gpu", {})
    cpu = probe.get("train_cpu", {})
    measurements: dict[str, Any] = {
        k: run[k] for k in ("device", "loss_first", "loss_last", "steps", "batch") if k in run
    }
    if "images_per_s" in run and run.get("device") == "gpu":
        measurements["images_per_s_gpu"] = run["images_per_s"]
    if "images_per_s" in cpu:
        measurements["images_per_s_cpu"] = cpu["images_per_s"]
    if not run.get("ok"):
        why = run.get("error") or f"the loss did not fall ({run.get('loss_first')} -> {run.get('loss_last')})"
        return failed(name, why, **measurements)
    speeds = ", ".join(
        f"{measurements[k]:,.0f} images/s on the {k[-3:].upper()}"
        for k in ("images_per_s_gpu", "images_per_s_cpu")
        if k in measurements
    )
    text = f"loss {run.get('loss_first')} -> {run.get('loss_last')} in {run.get('steps')} steps; {speeds}"
    return passed(name, text, **measurements)


def check_mxnet_libraries(state: SuiteState) -> Check:
    name = "mxnet.libraries"
    if state.host.platform != "darwin":
        return skipped(name, "not macOS: dyld's load commands concern the Mac build of libmxnet.so")
    library = state.options.mxnet_library or (state.mxnet or {}).get("library")
    if library is None:
        try:
            library = state.backend.mxnet(want_gpu=False, quick=True, locate_only=True).get("library")
        except ProbeError as exc:
            return failed(name, f"cannot look for libmxnet.so: {exc}")
    if not library:
        text = "libmxnet.so not found (no mxnet package, MXNET_LIBRARY_PATH unset; --mxnet-lib names it)"
        return (failed if state.expect.mxnet_required else skipped)(name, text)
    try:
        dependencies = state.backend.mach_o_dependencies(library)
    except ProbeError as exc:
        return failed(name, str(exc), library=library)
    cuda = {dep: resolved for dep, resolved in dependencies if CUDA_LIBRARY.search(dep.split(" (via ")[0])}
    measurements = {"library": library, "cuda_references": cuda}
    missing = sorted(dep for dep, resolved in dependencies if resolved is None)
    if missing:
        text = f"dyld would not find {', '.join(missing)} (run `egpu-setup fix-rpaths {library}`)"
        return failed(name, text, **measurements)
    if not cuda and state.expect.mxnet_required:
        return failed(name, "libmxnet.so references no CUDA library: a CPU build", **measurements)
    return passed(name, f"all {len(dependencies)} references of {library} resolve ({len(cuda)} CUDA)", **measurements)
