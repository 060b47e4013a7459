"""Expectations: from the matrix, and the built-in copy used where the matrix cannot load (the target's venv)."""

from __future__ import annotations

import pytest

from egpu_setup.errors import EgpuError
from egpu_setup.verify.expectations import builtin_expectations, expectations_for


@pytest.mark.parametrize("platform", ["darwin", "linux"])
def test_builtin_copy_matches_the_matrix(platform: str) -> None:
    from_matrix = expectations_for("default", platform).as_dict()
    builtin = builtin_expectations("default", platform).as_dict()
    assert builtin == from_matrix


def test_mac_defaults_to_the_default_profile_linux_to_none() -> None:
    mac = expectations_for(None, "darwin")
    assert (mac.profile, mac.cuda_runtime, mac.cudnn, mac.cuda_driver) == ("default", "9.1", "7.0.5", "387.128")
    assert mac.link_gbps == 3.94 and mac.mxnet_required
    linux = expectations_for(None, "linux")
    assert (linux.profile, linux.cuda_runtime, linux.link_gbps, linux.mxnet_required) == (None, None, None, False)
    assert linux.peak_gflops("NVIDIA GeForce GTX 1080") == 8873.0  # NVML's name for a card the matrix knows
    assert linux.peak_gflops(None, 0x1B81) == 6463.0 and linux.peak_gflops("NVIDIA H200") is None


def test_native_profile_picks_the_cuda_driver_per_build() -> None:
    native = expectations_for("native", "darwin")
    assert native.cuda_driver is None and native.cuda_runtime == "9.1"


def test_unknown_profile_is_the_matrix_error() -> None:
    with pytest.raises(EgpuError, match="unknown profile 'nonesuch'"):
        expectations_for("nonesuch", "linux")
