"""The checks' verdicts on a Mac with the default profile (GTX 1080 over Thunderbolt 3), from recorded facts."""

from __future__ import annotations

from dataclasses import replace

from egpu_setup.errors import ExitCode
from egpu_setup.verify import cuda_api, macos
from egpu_setup.verify.backend import DriverFacts, LibraryFacts
from egpu_setup.verify.result import Status


def by_name(report, name):
    return next(c for c in report.checks if c.name == name)


def test_working_egpu_passes_everything_against_the_default_profile(verify, gtx1080_mac, validate) -> None:
    report = verify(gtx1080_mac())
    assert [c.name for c in report.checks if c.status is not Status.PASS] == []
    assert report.expectations.profile == "default" and report.exit_code == ExitCode.OK
    link = by_name(report, "link.bandwidth")
    assert link.measurements["theoretical_gbps"] == 3.94 and link.measurements["link"] == "Thunderbolt 3 (PCIe 3.0 x4)"
    assert (
        link.reason == "host to device 2.61 GB/s, device to host 2.48 GB/s of 3.94 (Thunderbolt 3 (PCIe 3.0 x4)): 63%"
    )
    compute = by_name(report, "gpu.compute")
    assert (compute.measurements["peak_gflops"], compute.measurements["peak_source"]) == (8873.0, "matrix")
    present = by_name(report, "gpu.present")
    assert present.measurements["webdriver_version"] == "387.10.10.10.25.156"
    assert report.devices[0]["pci_device_id"] == "0x1b80"
    assert by_name(report, "cuda.driver").expected == {"supports_cuda_at_least": "9.1", "cuda_driver": "387.128"}
    validate(report.to_dict())


def test_card_visible_but_web_driver_not_loaded_is_a_failure_not_no_gpu(verify, gtx1080_mac) -> None:
    backend = gtx1080_mac()
    displays = macos.parse_displays(
        "      Chipset Model: NVIDIA Chip Model\n      Vendor: NVIDIA (0x10de)\n      Device ID: 0x1b80\n"
    )
    backend.mac_facts = replace(backend.mac_facts, displays=displays, kexts={})
    error = cuda_api.CudaError("cuInit failed: CUDA_ERROR_NO_DEVICE (100)", cuda_api.CUDA_ERROR_NO_DEVICE)
    backend.driver = DriverFacts("/usr/local/cuda/lib/libcuda.dylib", 9010, [], error)
    report = verify(backend)
    present = by_name(report, "gpu.present")
    assert present.status is Status.FAIL
    assert present.reason.startswith("the NVIDIA web driver is not loaded (kextstat shows no com.nvidia.web.GeForceWeb")
    assert report.exit_code == ExitCode.CHECK_FAILED and report.no_gpu is None
    assert by_name(report, "link.bandwidth").reason == "needs a working GPU (gpu.present did not pass)"


def test_no_egpu_attached_is_no_gpu(verify, gtx1080_mac) -> None:
    backend = gtx1080_mac()
    backend.mac_facts = replace(backend.mac_facts, displays=macos.parse_displays("      Chipset Model: Intel HD\n"))
    backend.driver = DriverFacts(
        "/usr/local/cuda/lib/libcuda.dylib", 9010, [],
        cuda_api.CudaError("cuInit failed: CUDA_ERROR_NO_DEVICE (100)", cuda_api.CUDA_ERROR_NO_DEVICE),
    )  # fmt: skip
    report = verify(backend)
    assert report.exit_code == ExitCode.NO_GPU
    assert (
        report.no_gpu
        == "the CUDA driver sees no device (cuInit: CUDA_ERROR_NO_DEVICE); system_profiler shows no NVIDIA GPU"
    )


def test_wrong_versions_fail_against_the_profile(verify, gtx1080_mac) -> None:
    backend = gtx1080_mac(
        runtime=LibraryFacts("9.2", 9020, "/usr/local/cuda/lib/libcudart.9.2.dylib"),
        cudnn_facts=LibraryFacts("7.1.4", 7104, "/usr/local/cuda/lib/libcudnn.7.dylib"),
    )
    backend.mac_facts = replace(backend.mac_facts, cuda_driver_version="387.99")
    backend.driver = replace(backend.driver, version=9000)
    report = verify(backend)
    assert by_name(report, "cuda.driver").reason == (
        "CUDA driver 387.99, the profile needs 387.128; the driver supports CUDA 9.0, the profile needs 9.1"
    )
    runtime = by_name(report, "cuda.runtime").reason
    assert runtime.startswith("CUDA runtime 9.2, the profile needs 9.1; CUDA runtime 9.2 needs a newer driver")
    assert by_name(report, "cudnn").reason == "cuDNN 7.1.4, the profile needs 7.0.5"


def test_mxnet_that_needs_dyld_variables_fails_with_the_fix(verify, gtx1080_mac, mxnet_results) -> None:
    result = mxnet_results["gpu"]()
    result["import"] = {
        "ok": False,
        "error": "OSError: dlopen(/Users/admin/mxnet/lib/libmxnet.so, 6): Library not loaded: "
        "@rpath/libcudart.9.1.dylib | Reason: image not found",
    }
    report = verify(gtx1080_mac(mxnet_result=result))
    assert by_name(report, "mxnet.import").reason.endswith("(run `egpu-setup fix-rpaths` on libmxnet.so)")
    assert by_name(report, "mxnet.train").reason == "needs mxnet.import, which failed"


def test_missing_or_cpu_only_mxnet_fails_on_a_provisioned_mac(verify, gtx1080_mac, mxnet_results) -> None:
    report = verify(gtx1080_mac(mxnet_result=mxnet_results["missing"]()))
    assert by_name(report, "mxnet.import").status is Status.FAIL
    report = verify(gtx1080_mac(mxnet_result=mxnet_results["cpu_build"]()))
    features = by_name(report, "mxnet.features")
    assert features.status is Status.FAIL and "built without CUDA" in features.reason


def test_unresolved_cuda_reference_fails_mxnet_libraries(verify, gtx1080_mac) -> None:
    backend = gtx1080_mac(
        dependencies=[("@rpath/libcudart.9.1.dylib", None), ("/usr/lib/libc++.1.dylib", "/usr/lib/libc++.1.dylib")]
    )
    libraries = by_name(verify(backend), "mxnet.libraries")
    assert libraries.status is Status.FAIL
    assert libraries.measurements["cuda_references"] == {"@rpath/libcudart.9.1.dylib": None}
    assert "mach_o /Users/admin/mxnet/lib/libmxnet.so" in backend.calls


def test_slow_thunderbolt_link_fails(verify, gtx1080_mac) -> None:
    link = by_name(verify(gtx1080_mac(bandwidth=(1.2, 1.1))), "link.bandwidth")
    assert link.status is Status.FAIL and link.measurements["h2d_ratio"] == round(1.2 / 3.94, 3)


def test_mxnet_1_0_without_runtime_features(verify, gtx1080_mac, mxnet_results) -> None:
    """The default profile builds MXNet 1.0.0, which predates mxnet.runtime.Features: the probe asks the GPU."""
    result = mxnet_results["gpu"](features={"CUDA": True}, features_source="a GPU NDArray (MXNet < 1.5 ...)")
    features = by_name(verify(gtx1080_mac(mxnet_result=result)), "mxnet.features")
    assert features.status is Status.PASS and features.reason == "CUDA; 1 GPU(s); cuDNN unknown (MXNet < 1.5)"
