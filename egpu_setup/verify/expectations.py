"""What the checks compare their measurements with: versions from the profile, peaks of the GPU and the link.

`expectations_for(profile, platform)` is the one place that decides them, from the compatibility matrix
(egpu_setup.matrix: the profile's cuda_toolkit, cudnn and cuda_driver picks, the GPUs' fp32_gflops, the
thunderbolt3 link). On macOS the default profile applies unless another is named; on Linux no version is expected
unless a profile is named: what is installed is reported, not judged. The matrix needs PyYAML, which the
target's venv (stdlib + macholib) lacks: there a built-in copy of the default profile's figures stands in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Thunderbolt 3 carries PCIe 3.0 x4: 4 lanes x 8 GT/s x 128/130 encoding / 8 bits = 3.94 GB/s per direction
# (the matrix's links.thunderbolt3.bandwidth_gbs, rounded as there).
THUNDERBOLT3_GBPS = 3.94

# The default profile's figures (egpu_setup/matrix/data/matrix.yaml), for targets that cannot load the matrix.
_PROFILE_VERSIONS: dict[str, dict[str, str]] = {
    "default": {"cuda_runtime": "9.1", "cudnn": "7.0.5", "cuda_driver": "387.128", "cuda_api": "9.1"},
}

# FP32 peaks of the GPUs the matrix knows, by name as NVML/CUDA report it and by PCI device id (system_profiler).
# GTX 1080: 2560 cores x 1733 MHz boost x 2 = 8873 GFLOPS (docs high-sierra-egpu.md, Hardware figures).
_KNOWN_GPUS: tuple[tuple[str, int, float], ...] = (("GeForce GTX 1080", 0x1B80, 8873.0),)


@dataclass(frozen=True)
class Expectations:
    """None means "no expectation": the value is reported, not judged."""

    profile: str | None = None
    cuda_runtime: str | None = None  # "9.1": major.minor of cudaRuntimeGetVersion
    cudnn: str | None = None  # "7.0.5"
    cuda_driver: str | None = None  # the CUDA driver package on macOS ("387.128", CUDA.framework)
    cuda_api: str | None = None  # lowest CUDA version the driver must support (cuDriverGetVersion)
    # The link of a Mac's eGPU is known (Thunderbolt 3); on Linux NVML or sysfs says what the slot gives.
    link_gbps: float | None = None
    link_name: str | None = None
    # A missing MXNet, or one built without CUDA, fails on a provisioned Mac and is only skipped elsewhere.
    mxnet_required: bool = False
    # Thresholds: measured / theoretical below these fails. TB3 eGPUs reach about 2.4-2.75 of 3.94 GB/s (0.6-0.7);
    # cuBLAS SGEMM reaches 0.75-0.95 of the FP32 peak on large square matrices.
    bandwidth_min_ratio: float = 0.4
    compute_min_ratio: float = 0.5
    gpu_peaks: dict[str, float] = field(default_factory=dict)  # GPU name -> FP32 peak GFLOPS
    gpu_peaks_by_device_id: dict[int, float] = field(default_factory=dict)

    def peak_gflops(self, name: str | None, device_id: int | None = None) -> float | None:
        """The FP32 peak of a GPU the matrix knows, by name (with or without "NVIDIA ") or PCI device id."""
        if device_id is not None and device_id in self.gpu_peaks_by_device_id:
            return self.gpu_peaks_by_device_id[device_id]
        if name:
            bare = name[len("NVIDIA ") :] if name.startswith("NVIDIA ") else name
            return self.gpu_peaks.get(bare)
        return None

    def as_dict(self) -> dict[str, object]:
        return {
            "profile": self.profile,
            "cuda_runtime": self.cuda_runtime,
            "cudnn": self.cudnn,
            "cuda_driver": self.cuda_driver,
            "cuda_api": self.cuda_api,
            "link_gbps": round(self.link_gbps, 3) if self.link_gbps else None,
            "link_name": self.link_name,
            "mxnet_required": self.mxnet_required,
            "bandwidth_min_ratio": self.bandwidth_min_ratio,
            "compute_min_ratio": self.compute_min_ratio,
        }


class UnknownProfile(ValueError):
    """The profile named is not one this version knows."""


def known_profiles() -> list[str]:
    return sorted(_PROFILE_VERSIONS)


def _major_minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def _from_matrix(profile: str | None, platform: str) -> Expectations | None:
    """Expectations from the matrix, or None where it cannot be imported (no PyYAML on the target).

    An unknown profile or a broken matrix file is the matrix's EgpuError (exit 2)."""
    try:
        from egpu_setup.matrix import load_matrix
    except Exception:  # no PyYAML (the target), or a Python older than the matrix code (bench on a GPU box)
        return None
    matrix = load_matrix()
    peaks = {gpu.name: float(gpu.fp32_gflops) for gpu in matrix.gpus.values()}
    peaks_by_id = {gpu.pci_device_id: float(gpu.fp32_gflops) for gpu in matrix.gpus.values()}
    mac = platform == "darwin"
    link: dict[str, object] = {}
    if mac and "thunderbolt3" in matrix.links:
        tb3 = matrix.link("thunderbolt3")
        link = {"link_gbps": tb3.bandwidth_gbs, "link_name": f"{tb3.fields.get('name')} ({tb3.fields.get('pcie')})"}
    if profile is None:
        return Expectations(gpu_peaks=peaks, gpu_peaks_by_device_id=peaks_by_id, **link)  # type: ignore[arg-type]
    picks = matrix.profile(profile).picks
    toolkit, driver = picks.get("cuda_toolkit"), picks.get("cuda_driver")
    return Expectations(
        profile=profile,
        cuda_runtime=_major_minor(toolkit) if toolkit else None,
        cudnn=picks.get("cudnn"),
        # "auto" picks the CUDA driver per build: any driver that supports the toolkit will do then.
        cuda_driver=driver if mac and driver and driver[0].isdigit() else None,
        cuda_api=_major_minor(toolkit) if toolkit else None,
        mxnet_required=mac,
        gpu_peaks=peaks,
        gpu_peaks_by_device_id=peaks_by_id,
        **link,  # type: ignore[arg-type]
    )


