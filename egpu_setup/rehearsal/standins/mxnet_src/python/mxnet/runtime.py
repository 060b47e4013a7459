"""mxnet.runtime.Features() as in later MXNet releases: which features the library was built with."""

from . import base


class Feature:
    def __init__(self, name, enabled):
        self.name, self.enabled = name, enabled

    def __repr__(self):
        return ("\u2714 " if self.enabled else "\u2716 ") + self.name


class Features(dict):
    def __init__(self):
        built = base.features()
        super().__init__((k, Feature(k, v == "1")) for k, v in built.items() if k != "VERSION")
        self.cuda_archs = base.cuda_archs()

    def is_enabled(self, name):
        return name.upper() in self and self[name.upper()].enabled
