"""Information about mxnet: where libmxnet is, searched as MXNet 1.0.0's libinfo.find_lib_path searches.

Written from apache/mxnet:python/mxnet/libinfo.py@1.0.0 (facts/mxnet_python.yaml find_lib_path_*): the package
directory, ../../lib/ and ../../build/Release/ (plus LD_LIBRARY_PATH's directories on posix); on Darwin every
directory with libmxnet.dylib first, then every directory with libmxnet.so; elsewhere '../../../' is added and only
libmxnet.so looked for. MXNET_LIBRARY_PATH is not read (later releases added it). Divergence: no Windows branch.
"""

import os
import platform


def find_lib_path():
    """Find MXNet dynamic library files; returns the list of the ones that exist, best first."""
    curr_path = os.path.dirname(os.path.abspath(os.path.expanduser(__file__)))
    api_path = os.path.join(curr_path, "../../lib/")
    cmake_build_path = os.path.join(curr_path, "../../build/Release/")
    dll_path = [curr_path, api_path, cmake_build_path]
    if os.name == "posix" and os.environ.get("LD_LIBRARY_PATH", None):
        dll_path.extend([p.strip() for p in os.environ["LD_LIBRARY_PATH"].split(":")])
    if platform.system() == "Darwin":
        dll_path = [os.path.join(p, "libmxnet.dylib") for p in dll_path] + [
            os.path.join(p, "libmxnet.so") for p in dll_path
        ]
    else:
        dll_path.append("../../../")
        dll_path = [os.path.join(p, "libmxnet.so") for p in dll_path]
    lib_path = [p for p in dll_path if os.path.exists(p) and os.path.isfile(p)]
    if len(lib_path) == 0:
        raise RuntimeError("Cannot find the files.\nList of candidates:\n" + str("\n".join(dll_path)))
    return lib_path


__version__ = "1.0.0"
