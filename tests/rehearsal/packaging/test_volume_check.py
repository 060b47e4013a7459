"""The simulated installer's volume-check (Apple's Distribution XML reference: allowed-os-versions, required-bundles)
against the NVDAEGPUSupport stand-ins, whose Distribution has the form of the real package.dist."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from egpu_lab import facts, kexts
from egpu_lab.macos import distribution_check, xar_pkg
from egpu_lab.macos.installer import installer
from egpu_lab.standins import egpu_support

DISABLED = "installer: Cannot install on volume / because it is disabled."


def web_kexts(root: Path, short_version: str) -> None:
    """NVIDIA's three kexts NVDAEGPUSupport requires, at a CFBundleShortVersionString, and Apple's IONDRVSupport."""
    table = facts.value("webdriver", "kexts")
    for name in ("NVDAStartupWeb", "NVDAResmanWeb", "NVDAResmanTeslaWeb"):
        kexts.make_kext(root / f"Library/Extensions/{name}.kext", table[name]["id"], "10.3.1",
                        {"CFBundleShortVersionString": short_version})  # fmt: skip
    kexts.make_kext(root / "System/Library/Extensions/IONDRVSupport.kext", "com.apple.iokit.IONDRVSupport", "519.20")


def enabler(host, tmp_path: Path, version: str) -> str:
    """The stand-in zip of package `version`, unzipped as learex does; returns the package's Mac path."""
    archive = egpu_support.build_enabler_zip(tmp_path, tmp_path / "work", version)
    row = facts.value("egpu_support", "enablers")[version]
    with zipfile.ZipFile(archive) as z:
        (host.root / "private/tmp" / row["package"]).write_bytes(z.read(row["package"]))
    return f"/private/tmp/{row['package']}"


def test_an_enabler_for_a_newer_driver_is_refused_beside_an_older_one(host, tmp_path):
    # v4 (17C88) requires 10.29.10 (package.dist@3e1d893); the kexts are 10.27.6, the 10.13.1 driver's (@57713f4).
    web_kexts(host.root, "10.27.6")
    pkg = enabler(host, tmp_path, "4")
    r = host.run(installer, "-pkg", pkg, "-target", "/")
    assert r.code == 1
    assert r.out.splitlines()[:2] == ["installer: Package name is NVIDIA EGPU Support Driver", DISABLED]
    reason = r.out.splitlines()[2]
    assert "NVDAStartupWeb.kext (com.nvidia.NVDAStartupWeb) is CFBundleShortVersionString 10.27.6" in reason
    assert "it must be 10.29.10 or later" in reason
    assert not (host.root / "Library/Extensions/NVDAEGPUSupport.kext").exists()
    assert not list((host.root / "private/var/db/receipts").iterdir())
    assert "VolumeCheck failed" in (host.root / "private/var/log/install.log").read_text()


def test_without_the_web_driver_the_volume_check_refuses_before_any_script(host, tmp_path):
    pkg = enabler(host, tmp_path, "6")
    r = host.run(installer, "-pkg", pkg, "-target", "/")
    assert (r.code, r.out.splitlines()[1]) == (1, DISABLED)
    assert "NVDAStartupWeb.kext (com.nvidia.NVDAStartupWeb) is not installed at /Library/Extensions" in r.out
    assert "preinstall" not in (host.root / "private/var/log/install.log").read_text()


def test_the_v6_stand_in_requires_exactly_what_the_driver_stand_in_carries():
    # Both values are the same unconfirmed placeholder (facts: low confidence): the lab is strict, not guessing.
    from egpu_lab.standins import WEBDRIVER_VERSION, webdriver

    carried, _ = webdriver.kext_versions(WEBDRIVER_VERSION)
    assert egpu_support.required_kext_version("6") == carried
    assert facts.fact("egpu_support", "required_web_kext_version_6").confidence == "low"
    assert egpu_support.required_kext_version("4") == "10.29.10"  # package.dist@3e1d893


DIST = """<?xml version="1.0" encoding="utf-8"?>
<installer-gui-script minSpecVersion="2"><title>T</title>{check}</installer-gui-script>"""


def _info(table: dict[str, dict]):
    return lambda path: table.get(path)


