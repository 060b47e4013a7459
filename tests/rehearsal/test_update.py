"""`egpu-setup lab update`: a macOS update on a rehearsal Mac, held to the facts table (facts/macos_update.yaml)."""

from __future__ import annotations

import io
import plistlib

import pytest

from egpu_lab import boot, facts, kexts
from egpu_lab.update import update
from egpu_setup.errors import EgpuError

pytestmark = pytest.mark.lab

NVIDIA_TEAM = "6KR3T733EC"


def converged(host, web_driver):
    """A host with the web driver and enabler for 17C88 loaded, as provisioning leaves it."""
    from egpu_lab.lab import allow_kexts

    web_driver(host)
    allow_kexts(host.machine, NVIDIA_TEAM)
    allow_kexts(host.machine, kexts.team_of(kexts.EGPU_SUPPORT)[0])
    assert host.sh("sudo nvram nvda_drv=1%00 && sudo kextcache -i /").rc == 0
    host.reboot()
    assert host.machine.read().boot.gpu_driver == "web"


def test_supplemental_update_changes_the_build_and_leaves_the_web_driver_declining(make_host, web_driver):
    host = make_host(sip="kext-off")
    converged(host, web_driver)
    before = host.machine.read()
    info = host.root / "Library/Extensions/NVDAStartupWeb.kext/Contents/Info.plist"
    kept = info.read_bytes()
    target = facts.value("macos_update", "supplemental_10_13_2")
    kexts.make_kext(host.root / "Library/Extensions/Late.kext", "com.example.Late", "1.0")
    assert "/Library/Extensions/Late.kext" not in [entry["Path"] for entry in boot.read_cache(host.machine)]

    outcome = update(host.machine, "mac1", target["build"])

    assert (outcome.old_build, outcome.build, outcome.product_version) == ("17C88", "17C205", "10.13.2")
    assert host.sh("sw_vers -buildVersion").out == "17C205\n"
    assert host.sh("sw_vers -productVersion").out == target["product_version"] + "\n"
    assert host.sh("sysctl -n kern.osversion kern.osrelease").out == "17C205\n17.3.0\n"
    assert host.sh("uname -r").out == "17.3.0\n"  # kernel_follows_release: a supplemental update keeps it
    version = plistlib.loads((host.root / "System/Library/CoreServices/SystemVersion.plist").read_bytes())
    wanted = {"ProductBuildVersion": "17C205", "ProductVersion": "10.13.2", "ProductUserVisibleVersion": "10.13.2"}
    assert {k: version[k] for k in facts.value("macos_update", "system_version_keys")} == wanted
    after = host.machine.read()
    assert after.boot.count == before.boot.count + 1  # the update's restart
    # webdriver_stays_installed: files, NVRAM untouched; webdriver_declines_new_build: Apple's driver takes the GPU.
    assert info.read_bytes() == kept and after.nvram == before.nvram
    assert (after.boot.gpu_driver, outcome.gpu_driver) == ("apple", "apple")
    assert any("NVDARequiredOS 17C88 is not the running build 17C205" in note for note in after.boot.notes)
    assert not host.sh(f"kextstat -l -b {kexts.WEB_NVDA}").out.strip()
    # kext_cache_rebuilt: a kext put on disk after the last kextcache is in the update's cache record
    assert "/Library/Extensions/Late.kext" in [entry["Path"] for entry in boot.read_cache(host.machine)]


def test_point_release_update_changes_product_and_kernel_version(host):
    outcome = update(host.machine, "mac1", "17D47")
    assert (outcome.product_version, outcome.kernel_version, outcome.known_to_matrix) == ("10.13.3", "17.4.0", True)
    assert host.sh("sw_vers").out == "ProductName:\tMac OS X\nProductVersion:\t10.13.3\nBuildVersion:\t17D47\n"
    assert host.sh("uname -r").out == "17.4.0\n"


def test_a_build_the_matrix_does_not_know_is_made_and_flagged(host):
    outcome = update(host.machine, "mac1", "17G99")
    assert (outcome.product_version, outcome.known_to_matrix) == ("10.13.6", False)
    assert host.sh("sw_vers -buildVersion").out == "17G99\n"


@pytest.mark.parametrize("build", ["18A391", "nonsense", "17Z1"])
def test_no_high_sierra_build_is_refused_before_anything_changes(host, build):
    version = host.root / "System/Library/CoreServices/SystemVersion.plist"
    before = (version.read_bytes(), host.machine.read())
    with pytest.raises(EgpuError, match="not a macOS High Sierra build"):
        update(host.machine, "mac1", build)
    assert (version.read_bytes(), host.machine.read()) == before


def test_the_running_build_and_a_host_that_is_down_are_refused(host):
    with pytest.raises(EgpuError, match="already runs 17C88"):
        update(host.machine, "mac1", "17C88")
    assert host.sh("shutdown -r now", user="root").rc == 0
    with pytest.raises(EgpuError, match="not up"):
        update(host.machine, "mac1", "17C205")


def test_cli_lab_update(tmp_path, monkeypatch):
    from egpu_lab.lab import Lab, LabOptions
    from egpu_setup.cli import main

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    lab = Lab(tmp_path / "lab")
    lab.up(LabOptions(hosts=1, reboot_seconds=0.0, mirror=False))
    try:
        out, err = io.StringIO(), io.StringIO()
        code = main(["lab", "update", "mac1", "--dir", str(lab.dir), "--build", "17G99"], stdout=out, stderr=err)
        assert code == 0, err.getvalue()
        assert "17C88 -> 17G99 (macOS 10.13.6, Darwin 17.7.0)" in out.getvalue()
        assert "not in the compatibility matrix: provision will refuse mac1" in err.getvalue()
        err = io.StringIO()
        code = main(["lab", "update", "mac9", "--dir", str(lab.dir), "--build", "17C205"], stdout=out, stderr=err)
        assert code == 2 and "no host 'mac9'" in err.getvalue()
    finally:
        lab.down()
