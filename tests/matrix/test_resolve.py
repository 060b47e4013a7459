"""The resolver and `egpu-setup matrix`: the acceptance cases of the seed procedure, and its refusals."""

from __future__ import annotations

import json

import pytest

from egpu_setup.errors import EgpuError
from egpu_setup.matrix import Matrix


def test_17c88_default_is_the_seed_procedure(cli) -> None:
    result = cli("matrix", "--build", "17C88", "--json")
    assert result.code == 0, result.err
    plan = json.loads(result.out)
    assert plan["kind"] == "resolution" and plan["schema_version"] == 1
    assert plan["build"] == "17C88" and plan["product_version"] == "10.13.2" and plan["profile"] == "default"
    artifacts = plan["artifacts"]
    assert artifacts["webdriver"]["version"] == "387.10.10.10.25.156"
    assert artifacts["webdriver"]["built_for"] == "17D47"
    assert artifacts["webdriver"]["sha256"] == "dd35f919e0dcf576ae27efb96439bd2558f3868018824c79a70b2c5283820aed"
    assert plan["webdriver_patch"] == {"required": True, "from": "17D47", "to": "17C88"}
    assert artifacts["cuda_driver"]["version"] == "387.128"
    assert artifacts["cuda_toolkit"]["version"] == "9.1.128"
    assert artifacts["cudnn"]["version"] == "7.0.5" and artifacts["cudnn"]["url"] is None
    assert artifacts["clt"]["version"] == "9.2"
    assert artifacts["clt"]["clang_build"] == "clang-900.0.39.2"
    assert artifacts["clt"]["receipt"]["version"] == "9.2.0.0.1.1510905681"
    assert artifacts["egpu_support"] is not None  # 10.13.2 needs NVDAEGPUSupport
    assert artifacts["mxnet_source"]["version"] == "1.0.0"
    # numpy for MXNet's Python package: PyPI's wheel for the target CPython and Intel macOS, its published digest
    assert artifacts["numpy"]["filename"] == "numpy-1.23.5-cp311-cp311-macosx_10_9_x86_64.whl"
    assert artifacts["numpy"]["sha256"] == "ce571367b6dfe60af04e04a1834ca2dc5f46004ac1cc756fb95319f64c095a96"
    assert artifacts["numpy"]["url"].startswith("https://files.pythonhosted.org/packages/")
    assert plan["cuda_arch"] == ["sm_61"]
    assert plan["cuda_arch_flags"] == "-gencode arch=compute_61,code=sm_61"
    assert plan["warnings"] == []


def test_17d47_same_driver_without_patch(cli) -> None:
    result = cli("matrix", "--build", "17D47", "--json")
    plan = json.loads(result.out)
    assert plan["artifacts"]["webdriver"]["version"] == "387.10.10.10.25.156"
    assert plan["webdriver_patch"]["required"] is False


@pytest.mark.parametrize(
    ("build", "why", "todo"),
    [
        ("16G29", "10.12 (Sierra), not High Sierra", "install macOS High Sierra"),
        ("18A391", "no web drivers after 10.13", "install macOS High Sierra"),
        ("17Z999", "not in the compatibility matrix", "sw_vers -buildVersion"),
        ("17C99", "not in the compatibility matrix", "--allow-nearest"),
        ("hello", "not a macOS build number", "sw_vers -buildVersion"),
    ],
)
def test_refusals_say_why_and_what_to_do(cli, build: str, why: str, todo: str) -> None:
    result = cli("matrix", "--build", build)
    assert result.code == 2
    error, fix = result.err.split("\nfix: ", 1)
    assert error.startswith("error: ") and why in error
    assert todo in fix
    assert "Traceback" not in result.err and result.out == ""


def test_allow_nearest_uses_same_update_and_warns_loudly(cli) -> None:
    result = cli("matrix", "--build", "17C99", "--allow-nearest", "--json")
    assert result.code == 0
    plan = json.loads(result.out)
    assert plan["matrix_build"] == "17C89"  # nearest 10.13.2 build by number
    assert plan["webdriver_patch"] == {"required": True, "from": "17D47", "to": "17C99"}
    assert any("IS NOT IN THE MATRIX" in w for w in plan["warnings"])
    assert "warning: BUILD 17C99 IS NOT IN THE MATRIX" in result.err


def test_allow_nearest_still_refuses_an_update_that_never_existed(matrix: Matrix) -> None:
    with pytest.raises(EgpuError, match="never existed"):
        matrix.resolve("17Z999", allow_nearest=True)


def test_native_profile_uses_each_builds_driver(matrix: Matrix) -> None:
    plan = matrix.resolve("17E199", profile="native")
    assert plan.artifacts["webdriver"].version == "387.10.10.10.30.106"  # the newest for 17E199
    assert plan.artifacts["cuda_driver"].version == "387.178"
    assert plan.webdriver_patch["required"] is False
    assert plan.artifacts["egpu_support"] is not None


