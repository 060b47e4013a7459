"""MXNet stand-in of the egpu-setup rehearsal lab: MXNet 1.0.0's Python package as far as egpu-setup uses it,
none of its maths (apache/mxnet:python/mxnet@1.0.0; facts/mxnet_python.yaml).

As in 1.0.0, `import mxnet` imports numpy at module scope (base.py), so it fails with `ModuleNotFoundError: No
module named 'numpy'` in a Python without numpy; then it loads libmxnet through libinfo.find_lib_path the way
dyld would on the rehearsal Mac (egpu_lab.macos.dyld_sim), failing with dyld's "Library not loaded: ...
Reason: image not found" until the CUDA libraries resolve. There is no mxnet.runtime (1.5.0) and no
context.num_gpus (1.3.0): whether the build has CUDA shows when an array is allocated on mx.gpu(0).
Divergence: only these modules of 1.0.0's (context, base, libinfo, ndarray, test_utils).
"""

from . import base, ndarray, test_utils
from . import ndarray as nd
from .base import MXNetError
from .context import Context, cpu, current_context, gpu

__version__ = base.__version__

__all__ = ["Context", "MXNetError", "base", "cpu", "current_context", "gpu", "nd", "ndarray", "test_utils"]
