"""Exercise MXNet in a child process and write what happened as JSON.

`python mxnet_probe.py OUT [--gpu] [--quick] [--locate-only | --import-only]`; --locate-only finds libmxnet.so
without importing; --import-only imports MXNet and asks whether it has CUDA, computing nothing (a rehearsal Mac,
where nothing can run on a GPU).

Only what MXNet 1.0.0 (the default profile's) has is used: no mxnet.runtime (1.5.0), no context.num_gpus (1.3.0).
Whether the build has CUDA shows the 1.0.0 way, by allocating one NDArray on gpu(0) with mx.nd.empty: that
allocates in the calling thread (MXNDArrayCreateEx without delay), so a CPU build answers with MXNetError "Compile
with USE_CUDA=1 to enable GPU usage" (1.0.0's src/storage/storage.cc, still 1.9.1's words) and a CUDA build without
a working GPU with a CUDA error. mx.nd.ones or zeros would allocate on an engine thread, where 1.0.0 ends the
process on an error.

Run as a plain script (standard library + mxnet + numpy, no egpu_setup import) by `egpu_setup.verify.backend`,
with every DYLD_* variable removed from its environment: SIP strips them from child processes on macOS anyway,
so an MXNet that only loads with DYLD_LIBRARY_PATH set is broken for its users. A crash of MXNet (a missing
library, a CUDA abort) then ends this process only; the parent reports it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import sys
import time
import traceback
from typing import Any

RTOL, ATOL = 1e-4, 1e-5
# MXNet's storage error for an array on a GPU in a build without CUDA (1.0.0 to 1.9.1).
NO_CUDA = "Compile with USE_CUDA=1"
FEATURES_SOURCE = "a GPU NDArray: mx.nd.empty on gpu(0) (MXNet 1.0.0 has no runtime.Features)"


def _error() -> str:
    lines = traceback.format_exc().strip().splitlines()
    return " | ".join(lines[-3:])[-800:]


def _mxnet_message(exc: BaseException) -> str:
    """MXNet's own words from an MXNetError, without the C++ stack trace (1.0.0) or Python-style frames (1.9.1)."""
    lines = [line.strip() for line in str(exc).splitlines()]
    keep = [ln for ln in lines if ln and not ln.startswith(("[bt]", "Stack trace", "Traceback", "File "))]
    return f"{type(exc).__name__}: {' | '.join(keep) or exc!r}"[:600]


def gpu_array(mx: Any) -> dict[str, Any]:
    """Allocate one NDArray on gpu(0) now: `ok` when it worked, `cuda_build` unless MXNet says it has no CUDA."""
    try:
        mx.nd.empty((1,), ctx=mx.gpu(0))
    except Exception as exc:
        message = _mxnet_message(exc)
        return {"ok": False, "cuda_build": NO_CUDA not in str(exc), "error": message}
    return {"ok": True, "cuda_build": True}


def compare_ndarray(mx: Any, np: Any, on_gpu: bool) -> dict[str, Any]:
    """Matrix product, convolution, softmax and a reduction, on the GPU against the CPU (or, on the CPU only,
    against numpy), within RTOL/ATOL."""
    rng = np.random.RandomState(7)
    a = rng.uniform(-1, 1, (128, 96)).astype("float32")
    b = rng.uniform(-1, 1, (96, 64)).astype("float32")
    img = rng.uniform(-1, 1, (4, 3, 16, 16)).astype("float32")
    kernel = rng.uniform(-1, 1, (8, 3, 3, 3)).astype("float32")

    def ops(ctx: Any) -> dict[str, Any]:
        x, y = mx.nd.array(a, ctx=ctx), mx.nd.array(b, ctx=ctx)
        conv = mx.nd.Convolution(
            mx.nd.array(img, ctx=ctx), mx.nd.array(kernel, ctx=ctx), kernel=(3, 3), num_filter=8, no_bias=True
        )
        return {
            "dot": mx.nd.dot(x, y).asnumpy(),
            "softmax": mx.nd.softmax(x).asnumpy(),
            "sum": mx.nd.sum(mx.nd.exp(x), axis=1).asnumpy(),
            "conv": conv.asnumpy(),
        }

    got = ops(mx.gpu(0) if on_gpu else mx.cpu())
    if on_gpu:
        reference, against = ops(mx.cpu()), "cpu"
    else:
        exp = np.exp(a - a.max(axis=1, keepdims=True))
        reference = {"dot": a.dot(b), "softmax": exp / exp.sum(axis=1, keepdims=True), "sum": np.exp(a).sum(axis=1)}
        got.pop("conv")  # numpy has no convolution; on the CPU the other three are the reference check
        against = "numpy"
    errors = {}
    ok = True
    for name, value in got.items():
        errors[name] = float(np.max(np.abs(value - reference[name])))
        ok = ok and bool(np.allclose(value, reference[name], rtol=RTOL, atol=ATOL))
    return {"device": "gpu" if on_gpu else "cpu", "against": against, "ok": ok, "max_abs_error": errors}


