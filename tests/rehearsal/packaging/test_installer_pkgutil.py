"""installer and pkgutil on real xar flat packages built in the test."""

from __future__ import annotations

import plistlib
import shutil
import subprocess

import pytest

from egpu_lab.macos import xar_pkg
from egpu_lab.macos.installer import FAILED, installer
from egpu_lab.macos.pkgutil import lsbom, mkbom, pkgutil

CHECK = """
function InstallationCheck() {
    if (!validateSoftware()) return false;
    return true;
}
function compareBuildVersions(a, b) { if (a == b) return 0; return 1; }
function validateSoftware() {
    var supportedOSBuildVer = "17D47";
    var targetBuild = system.version.ProductBuildVersion;
    var result = compareBuildVersions(targetBuild, supportedOSBuildVer);
    if (result != 0) {
        my.result.message = "Requires build " + supportedOSBuildVer + ".";
        my.result.type = 'Fatal';
        return false;
    }
    return true;
}
"""


def build_pkg(path, make_tree, check: str | None = CHECK, ident: str = "com.example.driver", version: str = "1.0"):
    plist = plistlib.dumps({"NVDARequiredOS": "17D47"})
    comp = xar_pkg.Component(
        ident,
        version,
        make_tree(("./Library/Extensions/Demo.kext/Contents/Info.plist", plist)),
        dirname="Demo.pkg",
    )
    dist = xar_pkg.distribution_xml(
        "Demo Driver 1.0", [comp], script=check, installation_check="InstallationCheck()" if check else None
    )
    return xar_pkg.write_product_pkg(path, dist, [comp])


def test_bsdtar_lists_the_package_as_xar(tmp_path, make_tree):
    pkg = build_pkg(tmp_path / "demo.pkg", make_tree)
    listing = subprocess.run(["bsdtar", "-tvvf", str(pkg)], capture_output=True, text=True, check=True).stdout
    assert "Archive Format: xar" in listing
    assert "Demo.pkg/Payload" in listing and "Distribution" in listing
    out = tmp_path / "x"
    out.mkdir()
    subprocess.run(["bsdtar", "-xf", str(pkg), "-C", str(out)], check=True)
    cpio = subprocess.run(
        f"gzip -dc {out}/Demo.pkg/Payload | cpio -it", shell=True, capture_output=True, text=True, check=True
    )
    assert "./Library/Extensions/Demo.kext/Contents/Info.plist" in cpio.stdout.split()


def test_reads_a_package_written_by_bsdtar(tmp_path, make_tree):
    pkg = build_pkg(tmp_path / "demo.pkg", make_tree)
    src = tmp_path / "src"
    src.mkdir()
    subprocess.run(["bsdtar", "-xf", str(pkg), "-C", str(src)], check=True)
    again = tmp_path / "bsdtar.pkg"
    subprocess.run(["bsdtar", "--format", "xar", "-cf", str(again), "-C", str(src), "."], check=True)
    read = xar_pkg.read_package(again)
    assert read.is_product and read.components[0].info.identifier == "com.example.driver"


def test_install_writes_files_and_receipts(host, tmp_path, make_tree):
    pkg = build_pkg(host.root / "private/tmp/demo.pkg", make_tree, check=None)
    r = host.run(installer, "-pkg", "/private/tmp/demo.pkg", "-target", "/")
    assert r.code == 0, r.err
    assert r.out.splitlines() == [
        "installer: Package name is Demo Driver 1.0",
        "installer: Installing at base path /",
        "installer: The install was successful.",
    ]
    assert (host.root / "Library/Extensions/Demo.kext/Contents/Info.plist").is_file()
    assert (host.root / "private/var/db/receipts/com.example.driver.plist").is_file()
    assert "com.example.driver" in host.run(pkgutil, "--pkgs").out.split()
    info = host.run(pkgutil, "--pkg-info", "com.example.driver").out.splitlines()
    assert info[:4] == ["package-id: com.example.driver", "version: 1.0", "volume: /", "location: /"]
    assert info[4].startswith("install-time: ") and int(info[4].split()[1]) > 0
    files = host.run(pkgutil, "--files", "com.example.driver").out.split("\n")
    assert "Library/Extensions/Demo.kext/Contents/Info.plist" in files
    assert "Library/Extensions" in files
    # a second install of the same id is an upgrade
    again = host.run(installer, "-pkg", str(pkg).replace(str(host.root), ""), "-target", "/")
    assert again.out.splitlines()[1:] == [
        "installer: Upgrading at base path /",
        "installer: The upgrade was successful.",
    ]
    assert pkg.exists()


