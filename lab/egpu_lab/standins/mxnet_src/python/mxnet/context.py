"""Context management API of mxnet: Context, cpu(), gpu(), current_context(), as in MXNet 1.0.0.

Written from apache/mxnet:python/mxnet/context.py@1.0.0: a context is only a device type id and a device id; what
a GPU context can do is decided by the library when an array is allocated on it (base._StandinLib). There is no
num_gpus() (facts/mxnet_python.yaml context_num_gpus_since: 1.3.0).
"""

from typing import ClassVar


class Context:
    """A device: its type id (1 cpu, 2 gpu, 3 cpu_pinned, 5 cpu_shared) and its id."""

    default_ctx = None
    devtype2str: ClassVar[dict] = {1: "cpu", 2: "gpu", 3: "cpu_pinned", 5: "cpu_shared"}
    devstr2type: ClassVar[dict] = {"cpu": 1, "gpu": 2, "cpu_pinned": 3, "cpu_shared": 5}

    def __init__(self, device_type, device_id=0):
        if isinstance(device_type, Context):
            self.device_typeid = device_type.device_typeid
            self.device_id = device_type.device_id
        else:
            self.device_typeid = Context.devstr2type[device_type]
            self.device_id = device_id
        self._old_ctx = None

    @property
    def device_type(self):
        return Context.devtype2str[self.device_typeid]

    def __hash__(self):
        return hash((self.device_typeid, self.device_id))

    def __eq__(self, other):
        return (
            isinstance(other, Context)
            and self.device_typeid == other.device_typeid
            and self.device_id == other.device_id
        )

    def __str__(self):
        return f"{self.device_type}({self.device_id})"

    def __repr__(self):
        return self.__str__()

    def __enter__(self):
        self._old_ctx = Context.default_ctx
        Context.default_ctx = self
        return self

    def __exit__(self, ptype, value, trace):
        Context.default_ctx = self._old_ctx


Context.default_ctx = Context("cpu", 0)


def cpu(device_id=0):
    return Context("cpu", device_id)


def gpu(device_id=0):
    return Context("gpu", device_id)


def current_context():
    return Context.default_ctx
