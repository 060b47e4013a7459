"""Stand-in for cuDNN 7.0.5 for CUDA 9.1 on macOS: cudnn-9.1-osx-x64-v7-ga.tgz.

Layout from NVIDIA's cuDNN Installation Guide (Mac OS X section) and high-sierra-egpu.md: a gzip'd tar with
cuda/include/cudnn.h, cuda/lib/libcudnn.7.dylib, cuda/lib/libcudnn.dylib (a link) and cuda/lib/libcudnn_static.a;
the user copies them into /usr/local/cuda/include and /usr/local/cuda/lib. cudnn.h carries the version macros
CUDNN_MAJOR 7, CUDNN_MINOR 0, CUDNN_PATCHLEVEL 5 (what build scripts grep for).
"""

from __future__ import annotations

from pathlib import Path

from egpu_lab.standins import common, cuda, machos

VERSION = "7.0.5"
HEADER = """/* stand-in of NVIDIA's cudnn.h (cuDNN 7.0.5 for CUDA 9.1) */
#ifndef CUDNN_H_
#define CUDNN_H_
#define CUDNN_MAJOR 7
#define CUDNN_MINOR 0
#define CUDNN_PATCHLEVEL 5
#define CUDNN_VERSION (CUDNN_MAJOR * 1000 + CUDNN_MINOR * 100 + CUDNN_PATCHLEVEL)
size_t cudnnGetVersion(void);
#endif
"""


def build_cudnn_tgz(out: Path, work: Path) -> Path:
    staging = work / "cudnn"
    common.write(staging / "cuda/include/cudnn.h", HEADER)
    machos.cudnn_lib(staging / "cuda/lib")
    common.link(staging / "cuda/lib/libcudnn.dylib", machos.CUDNN_LIB)
    machos.static_archive(staging / "cuda/lib/libcudnn_static.a", machos.CUDNN_SOURCE)
    common.write(staging / "cuda/NVIDIA_SLA_cuDNN_Support.txt", "stand-in license file\n")
    out.write_bytes(cuda._tar_gz(staging))
    return out
