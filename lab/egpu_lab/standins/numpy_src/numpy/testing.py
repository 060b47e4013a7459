"""numpy.testing stand-in: imported by MXNet 1.0.0's test_utils at module scope; holds what the lab needs."""


def assert_equal(actual, desired):
    if actual != desired:
        raise AssertionError(f"{actual!r} != {desired!r}")
