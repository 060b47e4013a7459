"""ctypes library of mxnet and helper functions, as MXNet 1.0.0's base.py (apache/mxnet:python/mxnet/base.py@1.0.0).

numpy is imported at module scope, before the library is looked for: without numpy `import mxnet` fails there.
Then `_load_lib` takes the first of libinfo.find_lib_path() and loads it: where 1.0.0 calls
ctypes.CDLL(path, RTLD_LOCAL), the stand-in checks, as dyld would on the rehearsal Mac, that the library and
everything it loads resolve (an OSError with dyld's text otherwise), and `_LIB` is `_StandinLib`, which answers the
few C API calls this package makes the way libmxnet 1.0.0 does (facts/mxnet_python.yaml).
"""

import json
import os
import re
import sys
import time

import numpy as np

from . import libinfo

__all__ = ["MXNetError"]

string_types = (str,)
numeric_types = (float, int, np.generic)
integer_types = int

_PROJECT = "/.rehearsal/project"  # where the rehearsal sandbox exposes egpu_lab and the macholib it reads with
_STATE = os.path.join(os.environ.get("EGPU_SIM_STATE", "/.rehearsal/machine"), "state.json")
DEV_GPU = 2  # Context.devstr2type["gpu"]


def py_str(x):
    """ctypes' char_p value (bytes) as str."""
    return x.decode("utf-8")


class MXNetError(Exception):
    """Error that will be thrown by all mxnet functions."""


def _dlopen(path):
    # The lab's own packages first: the Mac's tools venv holds only the product's bundle, whose macholib is partial
    # (its reader modules); the lab's dyld must not depend on what the product put on the Mac.
    if os.path.isdir(_PROJECT) and sys.path[:1] != [_PROJECT]:
        sys.path.insert(0, _PROJECT)
    try:
        from egpu_lab.macos import dyld_sim as dyld

        dyld.dlopen(path, dict(os.environ))
    except ImportError as exc:
        raise MXNetError(f"rehearsal lab: cannot check libmxnet like dyld ({exc})") from exc


def _fatal(where, message):
    """A LOG(FATAL) message as dmlc-core@87b7ffa formats it (its stack trace shortened to one entry)."""
    return (
        f"[{time.strftime('%H:%M:%S')}] {where}: {message}\n\n"
        "Stack trace returned 1 entries:\n[bt] (0) 0   libmxnet.so  dmlc::LogMessageFatal::~LogMessageFatal()\n"
    )


class _StandinLib:
    """The C library for this package: the build's flags are read from the library (the EGPU_MXNET_FEATURES
    marker the stand-in's c_api.c compiles in), allocation follows src/storage/storage.cc@1.0.0."""

    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            blob = f.read()
        m = re.search(rb"EGPU_MXNET_FEATURES:([^\x00]*)", blob)
        pairs = m.group(1).decode().strip(";").split(";") if m else []
        self._flags = dict(p.split("=", 1) for p in pairs if "=" in p)
        self._error = b""

    def MXGetLastError(self):
        return self._error

    def _alloc_error(self, dev_type):
        """What StorageImpl::Alloc says for this device, or None when the allocation succeeds."""
        if dev_type != DEV_GPU:
            return None
        if self._flags.get("CUDA") != "1":
            return _fatal("src/storage/storage.cc:118", "Compile with USE_CUDA=1 to enable GPU usage")
        try:
            with open(_STATE) as f:
                works = json.load(f)["boot"]["cuda_works"]
        except (OSError, ValueError, KeyError):
            works = False
        if not works:  # cudaGetDeviceCount fails when the CUDA driver does not work with the running GPU driver
            return _fatal(
                "src/storage/storage.cc:114",
                "Check failed: e == cudaSuccess || e == cudaErrorCudartUnloading CUDA: CUDA driver version is "
                "insufficient for CUDA runtime version",
            )
        return None

    def MXNDArrayCreateEx(self, shape, dev_type, dev_id, delay_alloc, dtype, out):
        """Make an array; without delay_alloc it is allocated now, in this thread (an error is returned)."""
        error = None if delay_alloc else self._alloc_error(dev_type)
        if error:
            self._error = error.encode()
            return -1
        out.append({"shape": tuple(shape), "dev_type": dev_type, "dev_id": dev_id, "dtype": dtype})
        return 0

    def engine_alloc(self, handle):
        """Allocation on the engine's worker thread (operators' outputs): in 1.0.0 an error there is LOG(FATAL)'d
        again by ThreadedEngine::ExecuteOprBlock and ends the process (facts: engine_allocation_error)."""
        error = self._alloc_error(handle["dev_type"])
        if error:
            message = error.rstrip("\n") + "\nA fatal error occurred in asynchronous engine operation."
            sys.stderr.write(
                "libc++abi.dylib: terminating with uncaught exception of type dmlc::Error: "
                + _fatal("src/engine/./threaded_engine.h:359", message)
            )
            sys.stderr.flush()
            os.abort()


def _load_lib():
    """Load library by searching possible path."""
    lib_path = libinfo.find_lib_path()
    _dlopen(lib_path[0])
    return _StandinLib(lib_path[0])


__version__ = libinfo.__version__
_LIB = _load_lib()

mx_real_t = np.float32


def check_call(ret):
    """Raise MXNetError with the library's last error when a C API call failed."""
    if ret != 0:
        raise MXNetError(py_str(_LIB.MXGetLastError()))
