"""numpy stand-in of the egpu-setup rehearsal lab: numpy 1.23.5's import name and version, and the names MXNet
1.0.0's package reads from numpy while it is imported (lab/egpu_lab/facts/mxnet_python.yaml,
numpy_names_at_import and numpy_submodules_at_import), with just enough arrays for the MXNet stand-in.

Packed by the lab into a wheel under the real wheel's name and tag (standins/numpy_wheel.py, facts/numpy.yaml), so
pip installs it into the tools venv the way it installs PyPI's on a Mac.
Divergence: pure Python and none of numpy's maths; the real wheel's extension modules and bundled OpenBLAS are
Mach-O for macOS 10.9 and later (facts/numpy.yaml minimum_macos), which is why they load on High Sierra.
"""

from . import random, testing

__version__ = "1.23.5"
__all__ = [
    "array", "dtype", "empty", "float16", "float32", "float64", "floating", "generic", "int8", "int32", "int64",
    "integer", "ndarray", "number", "ones", "random", "signedinteger", "testing", "uint8", "unsignedinteger", "zeros",
]  # fmt: skip


class generic:
    """The root of numpy's scalar types (MXNet 1.0.0's base.numeric_types names it)."""

    def __init__(self, value=0):
        self.value = value

    def item(self):
        return self.value


class number(generic):
    pass


class integer(number):
    pass


class signedinteger(integer):
    pass


class unsignedinteger(integer):
    pass


class floating(number):
    pass


class float16(floating):
    pass


class float32(floating):
    pass


class float64(floating):
    pass


class int8(signedinteger):
    pass


class int32(signedinteger):
    pass


class int64(signedinteger):
    pass


class uint8(unsignedinteger):
    pass


_TYPES = {t.__name__: t for t in (float16, float32, float64, int8, int32, int64, uint8)}
_TYPES.update({"float": float64, "int": int64})


class dtype:
    def __init__(self, obj=float64):
        if isinstance(obj, dtype):
            obj = obj.type
        if isinstance(obj, str):
            obj = _TYPES[obj]
        elif obj is float:
            obj = float64
        elif obj is int:
            obj = int64
        self.type = obj
        self.name = obj.__name__

    def __eq__(self, other):
        try:
            return self.type is dtype(other).type
        except (KeyError, AttributeError, TypeError):
            return False

    def __hash__(self):
        return hash(self.type)

    def __repr__(self):
        return f"dtype('{self.name}')"


def _flatten(obj):
    if isinstance(obj, (list, tuple)):
        if not obj:
            return [], (0,)
        parts = [_flatten(o) for o in obj]
        shape = parts[0][1]
        return [x for flat, _ in parts for x in flat], (len(obj), *shape)
    if isinstance(obj, ndarray):
        return list(obj._flat), obj.shape
    return [obj], ()


class ndarray:
    """A row-major array of Python numbers."""

    def __init__(self, shape, dtype_=float32, flat=None):
        self.shape = tuple(shape)
        self.dtype = dtype(dtype_)
        size = 1
        for n in self.shape:
            size *= n
        self._flat = list(flat) if flat is not None else [0] * size

    @property
    def size(self):
        return len(self._flat)

    @property
    def ndim(self):
        return len(self.shape)

    def tolist(self):
        def build(flat, shape):
            if not shape:
                return flat[0]
            step = len(flat) // shape[0] if shape[0] else 0
            return [build(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]

        return build(self._flat, self.shape)

    def astype(self, dtype_):
        return ndarray(self.shape, dtype_, self._flat)

    def sum(self):
        return sum(self._flat)

    def item(self):
        if len(self._flat) != 1:
            raise ValueError("can only convert an array of size 1 to a Python scalar")
        return self._flat[0]

    def __len__(self):
        return self.shape[0]

    def __repr__(self):
        return f"array({self.tolist()!r})"


def array(obj, dtype=None):
    flat, shape = _flatten(obj)
    return ndarray(shape, dtype or float64, flat)


def _full(shape, value, dtype_):
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    size = 1
    for n in shape:
        size *= n
    return ndarray(shape, dtype_, [value] * size)


def zeros(shape, dtype=float64):
    return _full(shape, 0, dtype)


def ones(shape, dtype=float64):
    return _full(shape, 1, dtype)


def empty(shape, dtype=float64):
    return _full(shape, 0, dtype)
