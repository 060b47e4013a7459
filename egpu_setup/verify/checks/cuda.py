"""cuda.driver, cuda.runtime, cudnn: the CUDA libraries, their versions, and whether they fit together.

Versions are judged only against an expectation (a profile's, e.g. CUDA 9.1 and cuDNN 7.0.5 on the default
profile); without one they are reported. What is always judged: the driver must support the runtime's CUDA
version (before CUDA 11 the driver's version must be at least the runtime's; since 11 the same major suffices,
NVIDIA's "minor version compatibility").
"""

from __future__ import annotations

from typing import Any

from egpu_setup.verify import cuda_api
from egpu_setup.verify.macos import CUDA_KEXT_BUNDLE
from egpu_setup.verify.result import Check, failed, passed, skipped
from egpu_setup.verify.state import SuiteState


def _major_minor(text: str) -> tuple[int, int]:
    parts = [*(int(p) for p in text.split(".")[:2] if p.isdigit()), 0, 0]
    return parts[0], parts[1]


def check_cuda_driver(state: SuiteState) -> Check:
    name = "cuda.driver"
    expected: dict[str, Any] = {}
    if state.expect.cuda_api:
        expected["supports_cuda_at_least"] = state.expect.cuda_api
    if state.expect.cuda_driver:
        expected["cuda_driver"] = state.expect.cuda_driver
    measurements: dict[str, Any] = {}
    problems: list[str] = []
    if state.host.platform == "darwin":
        mac = state.backend.mac()
        measurements["cuda_driver"] = mac.cuda_driver_version
        measurements["cuda_kext_loaded"] = CUDA_KEXT_BUNDLE in mac.kexts
        if state.expect.cuda_driver and mac.cuda_driver_version != state.expect.cuda_driver:
            found = mac.cuda_driver_version or "none (no CUDA.framework Info.plist)"
            problems.append(f"CUDA driver {found}, the profile needs {state.expect.cuda_driver}")
    if state.rehearsal:
        # A rehearsal Mac cannot load libcuda.dylib: judge the installed version and the loaded kext only.
        if CUDA_KEXT_BUNDLE not in state.backend.mac().kexts:
            problems.append(f"the CUDA kext ({CUDA_KEXT_BUNDLE}) is not loaded")
        return _verdict(name, problems, f"CUDA driver {measurements.get('cuda_driver')}", measurements, expected)
    if state.no_gpu is not None:
        return _with(skipped(name, state.gpu_skip_reason() or state.no_gpu, **measurements), expected)
    try:
        facts = state.backend.cuda_driver()
    except cuda_api.CudaError as exc:
        return _with(failed(name, str(exc), **measurements), expected)
    measurements.update(
        library=facts.path, supports_cuda=cuda_api.version_text(facts.version), device_count=len(facts.devices)
    )
    if facts.init_error is not None:
        problems.append(str(facts.init_error))
    elif not facts.devices:
        problems.append("the CUDA driver sees no device (CUDA_VISIBLE_DEVICES empty, or MIG without a MIG device?)")
    if state.expect.cuda_api and facts.version < _encoded(state.expect.cuda_api):
        problems.append(
            f"the driver supports CUDA {cuda_api.version_text(facts.version)}, "
            f"the profile needs {state.expect.cuda_api}"
        )
    summary = f"supports CUDA {cuda_api.version_text(facts.version)}, {len(facts.devices)} device(s)"
    return _verdict(name, problems, summary, measurements, expected)


def _encoded(text: str) -> int:
    major, minor = _major_minor(text)
    return major * 1000 + minor * 10


def _verdict(
    name: str, problems: list[str], summary: str, measurements: dict[str, Any], expected: dict[str, Any]
) -> Check:
    check = failed(name, "; ".join(problems), **measurements) if problems else passed(name, summary, **measurements)
    return _with(check, expected)


def _with(check: Check, expected: dict[str, Any]) -> Check:
    check.expected = expected
    return check


def _driver_version(state: SuiteState) -> int | None:
    if state.rehearsal or state.no_gpu is not None:
        return None
    try:
        return state.backend.cuda_driver().version
    except cuda_api.CudaError:
        return None


def _not_found(name: str, wanted: str | None, skip_reason: str, exc: Exception, expected: dict[str, Any]) -> Check:
    """A library that is not there: a failure where the profile expects a version, else a skip."""
    if wanted:
        return _with(failed(name, f"{exc}: {wanted} is expected"), expected)
    return _with(skipped(name, skip_reason), expected)


def check_cuda_runtime(state: SuiteState) -> Check:
    name = "cuda.runtime"
    wanted = state.expect.cuda_runtime
    expected = {"version": wanted} if wanted else {}
    try:
        facts = state.backend.cuda_runtime()
    except cuda_api.CudaError as exc:
        return _not_found(name, f"CUDA {wanted}" if wanted else None, f"no CUDA runtime: {exc}", exc, expected)
    measurements: dict[str, Any] = {"version": facts.version, "library": facts.source}
    problems = []
    if wanted and _major_minor(facts.version) != _major_minor(wanted):
        problems.append(f"CUDA runtime {facts.version}, the profile needs {wanted}")
    driver = _driver_version(state)
    if driver is not None and facts.encoded is not None:
        major = _major_minor(facts.version)[0]
        enough = driver // 1000 >= major if major >= 11 else driver >= facts.encoded
        if not enough:
            problems.append(
                f"CUDA runtime {facts.version} needs a newer driver: the driver supports CUDA "
                f"{cuda_api.version_text(driver)} (CUDA calls would fail with 35: driver version is insufficient)"
            )
    return _verdict(name, problems, f"CUDA {facts.version} ({facts.source})", measurements, expected)


def check_cudnn(state: SuiteState) -> Check:
    name = "cudnn"
    wanted = state.expect.cudnn
    expected = {"version": wanted} if wanted else {}
    try:
        facts = state.backend.cudnn()
    except cuda_api.CudaError as exc:
        return _not_found(name, f"cuDNN {wanted}" if wanted else None, f"no cuDNN: {exc}", exc, expected)
    measurements = {"version": facts.version, "library": facts.source}
    problems = [f"cuDNN {facts.version}, the profile needs {wanted}"] if wanted and facts.version != wanted else []
    return _verdict(name, problems, f"cuDNN {facts.version} ({facts.source})", measurements, expected)