def test_native_profile_refuses_where_the_cuda_driver_cannot_serve_cuda_91(matrix: Matrix) -> None:
    with pytest.raises(EgpuError, match=r"387\.99, which serves CUDA 9\.0, not CUDA 9\.1") as info:
        matrix.resolve("17C88", profile="native")
    assert "default profile" in (info.value.fix or "")


def test_cuda_driver_of_another_web_driver_series_is_refused(broken_matrix) -> None:
    from egpu_setup.matrix import load_matrix

    default_pick = '    cuda_driver: "387.128"\n    cuda_toolkit'
    path, _ = broken_matrix(default_pick, default_pick.replace("387.128", "387.99"))
    with pytest.raises(EgpuError) as info:
        load_matrix(path=path).resolve("17C88")
    assert "387.99 needs a 378.x web driver" in info.value.message
    assert "387.128" in (info.value.fix or "")  # names the drivers that fit the 387 series


def test_egpu_support_only_up_to_10_13_5(matrix: Matrix) -> None:
    assert matrix.resolve("17F77").artifacts["egpu_support"] is not None
    assert matrix.resolve("17G65").artifacts["egpu_support"] is None


def test_the_enabler_is_the_package_made_for_the_web_drivers_build(matrix: Matrix) -> None:
    # Default profile: web driver 387.10.10.10.25.156 (built for 17D47) on 17C88 -> the 17D47 package, v6, whose
    # required-bundles name that driver's kexts (the 17C88 package, v4, names 378.10.10.10.25.102's).
    v6 = matrix.resolve("17C88").artifacts["egpu_support"]
    assert (v6.version, v6.builds, v6.fields["package"]) == ("6", ("17D47",), "NVDAEGPUSupport-v6.pkg")
    assert v6.filename == "4376-NVDAEGPUSupport-v6.zip" and v6.sha512 and v6.sha256 is None
    # Native profile on 17E199: its own driver .30.106 is built for 17E199 -> the Universal package.
    assert matrix.resolve("17E199", profile="native").artifacts["egpu_support"].version == "Universal"
    assert [a.version for a in matrix.profile_artifacts() if a.id == "egpu_support"] == ["6"]


def test_a_profile_naming_an_enabler_made_for_another_build_is_refused(broken_matrix) -> None:
    from egpu_setup.matrix import load_matrix

    default_pick = (
        "    egpu_support: auto\n    python3: 3.11.9\n    mxnet_source: 1.0.0\n    numpy: 1.23.5\n"
        "    gpu: gtx1080\n  native:"
    )
    path, _ = broken_matrix(default_pick, default_pick.replace("egpu_support: auto", 'egpu_support: "4"'))
    with pytest.raises(EgpuError) as info:
        load_matrix(path=path).resolve("17C88")
    assert "NVDAEGPUSupport 4 is made for 17C88" in info.value.message
    assert "web driver 387.10.10.10.25.156 (built for 17D47)" in info.value.message
    assert "auto" in (info.value.fix or "") and "(6)" in (info.value.fix or "")


def test_no_enabler_for_the_web_drivers_build_is_refused_with_the_remedy(broken_matrix) -> None:
    from egpu_setup.matrix import load_matrix

    path, _ = broken_matrix("    builds: [17D47]\n", "    builds: [17D48]\n")  # v6 no longer for 17D47
    with pytest.raises(EgpuError) as info:
        load_matrix(path=path).resolve("17C88")
    assert "no NVDAEGPUSupport package made for web driver 387.10.10.10.25.156 (built for 17D47)" in info.value.message
    assert "Installer refuses it" in info.value.message and info.value.fix


def test_gpu_by_key_device_id_or_compute_capability(cli, matrix: Matrix) -> None:
    assert matrix.gpu(0x1B80).key == matrix.gpu("0x1b80").key == matrix.gpu("gtx1080").key == "gtx1080"
    gtx1080 = matrix.gpu("gtx1080")
    assert (gtx1080.compute_capability, gtx1080.cuda_cores, gtx1080.boost_clock_mhz) == ("6.1", 2560, 1733)
    assert (gtx1080.fp32_gflops, gtx1080.memory_gb, gtx1080.memory_bandwidth_gbs) == (8873, 8, 320)
    assert matrix.link("thunderbolt3").bandwidth_gbs == pytest.approx(3.94)
    plan = json.loads(cli("matrix", "--build", "17C88", "--compute-capability", "5.2", "--json").out)
    assert plan["cuda_arch_flags"] == "-gencode arch=compute_52,code=sm_52"
    result = cli("matrix", "--build", "17C88", "--gpu", "rtx9090")
    assert result.code == 2 and "not in the matrix" in result.err
    result = cli("matrix", "--build", "17C88", "--compute-capability", "8.6")
    assert result.code == 2 and "CUDA 9.1 cannot build" in result.err


