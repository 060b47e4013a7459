"""NDArray API of MXNet (the stand-in's few functions of apache/mxnet:python/mxnet/ndarray@1.0.0)."""

from .ndarray import NDArray, array, empty, ones, waitall, zeros

__all__ = ["NDArray", "array", "empty", "ones", "waitall", "zeros"]
