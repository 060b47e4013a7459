"""The MXNet stand-in builds with the simulated toolchain into a Mach-O libmxnet.so that dyld refuses until fixed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from egpu_setup.rehearsal.macos import dyld
from egpu_setup.rehearsal.standins import cuda, install_clt, machos, mxnet

CUDA_HOME = "Developer/NVIDIA/CUDA-9.1"
WRAPPER = """#!{python}
import sys
from egpu_setup.rehearsal.macos.__main__ import dispatch
sys.exit(dispatch("toolchain", "{handler}", sys.argv[1:], "{prog}"))
"""


def _bin(host, tmp: Path) -> tuple[Path, dict[str, str]]:
    """Command wrappers that run the lab's handlers on this host (the sandbox's shims, outside a sandbox)."""
    bindir = tmp / "bin"
    bindir.mkdir()
    for prog, handler in (("clang", "xcrun_clang"), ("nvcc", "nvcc")):
        (bindir / prog).write_text(WRAPPER.format(python=sys.executable, handler=handler, prog=prog))
        (bindir / prog).chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bindir}:{os.environ['PATH']}",
        "PYTHONPATH": str(Path(__file__).resolve().parents[3]),
        "EGPU_SIM_STATE": str(host.machine.state_dir),
        "EGPU_SIM_ROOT": str(host.root),
        "EGPU_SIM_USER": "admin",
    }
    return bindir, env


def _cuda_host(host) -> Path:
    cuda._toolkit_tree(host.root)
    lib = host.root / CUDA_HOME / "lib"
    machos.cudnn_lib(lib)
    (lib / "libcudnn.dylib").symlink_to(machos.CUDNN_LIB)
    return host.root / CUDA_HOME


@pytest.mark.slow
def test_mxnet_builds_for_sm61_and_loads_only_after_the_rpath_fix(host, tmp_path):
    install_clt(host.root, "9.2")
    cuda_home = _cuda_host(host)
    bindir, env = _bin(host, tmp_path)
    src = host.root / "Users/admin/mxnet"
    shutil.copytree(mxnet.TEMPLATE, src, ignore=shutil.ignore_patterns("__pycache__"))
    config = (src / "make/osx.mk").read_text()
    config += (
        f"USE_CUDA = 1\nUSE_CUDA_PATH = {cuda_home}\nUSE_CUDNN = 1\nUSE_OPENCV = 0\n"
        "CUDA_ARCH := -gencode arch=compute_61,code=sm_61\n"
    )
    (src / "config.mk").write_text(config)
    proc = subprocess.run(
        ["make", f"CC={bindir}/clang", f"NVCC={bindir}/nvcc"], cwd=src, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lib = src / "lib/libmxnet.so"
    refs = subprocess.run(["llvm-otool-14", "-L", str(lib)], capture_output=True, text=True, check=True).stdout
    for name in ("libcudart.9.1.dylib", "libcublas.9.1.dylib", "libcurand.9.1.dylib", "libcudnn.7.dylib"):
        assert f"@rpath/{name}" in refs
    ident = subprocess.run(["llvm-otool-14", "-D", str(lib)], capture_output=True, text=True, check=True).stdout
    assert ident.strip().splitlines()[-1] == "lib/libmxnet.so"
    loads = subprocess.run(["llvm-otool-14", "-l", str(lib)], capture_output=True, text=True, check=True).stdout
    assert "LC_RPATH" not in loads
    fatbins = set(re.findall(rb"EGPU_NV_FATBIN:([^\x00]*)", lib.read_bytes()))
    assert fatbins == {b"sm_61;"}

    # dyld refuses it with its own words; DYLD_LIBRARY_PATH is stripped while SIP is on
    with pytest.raises(OSError) as failed:
        dyld.dlopen(str(lib), {"DYLD_LIBRARY_PATH": f"/{CUDA_HOME}/lib"}, host.machine)
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
    before = subprocess.run([sys.executable, "-c", script], cwd=src / "python", env=env, capture_output=True, text=True)
    assert before.returncode == 1 and "Library not loaded: @rpath/libcu" in before.stderr
    assert "numpy" not in before.stderr

    subprocess.run(["llvm-install-name-tool-14", "-add_rpath", f"/{CUDA_HOME}/lib", str(lib)], check=True)
    assert dyld.dlopen(str(lib), {}, host.machine) == "/Users/admin/mxnet/lib/libmxnet.so"
    after = subprocess.run([sys.executable, "-c", script], cwd=src / "python", env=env, capture_output=True, text=True)
    assert after.stdout == (
        "1.0.0 Check failed: e == cudaSuccess || e == cudaErrorCudartUnloading CUDA: CUDA driver version is "
        "insufficient for CUDA runtime version\n"
    ), after.stderr
    assert b"EGPU_MXNET_FEATURES:CUDA=1;CUDNN=1;" in lib.read_bytes()


def test_nvcc_refuses_clt_93_clang(host, tmp_path):
    install_clt(host.root, "9.3")
    _, env = _bin(host, tmp_path)
    (tmp_path / "k.cu").write_text("int k(void) { return 1; }\n")
    proc = subprocess.run(
        [str(tmp_path / "bin/nvcc"), "-c", "k.cu", "-o", "k.o"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 1
    assert proc.stderr == "nvcc fatal   : The version ('90100') of the host compiler ('Apple clang') is not supported\n"
    version = subprocess.run([str(tmp_path / "bin/clang"), "--version"], env=env, capture_output=True, text=True)
    assert version.stdout.splitlines()[0] == "Apple LLVM version 9.1.0 (clang-902.0.39.1)"


def test_clang_without_clt_is_the_xcrun_error(host, tmp_path):
    _, env = _bin(host, tmp_path)
    proc = subprocess.run([str(tmp_path / "bin/clang"), "--version"], env=env, capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.startswith("xcrun: error: invalid active developer path (/Library/Developer/CommandLineTools)")


def test_without_cuda_arch_every_known_arch_is_built(host, tmp_path):
    install_clt(host.root, "9.2")
    cuda_home = _cuda_host(host)
    bindir, env = _bin(host, tmp_path)
    src = tmp_path / "mxnet"
    shutil.copytree(mxnet.TEMPLATE, src, ignore=shutil.ignore_patterns("__pycache__"))
    (src / "config.mk").write_text(
        (src / "make/osx.mk").read_text() + f"USE_CUDA = 1\nUSE_CUDA_PATH = {cuda_home}\nUSE_OPENCV = 0\n"
    )
    obj = "build/src/operator/tensor_gpu.o"
    proc = subprocess.run(["make", f"CC={bindir}/clang", f"NVCC={bindir}/nvcc", obj], cwd=src, env=env,
                          capture_output=True, text=True)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    section = subprocess.run(
        ["llvm-objdump-14", "--section=__nv_fatbin", "--full-contents", str(src / obj)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "__NV_CUDA,__nv_fatbin" in section
    fatbin = re.search(rb"EGPU_NV_FATBIN:([^\x00]*)", (src / obj).read_bytes())
    assert fatbin and fatbin.group(1) == b"sm_30;sm_35;sm_50;sm_52;sm_60;sm_61;sm_70;"


def test_opencv_and_openmp_fail_like_a_mac_without_them(host, tmp_path):
    install_clt(host.root, "9.2")
    bindir, env = _bin(host, tmp_path)
    src = tmp_path / "mxnet"
    shutil.copytree(mxnet.TEMPLATE, src, ignore=shutil.ignore_patterns("__pycache__"))
    (src / "config.mk").write_text((src / "make/osx.mk").read_text())  # USE_OPENCV = 1 as shipped
    proc = subprocess.run(["make", f"CC={bindir}/clang"], cwd=src, env=env, capture_output=True, text=True)
    assert proc.returncode != 0 and "opencv2/opencv.hpp" in proc.stderr
    (src / "config.mk").write_text((src / "make/config.mk").read_text())  # USE_OPENMP = 1
    proc = subprocess.run(["make", f"CC={bindir}/clang"], cwd=src, env=env, capture_output=True, text=True)
    assert "clang: error: unsupported option '-fopenmp'" in proc.stderr
