"""Devices: mx.cpu(), mx.gpu(n). A GPU context works only when the rehearsal Mac's CUDA driver works."""

import json
import os

from .base import MXNetError, features

_STATE = os.path.join(os.environ.get("EGPU_SIM_STATE", "/.rehearsal/machine"), "state.json")


class Context:
    def __init__(self, device_type, device_id=0):
        self.device_type, self.device_id = device_type, device_id

    def __repr__(self):
        return f"{self.device_type}({self.device_id})"

    def check(self):
        if self.device_type != "gpu":
            return
        if features().get("CUDA") != "1":
            raise MXNetError("Compile with USE_CUDA=1 to enable GPU usage")
        try:
            with open(_STATE) as f:
                works = json.load(f)["boot"]["cuda_works"]
        except (OSError, ValueError, KeyError):
            works = False
        if not works:
            raise MXNetError(
                "[cuda] cudaGetDeviceCount returned 35 -> CUDA driver version is insufficient for CUDA runtime version"
            )


def cpu(device_id=0):
    return Context("cpu", device_id)


def gpu(device_id=0):
    return Context("gpu", device_id)
