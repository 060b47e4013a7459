"""Finding and calling the CUDA libraries: names on Linux and macOS, wheel layouts, versions, real calls here."""

from __future__ import annotations

import ctypes.util
import os
from pathlib import Path

import pytest

from egpu_setup.verify import cuda_api, pcie


def test_version_encodings() -> None:
    assert [cuda_api.version_text(v) for v in (9010, 12040, 13000)] == ["9.1", "12.4", "13.0"]
    assert [cuda_api.cudnn_version_text(v) for v in (7005, 8907, 90100)] == ["7.0.5", "8.9.7", "9.1.0"]
    assert cuda_api.cores_per_sm(6, 1) == 128 and cuda_api.cores_per_sm(7, 0) == 64
    assert cuda_api.cores_per_sm(12, 0) == 128 and cuda_api.cores_per_sm(2, 1) is None


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_linux_candidates_from_toolkit_and_wheel_layouts(tmp_path, monkeypatch) -> None:
    toolkit = tmp_path / "cuda/lib64"
    _touch(toolkit / "libcudart.so.13")
    _touch(toolkit / "libcudart.so")
    _touch(toolkit / "libcudart_static.a")
    site = tmp_path / "venv/lib/python3.11/site-packages"
    _touch(site / "nvidia/cuda_runtime/lib/libcudart.so.12")
    _touch(site / "nvidia/cublas/lib/libcublas.so.12")
    monkeypatch.syspath_prepend(str(site))
    dirs = [str(toolkit), *[d for d in cuda_api.search_dirs("linux") if d.startswith(str(site))]]
    found = cuda_api.library_candidates("cudart", "linux", dirs)
    assert found[:3] == [str(toolkit / "libcudart.so.13"), str(toolkit / "libcudart.so"),
                         str(site / "nvidia/cuda_runtime/lib/libcudart.so.12")]  # fmt: skip
    # A 12.x driver: the CUDA 12 runtime first, the 13 one (which would fail with error 35) last.
    ordered = cuda_api.pick_by_major(found, "cudart", most=12)
    assert ordered[0].endswith("libcudart.so.12") and ordered[-1].endswith("libcudart.so.13")
    assert str(site / "nvidia/cublas/lib") in cuda_api.search_dirs("linux")


def test_library_path_environment_comes_first(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(cuda_api.LIBRARY_PATH_ENV, str(tmp_path))
    assert cuda_api.search_dirs("linux")[0] == str(tmp_path)
    assert cuda_api.search_dirs("darwin")[:2] == [str(tmp_path), "/usr/local/cuda/lib"]


def test_macos_names(tmp_path) -> None:
    _touch(tmp_path / "libcudart.9.1.dylib")
    _touch(tmp_path / "libcudart.dylib")
    _touch(tmp_path / "libcudnn.7.dylib")
    assert cuda_api.library_candidates("cudart", "darwin", [str(tmp_path)]) == [
        str(tmp_path / "libcudart.9.1.dylib"), str(tmp_path / "libcudart.dylib")
    ]  # fmt: skip
    assert cuda_api.library_candidates("cudnn", "darwin", [str(tmp_path)]) == [str(tmp_path / "libcudnn.7.dylib")]


def test_nothing_loadable_is_library_missing(tmp_path) -> None:
    with pytest.raises(cuda_api.LibraryMissing, match=r"^libfoo not found$"):
        cuda_api.load_first([str(tmp_path / "libfoo.so.1")], "libfoo")
    bogus = _touch(tmp_path / "libbogus.so.1")
    with pytest.raises(cuda_api.LibraryMissing, match="could not be loaded"):
        cuda_api.load_first([str(bogus)], "libbogus")  # exists, but is no ELF


def test_driver_missing_here_is_library_missing() -> None:
    if ctypes.util.find_library("cuda") or os.path.exists("/usr/lib/wsl/lib/libcuda.so.1"):
        pytest.skip("this machine has an NVIDIA driver")
    with pytest.raises(cuda_api.LibraryMissing, match=r"^libcuda.so.1 \(NVIDIA driver\) not found$"):
        cuda_api.CudaDriver("linux")


def test_real_runtime_reports_its_version_and_fails_cleanly_without_a_driver() -> None:
    """Where a CUDA toolkit is installed but no driver (this machine), the runtime loads and says why it
    cannot run: error 35 (or 100 with a driver but no GPU), an exception, not a crash."""
    try:
        runtime = cuda_api.CudaRuntime.load("linux")
    except cuda_api.LibraryMissing:
        pytest.skip("no CUDA runtime on this machine")
    version = runtime.version()
    assert version >= 9000 and cuda_api.version_text(version).count(".") == 1
    if ctypes.util.find_library("cuda"):
        pytest.skip("a driver is present: the no-driver path cannot be shown here")
    with pytest.raises(cuda_api.CudaError) as caught:
        runtime.copy_bandwidth(1 << 20, 1)
    assert caught.value.code in (35, 100) and "cudaMallocHost failed" in str(caught.value)


def test_pcie_rates_and_sysfs(tmp_path) -> None:
    assert round(pcie.theoretical_gbps(3, 4) or 0, 2) == 3.94
    assert round(pcie.theoretical_gbps(5, 16) or 0, 2) == 63.02
    assert pcie.theoretical_gbps(9, 16) is None
    device = tmp_path / "0000:3b:00.0"
    device.mkdir()
    for name, value in (("max_link_speed", "16.0 GT/s PCIe"), ("max_link_width", "16"),
                        ("current_link_speed", "2.5 GT/s PCIe"), ("current_link_width", "8")):  # fmt: skip
        (device / name).write_text(value + "\n")
    assert pcie.sysfs_link("00000000:3B:00.0", root=str(tmp_path)) == {
        "max_generation": 4, "max_width": 16, "current_generation": 1, "current_width": 8
    }  # fmt: skip
    assert pcie.sysfs_link("0000:3c:00.0", root=str(tmp_path)) is None
    assert pcie.sysfs_link("garbage", root=str(tmp_path)) is None


def test_driver_version_from_proc(tmp_path) -> None:
    from egpu_setup.verify.backend import linux_driver_version

    proc = tmp_path / "version"
    proc.write_text(
        "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  570.124.06  Release Build  (dvs-builder@U16)\n"
        "GCC version:  gcc version 12.3.0\n"
    )
    assert linux_driver_version(str(proc)) == "570.124.06"
    proc.write_text("NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.183.01  Sun May 12 19:39:15 UTC 2024\n")
    assert linux_driver_version(str(proc)) == "535.183.01"
    assert linux_driver_version(str(tmp_path / "absent")) is None