def train(mx: Any, np: Any, on_gpu: bool, quick: bool) -> dict[str, Any]:
    """A two-convolution net trains on one fixed batch (so the loss must fall), then times more steps."""
    from mxnet import autograd, gluon

    ctx = mx.gpu(0) if on_gpu else mx.cpu()
    batch, steps, timed = (32, 8, 5) if quick else (64, 15, 20)
    mx.random.seed(42)
    rng = np.random.RandomState(42)
    data = mx.nd.array(rng.uniform(0, 1, (batch, 1, 28, 28)).astype("float32"), ctx=ctx)
    label = mx.nd.array(rng.randint(0, 10, (batch,)).astype("float32"), ctx=ctx)
    net = gluon.nn.HybridSequential()
    net.add(
        gluon.nn.Conv2D(8, kernel_size=3, activation="relu"),
        gluon.nn.MaxPool2D(pool_size=2),
        gluon.nn.Conv2D(16, kernel_size=3, activation="relu"),
        gluon.nn.MaxPool2D(pool_size=2),
        gluon.nn.Flatten(),
        gluon.nn.Dense(10),
    )
    net.initialize(mx.init.Xavier(), ctx=ctx)
    net.hybridize()
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.01})
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()

    def step() -> float:
        with autograd.record():
            loss = loss_fn(net(data), label)
        loss.backward()
        trainer.step(batch)
        return float(loss.mean().asscalar())

    losses = [step() for _ in range(steps)]
    mx.nd.waitall()
    started = time.perf_counter()
    for _ in range(timed):
        with autograd.record():
            loss = loss_fn(net(data), label)
        loss.backward()
        trainer.step(batch)
    mx.nd.waitall()
    seconds = time.perf_counter() - started
    return {
        "device": "gpu" if on_gpu else "cpu",
        "ok": losses[-1] < losses[0] * 0.9,
        "loss_first": round(losses[0], 4),
        "loss_last": round(losses[-1], 4),
        "steps": steps,
        "batch": batch,
        "images_per_s": round(batch * timed / seconds, 1),
    }


def locate_library() -> str | None:
    """libmxnet as mxnet/libinfo.py would look for it, found without importing (which may crash):
    MXNET_LIBRARY_PATH (read by later releases), then 1.0.0's places: beside the package (wheels), <source
    tree>/lib and <source tree>/build/Release for a source build's python/mxnet; on macOS libmxnet.dylib in each
    before libmxnet.so."""
    try:
        spec = importlib.util.find_spec("mxnet")
    except (ImportError, ValueError):
        spec = None
    places = [os.environ.get("MXNET_LIBRARY_PATH", "")]
    if spec is not None and spec.submodule_search_locations:
        package = next(iter(spec.submodule_search_locations))
        top = os.path.join(package, "..", "..")
        dirs = [package, os.path.join(top, "lib"), os.path.join(top, "build", "Release")]
        names = ("libmxnet.dylib", "libmxnet.so") if platform.system() == "Darwin" else ("libmxnet.so",)
        places += [os.path.join(d, name) for name in names for d in dirs]
    for place in places:
        if place and os.path.isfile(place):
            return os.path.realpath(place)
    return None


def probe(want_gpu: bool, quick: bool, locate_only: bool = False, import_only: bool = False) -> dict[str, Any]:
    result: dict[str, Any] = {"python": sys.executable, "library": locate_library()}
    if locate_only:
        return result
    started = time.perf_counter()
    try:
        import mxnet as mx

        np = None if import_only else importlib.import_module("numpy")
    except Exception:
        result["import"] = {"ok": False, "error": _error(), "seconds": round(time.perf_counter() - started, 2)}
        return result
    result["import"] = {
        "ok": True,
        "version": getattr(mx, "__version__", "?"),
        "path": getattr(mx, "__file__", None),
        "seconds": round(time.perf_counter() - started, 2),
    }
    array = gpu_array(mx)
    result["gpu_array"] = array
    result["features"] = {"CUDA": array["cuda_build"]}
    result["features_source"] = FEATURES_SOURCE
    result["num_gpus"] = 1 if array["ok"] else 0  # as far as MXNet 1.0.0 can tell: gpu(0) takes an array
    if import_only:
        return result
    on_gpu = want_gpu and result["num_gpus"] > 0
    sections = [("ndarray", lambda: compare_ndarray(mx, np, on_gpu))]
    if on_gpu:
        sections.append(("train_gpu", lambda: train(mx, np, True, quick)))
    sections.append(("train_cpu", lambda: train(mx, np, False, quick)))
    for key, section in sections:
        try:
            result[key] = section()
        except Exception:
            result[key] = {"ok": False, "error": _error()}
    return result


def main(argv: list[str]) -> int:
    out = argv[0]
    result = probe(
        want_gpu="--gpu" in argv,
        quick="--quick" in argv,
        locate_only="--locate-only" in argv,
        import_only="--import-only" in argv,
    )
    with open(out, "w") as handle:
        json.dump(result, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
