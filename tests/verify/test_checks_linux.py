"""The checks' verdicts on Linux, fed with representative NVML and CUDA values through a recorded backend."""

from __future__ import annotations

from dataclasses import replace

from egpu_setup.errors import ExitCode
from egpu_setup.verify import cuda_api
from egpu_setup.verify.backend import DriverFacts, LibraryFacts
from egpu_setup.verify.nvml import NvmlUnavailable
from egpu_setup.verify.result import Status


def statuses(report) -> dict[str, str]:
    return {c.name: c.status.value for c in report.checks}


def by_name(report, name):
    return next(c for c in report.checks if c.name == name)


def test_h200_without_mxnet_passes_cuda_checks_and_skips_mxnet_with_the_reason(verify, h200, validate) -> None:
    report = verify(h200())
    assert statuses(report) == {
        "gpu.present": "pass", "cuda.driver": "pass", "cuda.runtime": "pass", "cudnn": "pass",
        "link.bandwidth": "pass", "gpu.compute": "pass", "mxnet.import": "skip", "mxnet.features": "skip",
        "mxnet.ndarray": "skip", "mxnet.train": "skip", "mxnet.libraries": "skip",
    }  # fmt: skip
    assert report.exit_code == ExitCode.OK
    assert "MXNet is not installed for /usr/bin/python3" in by_name(report, "mxnet.import").reason
    assert by_name(report, "mxnet.train").reason == by_name(report, "mxnet.import").reason
    link = by_name(report, "link.bandwidth")
    # PCIe 5.0 x16: 16 lanes x 32 GT/s x 128/130 / 8 = 63.0 GB/s per direction.
    assert link.measurements["theoretical_gbps"] == 63.02
    assert link.measurements["link"] == "PCIe 5.0 x16"
    assert link.measurements["h2d_ratio"] == round(53.1 / (16 * 32 * 128 / 130 / 8), 3)
    compute = by_name(report, "gpu.compute")
    # No matrix entry for an H200: the peak is NVML's cores x max SM clock x 2.
    assert compute.measurements["peak_gflops"] == round(16896 * 1980 * 2 / 1000, 1)
    assert compute.measurements["peak_source"] == "16896 cores x 1980 MHz x 2"
    assert by_name(report, "gpu.present").measurements["driver_version"] == "570.124.06"
    assert report.to_dict()["devices"] == [
        {"name": "NVIDIA H200", "compute_capability": "9.0", "memory_gib": 140.4, "pci_bus_id": "00000000:19:00.0"}
    ]
    validate(report.to_dict())


def test_quick_uses_smaller_sizes(verify, h200) -> None:
    backend = h200()
    verify(backend, quick=True)
    assert "copy_bandwidth 67108864 4" in backend.calls and "sgemm 2048 8" in backend.calls
    backend = h200()
    verify(backend)
    assert "copy_bandwidth 268435456 10" in backend.calls and "sgemm 4096 20" in backend.calls


def test_slow_link_fails_against_the_theoretical_rate(verify, h200) -> None:
    report = verify(h200(bandwidth=(12.0, 54.0)))  # a x16 card that copies like x4
    link = by_name(report, "link.bandwidth")
    assert link.status is Status.FAIL
    assert "below 40% of the link's rate" in link.reason
    assert report.exit_code == ExitCode.CHECK_FAILED


def test_wrong_sgemm_result_fails_even_when_fast(verify, h200) -> None:
    wrong = cuda_api.SgemmResult(60000.0, 4096, 20, 45.8, 0.5, "libcublas.so.12")
    compute = by_name(verify(h200(sgemm_result=wrong)), "gpu.compute")
    assert compute.status is Status.FAIL and "wrong results" in compute.reason


def test_slow_sgemm_fails_below_half_the_peak(verify, h200) -> None:
    slow = cuda_api.SgemmResult(20000.0, 4096, 20, 137.4, 0.0, "libcublas.so.12")
    compute = by_name(verify(h200(sgemm_result=slow)), "gpu.compute")
    assert compute.status is Status.FAIL and compute.measurements["ratio"] == round(20000 / 66908.16, 3)


def test_runtime_newer_than_the_driver_fails(verify, h200) -> None:
    report = verify(h200(runtime=LibraryFacts("13.0", 13000, "/usr/local/cuda/lib64/libcudart.so.13")))
    runtime = by_name(report, "cuda.runtime")
    assert runtime.status is Status.FAIL
    assert "needs a newer driver: the driver supports CUDA 12.8" in runtime.reason


def test_minor_version_compatibility_since_cuda_11(verify, h200) -> None:
    driver = DriverFacts("libcuda.so.1", 12020, h200().driver.devices)
    report = verify(h200(driver=driver))  # runtime 12.8 on a 12.2 driver: allowed since CUDA 11
    assert by_name(report, "cuda.runtime").status is Status.PASS


def test_profile_versions_are_judged_only_when_a_profile_is_named(verify, h200) -> None:
    report = verify(h200(), profile="default")
    assert by_name(report, "cuda.runtime").reason.startswith("CUDA runtime 12.8, the profile needs 9.1")
    assert by_name(report, "cudnn").reason == "cuDNN 9.7.0, the profile needs 7.0.5"
    assert by_name(report, "cuda.driver").status is Status.PASS  # 12.8 supports 9.1


