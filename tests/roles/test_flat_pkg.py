"""Reading real flat packages (xar + gzip'd cpio), as the rehearsal lab's stand-in installers are written."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ansible_collections.egpu.mac.plugins.module_utils import flat_pkg
from egpu_lab.macos import distribution_check
from egpu_lab.standins.webdriver import build_webdriver_pkg


@pytest.fixture(scope="module")
def webdriver_pkg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("webdriver")
    return build_webdriver_pkg(work / "WebDriver.pkg", work, "387.10.10.10.25.156", "17D47", "10.13.3")


def test_payload_paths_are_absolute_and_match_bsdtar(webdriver_pkg: Path, tmp_path: Path) -> None:
    paths = flat_pkg.read(webdriver_pkg).paths
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
    comps = flat_pkg.read(webdriver_pkg).components
    assert flat_pkg.Component("com.nvidia.web-driver", "387.10.10.10.25.156", "/") in comps


def test_dropping_the_installation_check_lets_another_build_install(webdriver_pkg: Path) -> None:
    text = flat_pkg.read(webdriver_pkg).distribution
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
        flat_pkg.read(bad)


# --- NVDAEGPUSupport: the zip egpu.io ships, and its volume-check read on the controller -------------------------


@pytest.fixture(scope="module")
def enabler_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from egpu_lab.standins import egpu_support

    work = tmp_path_factory.mktemp("enabler")
    return egpu_support.build_enabler_zip(work, work / "build", "4")


def test_the_package_is_taken_from_the_top_of_the_zip(enabler_zip: Path, tmp_path: Path) -> None:
    pkg = flat_pkg.extract_member(enabler_zip, "NVDAEGPUSupport-v4.pkg", tmp_path)
    assert pkg == tmp_path / "NVDAEGPUSupport-v4.pkg"
    assert flat_pkg.read(pkg).components[0].identifier == "lu.yifan.NVDAEGPUSupport"
    with pytest.raises(flat_pkg.PackageFormatError, match=r"holds no NVDAEGPUSupport-v6.pkg \(at its top: NVDA"):
        flat_pkg.extract_member(enabler_zip, "NVDAEGPUSupport-v6.pkg", tmp_path)
    with pytest.raises(flat_pkg.PackageFormatError, match="not the name of a file at the top"):
        flat_pkg.extract_member(enabler_zip, "../x.pkg", tmp_path)
    with pytest.raises(flat_pkg.PackageFormatError, match="not a zip"):
        flat_pkg.extract_member(pkg, "x.pkg", tmp_path)


def _infos(short_version: str | None) -> dict[str, dict[str, str]]:
    from egpu_lab import facts

    out = {"/System/Library/Extensions/IONDRVSupport.kext/Contents/Info.plist":
           {"CFBundleIdentifier": "com.apple.iokit.IONDRVSupport", "CFBundleShortVersionString": "519.20"}}  # fmt: skip
    if short_version is not None:
        for kext in facts.value("webdriver", "kexts").values():
            out[kext["path"] + "/Contents/Info.plist"] = {
                "CFBundleIdentifier": kext["id"], "CFBundleShortVersionString": short_version
            }  # fmt: skip
    return out


@pytest.mark.parametrize(
    ("installed", "product_version", "expected"),
    [
        ("10.29.10", "10.13.2", []),
        ("10.30.1", "10.13.2", []),  # Apple: a bundle version in required-bundles is a minimum
        ("10.27.6", "10.13.2", ["NVDAStartupWeb.kext (com.nvidia.NVDAStartupWeb) has CFBundleShortVersionString "
                                "10.27.6; the package needs 10.29.10 or later"]),
        (None, "10.13.2", ["NVDAStartupWeb.kext (com.nvidia.NVDAStartupWeb) is not installed at "
                           "/Library/Extensions/NVDAStartupWeb.kext"]),
        ("10.29.10", "10.12.6", ["macOS 10.12.6 is outside the versions it allows (10.13 or later)"]),
    ],
)
def test_the_volume_check_is_read_as_installer_reads_it(
    enabler_zip: Path, tmp_path: Path, installed: str | None, product_version: str, expected: list[str]
) -> None:
    from ansible_collections.egpu.mac.plugins.module_utils import volume_check

    pkg = flat_pkg.extract_member(enabler_zip, "NVDAEGPUSupport-v4.pkg", tmp_path)
    text = flat_pkg.read(pkg).distribution or ""
    req = volume_check.parse(text)
    assert req is not None and req.all_bundles and len(req.bundles) == 4
    problems = volume_check.problems(req, product_version, _infos(installed).get)
    assert problems[: len(expected)] == expected
    assert bool(problems) == bool(expected)
    # The rehearsal installer (an independent reading of the same reference) agrees on pass or refuse.
    table = {path.removesuffix("/Contents/Info.plist"): info for path, info in _infos(installed).items()}
    sim = distribution_check.evaluate_volume_check(text.encode(), "17C88", product_version, table.get)
    assert sim.ok is not bool(expected), sim.message


def test_a_distribution_without_volume_check_has_no_requirements(webdriver_pkg: Path) -> None:
    from ansible_collections.egpu.mac.plugins.module_utils import volume_check

    assert volume_check.parse(flat_pkg.read(webdriver_pkg).distribution or "") is None


# --- the same packages through the simulator's own reader, and one built by other tooling (bsdtar) ----------------


@pytest.fixture(scope="module")
def bsdtar_pkg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A component package as pkgbuild lays it out (PackageInfo, Bom, Payload = gzip'd newc cpio), xar'd by bsdtar."""
    work = tmp_path_factory.mktemp("bsdtar")
    root, flat = work / "root", work / "flat"
    (root / "Library/Frameworks/X.framework").mkdir(parents=True)
    (root / "Library/Frameworks/X.framework/X").write_bytes(b"\xcf\xfa\xed\xfe")
    flat.mkdir()
    payload = subprocess.run(
        ["bsdtar", "--format", "newc", "--gzip", "-cf", "-", "-C", str(root), "."], check=True, capture_output=True
    ).stdout
    (flat / "Payload").write_bytes(payload)
    (flat / "Bom").write_bytes(b"")
    (flat / "PackageInfo").write_text(
        '<pkg-info format-version="2" identifier="com.example.x" version="1.2" install-location="/" auth="root"/>'
    )
    out = work / "X.pkg"
    subprocess.run(["bsdtar", "--format", "xar", "-cf", str(out), "-C", str(flat), "PackageInfo", "Bom", "Payload"],
                   check=True)  # fmt: skip
    return out


