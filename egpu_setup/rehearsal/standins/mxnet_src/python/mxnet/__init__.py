"""MXNet stand-in of the egpu-setup rehearsal lab (the build interface of MXNet 1.0.0, none of its maths).

`import mxnet` loads lib/libmxnet.so the way dyld would on the rehearsal Mac (egpu_setup.rehearsal.macos.dyld):
it fails with dyld's "Library not loaded: ... Reason: image not found" until the CUDA libraries resolve.
Divergence: no numpy needed; arrays are plain Python lists.
"""

from . import base, runtime
from . import ndarray as nd
from .base import MXNetError
from .context import Context, cpu, gpu

__version__ = base.__version__

__all__ = ["Context", "MXNetError", "base", "cpu", "gpu", "nd", "runtime"]
