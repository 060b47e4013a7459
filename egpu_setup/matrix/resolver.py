"""From host facts (macOS build, GPU) and a profile to a plan: each artifact, the NVDARequiredOS patch, CUDA arch.

The resolver refuses, with the reason and what to do, rather than guess: a macOS that is not 10.13, a build the
matrix does not list (unless the caller allows the nearest build of the same update, which is then a warning), and
driver pairs that cannot work (a CUDA driver for another web driver series, or one that does not serve the CUDA
toolkit). docs/architecture.md ("Resolution") is the contract for `Resolution.to_dict()`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from egpu_setup.errors import EgpuError
from egpu_setup.matrix.builds import parse_build
from egpu_setup.matrix.model import ARTIFACT_IDS, Artifact, Gpu, MacosBuild

if TYPE_CHECKING:
    from egpu_setup.matrix.matrix import Matrix

# The build the seed procedure ran on; named in refusals as the tested choice.
SEED_BUILD = "17C88 (10.13.2)"
# The updates on which the web driver needs NVDAEGPUSupport for a GPU on Thunderbolt: learex-zz/macOS-eGPU
# (macOS-eGPU.sh@26175eb) installs an enabler on 10.13.0-10.13.5 only and removes it on any other version.
ENABLER_UPDATES = ("10.13.0", "10.13.1", "10.13.2", "10.13.3", "10.13.4", "10.13.5")
# nvcc 9.1 generates code for compute capabilities 3.0 up to 7.2.
_CUDA91_CC = (3, 7)
_CC_FORMS = re.compile(r"^(?:sm_|compute_)?(\d)\.?(\d)$")


@dataclass
class Resolution:
    build: str
    product_version: str
    profile: str
    artifacts: dict[str, Artifact | None]
    webdriver_patch: dict[str, Any]
    cuda_arch: list[str]
    cuda_arch_flags: str
    gpu: dict[str, Any]
    matrix_build: str  # the matrix entry the plan used: the build itself, or its nearest under allow_nearest
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "build": self.build,
            "product_version": self.product_version,
            "profile": self.profile,
            "artifacts": {key: (a.to_dict() if a else None) for key, a in self.artifacts.items()},
            "webdriver_patch": dict(self.webdriver_patch),
            "cuda_arch": list(self.cuda_arch),
            "cuda_arch_flags": self.cuda_arch_flags,
            "gpu": dict(self.gpu),
            "matrix_build": self.matrix_build,
            "warnings": list(self.warnings),
        }


def resolve(
    matrix: Matrix,
    build: str,
    profile: str = "default",
    gpu: str | int | None = None,
    compute_capability: str | None = None,
    allow_nearest: bool = False,
) -> Resolution:
    chosen = matrix.profile(profile)
    warnings: list[str] = []
    entry = _find_build(matrix, build, allow_nearest, warnings)

    picked: dict[str, Artifact | None] = {}
    webdriver = _pick_webdriver(matrix, chosen.picks["webdriver"], entry)
    picked["webdriver"] = webdriver
    toolkit = matrix.artifact("cuda_toolkit", chosen.picks["cuda_toolkit"])
    picked["cuda_driver"] = _pick_cuda_driver(matrix, chosen.picks["cuda_driver"], webdriver, toolkit, entry, profile)
    picked["egpu_support"] = (
        pick_egpu_support(matrix, chosen.picks["egpu_support"], webdriver, profile)
        if entry.product_version in ENABLER_UPDATES
        else None
    )
    picked["cuda_toolkit"] = toolkit
    cudnn = matrix.artifact("cudnn", chosen.picks["cudnn"])
    if not set(cudnn.cuda) & set(toolkit.cuda):
        raise EgpuError(
            f"profile {profile}: cuDNN {cudnn.version} is for CUDA {', '.join(cudnn.cuda)}, "
            f"but the profile installs CUDA {toolkit.version}",
            fix="pick a cuDNN built for the profile's CUDA version in the matrix",
        )
    picked["cudnn"] = cudnn
    for artifact_id in ("clt", "python3", "mxnet_source", "numpy"):
        picked[artifact_id] = matrix.artifact(artifact_id, chosen.picks[artifact_id])
    assert set(picked) == set(ARTIFACT_IDS)

    for artifact in picked.values():
        if artifact is not None and artifact.confidence == "low":
            warnings.append(f"{artifact.id} {artifact.version}: low-confidence matrix data ({artifact.source})")
    if entry.confidence == "low" and chosen.picks["webdriver"] == "native":  # the pairing is used only then
        warnings.append(f"build {entry.build}: low-confidence web driver pairing ({entry.note or 'see matrix'})")

    target = _gpu_target(matrix, gpu, compute_capability, chosen.gpu)
    sm = "sm_" + target["compute_capability"].replace(".", "")
    compute = sm.replace("sm_", "compute_")
    return Resolution(
        build=build,
        product_version=entry.product_version,
        profile=profile,
        artifacts={artifact_id: picked[artifact_id] for artifact_id in ARTIFACT_IDS},
        webdriver_patch={
            "required": webdriver.built_for != build,
            "from": webdriver.built_for,
            "to": build,
        },
        cuda_arch=[sm],
        cuda_arch_flags=f"-gencode arch={compute},code={sm}",
        gpu=target,
        matrix_build=entry.build,
        warnings=warnings,
    )


def _find_build(matrix: Matrix, build: str, allow_nearest: bool, warnings: list[str]) -> MacosBuild:
    parsed = parse_build(build)
    if parsed is None:
        raise EgpuError(
            f"{build!r} is not a macOS build number (like 17C88)",
            fix="run `sw_vers -buildVersion` on the Mac and pass what it prints",
        )
    if parsed.darwin != 17:
        if parsed.darwin < 17:
            release = parsed.release or "older than 10.13"
            why = f"build {build} is macOS {release} ({parsed.release_name}), not High Sierra"
        else:
            why = (
                f"build {build} is macOS {parsed.release or 'newer than 10.13'} ({parsed.release_name}), not High "
                "Sierra: NVIDIA released no web drivers after 10.13"
            )
        raise EgpuError(
            f"{why}; the web driver + CUDA 9.1 stack egpu-setup installs exists only for macOS 10.13",
            fix=f"install macOS High Sierra on this Mac ({SEED_BUILD} is the tested build), then run again",
        )
    if build in matrix.builds:
        return matrix.builds[build]
    same_update = [entry for entry in matrix.builds.values() if entry.build[:3] == build[:3]]
    known = ", ".join(matrix.builds)
    if not allow_nearest or not same_update:
        if not same_update:
            why = (
                f"its letter {parsed.letter} would be macOS {parsed.product_version}, which never existed (High Sierra "
                "ended at 10.13.6)"
                if parsed.update > 6
                else f"the matrix has no macOS {parsed.product_version} builds at all"
            )
            fix = (
                "check the build with `sw_vers -buildVersion`; if it is a real 10.13 build, add it to the matrix "
                f"(builds known: {known})"
            )
        else:
            why = f"the matrix lists {len(same_update)} other {parsed.product_version} build(s)"
            fix = (
                "check the build with `sw_vers -buildVersion`; to use the nearest listed build of the same update "
                f"({_nearest(same_update, parsed.number).build}), allow it (untested pairing): "
                "egpu_allow_nearest_build: true in the inventory, or `egpu-setup matrix --allow-nearest`; or add the "
                "build to the matrix"
            )
        raise EgpuError(f"build {build} is not in the compatibility matrix: {why}", fix=fix)
    nearest = _nearest(same_update, parsed.number)
    warnings.append(
        f"BUILD {build} IS NOT IN THE MATRIX: using the data of the nearest {nearest.product_version} build "
        f"{nearest.build} (allowed by --allow-nearest). This pairing is untested; the web driver will be patched "
        f"to {build}."
    )
    return nearest


def _nearest(candidates: list[MacosBuild], number: int) -> MacosBuild:
    def distance(entry: MacosBuild) -> tuple[int, int]:
        parsed = parse_build(entry.build)
        own = parsed.number if parsed else 0
        return abs(own - number), own

    return min(candidates, key=distance)


def _pick_webdriver(matrix: Matrix, pick: str, entry: MacosBuild) -> Artifact:
    version = entry.native_webdriver if pick == "native" else pick
    return matrix.artifact("webdriver", version)


def pick_egpu_support(matrix: Matrix, pick: str, webdriver: Artifact, profile: str) -> Artifact:
    """The NVDAEGPUSupport package for `webdriver`: the one made for the build the driver was built for.

    Its Distribution's required-bundles name the kext versions of that build's web driver (pedroresende/
    NVIDIAEGPUSupport package.dist), so Installer refuses it beside any older driver; the package made for the
    running build would name the running build's own driver, which the default profile does not install.
    """
    fitting = [a for a in matrix.artifacts.values() if a.id == "egpu_support" and webdriver.built_for in a.builds]
    if pick == "auto":
        if fitting:
            return fitting[0]
        raise EgpuError(
            f"profile {profile}: the matrix has no NVDAEGPUSupport package made for web driver {webdriver.version} "
            f"(built for {webdriver.built_for}); a package made for another build requires another driver's kexts, "
            "and Installer refuses it",
            fix="pick a web driver whose build has an NVDAEGPUSupport package in the matrix (egpu.io published one "
            "per build from 17A405 to 17F77; `egpu-setup matrix` lists them), or add the package for "
            f"{webdriver.built_for} to the matrix",
        )
    enabler = matrix.artifact("egpu_support", pick)
    if webdriver.built_for not in enabler.builds:
        fits = ", ".join(a.version for a in fitting) or "none in the matrix"
        raise EgpuError(
            f"profile {profile}: NVDAEGPUSupport {enabler.version} is made for {', '.join(enabler.builds)}, but the "
            f"profile installs web driver {webdriver.version} (built for {webdriver.built_for}); its required-bundles "
            "name the other driver's kext versions",
            fix=f"set the profile's egpu_support to auto, or to the package made for {webdriver.built_for} ({fits})",
        )
    return enabler


def _pick_cuda_driver(
    matrix: Matrix, pick: str, webdriver: Artifact, toolkit: Artifact, entry: MacosBuild, profile: str
) -> Artifact:
    major = webdriver.webdriver_major
    cuda = toolkit.cuda[0]
    if pick == "auto":
        for candidate in (a for a in matrix.artifacts.values() if a.id == "cuda_driver"):
            if entry.product_version in candidate.product_versions and candidate.webdriver_major == major:
                if cuda in candidate.cuda:
                    return candidate
                raise EgpuError(
                    f"profile {profile}: on {entry.product_version} the CUDA driver for web driver {webdriver.version} "
                    f"is {candidate.version}, which serves CUDA {', '.join(candidate.cuda)}, not CUDA {cuda}",
                    fix="use the default profile (web driver 387.10.10.10.25.156 patched to this build, CUDA driver "
                    "387.128)",
                )
        raise EgpuError(
            f"profile {profile}: the matrix has no CUDA driver released for macOS {entry.product_version} that works "
            f"with web driver {webdriver.version} (series {major})",
            fix="use the default profile (web driver 387.10.10.10.25.156 patched to this build, CUDA driver 387.128)",
        )
    driver = matrix.artifact("cuda_driver", pick)
    if driver.webdriver_major != major:
        fitting = [a.version for a in matrix.artifacts.values() if a.id == "cuda_driver" and a.webdriver_major == major]
        raise EgpuError(
            f"profile {profile}: CUDA driver {driver.version} needs a {driver.webdriver_major}.x web driver, but the "
            f"profile installs web driver {webdriver.version} ({major}.x); the pair fails with 'CUDA driver version "
            "is insufficient'",
            fix=f"pick a CUDA driver for the {major} series ({', '.join(fitting) or 'none in the matrix'}) or "
            f"a {driver.webdriver_major}.x web driver",
        )
    if cuda not in driver.cuda:
        raise EgpuError(
            f"profile {profile}: CUDA driver {driver.version} serves CUDA {', '.join(driver.cuda)}, not CUDA {cuda}",
            fix="pick a CUDA driver that serves the profile's CUDA toolkit",
        )
    return driver


def _gpu_target(matrix: Matrix, gpu: str | int | None, compute_capability: str | None, default: str) -> dict[str, Any]:
    if compute_capability is not None:
        match = _CC_FORMS.match(str(compute_capability).strip())
        if not match:
            raise EgpuError(
                f"{compute_capability!r} is not a compute capability",
                fix="write it as 6.1, 61 or sm_61 (`deviceQuery` prints it as 'CUDA Capability Major/Minor')",
            )
        cc = f"{match[1]}.{match[2]}"
        known: Gpu | None = matrix.gpu(gpu) if gpu is not None else None
        if known is not None and known.compute_capability != cc:
            raise EgpuError(
                f"GPU {known.key} has compute capability {known.compute_capability}, not {cc}",
                fix="pass either the GPU or the compute capability, not both",
            )
        target = known.to_dict() if known else {"key": None, "name": None, "compute_capability": cc}
    else:
        target = matrix.gpu(gpu if gpu is not None else default).to_dict()
    major = int(target["compute_capability"].split(".")[0])
    if not _CUDA91_CC[0] <= major <= _CUDA91_CC[1]:
        raise EgpuError(
            f"CUDA 9.1 cannot build for compute capability {target['compute_capability']} (it covers 3.0 to 7.2)",
            fix="check the GPU's compute capability; egpu-setup's stack supports Kepler to Volta GPUs",
        )
    return target
