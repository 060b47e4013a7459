"""Run the checks in order against a backend and collect the report."""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable

from egpu_setup.verify.backend import Backend
from egpu_setup.verify.checks.compute import check_gpu_compute
from egpu_setup.verify.checks.cuda import check_cuda_driver, check_cuda_runtime, check_cudnn
from egpu_setup.verify.checks.gpu import check_gpu_present
from egpu_setup.verify.checks.link import check_link_bandwidth
from egpu_setup.verify.checks.mxnet import (
    check_mxnet_features,
    check_mxnet_import,
    check_mxnet_libraries,
    check_mxnet_ndarray,
    check_mxnet_train,
)
from egpu_setup.verify.expectations import Expectations
from egpu_setup.verify.report import Report
from egpu_setup.verify.result import Check, failed
from egpu_setup.verify.state import Options, SuiteState

# Order matters: gpu.present decides whether there is a GPU; later checks read earlier results.
CHECKS: tuple[tuple[str, Callable[[SuiteState], Check]], ...] = (
    ("gpu.present", check_gpu_present),
    ("cuda.driver", check_cuda_driver),
    ("cuda.runtime", check_cuda_runtime),
    ("cudnn", check_cudnn),
    ("link.bandwidth", check_link_bandwidth),
    ("gpu.compute", check_gpu_compute),
    ("mxnet.import", check_mxnet_import),
    ("mxnet.features", check_mxnet_features),
    ("mxnet.ndarray", check_mxnet_ndarray),
    ("mxnet.train", check_mxnet_train),
    ("mxnet.libraries", check_mxnet_libraries),
)
CHECK_NAMES = tuple(name for name, _ in CHECKS)


def run_suite(
    backend: Backend,
    expect: Expectations,
    options: Options,
    progress: Callable[[Check], None] | None = None,
) -> Report:
    """Every check, in order; `progress` hears each result as it comes (the CLI prints it on stderr)."""
    utc = datetime.timezone.utc  # noqa: UP017 (datetime.UTC is 3.11+; the GPU box's Python may be older)
    started = datetime.datetime.now(utc).isoformat(timespec="seconds")
    state = SuiteState(backend=backend, expect=expect, options=options, host=backend.host())
    for name, check in CHECKS:
        begun = time.perf_counter()
        try:
            result = check(state)
        except Exception as exc:  # a bug or an unforeseen platform quirk: report it as this check's failure
            result = failed(name, f"internal error: {type(exc).__name__}: {exc}")
        result.duration_s = time.perf_counter() - begun
        state.results[name] = result
        if progress is not None:
            progress(result)
    return Report(
        host=state.host,
        expectations=expect,
        options=options,
        checks=[state.results[name] for name in CHECK_NAMES],
        no_gpu=state.no_gpu,
        started=started,
        devices=[d.to_dict() for d in state.devices],
    )
