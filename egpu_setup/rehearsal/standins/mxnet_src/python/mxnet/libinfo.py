"""Where libmxnet.so is, searched like MXNet 1.0.0's libinfo.find_lib_path."""

import os


def find_lib_path():
    env = os.environ.get("MXNET_LIBRARY_PATH")
    if env and os.path.isfile(env):
        return [env]
    curr = os.path.dirname(os.path.abspath(os.path.expanduser(__file__)))
    candidates = [os.path.join(curr, "../../lib/"), os.path.join(curr, "../lib/"), os.path.join(curr, "lib/")]
    found = [os.path.normpath(os.path.join(d, "libmxnet.so")) for d in candidates]
    found = [p for p in found if os.path.isfile(p)]
    if not found:
        raise RuntimeError("Cannot find the MXNet library.\nList of candidates:\n" + "\n".join(candidates))
    return found


__version__ = "1.0.0"
