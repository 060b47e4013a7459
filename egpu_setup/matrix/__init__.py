"""The compatibility matrix: data (data/matrix.yaml), its validated loader, profiles and the resolver.

from egpu_setup.matrix import load_matrix
plan = load_matrix(overlay=None).resolve("17C88", profile="default", gpu="gtx1080")
plan.to_dict()          # the `egpu_plan` the roles receive (docs/architecture.md, "Resolution")
"""

from __future__ import annotations

from egpu_setup.matrix.matrix import DATA_FILE, Matrix, load_matrix
from egpu_setup.matrix.model import ARTIFACT_IDS, Artifact, Gpu, Link, MacosBuild, Profile
from egpu_setup.matrix.resolver import Resolution

__all__ = [
    "ARTIFACT_IDS",
    "DATA_FILE",
    "Artifact",
    "Gpu",
    "Link",
    "MacosBuild",
    "Matrix",
    "Profile",
    "Resolution",
    "load_matrix",
]
