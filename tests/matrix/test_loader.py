"""Loading the matrix: a broken entry is reported as file:line and what is wrong (exit 2, no traceback)."""

from __future__ import annotations

from pathlib import Path

import pytest

from egpu_setup.errors import EgpuError
from egpu_setup.matrix import load_matrix


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (
            "    sha256: dd35f919e0dcf576ae27efb96439bd2558f3868018824c79a70b2c5283820aed",
            "    sha256: dd35f919",
            "sha256 must be 64 lower-case hex digits",
        ),
        ('    version: "387.128"', "    version: 387.128", 'quote it ("387.128")'),
        ("    sha512: 477cf279f7ae", "    sha512: 477CF279F7AE", "sha512 must be 128 lower-case hex digits"),
        ("    builds: [17D47]\n", "    builds: [17-D47]\n", "is not a macOS build number"),
        ("    builds: [17D47]\n", "    builds: []\n", "builds must be a non-empty list"),
        ("    built_for: 17D47", "    built_for: 17D47\n    bulit_for: 17D47", "unknown field 'bulit_for'"),
        ("    built_for: 17D47", "    built_for: 17-D47", "is not a macOS build number"),
        (
            "  - {build: 17C88, product_version: 10.13.2,",
            "  - {build: 17C88, product_version: 10.13.3,",
            "disagrees with the build number",
        ),
        ("    cudnn: 7.0.5\n    clt", "    cudnn: 7.0.6\n    clt", "cudnn 7.0.6 is not in artifacts"),
        ("    confidence: high\n  gtx1070:", "    confidence: sure\n  gtx1070:", "must be one of high, medium, low"),
        ("    cuda_cores: 2560\n", "    cuda_cores: 2560\n    cuda_cores: 2561\n", "duplicate key 'cuda_cores'"),
        ("    gpu: gtx1080\n  native:", "    gpu: [gtx1080]\n  native:", "gpu must be a string"),
        (
            "    url: null\n    download_page: https://developer.nvidia.com",
            "    url: [oops\n    download_page: x",
            "not valid YAML",
        ),
    ],
)
def test_broken_entry_names_file_line_and_problem(broken_matrix, old: str, new: str, problem: str) -> None:
    path, line = broken_matrix(old, new)
    with pytest.raises(EgpuError) as info:
        load_matrix(path=path)
    message = info.value.message
    assert problem in message
    # the line named is the broken entry's (the replacement may sit one or two lines below its start)
    lines = {int(part.split(":", 1)[0]) for part in message.split(f"{path}:")[1:]}
    assert lines & {line, line + 1, line + 2}, message


def test_broken_matrix_through_the_cli_exits_2_without_traceback(cli, broken_matrix) -> None:
    path, line = broken_matrix("    webdriver_major: 387\n", "    webdriver_major: three\n")
    result = cli("matrix", "--matrix", str(path), "--build", "17C88")
    assert result.code == 2
    assert f"{path}:{line}: artifact cuda_driver 387.128: webdriver_major must be a whole number" in result.err
    assert "Traceback" not in result.err and "fix:" in result.err


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        # pip installs a wheel only under its own name (PEP 427), so the name must follow its fields
        ("numpy-1.23.5-cp311-cp311-macosx_10_9_x86_64.whl\n    url",
         "numpy-1.23.5-cp310-cp310-macosx_10_9_x86_64.whl\n    url",
         "filename must be the wheel's name numpy-1.23.5-cp311-cp311-macosx_10_9_x86_64.whl"),
        ("    sha256: ce571367b6dfe60af04e04a1834ca2dc5f46004ac1cc756fb95319f64c095a96",
         "    sha256: null", "sha256 is required: PyPI publishes it"),
        ("    platform: macosx_10_9_x86_64", "    platform: macosx_10_14_x86_64",
         "does not install on High Sierra"),
        ('    python: "3.11"', "    python: 3.11", 'must be a quoted Python major.minor like "3.11"'),
    ],
)  # fmt: skip
def test_numpy_wheel_entry_is_checked(broken_matrix, old: str, new: str, problem: str) -> None:
    path, _ = broken_matrix(old, new)
    with pytest.raises(EgpuError) as info:
        load_matrix(path=path)
    assert problem in info.value.message