def test_missing_cudnn_is_a_skip_on_linux_without_expectations(verify, h200) -> None:
    report = verify(h200(cudnn_facts=cuda_api.LibraryMissing("cuDNN (libcudnn) not found")))
    cudnn = by_name(report, "cudnn")
    assert (cudnn.status, cudnn.reason) == (Status.SKIP, "no cuDNN: cuDNN (libcudnn) not found")
    assert report.exit_code == ExitCode.OK


def test_without_pynvml_the_cuda_driver_and_sysfs_stand_in(verify, h200) -> None:
    backend = h200(
        nvml_facts=NvmlUnavailable("pynvml is not installed"),
        sysfs={"0000:19:00.0": {"max_generation": 4, "max_width": 16, "current_generation": 1, "current_width": 16}},
        proc_driver_version="570.124.06",
    )
    report = verify(backend)
    present = by_name(report, "gpu.present")
    assert present.status is Status.PASS and present.measurements["source"] == "cuda"
    assert present.measurements["driver_version"] == "570.124.06"
    link = by_name(report, "link.bandwidth")
    assert link.measurements["pcie_source"] == "sysfs" and link.measurements["link"] == "PCIe 4.0 x16"
    compute = by_name(report, "gpu.compute")
    # 132 SMs x 128 cores per SM (compute 9.0) x 1980 MHz x 2
    assert compute.measurements["peak_gflops"] == round(132 * 128 * 1980 * 2 / 1000, 1)


def test_cuda_order_and_sms_join_nvml_by_pci_address(verify, h200) -> None:
    """Two GPUs: CUDA lists the faster (bus 0x3b) first; NVML knows no core count, so SMs come from CUDA."""
    backend = h200()
    h200_nvml = replace(backend.nvml_facts.devices[0], cuda_cores=None)
    other = replace(h200_nvml, index=1, name="NVIDIA A2", pci_bus_id="00000000:3B:00.0", max_sm_clock_mhz=1770)
    backend.nvml_facts = replace(backend.nvml_facts, devices=[h200_nvml, other])
    cuda_a2 = cuda_api.DriverDevice(0, "NVIDIA A2", "8.6", 16 << 30, 10, 1770.0, "0000:3B:00.0")
    backend.driver = replace(backend.driver, devices=[cuda_a2, replace(backend.driver.devices[0], index=1)])
    report = verify(backend)
    assert [d["name"] for d in report.devices] == ["NVIDIA A2", "NVIDIA H200"]
    # The A2 (device 0 for CUDA) is the one measured: 10 SMs x 128 cores (8.6) x 1770 MHz x 2.
    assert by_name(report, "gpu.compute").measurements["peak_gflops"] == round(10 * 128 * 1770 * 2 / 1000, 1)


def test_cuda_seeing_no_device_while_nvml_does_fails_cuda_driver(verify, h200) -> None:
    """MIG mode, or CUDA_VISIBLE_DEVICES hiding the GPU: NVML sees it, CUDA does not; the copies cannot run."""
    report = verify(h200(driver=DriverFacts("libcuda.so.1", 12080, [])))
    driver = by_name(report, "cuda.driver")
    assert driver.status is Status.FAIL and driver.reason.startswith("the CUDA driver sees no device")
    assert report.exit_code == ExitCode.CHECK_FAILED


def test_unknown_link_is_reported_not_judged(verify, h200) -> None:
    backend = h200(nvml_facts=NvmlUnavailable("pynvml is not installed"))
    link = by_name(verify(backend), "link.bandwidth")
    assert link.status is Status.PASS and "no theoretical rate known" in link.reason


def test_gpu_present_but_libcuda_missing_fails_cuda_driver(verify, h200) -> None:
    report = verify(h200(driver=cuda_api.LibraryMissing("libcuda.so.1 (NVIDIA driver) not found")))
    assert by_name(report, "gpu.present").status is Status.PASS
    assert by_name(report, "cuda.driver").status is Status.FAIL
    assert report.exit_code == ExitCode.CHECK_FAILED and report.no_gpu is None


def test_no_gpu_at_all_exits_no_gpu_with_the_reasons(verify, h200, validate) -> None:
    backend = h200(
        nvml_facts=NvmlUnavailable("NVML: Driver Not Loaded"),
        driver=cuda_api.LibraryMissing("libcuda.so.1 (NVIDIA driver) not found"),
    )
    report = verify(backend)
    assert report.exit_code == ExitCode.NO_GPU and report.outcome == "no_gpu"
    assert report.no_gpu == "libcuda.so.1 (NVIDIA driver) not found; NVML: Driver Not Loaded"
    assert by_name(report, "gpu.present").reason.startswith("no NVIDIA GPU or driver (libcuda.so.1")
    assert by_name(report, "gpu.compute").reason == "no GPU (see gpu.present)"
    assert backend.calls == []  # nothing ran: no copy, no SGEMM, no MXNet
    validate(report.to_dict())


