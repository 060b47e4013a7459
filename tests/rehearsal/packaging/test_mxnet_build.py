"""The MXNet stand-in builds with the simulated toolchain into a Mach-O libmxnet.so that dyld refuses until fixed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from egpu_lab import facts
from egpu_lab.macos import dyld_sim as dyld

CUDA_LIB = "/usr/local/cuda/lib"


def _config(b, src: Path, extra: str = "") -> None:
    """`cp make/osx.mk config.mk`, then the CUDA settings (USE_CUDA_PATH: the host's /usr/local/cuda, as seen here)."""
    text = (src / "make/osx.mk").read_text()
    (src / "config.mk").write_text(
        text + f"USE_CUDA = 1\nUSE_CUDA_PATH = {b.cuda}\nUSE_CUDNN = 1\nUSE_OPENCV = 0\n{extra}"
    )


@pytest.mark.slow
def test_mxnet_builds_for_sm61_and_loads_only_after_the_rpath_fix(build_host, host):
    b = build_host()
    src = b.source(host.root / "Users/admin/mxnet")
    _config(b, src, "CUDA_ARCH := -gencode arch=compute_61,code=sm_61\n")
    proc = b.make(src)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lib = src / "lib/libmxnet.so"
    assert (src / "lib/libmxnet.a").is_file()  # the default target builds both
    refs = subprocess.run(["llvm-otool-14", "-L", str(lib)], capture_output=True, text=True, check=True).stdout
    for name in ("libcudart.9.1.dylib", "libcublas.9.1.dylib", "libcurand.9.1.dylib", "libcudnn.7.dylib"):
        assert f"@rpath/{name}" in refs
    # the whole real link set, with the real ids (facts: cuda_toolkit.libraries, cuda_driver.libcuda_install_name)
    for install_name in facts.value("cuda_toolkit", "libraries").values():
        assert f"\t{install_name} (" in refs
    assert f"\t{facts.value('cuda_driver', 'libcuda_install_name')} (compatibility version 1.1.0," in refs
    ident = subprocess.run(["llvm-otool-14", "-D", str(lib)], capture_output=True, text=True, check=True).stdout
    assert ident.strip().splitlines()[-1] == "lib/libmxnet.so"
    loads = subprocess.run(["llvm-otool-14", "-l", str(lib)], capture_output=True, text=True, check=True).stdout
    assert "LC_RPATH" not in loads
    symbols = subprocess.run(["llvm-nm-14", str(lib)], capture_output=True, text=True, check=True).stdout
    assert "_NNGradientPassRegistered" in symbols  # libnnvm.a linked whole (-all_load), unreferenced code kept
    fatbins = set(re.findall(rb"EGPU_NV_FATBIN:([^\x00]*)", lib.read_bytes()))
    assert fatbins == {b"sm_61;"}

    # dyld refuses it with its own words; DYLD_LIBRARY_PATH is stripped while SIP is on
    with pytest.raises(OSError) as failed:
        dyld.dlopen(str(lib), {"DYLD_LIBRARY_PATH": CUDA_LIB}, host.machine)
    assert re.fullmatch(
        r"dlopen\(/Users/admin/mxnet/lib/libmxnet.so, 6\): Library not loaded: @rpath/lib(cudart|cublas|curand)"
        r"\.9\.1\.dylib\n  Referenced from: /Users/admin/mxnet/lib/libmxnet.so\n  Reason: image not found",
        str(failed.value),
    )
    # MXNet 1.0.0's API (no mxnet.runtime): a CUDA build answers an array on gpu(0) with a CUDA error here, where
    # the host's CUDA driver does not work, and a CPU build with "Compile with USE_CUDA=1"
    script = (
        "import mxnet as mx\ntry:\n    mx.nd.empty((1,), ctx=mx.gpu(0))\nexcept mx.MXNetError as e:\n"
        "    print(mx.__version__, str(e).splitlines()[0].split(': ', 1)[1])"
    )
    before = subprocess.run(
        [sys.executable, "-c", script], cwd=src / "python", env=b.env, capture_output=True, text=True
    )
    assert before.returncode == 1 and "Library not loaded: @rpath/libcu" in before.stderr
    assert "numpy" not in before.stderr

    subprocess.run(["llvm-install-name-tool-14", "-add_rpath", CUDA_LIB, str(lib)], check=True)
    assert dyld.dlopen(str(lib), {}, host.machine) == "/Users/admin/mxnet/lib/libmxnet.so"
    after = subprocess.run(
        [sys.executable, "-c", script], cwd=src / "python", env=b.env, capture_output=True, text=True
    )
    assert after.stdout == (
        "1.0.0 Check failed: e == cudaSuccess || e == cudaErrorCudartUnloading CUDA: CUDA driver version is "
        "insufficient for CUDA runtime version\n"
    ), after.stderr
    assert b"EGPU_MXNET_FEATURES:CUDA=1;CUDNN=1;" in lib.read_bytes()


def test_nvcc_refuses_clt_93_clang(build_host, tmp_path):
    b = build_host(clt="9.3")
    (tmp_path / "k.cu").write_text("int k(void) { return 1; }\n")
    proc = subprocess.run(
        [str(b.bindir / "nvcc"), "-c", "k.cu", "-o", "k.o"], cwd=tmp_path, env=b.env, capture_output=True, text=True
    )
    assert proc.returncode == 1
    assert proc.stderr == "nvcc fatal   : The version ('90100') of the host compiler ('Apple clang') is not supported\n"
    version = subprocess.run([str(b.bindir / "clang"), "--version"], env=b.env, capture_output=True, text=True)
    assert version.stdout.splitlines()[0] == "Apple LLVM version 9.1.0 (clang-902.0.39.1)"


def test_clang_without_clt_is_the_xcrun_error(build_host):
    b = build_host(clt=None)
    proc = subprocess.run([str(b.bindir / "clang"), "--version"], env=b.env, capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.startswith("xcrun: error: invalid active developer path (/Library/Developer/CommandLineTools)")


def test_without_cuda_arch_every_known_arch_is_built(build_host, tmp_path):
    """An empty CUDA_ARCH: each of KNOWN_CUDA_ARCHS nvcc 9.1 accepts, the newest (70) also as PTX, as the real
    Makefile asks nvcc (so the list ends sm_70;compute_70; since the Makefile follows the real one's probe)."""
    b = build_host()
    src = b.source(tmp_path / "mxnet")
    (src / "config.mk").write_text(
        (src / "make/osx.mk").read_text() + f"USE_CUDA = 1\nUSE_CUDA_PATH = {b.cuda}\nUSE_OPENCV = 0\n"
    )
    obj = "build/src/operator/tensor_gpu.o"
    proc = b.make(src, obj)
    assert proc.returncode == 0, proc.stderr
    assert "--fatbin-options -compress-all" in proc.stdout
    section = subprocess.run(
        ["llvm-objdump-14", "--section=__nv_fatbin", "--full-contents", str(src / obj)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "__NV_CUDA,__nv_fatbin" in section
    fatbin = re.search(rb"EGPU_NV_FATBIN:([^\x00]*)", (src / obj).read_bytes())
    assert fatbin and fatbin.group(1) == b"sm_30;sm_35;sm_50;sm_52;sm_60;sm_61;sm_70;compute_70;"


def test_opencv_fails_like_a_mac_without_it_and_openmp_is_never_asked_of_clang(build_host, tmp_path):
    """USE_OPENCV = 1 (osx.mk as shipped) fails at OpenCV's header. USE_OPENMP = 1 (make/config.mk) adds no -fopenmp
    on Darwin in MXNet 1.0.0 (facts: mxnet.openmp_on_darwin), so Apple clang's refusal of it never shows; it does
    when -fopenmp is given by hand."""
    b = build_host()
    src = b.source(tmp_path / "mxnet")
    (src / "config.mk").write_text((src / "make/osx.mk").read_text())  # USE_OPENCV = 1 as shipped
    proc = b.make(src)
    assert proc.returncode != 0 and "opencv2/opencv.hpp" in proc.stderr
    (src / "config.mk").write_text((src / "make/config.mk").read_text() + "USE_OPENCV = 0\n")  # USE_OPENMP = 1
    proc = b.make(src)
    assert proc.returncode == 0, proc.stderr
    assert "-fopenmp" not in proc.stdout and facts.value("mxnet", "openmp_on_darwin") is False
    refused = subprocess.run(
        [str(b.bindir / "clang"), "-fopenmp", "-c", "x.c"], env=b.env, capture_output=True, text=True
    )
    assert "clang: error: unsupported option '-fopenmp'" in refused.stderr
