"""Which macOS builds a rehearsal host can run: build -> product version and Darwin kernel version.

The product version comes from the product's compatibility matrix (its data file, read with `egpu_setup.matrix`, the
`macos_builds` table): one list of the builds, no copy here; a matrix that cannot be read is its EgpuError (file and
line), which `lab up` reports. The Darwin version of each 10.13 update
follows Apple's numbering (10.13 -> Darwin 17.0.0, 10.13.1 -> 17.2.0, 10.13.2 -> 17.3.0 ... 10.13.6 -> 17.7.0; the
10.13.1 update skipped 17.1; listed on Wikipedia's "Darwin (operating system)" release table and in `uname -r`
transcripts).
"""

from __future__ import annotations

import functools

from egpu_setup.errors import EgpuError

DARWIN: dict[str, str] = {
    "10.13": "17.0.0", "10.13.1": "17.2.0", "10.13.2": "17.3.0", "10.13.3": "17.4.0",
    "10.13.4": "17.5.0", "10.13.5": "17.6.0", "10.13.6": "17.7.0",
}  # fmt: skip
# `uname -v` of 10.13.2 and 10.13.6 as public `uname -a` transcripts show them; other builds get a generic string.
KERNEL_BUILD_STRINGS: dict[str, str] = {
    "17.3.0": "Thu Nov  9 18:09:22 PST 2017; root:xnu-4570.31.3~1/RELEASE_X86_64",
    "17.7.0": "Thu Jun 21 22:53:14 PDT 2018; root:xnu-4570.71.2~1/RELEASE_X86_64",
}


@functools.cache  # lab up asks once per host; the matrix does not change under a running process
def _matrix_builds() -> dict[str, str]:
    """Build -> product version, from the product's matrix (EgpuError naming file and line when it is broken)."""
    from egpu_setup.matrix import load_matrix

    return {build: str(entry.product_version) for build, entry in load_matrix().builds.items()}


def product_version(build: str) -> str:
    """The macOS version of a build (17C88 -> 10.13.2); EgpuError for a build the matrix does not know."""
    known = _matrix_builds()
    version = known.get(build)
    if version is None:
        raise EgpuError(
            f"unknown macOS build {build!r}",
            fix=f"use one of the High Sierra builds: {', '.join(sorted(known))}",
        )
    if version.count(".") == 2 and version.endswith(".0"):  # 10.13's first release calls itself 10.13 (sw_vers)
        version = version.removesuffix(".0")
    return version


def update_product_version(build: str) -> tuple[str, bool]:
    """The product version a High Sierra update to `build` brings, and whether the matrix knows the build: the
    matrix's version where it does, else the one the build number's letter implies (17G99 -> 10.13.6), as a real
    update can bring a build no table lists yet. EgpuError for what is no 10.13 build number."""
    from egpu_setup.matrix.builds import parse_build

    if build in _matrix_builds():
        return product_version(build), True
    parsed = parse_build(build)
    if parsed is None or parsed.release != "10.13" or parsed.update > 6:
        raise EgpuError(
            f"{build!r} is not a macOS High Sierra build number (17 + update letter A-G + number, e.g. 17C205)",
            fix="give the build the update brings, as `sw_vers -buildVersion` prints it",
        )
    return parsed.product_version.removesuffix(".0"), False


def kernel_version(product: str) -> str:
    return DARWIN.get(product, DARWIN.get(product.removesuffix(".0"), "17.0.0"))


def kernel_build_string(release: str) -> str:
    return KERNEL_BUILD_STRINGS.get(release, "root:xnu-4570~1/RELEASE_X86_64")
