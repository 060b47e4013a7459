"""NDArray as in MXNet 1.0.0 (apache/mxnet:python/mxnet/ndarray/ndarray.py@1.0.0), without the maths.

empty() and array() allocate at once (_new_alloc_handle with delay_alloc False: MXNDArrayCreateEx allocates in the
calling thread, and a device the build cannot use comes back as MXNetError); zeros() and ones() are operators, whose
outputs the engine allocates on a worker thread, where 1.0.0 ends the process on an error (facts/mxnet_python.yaml
immediate_allocation, engine_allocation_error). Values are Python floats.
"""

import numpy as np

from ..base import _LIB, check_call, mx_real_t
from ..context import Context

# numpy's types to MXNet's dtype ids, read at import time as in 1.0.0.
_DTYPE_NP_TO_MX = {
    None: -1,
    np.float32: 0,
    np.float64: 1,
    np.float16: 2,
    np.uint8: 3,
    np.int32: 4,
    np.int8: 5,
    np.int64: 6,
}


def _new_alloc_handle(shape, ctx, delay_alloc, dtype=mx_real_t):
    hdl = []
    check_call(
        _LIB.MXNDArrayCreateEx(shape, ctx.device_typeid, ctx.device_id, int(delay_alloc),
                               _DTYPE_NP_TO_MX[np.dtype(dtype).type], hdl)
    )  # fmt: skip
    return hdl[0]


class NDArray:
    """An array on a device."""

    def __init__(self, handle, values=None):
        self.handle = handle
        size = 1
        for n in handle["shape"]:
            size *= n
        self._values = list(values) if values is not None else [0.0] * size

    @property
    def shape(self):
        return self.handle["shape"]

    @property
    def context(self):
        return Context(Context.devtype2str[self.handle["dev_type"]], self.handle["dev_id"])

    @property
    def size(self):
        return len(self._values)

    def asnumpy(self):
        out = np.array(self._values, dtype=np.float32)
        out.shape = self.shape
        return out

    def asscalar(self):
        if self.shape != (1,):
            raise ValueError("The current array is not a scalar")
        return self._values[0]

    def sum(self):
        return NDArray(dict(self.handle, shape=(1,)), [sum(self._values)])

    def wait_to_read(self):
        pass

    def __repr__(self):
        return f"\n{self._values}\n<NDArray {'x'.join(map(str, self.shape))} @{self.context}>"


def empty(shape, ctx=None, dtype=None):
    if isinstance(shape, int):
        shape = (shape,)
    ctx = ctx or Context.default_ctx
    return NDArray(handle=_new_alloc_handle(shape, ctx, False, dtype or mx_real_t))


def array(source_array, ctx=None, dtype=None):
    source = np.array(source_array)
    out = empty(source.shape, ctx, dtype)
    out._values = [float(v) for v in source._flat]
    return out


def _filled(shape, ctx, dtype, value):
    if isinstance(shape, int):
        shape = (shape,)
    ctx = ctx or Context.default_ctx
    handle = _new_alloc_handle(shape, ctx, True, dtype or mx_real_t)
    _LIB.engine_alloc(handle)
    out = NDArray(handle)
    out._values = [float(value)] * out.size
    return out


def zeros(shape, ctx=None, dtype=None, **kwargs):
    return _filled(shape, ctx, dtype, 0.0)


def ones(shape, ctx=None, dtype=None, **kwargs):
    return _filled(shape, ctx, dtype, 1.0)


def waitall():
    pass
