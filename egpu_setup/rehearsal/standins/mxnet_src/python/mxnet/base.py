"""Loading libmxnet.so: dyld's rules, checked by the rehearsal lab's dyld model."""

import os
import re
import sys

from . import libinfo

__version__ = libinfo.__version__
_PROJECT = "/.rehearsal/project"  # where the rehearsal sandbox exposes egpu_setup
# The dyld model needs macholib: next to egpu_setup in the sandbox, or in egpu-setup's target venv on the host.
_MACHOLIB_DIRS = (_PROJECT, "/usr/local/egpu-setup/venv/lib/python3.11/site-packages")


class MXNetError(Exception):
    """Error raised by the MXNet library."""


def _dlopen(path):
    for extra in _MACHOLIB_DIRS:
        if os.path.isdir(extra) and extra not in sys.path:
            sys.path.append(extra)
    try:
        from egpu_setup.rehearsal.macos import dyld

        dyld.dlopen(path, dict(os.environ))
    except ImportError as exc:
        raise MXNetError(f"rehearsal lab: cannot check libmxnet.so like dyld ({exc})") from exc


def _load_lib():
    path = libinfo.find_lib_path()[0]
    _dlopen(path)
    with open(path, "rb") as f:
        blob = f.read()
    return path, blob


_LIB_PATH, _LIB_BLOB = _load_lib()


def features():
    m = re.search(rb"EGPU_MXNET_FEATURES:([^\x00]*)", _LIB_BLOB)
    pairs = m.group(1).decode().strip(";").split(";") if m else []
    return dict(p.split("=", 1) for p in pairs if "=" in p)


def cuda_archs():
    """The sm_XX targets compiled into the library (the fat binaries' gencode list)."""
    found = set()
    for m in re.finditer(rb"EGPU_NV_FATBIN:([^\x00]*)", _LIB_BLOB):
        found.update(a for a in m.group(1).decode().split(";") if a)
    return sorted(found)