def expectations_for(profile: str | None, platform: str) -> Expectations:
    """The expectations for `profile` on `platform` ("darwin" or "linux"; a rehearsal Mac counts as darwin).

    A Mac without a named profile gets the default profile; Linux without one gets none (report, do not judge).
    """
    if profile is None and platform == "darwin":
        profile = "default"
    from_matrix = _from_matrix(profile, platform)
    if from_matrix is not None:
        return from_matrix
    return builtin_expectations(profile, platform)


def builtin_expectations(profile: str | None, platform: str) -> Expectations:
    """The stand-in for the matrix where PyYAML is missing: the default profile and the GTX 1080 only."""
    peaks = {name: peak for name, _, peak in _KNOWN_GPUS}
    peaks_by_id = {device_id: peak for _, device_id, peak in _KNOWN_GPUS}
    mac = platform == "darwin"
    link = {"link_gbps": THUNDERBOLT3_GBPS, "link_name": "Thunderbolt 3 (PCIe 3.0 x4)"} if mac else {}
    if profile is None:
        return Expectations(gpu_peaks=peaks, gpu_peaks_by_device_id=peaks_by_id, **link)  # type: ignore[arg-type]
    if profile not in _PROFILE_VERSIONS:
        raise UnknownProfile(profile)
    versions = _PROFILE_VERSIONS[profile]
    return Expectations(
        profile=profile,
        cuda_runtime=versions.get("cuda_runtime"),
        cudnn=versions.get("cudnn"),
        cuda_driver=versions.get("cuda_driver") if mac else None,
        cuda_api=versions.get("cuda_api"),
        mxnet_required=mac,
        gpu_peaks=peaks,
        gpu_peaks_by_device_id=peaks_by_id,
        **link,  # type: ignore[arg-type]
    )
