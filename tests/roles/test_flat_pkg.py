"""Reading real flat packages (xar + gzip'd cpio), as the rehearsal lab's stand-in installers are written."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ansible_collections.egpu.mac.plugins.module_utils import flat_pkg
from egpu_setup.rehearsal.macos import distribution_check
from egpu_setup.rehearsal.standins.webdriver import build_webdriver_pkg


@pytest.fixture(scope="module")
def webdriver_pkg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("webdriver")
    return build_webdriver_pkg(work / "WebDriver.pkg", work, "387.10.10.10.25.156", "17D47", "10.13.3")


def test_payload_paths_are_absolute_and_match_bsdtar(webdriver_pkg: Path, tmp_path: Path) -> None:
    paths = flat_pkg.payload_paths(webdriver_pkg)
    assert "/Library/Extensions/NVDAStartupWeb.kext/Contents/Info.plist" in paths
    assert "/Library/Extensions/GeForceWeb.kext" in paths
    assert all(p.startswith("/") for p in paths)
    # An independent reader (libarchive) sees the same payload.
    subprocess.run(["bsdtar", "-xf", str(webdriver_pkg), "-C", str(tmp_path)], check=True)
    payload = next(tmp_path.rglob("Payload"))
    listed = subprocess.run(["bsdtar", "-tf", str(payload)], check=True, capture_output=True, text=True).stdout
    expected = {"/" + line.removeprefix("./").rstrip("/") for line in listed.splitlines() if line not in (".", "./")}
    assert set(paths) == expected


def test_components_name_the_receipt(webdriver_pkg: Path) -> None:
    comps = flat_pkg.components(webdriver_pkg)
    assert {"identifier": "com.nvidia.web-driver", "version": "387.10.10.10.25.156", "install_location": "/"} in comps


def test_dropping_the_installation_check_lets_another_build_install(webdriver_pkg: Path) -> None:
    text = flat_pkg.distribution(webdriver_pkg)
    assert text is not None and "installation-check" in text
    before = distribution_check.evaluate(text.encode(), "17C88", "10.13.2")
    assert not before.ok
    patched, removed = flat_pkg.drop_installation_check(text)
    assert removed == 1 and "installation-check" not in patched
    after = distribution_check.evaluate(patched.encode(), "17C88", "10.13.2")
    assert after.ok


def test_not_a_package_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "x.pkg"
    bad.write_bytes(b"PK\x03\x04 not xar")
    with pytest.raises(flat_pkg.PackageFormatError):
        flat_pkg.payload_paths(bad)
