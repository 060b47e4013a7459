"""The MXNet-like source release: the template in mxnet_src/ packed as apache-mxnet-src-1.0.0-incubating.tar.gz.

The make structure is MXNet 1.0.0's, written from reading the real tree (apache/mxnet:Makefile, make/osx.mk,
make/config.mk, tests/cpp/unittest.mk @1.0.0; dmlc/dmlc-core@87b7ffa, dmlc/mshadow@2d7780c, dmlc/nnvm@e4a138a,
dmlc/ps-lite@2ce8b9a), every structural fact a row of facts/mxnet.yaml that tests/rehearsal/packaging/
test_mxnet_make.py holds the tree to:
- the top Makefile includes $(config) (./config.mk, else make/config.mk), mshadow/make/mshadow.mk,
  $(DMLC_CORE)/make/dmlc.mk, $(PS_PATH)/make/ps.mk, $(MXNET_PLUGINS), tests/cpp/unittest.mk;
- dmlc-core/ is made by `cd $(DMLC_CORE); $(MAKE) libdmlc.a USE_SSE=... config=$(ROOTDIR)/$(config); cd $(ROOTDIR)`
  and its Makefile does `include $(config)`: config.mk is read again from inside dmlc-core/ (a relative include in
  it fails there, and the trailing `cd` lets the build go on to a link without libdmlc.a);
- nnvm/ is made by `cd $(NNVM_PATH); $(MAKE) lib/libnnvm.a DMLC_CORE_PATH=...` with its own configuration
  (./config.mk, else make/config.mk) and the compilers config.mk exports;
- nvcc gets `-ccbin $(CXX)`; an empty CUDA_ARCH is filled from KNOWN_CUDA_ARCHS by asking nvcc, as the real one does;
- `all` makes lib/libmxnet.a (ar) and lib/libmxnet.so: `$(CXX) ... -shared -o lib/libmxnet.so` without
  -install_name (id `lib/libmxnet.so`), linked with -lcudart -lcublas -lcurand -lcusolver -L$(USE_CUDA_PATH)/lib64
  -L$(USE_CUDA_PATH)/lib -framework Accelerate -lcudnn -lcuda -lcufft -lnvrtc and libnnvm.a whole (-all_load), no
  LC_RPATH, so it does not load until the rpath fix (apache/mxnet#9217).

Divergences: the sources are a few C-style C++ files and one `.cu` kernel (the Python package reads the build's
switches from a string in the library); plugins, OpenCV's bin/im2rec, the distributed kvstore (ps-lite is only
its ps.mk), the gperftools/jemalloc probes and the amalgamation are left out; cub/ and dlpack/ (headers only) are
absent. The Python package under mxnet_src/python is packed as it is.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from egpu_lab.standins import cuda

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
