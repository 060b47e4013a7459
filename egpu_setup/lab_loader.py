"""The one place egpu_setup loads the rehearsal lab (the `egpu-setup-lab` distribution, package `egpu_lab`).

The lab is an extra (`pip install 'egpu-setup[lab]'`): a plain install provisions real Macs without it, and no
other module of egpu_setup imports egpu_lab (tests/test_import_graph.py holds that). `egpu-setup lab ...` and
`--rehearse` ask for the lab's modules here, on first use, so `egpu-setup --help` never pays for the import and a
missing lab is one clear error (exit 2) naming the extra instead of a traceback.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from egpu_setup.errors import EgpuError

LAB_PACKAGE = "egpu_lab"
LAB_EXTRA_FIX = "pip install 'egpu-setup[lab]'"


def load(module: str) -> ModuleType:
    """egpu_lab.<module> (e.g. "lab", "accounts"), imported now; EgpuError (exit 2) when the lab is not installed."""
    try:
        importlib.import_module(LAB_PACKAGE)
    except ImportError as exc:
        # Only the lab's own absence is this error; a broken module inside an installed lab keeps its traceback.
        if exc.name not in (None, LAB_PACKAGE):
            raise
        raise EgpuError("the rehearsal lab is not installed", fix=LAB_EXTRA_FIX) from None
    return importlib.import_module(f"{LAB_PACKAGE}.{module}")
