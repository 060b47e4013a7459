"""Tools for testing, as far as MXNet 1.0.0's test_utils reaches at import time: numpy.testing and numpy.random
are imported at module scope, and a default argument builds a numpy RandomState (apache/mxnet:python/mxnet/
test_utils.py@1.0.0), so a numpy without them fails `import mxnet` here as it would on a Mac."""

import numpy as np
import numpy.random as rnd
import numpy.testing as npt

from .context import Context


def default_context():
    return Context.default_ctx


def random_seed_state(rng=np.random.RandomState(1234)):  # noqa: B008 (evaluated at import, as in 1.0.0)
    return rng


__all__ = ["default_context", "npt", "random_seed_state", "rnd"]