def test_forget_removes_the_receipt_only(host, make_tree):
    build_pkg(host.root / "private/tmp/demo.pkg", make_tree, check=None)
    host.run(installer, "-pkg", "/private/tmp/demo.pkg", "-target", "/")
    r = host.run(pkgutil, "--forget", "com.example.driver")
    assert (r.code, r.out) == (0, "Forgot package 'com.example.driver' on '/'.\n")
    assert host.run(pkgutil, "--pkgs").out == ""
    missing = host.run(pkgutil, "--pkg-info", "com.example.driver")
    assert (missing.code, missing.err) == (1, "No receipt for 'com.example.driver' found at '/'.\n")
    assert (host.root / "Library/Extensions/Demo.kext/Contents/Info.plist").is_file()


def test_installation_check_refuses_another_build(host, make_tree):
    build_pkg(host.root / "private/tmp/demo.pkg", make_tree)
    r = host.run(installer, "-pkg", "/private/tmp/demo.pkg", "-target", "/")
    assert r.code == 1
    assert r.out.splitlines() == [
        "installer: Package name is Demo Driver 1.0",
        "installer: Cannot install on volume / because it is disabled.",
        "installer: Requires build 17D47.",
    ]
    assert not (host.root / "Library/Extensions/Demo.kext").exists()
    assert not list((host.root / "private/var/db/receipts").iterdir())
    with host.machine.edit() as st:
        st.build = "17D47"
    assert host.run(installer, "-pkg", "/private/tmp/demo.pkg", "-target", "/").code == 0


def test_a_check_the_lab_cannot_evaluate_refuses(host, make_tree):
    odd = CHECK.replace("system.version.ProductBuildVersion", "system.sysctl('kern.osversion')")
    build_pkg(host.root / "private/tmp/demo.pkg", make_tree, check=odd)
    with host.machine.edit() as st:
        st.build = "17D47"  # even on the right build: unknown script => refuse, never pass
    r = host.run(installer, "-pkg", "/private/tmp/demo.pkg", "-target", "/")
    assert r.code == 1 and "Cannot install on volume /" in r.out
    assert "cannot evaluate" in r.out


def test_expand_strip_check_flatten_round_trip(host, make_tree):
    """What the provisioning role does: expand, delete the check line, patch the payload, flatten, install."""
    build_pkg(host.root / "private/tmp/demo.pkg", make_tree)
    assert host.run(pkgutil, "--expand-full", "/private/tmp/demo.pkg", "/private/tmp/x").code == 0
    dist = host.root / "private/tmp/x/Distribution"
    dist.write_text("".join(line for line in dist.read_text().splitlines(True) if "installation-check" not in line))
    info = host.root / "private/tmp/x/Demo.pkg/Payload/Library/Extensions/Demo.kext/Contents/Info.plist"
    info.write_bytes(plistlib.dumps({"NVDARequiredOS": "17C88"}))
    assert host.run(pkgutil, "--flatten-full", "/private/tmp/x", "/private/tmp/patched.pkg").code == 0
    r = host.run(installer, "-pkg", "/private/tmp/patched.pkg", "-target", "/")
    assert r.code == 0, r.out + r.err
    installed = host.root / "Library/Extensions/Demo.kext/Contents/Info.plist"
    assert plistlib.loads(installed.read_bytes()) == {"NVDARequiredOS": "17C88"}
    files = host.run(pkgutil, "--files", "com.example.driver").out.split()
    assert "Library/Extensions/Demo.kext/Contents/Info.plist" in files


def test_expand_then_flatten_plain(host, make_tree):
    build_pkg(host.root / "private/tmp/demo.pkg", make_tree, check=None)
    assert host.run(pkgutil, "--expand", "/private/tmp/demo.pkg", "/private/tmp/x").code == 0
    assert (host.root / "private/tmp/x/Demo.pkg/Payload").is_file()
    refused = host.run(pkgutil, "--expand", "/private/tmp/demo.pkg", "/private/tmp/x")
    assert refused.code == 1 and "already exists" in refused.err
    assert host.run(pkgutil, "--flatten", "/private/tmp/x", "/private/tmp/again.pkg").code == 0
    assert host.run(installer, "-pkg", "/private/tmp/again.pkg", "-target", "/").code == 0


def test_mkbom_lsbom(host, make_tree):
    (host.root / "private/tmp/r/usr/bin").mkdir(parents=True)
    (host.root / "private/tmp/r/usr/bin/tool").write_bytes(b"x")
    assert host.run(mkbom, "/private/tmp/r", "/private/tmp/r.bom").code == 0
    assert host.run(lsbom, "-s", "/private/tmp/r.bom").out.split() == [".", "./usr", "./usr/bin", "./usr/bin/tool"]
    assert host.run(lsbom, "/private/tmp/r.bom").out.splitlines()[-1].startswith("./usr/bin/tool\t100644\t0/0\t1\t")


