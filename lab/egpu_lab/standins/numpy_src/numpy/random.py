"""numpy.random stand-in: RandomState (MXNet 1.0.0's test_utils names it in a default argument at import)."""

import random as _random


class RandomState:
    def __init__(self, seed=None):
        self._rng = _random.Random(seed)

    def seed(self, seed=None):
        self._rng.seed(seed)

    def uniform(self, low=0.0, high=1.0, size=None):
        if size is None:
            return self._rng.uniform(low, high)
        from . import array

        count = 1
        for n in (size,) if isinstance(size, int) else size:
            count *= n
        values = array([self._rng.uniform(low, high) for _ in range(count)])
        values.shape = (size,) if isinstance(size, int) else tuple(size)
        return values


def seed(value=None):
    _global.seed(value)


_global = RandomState()