def test_profile_numpy_must_be_built_for_the_profiles_python(broken_matrix) -> None:
    text = (
        '    python: "3.12"\n    platform: macosx_10_9_x86_64\n'
        "    filename: numpy-1.23.5-cp312-cp312-macosx_10_9_x86_64.whl"
    )
    path, _ = broken_matrix(
        '    python: "3.11"\n    platform: macosx_10_9_x86_64\n'
        "    filename: numpy-1.23.5-cp311-cp311-macosx_10_9_x86_64.whl",
        text,
    )
    with pytest.raises(EgpuError) as info:
        load_matrix(path=path)
    assert "profile default: numpy 1.23.5 is a wheel for Python 3.12, but the profile installs Python 3.11.9" in (
        info.value.message
    )


def test_web_driver_of_a_build_must_be_listed(broken_matrix) -> None:
    path, line = broken_matrix("webdrivers: [378.10.10.10.25.102]", "webdrivers: [378.10.10.10.25.999]")
    with pytest.raises(EgpuError, match=rf"{path}:{line}: build 17C88: web driver 378.10.10.10.25.999 has no"):
        load_matrix(path=path)


def test_overlay_replaces_fields_by_id_and_version(tmp_path: Path) -> None:
    overlay = tmp_path / "overlay.yaml"
    digest = "ab" * 32
    overlay.write_text(
        "artifacts:\n"
        "  - id: cudnn\n"
        "    version: 7.0.5\n"
        "    url: file:///srv/mirror/cudnn-9.1-osx-x64-v7-ga.tgz\n"
        f"    sha256: {digest}\n"
    )
    matrix = load_matrix(overlay=overlay)
    cudnn = matrix.artifact("cudnn", "7.0.5")
    assert (cudnn.url, cudnn.sha256) == ("file:///srv/mirror/cudnn-9.1-osx-x64-v7-ga.tgz", digest)
    assert cudnn.filename == "cudnn-9.1-osx-x64-v7-ga.tgz"  # untouched fields stay
    assert matrix.resolve("17C88").artifacts["cudnn"].sha256 == digest
    assert load_matrix().artifact("cudnn", "7.0.5").sha256 is None  # the packaged matrix is not changed


@pytest.mark.parametrize(
    ("body", "line", "problem"),
    [
        ("artifacts:\n  - id: cudnn\n    version: 7.0.9\n    url: null\n", 2, "cudnn 7.0.9 is not in the matrix"),
        ("artifacts:\n  - id: cudnn\n    version: 7.0.5\n    sha256: xyz\n", 4, "sha256 must be 64"),
        ("artifacts:\n  - id: cudnn\n    version: 7.0.5\n    color: red\n", 4, "unknown field 'color'"),
        ("profiles: {}\n", 1, "may carry only 'artifacts'"),
        ("artifacts:\n  - id: cudnn\n   version: 7.0.5\n", 3, "not valid YAML"),
        ("artifacts:\n  - {id: [cudnn], version: 7.0.5}\n", 2, "id ['cudnn'] is not one of"),
        ("? [artifacts]\n: []\n", 1, "a key must be a plain value"),
    ],
)
def test_bad_overlay_exits_2_with_file_and_line(cli, tmp_path: Path, body: str, line: int, problem: str) -> None:
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(body)
    result = cli("matrix", "--overlay", str(overlay))
    assert result.code == 2
    assert f"{overlay}:{line}" in result.err and problem in result.err
    assert "Traceback" not in result.err


def test_missing_overlay_file_is_a_clear_error(cli, tmp_path: Path) -> None:
    result = cli("matrix", "--overlay", str(tmp_path / "nope.yaml"))
    assert result.code == 2 and "does not exist" in result.err


def test_overlay_that_is_a_directory_or_not_text_is_named(cli, tmp_path: Path) -> None:
    binary = tmp_path / "overlay.yaml"
    binary.write_bytes(b"\xff\xfe\x00 not yaml")
    for path, problem in ((tmp_path, "is a directory"), (binary, "is not UTF-8 text")):
        result = cli("matrix", "--overlay", str(path))
        assert result.code == 2 and f"error: matrix overlay {path} {problem}" in result.err
        assert "\nfix: " in result.err and "Traceback" not in result.err