def test_refusals(host, make_tree):
    build_pkg(host.root / "private/tmp/demo.pkg", make_tree, check=None)
    r = host.run(installer, "-pkg", "/private/tmp/demo.pkg", "-target", "/", user="admin")
    assert (r.code, r.out) == (1, "installer: Must be run as root to install this package.\n")
    r = host.run(installer, "-pkg", "/private/tmp/nope.pkg", "-target", "/")
    assert (r.code, r.err) == (
        1,
        "installer: Error - the package path specified was invalid: '/private/tmp/nope.pkg'.\n",
    )
    (host.root / "private/tmp/junk.pkg").write_bytes(b"not a xar")
    assert host.run(installer, "-pkg", "/private/tmp/junk.pkg", "-target", "/").code == 1
    assert not (host.root / "Library/Extensions/Demo.kext").exists()


@pytest.mark.parametrize("switch", ["fail_install", "disk_full"])
def test_fault_switches_fail_the_install(host, make_tree, switch):
    build_pkg(host.root / "private/tmp/demo.pkg", make_tree, check=None)
    with host.machine.edit() as st:
        if switch == "fail_install":
            st.faults.fail_install = 2
        else:
            st.faults.disk_full = True
    first = host.run(installer, "-pkg", "/private/tmp/demo.pkg", "-target", "/")
    if switch == "fail_install":
        assert first.code == 0
        second = host.run(installer, "-pkg", "/private/tmp/demo.pkg", "-target", "/")
        assert (second.code, second.err) == (1, FAILED + "\n")
        assert host.run(installer, "-pkg", "/private/tmp/demo.pkg", "-target", "/").code == 0
    else:
        assert (first.code, first.err) == (1, FAILED + "\n")
        assert not (host.root / "Library/Extensions/Demo.kext").exists()


def test_expand_refuses_a_non_package(host):
    (host.root / "private/tmp/junk.pkg").write_bytes(b"junk")
    r = host.run(pkgutil, "--expand", "/private/tmp/junk.pkg", "/private/tmp/out")
    assert r.code == 1 and not (host.root / "private/tmp/out").exists()
    shutil.rmtree(host.root / "private/tmp", ignore_errors=True)


def test_damaged_package_is_refused(host, make_tree):
    pkg = build_pkg(host.root / "private/tmp/demo.pkg", make_tree, check=None)
    blob = bytearray(pkg.read_bytes())
    blob[-10] ^= 0xFF  # flip a byte of the last member's data
    pkg.write_bytes(bytes(blob))
    r = host.run(installer, "-pkg", "/private/tmp/demo.pkg", "-target", "/")
    assert r.code == 1 and "the package path specified was invalid" in r.err
    assert not (host.root / "Library/Extensions/Demo.kext").exists()


def test_package_whose_toc_checksum_does_not_match_is_refused(host, make_tree):
    import struct

    pkg = build_pkg(host.root / "private/tmp/demo.pkg", make_tree, check=None)
    blob = bytearray(pkg.read_bytes())
    header_size, toc_length = struct.unpack_from(">HHQ", blob, 4)[0], struct.unpack_from(">Q", blob, 8)[0]
    blob[header_size + toc_length] ^= 0xFF  # the stored SHA-1 of the compressed TOC (heap offset 0)
    pkg.write_bytes(bytes(blob))
    r = host.run(installer, "-pkg", "/private/tmp/demo.pkg", "-target", "/")
    assert r.code == 1 and "the package path specified was invalid" in r.err
    assert not (host.root / "Library/Extensions/Demo.kext").exists()


def test_symlinks_survive_expand_and_flatten(host, make_tree, tmp_path):
    (tmp_path / "x/a").mkdir(parents=True)
    (tmp_path / "x/a/PackageInfo").write_bytes(xar_pkg.Component("com.example.l", "1", make_tree()).package_info())
    (tmp_path / "x/a/Payload").write_bytes(xar_pkg.gzip_payload(make_tree()))
    (tmp_path / "x/link").symlink_to("a/PackageInfo")
    out = xar_pkg.flatten(tmp_path / "x", tmp_path / "l.pkg")
    listing = subprocess.run(["bsdtar", "-tvf", str(out)], capture_output=True, text=True, check=True).stdout
    assert "link -> a/PackageInfo" in listing
    assert {m.path: m.link for m in xar_pkg.read_xar(out)}["link"] == "a/PackageInfo"