def test_a_package_bsdtar_wrote_reads_the_same_in_both_readers(bsdtar_pkg: Path) -> None:
    from egpu_lab.macos import xar_pkg

    pkg = flat_pkg.read(bsdtar_pkg)
    assert pkg.distribution is None
    assert pkg.components == [flat_pkg.Component("com.example.x", "1.2", "/")]
    assert pkg.paths == ["/Library", "/Library/Frameworks", "/Library/Frameworks/X.framework",
                         "/Library/Frameworks/X.framework/X"]  # fmt: skip
    sim = xar_pkg.read_package(bsdtar_pkg)
    assert [c.info.identifier for c in sim.components] == ["com.example.x"]
    sim_paths = {"/" + e.path.removeprefix("./") for e in sim.components[0].entries() if e.path not in (".", "./")}
    assert sim_paths == set(pkg.paths)


def test_the_listing_printed_on_the_mac_reads_as_the_package_does(webdriver_pkg: Path, tmp_path: Path) -> None:
    """`from_listing` (a package in a mounted dmg) and `read` (a package on the controller) agree on one package."""
    from egpu_lab.macos import xar_pkg

    xar_pkg.expand(webdriver_pkg, tmp_path / "x")  # what `pkgutil --expand` leaves, read as LISTING_SCRIPT does
    lines = []
    for info in sorted((tmp_path / "x").glob("**/PackageInfo")):
        lines += [f"@@component {info.parent.relative_to(tmp_path / 'x').as_posix().removeprefix('.')}",
                  info.read_text(), "@@bom", *xar_pkg.bom_paths((info.parent / "Bom").read_bytes())]  # fmt: skip
    listed = flat_pkg.from_listing("\n".join(lines), "WebDriver.pkg")
    read = flat_pkg.read(webdriver_pkg)
    assert listed.components == read.components and listed.paths == read.paths
    with pytest.raises(flat_pkg.PackageFormatError, match="no component package"):
        flat_pkg.from_listing("", "CUDADriver.pkg")


def test_a_controller_without_libarchive_gets_the_remedy_not_a_traceback(webdriver_pkg: Path, monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "libarchive", None)  # as when libarchive-c cannot load the system library
    with pytest.raises(flat_pkg.ReaderUnavailable, match=r"libarchive-c found no libarchive") as refused:
        flat_pkg.read(webdriver_pkg)
    assert "fix: install the system's libarchive" in str(refused.value)