@pytest.mark.parametrize(
    ("check", "product_version", "ok", "message"),
    [
        ('<os-version min="10.13"/>', "10.13.2", True, ""),
        ('<os-version min="10.13"/>', "10.12.6", False, distribution_check.TOO_OLD),
        ('<os-version min="10.13" before="10.13.2"/>', "10.13.2", False, distribution_check.TOO_NEW),
        ('<os-version min="10.12" before="10.13"/><os-version min="10.13.2"/>', "10.13.2", True, ""),
        ('<os-version min="10.13.3"/>', "10.13.2", False, distribution_check.TOO_OLD),
    ],
)
def test_allowed_os_versions_min_inclusive_before_exclusive(check, product_version, ok, message):
    dist = DIST.format(check=f"<volume-check><allowed-os-versions>{check}</allowed-os-versions></volume-check>")
    result = distribution_check.evaluate_volume_check(dist.encode(), "17C88", product_version, _info({}))
    assert (result.ok, result.message) == (ok, message)


A = '<bundle id="com.a" path="/Library/Extensions/A.kext" CFBundleShortVersionString="2.0" search="false"/>'
B = '<bundle id="com.b" path="/Library/Extensions/B.kext"/>'


@pytest.mark.parametrize(
    ("bundles", "attrs", "installed", "ok"),
    [
        (A + B, 'all="true"', {"A": ("com.a", "2.0"), "B": ("com.b", "1")}, True),
        (A + B, "", {"A": ("com.a", "2.1.3"), "B": ("com.b", "1")}, True),  # a minimum: newer passes
        (A + B, "", {"A": ("com.a", "1.9.9"), "B": ("com.b", "1")}, False),
        (A + B, 'all="true"', {"B": ("com.b", "1")}, False),
        (A + B, 'all="false"', {"B": ("com.b", "1")}, True),  # at least one
        (A + B, 'all="false"', {}, False),
        (A, "", {"A": ("com.other", "2.0")}, False),  # another bundle at the path does not count
    ],
)
def test_required_bundles_all_and_minimum_versions(bundles, attrs, installed, ok):
    dist = DIST.format(check=f"<volume-check><required-bundles {attrs}>{bundles}</required-bundles></volume-check>")
    table = {f"/Library/Extensions/{name}.kext": {"CFBundleIdentifier": bid, "CFBundleShortVersionString": version}
             for name, (bid, version) in installed.items()}  # fmt: skip
    result = distribution_check.evaluate_volume_check(dist.encode(), "17C88", "10.13.2", _info(table))
    assert result.ok is ok, result.message


def test_a_description_is_the_reason_and_a_search_the_lab_cannot_make_refuses():
    described = DIST.format(check=f'<volume-check><required-bundles description="Install X first.">{A}'
                                  "</required-bundles></volume-check>")  # fmt: skip
    result = distribution_check.evaluate_volume_check(described.encode(), "17C88", "10.13.2", _info({}))
    assert (result.ok, result.message) == (False, "Install X first.")
    search = A.replace('search="false"', 'search="true"')
    searching = DIST.format(check=f"<volume-check><required-bundles>{search}</required-bundles></volume-check>")
    result = distribution_check.evaluate_volume_check(searching.encode(), "17C88", "10.13.2", _info({}))
    assert not result.ok and not result.evaluated and "cannot evaluate" in result.message


def test_versions_compare_number_by_number():
    key = distribution_check.version_key
    assert key("10.29.10") < key("10.30.0") and key("10.9") < key("10.10")
    assert key("10.13") == key("10.13.0") and key("517.17") < key("519.20")


def test_a_package_without_scripts_installs_once_its_bundles_are_there(host, make_tree):
    comp = xar_pkg.Component("com.example.needs", "1", make_tree(("./Library/N.txt", b"n")), dirname="N.pkg")
    check = f'<volume-check><required-bundles all="false">{A}{B}</required-bundles></volume-check>'
    pkg = host.root / "private/tmp/n.pkg"
    xar_pkg.write_product_pkg(pkg, xar_pkg.distribution_xml("Needs", [comp], volume_check=check), [comp])
    assert host.run(installer, "-pkg", "/private/tmp/n.pkg", "-target", "/").code == 1
    kexts.make_kext(host.root / "Library/Extensions/B.kext", "com.b", "1")
    r = host.run(installer, "-pkg", "/private/tmp/n.pkg", "-target", "/")
    assert r.code == 0, r.out
    assert (host.root / "Library/N.txt").read_bytes() == b"n"