def test_cuinit_no_device_is_no_gpu(verify, h200) -> None:
    error = cuda_api.CudaError("cuInit failed: CUDA_ERROR_NO_DEVICE (100)", cuda_api.CUDA_ERROR_NO_DEVICE)
    backend = h200(
        nvml_facts=NvmlUnavailable("NVML: Driver Not Loaded"), driver=DriverFacts("libcuda.so.1", 12080, [], error)
    )
    report = verify(backend)
    assert report.exit_code == ExitCode.NO_GPU
    assert "the CUDA driver sees no device" in (report.no_gpu or "")


def test_broken_driver_is_a_failure_not_no_gpu(verify, h200) -> None:
    error = cuda_api.CudaError("cuInit failed: CUDA_ERROR_SYSTEM_DRIVER_MISMATCH (803)", 803)
    backend = h200(
        nvml_facts=NvmlUnavailable("NVML: RM has detected an NVML/RM version mismatch.", absent=False),
        driver=DriverFacts("libcuda.so.1", 12080, [], error),
    )
    report = verify(backend)
    present = by_name(report, "gpu.present")
    assert present.status is Status.FAIL and "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH" in present.reason
    assert report.exit_code == ExitCode.CHECK_FAILED and report.no_gpu is None
    assert by_name(report, "gpu.compute").reason == "needs a working GPU (gpu.present did not pass)"


def test_mxnet_cpu_build_on_a_gpu_machine_skips_gpu_mxnet_checks(verify, h200, mxnet_results) -> None:
    report = verify(h200(mxnet_result=mxnet_results["cpu_build"]()))
    assert by_name(report, "mxnet.import").status is Status.PASS
    features = by_name(report, "mxnet.features")
    assert features.status is Status.SKIP and "built without CUDA" in features.reason
    assert by_name(report, "mxnet.ndarray").reason == features.reason
    assert report.exit_code == ExitCode.OK


def test_mxnet_on_the_gpu(verify, h200, mxnet_results) -> None:
    backend = h200(mxnet_result=mxnet_results["gpu"]())
    report = verify(backend)
    assert "mxnet gpu=True quick=False locate_only=False" in backend.calls
    train = by_name(report, "mxnet.train")
    assert train.status is Status.PASS
    assert train.measurements["images_per_s_gpu"] == 41000.0 and train.measurements["images_per_s_cpu"] == 2100.0
    assert "41,000 images/s on the GPU, 2,100 images/s on the CPU" in train.reason
    assert by_name(report, "mxnet.ndarray").reason.startswith("GPU results equal the cpu's")


def test_mxnet_gpu_differences_and_a_loss_that_does_not_fall_fail(verify, h200, mxnet_results) -> None:
    result = mxnet_results["gpu"]()
    result["ndarray"] = {"device": "gpu", "against": "cpu", "ok": False, "max_abs_error": {"conv": 0.3}}
    result["train_gpu"] = {"device": "gpu", "ok": False, "loss_first": 2.3, "loss_last": 2.3, "steps": 15}
    report = verify(h200(mxnet_result=result))
    assert by_name(report, "mxnet.ndarray").reason == "NDArray results differ from the cpu's"
    assert by_name(report, "mxnet.train").reason == "the loss did not fall (2.3 -> 2.3)"
    assert report.exit_code == ExitCode.CHECK_FAILED


def test_a_crashing_mxnet_probe_fails_mxnet_import(verify, h200, probe_error) -> None:
    report = verify(h200(mxnet_result=probe_error("the MXNet probe died (exit -11): Segmentation fault")))
    assert by_name(report, "mxnet.import").status is Status.FAIL
    assert by_name(report, "mxnet.import").reason == "the MXNet probe died (exit -11): Segmentation fault"
    train = by_name(report, "mxnet.train")
    assert (train.status, train.reason) == (Status.SKIP, "needs mxnet.import, which failed")
    assert report.exit_code == ExitCode.CHECK_FAILED


def test_a_bug_in_a_check_is_that_checks_failure_not_a_traceback(verify, h200) -> None:
    report = verify(h200(bandwidth=ZeroDivisionError("float division by zero")))
    link = by_name(report, "link.bandwidth")
    assert link.status is Status.FAIL and link.reason == "internal error: ZeroDivisionError: float division by zero"
    assert by_name(report, "gpu.compute").status is Status.PASS


def test_a_mig_slice_is_judged_against_its_own_sms(verify, h200) -> None:
    """In MIG mode CUDA's device is a slice (a 1g.18gb H200 slice has 16 SMs) while NVML counts the whole
    board's 16896 cores: the peak must be the slice's, or a working slice fails at 12% of a peak it cannot reach."""
    backend = h200()
    backend.driver = replace(backend.driver, devices=[replace(backend.driver.devices[0], multiprocessors=16)])
    backend.sgemm_result = replace(backend.sgemm_result, gflops=6000.0)
    compute = by_name(verify(backend), "gpu.compute")
    assert compute.measurements["peak_gflops"] == round(16 * 128 * 1980 * 2 / 1000, 1)
    assert compute.status is Status.PASS