def test_every_fp32_peak_is_twice_cores_times_boost(matrix: Matrix) -> None:
    for gpu in matrix.gpus.values():
        assert gpu.fp32_gflops == pytest.approx(2 * gpu.cuda_cores * gpu.boost_clock_mhz / 1000, rel=0.002), gpu.key


def test_every_high_sierra_build_of_the_facts_page_is_listed(matrix: Matrix) -> None:
    facts = (  # noqa: SIM905 - a paragraph of builds reads better than 31 quoted strings
        "17A365 17A405 17B48 17B1002 17B1003 17C88 17C89 17C205 17C2120 17C2205 17D47 17D2047 17D102 17D2102 "
        "17E199 17E202 17F77 17G65 17G3025 17G4015 17G5019 17G6029 17G6030 17G7024 17G8029 17G8030 17G8037 "
        "17G9016 17G10021 17G14033 17G14042"
    ).split()
    assert sorted(facts) == sorted(matrix.builds)
    assert matrix.builds["17C88"].webdrivers == ("378.10.10.10.25.102",)
    assert matrix.builds["17D102"].native_webdriver == "387.10.10.10.25.161"


def test_web_driver_urls_follow_nvidias_two_schemes(matrix: Matrix) -> None:
    for (artifact_id, version), artifact in matrix.artifacts.items():
        if artifact_id != "webdriver":
            continue
        major, *_, minor, patch = version.split(".")
        if major == "378" and (int(minor), int(patch)) < (25, 102):
            expected = f"http://us.download.nvidia.com/Mac/Quadro_Certified/{version}/WebDriver-{version}.pkg"
        else:
            expected = f"https://images.nvidia.com/mac/pkg/{major}/WebDriver-{version}.pkg"
        assert artifact.url == expected


def test_profile_without_build_is_a_usage_error(cli) -> None:
    result = cli("matrix", "--profile", "native")
    assert result.code == 2 and "--build" in result.err


def test_whole_matrix_as_tables_and_json(cli) -> None:
    result = cli("matrix")
    assert result.code == 0
    for text in ("17G14042", "387.10.10.10.25.156", "gtx1080", "Thunderbolt 3", "default", "native"):
        assert text in result.out
    data = json.loads(cli("matrix", "--json").out)
    assert data["kind"] == "matrix" and len(data["macos_builds"]) == 31
    assert data["gpus"]["gtx1080"]["pci_device_id"] == "0x1b80"


def test_resolution_table_names_patch_and_arch(cli) -> None:
    result = cli("matrix", "--build", "17C88")
    assert result.code == 0
    assert "patch 17D47 -> 17C88" in result.out and "sm_61" in result.out
    assert "https://images.nvidia.com/mac/pkg/387/WebDriver-387.10.10.10.25.156.pkg" in result.out


def test_matrix_command_does_not_import_ansible() -> None:
    import subprocess
    import sys

    code = (
        "import io, sys\n"
        "from egpu_setup.cli import main\n"
        "assert main(['matrix'], stdout=io.StringIO()) == 0\n"
        "assert main(['matrix', '--build', '17C88', '--json'], stdout=io.StringIO()) == 0\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('ansible', 'ansible_runner')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_a_low_confidence_build_pairing_warns_only_where_the_profile_uses_it(broken_matrix) -> None:
    from egpu_setup.matrix import load_matrix

    row = "{build: 17D47, product_version: 10.13.3, webdrivers: [387.10.10.10.25.156], confidence: high}"
    path, _ = broken_matrix(row, row.replace("high", "low"))
    matrix = load_matrix(path=path)
    native = matrix.resolve("17D47", profile="native")  # installs the build's own driver: the pairing matters
    assert any(w.startswith("build 17D47: low-confidence web driver pairing") for w in native.warnings)
    assert matrix.resolve("17D47").warnings == []  # the default profile names its driver itself


def test_rereleased_builds_are_low_confidence_and_patched(matrix: Matrix) -> None:
    # docs/matrix.md: 17B1003, 17G6030 and 17G8030 reuse the previous build's driver, whose NVDARequiredOS names
    # that previous build; whether NVIDIA rebuilt it is unknown, so the rows are low confidence.
    for build, previous in (("17B1003", "17B1002"), ("17G6030", "17G6029"), ("17G8030", "17G8029")):
        entry = matrix.builds[build]
        assert entry.confidence == "low"
        assert matrix.artifact("webdriver", entry.native_webdriver).built_for == previous
