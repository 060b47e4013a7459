"""The MXNet-like source release: the template in mxnet_src/ packed as apache-mxnet-src-1.0.0-incubating.tar.gz.

The build interface follows MXNet 1.0.0's (apache/incubator-mxnet v1.0.0: Makefile, make/config.mk, make/osx.mk,
python/setup.py, python/mxnet/libinfo.py; mshadow's KNOWN_CUDA_ARCHS): `cp make/osx.mk config.mk`, set USE_CUDA,
USE_CUDA_PATH, USE_CUDNN, USE_BLAS, USE_OPENCV, CUDA_ARCH, run `make`; the result is lib/libmxnet.so, whose
install name is `lib/libmxnet.so` and which references @rpath/libcudart.9.1.dylib, libcublas, libcurand and
libcudnn.7.dylib with no LC_RPATH, so it does not load until the rpath fix (apache/mxnet#9217).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from egpu_setup.rehearsal.standins import cuda

TEMPLATE = Path(__file__).parent / "mxnet_src"
TOP = "apache-mxnet-src-{version}-incubating"


def build_source_tarball(out: Path, work: Path, version: str = "1.0.0") -> Path:
    staging = work / "mxnet"
    top = staging / TOP.format(version=version)
    if staging.exists():
        shutil.rmtree(staging)
    shutil.copytree(TEMPLATE, top, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out.write_bytes(cuda._tar_gz(staging))
    return out
