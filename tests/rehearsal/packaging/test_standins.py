"""The stand-in installers: real formats, real Mach-O, an overlay the matrix accepts, a lab-wide install."""

from __future__ import annotations

import plistlib
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from egpu_lab import kexts
from egpu_lab.macos import xar_pkg
from egpu_lab.macos.cuda_installer import cuda_installer
from egpu_lab.macos.hdiutil import hdiutil
from egpu_lab.macos.installer import installer
from egpu_lab.standins import build_standins, udif, write_overlay
from egpu_setup.matrix import load_matrix

WD = "387.10.10.10.25.156"


@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    out = tmp_path_factory.mktemp("mirror")
    return out, build_standins(out, ("9.2", "9.3"))


def test_every_artifact_is_built_deterministically(mirror, tmp_path):
    _out, standins = mirror
    assert {s.artifact for s in standins} == {
        "webdriver", "egpu_support", "cuda_driver", "cuda_toolkit", "cudnn", "clt", "python3", "mxnet_source", "numpy",
    }  # fmt: skip
    again = {s.filename: s.sha256 for s in build_standins(tmp_path, ("9.2", "9.3"))}
    assert again == {s.filename: s.sha256 for s in standins}


def test_overlay_points_the_matrix_at_the_mirror(mirror, tmp_path):
    out, standins = mirror
    overlay = write_overlay(tmp_path / "matrix-overlay.yaml", standins)
    plan = load_matrix(overlay).resolve("17C88").to_dict()["artifacts"]
    wd = next(s for s in standins if s.artifact == "webdriver")
    assert plan["webdriver"]["url"] == (out / "WebDriver-387.10.10.10.25.156.pkg").resolve().as_uri()
    assert plan["webdriver"]["sha256"] == wd.sha256
    assert plan["cudnn"]["url"] is None and len(plan["cudnn"]["sha256"]) == 64
    v6 = next(s for s in standins if (s.artifact, s.version) == ("egpu_support", "6"))
    assert plan["egpu_support"]["url"] == (out / "4376-NVDAEGPUSupport-v6.zip").resolve().as_uri()
    assert (plan["egpu_support"]["sha256"], plan["egpu_support"]["sha512"]) == (v6.sha256, v6.sha512)


def test_overlay_carries_every_standins_exact_size(mirror, tmp_path):
    """The size is the downloader's limit: the stand-in's own replaces the real file's (numpy's 18 MB wheel)."""
    _out, standins = mirror
    overlay = write_overlay(tmp_path / "matrix-overlay.yaml", standins)
    entries = yaml.safe_load(overlay.read_text())["artifacts"]
    known = load_matrix().artifacts
    listed = [s for s in standins if (s.artifact, s.version) in known]
    assert len(entries) == len(listed) and {e["filename"] for e in entries} == {s.filename for s in listed}
    sizes = {s.filename: s.path.stat().st_size for s in listed}
    assert all(entry["size"] == sizes[entry["filename"]] for entry in entries)
    resolved = load_matrix(overlay).artifacts
    assert all(resolved[(s.artifact, s.version)].size == sizes[s.filename] for s in listed)


def test_webdriver_pkg_is_xar_with_the_real_layout(mirror):
    out, _ = mirror
    pkg = out / "WebDriver-387.10.10.10.25.156.pkg"
    listing = subprocess.run(["bsdtar", "-tvvf", str(pkg)], capture_output=True, text=True, check=True).stdout
    assert "Archive Format: xar" in listing and "NVWebDrivers.pkg/Payload" in listing
    read = xar_pkg.read_package(pkg)
    comp = read.components[0]
    assert comp.info.identifier == "com.nvidia.web-driver"
    files = {e.path: e for e in comp.entries()}
    info = plistlib.loads(files["./Library/Extensions/NVDAStartupWeb.kext/Contents/Info.plist"].data)
    assert info["IOKitPersonalities"]["NVDAStartup"]["NVDARequiredOS"] == "17D47"
    assert "./Library/Extensions/NVDAStartupWeb.kext/Contents/_CodeSignature/CodeResources" in files
    assert "./Library/GPUBundles/GeForceGLDriverWeb.bundle/Contents/Info.plist" in files
    assert any(p.endswith("NVUninstall.pkg") for p in files)
    assert b"nvda_drv=1%00" in comp.scripts()["postinstall"]


def test_dylibs_are_macho_with_rpath_names(mirror, tmp_path):
    out, _ = mirror
    subprocess.run(["bsdtar", "-xf", str(out / "cudnn-9.1-osx-x64-v7-ga.tgz"), "-C", str(tmp_path)], check=True)
    refs = subprocess.run(
        ["llvm-otool-14", "-L", str(tmp_path / "cuda/lib/libcudnn.7.dylib")], capture_output=True, text=True
    ).stdout
    assert "\t@rpath/libcudnn.7.dylib (compatibility version" in refs
    header = (tmp_path / "cuda/include/cudnn.h").read_text()
    assert "#define CUDNN_MAJOR 7" in header and "#define CUDNN_PATCHLEVEL 5" in header
    assert (tmp_path / "cuda/lib/libcudnn.dylib").readlink() == Path("libcudnn.7.dylib")


def test_cuda_toolkit_from_the_dmg(mirror, host):
    out, _ = mirror
    shutil.copy(out / "cuda_9.1.128_mac.dmg", host.root / "private/tmp/cuda.dmg")
    assert host.run(hdiutil, "attach", "/private/tmp/cuda.dmg", "-nobrowse", "-quiet").code == 0
    app = host.root / "Volumes/CUDAMacOSXInstaller/CUDAMacOSXInstaller.app"
    assert (app / "Contents/MacOS/CUDAMacOSXInstaller").is_file()
    env = {"EGPU_SIM_CUDA_PAYLOAD": "/Volumes/CUDAMacOSXInstaller/CUDAMacOSXInstaller.app/Contents/Resources/payload"}
    args = ("--accept-eula", "--silent", "--no-window", "--install-package=cuda-toolkit")
    refused = host.run(cuda_installer, "--silent", "--install-package=cuda-toolkit", env=env)
    assert refused.code == 1 and "--accept-eula" in refused.err
    assert host.run(cuda_installer, *args, env=env, user="admin").code == 1
    assert host.run(cuda_installer, *args, env=env).code == 0
    home = host.root / "Developer/NVIDIA/CUDA-9.1"
    refs = subprocess.run(
        ["llvm-otool-14", "-L", str(home / "lib/libcudart.9.1.dylib")], capture_output=True, text=True
    )
    assert "@rpath/libcudart.9.1.dylib" in refs.stdout
    link = host.root / "usr/local/cuda/lib/libcublas.9.1.dylib"
    assert link.resolve() == (home / "lib/libcublas.9.1.dylib").resolve()
    assert (host.root / "usr/local/cuda/version.txt").read_text() == "CUDA Version 9.1.128\n"
    assert (home / "bin/uninstall_cuda_9.1.pl").read_text().startswith("#!/usr/bin/perl")
    assert host.run(hdiutil, "detach", "/Volumes/CUDAMacOSXInstaller").code == 0


def test_cuda_driver_dmg_installs_framework_and_kext(mirror, host):
    out, _ = mirror
    iso = udif.read_dmg(out / "cudadriver_387.128_macos.dmg")
    assert udif.iso_volume_name(iso) == "CUDADriver"
    shutil.copy(out / "cudadriver_387.128_macos.dmg", host.root / "private/tmp/d.dmg")
    host.run(hdiutil, "attach", "/private/tmp/d.dmg", "-nobrowse", "-quiet")
    r = host.run(installer, "-pkg", "/Volumes/CUDADriver/CUDADriver.pkg", "-target", "/")
    assert r.code == 0, r.out + r.err
    info = plistlib.loads((host.root / "Library/Frameworks/CUDA.framework/Resources/Info.plist").read_bytes())
    assert info["CFBundleVersion"] == "387.128"
    kext = kexts.read_kext(host.root / "Library/Extensions/CUDA.kext", "/Library/Extensions/CUDA.kext")
    assert kext is not None and kext.bundle_id == "com.nvidia.CUDA" and kext.seal_intact


def test_webdriver_refused_on_17c88(mirror, host):
    out, _ = mirror
    shutil.copy(out / "WebDriver-387.10.10.10.25.156.pkg", host.root / "private/tmp/wd.pkg")
    r = host.run(installer, "-pkg", "/private/tmp/wd.pkg", "-target", "/")
    assert r.code == 1
    assert r.out.splitlines() == [
        "installer: Package name is NVIDIA Web Driver 387.10.10.10.25.156",
        "installer: Cannot install on volume / because it is disabled.",
        "installer: This NVIDIA Web Driver requires macOS 10.13.3 (17D47).",
    ]


def test_build_mirror_imports_login_only_standins_into_the_lab_cache(tmp_path):
    from egpu_lab.standins import build_mirror
    from egpu_setup.cache.store import Cache

    lab = tmp_path / "lab"
    (lab / "cache").mkdir(parents=True)
    standins = build_mirror(lab / "mirror", lab / "matrix-overlay.yaml", work=lab / "work")
    cache = Cache(lab / "cache")
    login_only = {s.artifact: s for s in standins if s.url is None}
    # The NVDAEGPUSupport zips are direct downloads (learex fetches them with plain curl): fetched like the others.
    assert set(login_only) == {"cudnn", "clt"}
    assert all(cache.has(s.sha256) for s in login_only.values())
    assert not cache.has(next(s.sha256 for s in standins if s.artifact == "webdriver"))  # fetched by URL later
    assert not cache.has(next(s.sha256 for s in standins if s.artifact == "egpu_support"))


def _component_info(pkg: Path) -> tuple[str, dict[str, xar_pkg.CpioEntry]]:
    comp = xar_pkg.read_package(pkg).components[0]
    return comp.info.identifier, {e.path: e for e in comp.entries()}


def test_package_ids_and_kext_versions_come_from_the_facts_table(mirror):
    """The receipts and bundle ids the real packages carry (egpu_lab.facts), not the roles' guesses."""
    from egpu_lab import facts

    out, _ = mirror
    assert _component_info(out / "WebDriver-387.10.10.10.25.156.pkg")[0] == facts.value("webdriver", "receipt_id")

    import zipfile

    with zipfile.ZipFile(out / "4376-NVDAEGPUSupport-v6.zip") as z:  # egpu.io's name; the package at its top
        assert z.namelist() == ["NVDAEGPUSupport-v6.pkg"]
        (out / "unzipped-v6.pkg").write_bytes(z.read("NVDAEGPUSupport-v6.pkg"))
    ident, files = _component_info(out / "unzipped-v6.pkg")
    assert ident == facts.value("egpu_support", "package_id") == "lu.yifan.NVDAEGPUSupport"
    info = plistlib.loads(files["./Library/Extensions/NVDAEGPUSupport.kext/Contents/Info.plist"].data)
    assert info["CFBundleIdentifier"] == facts.value("egpu_support", "bundle_id") == kexts.EGPU_SUPPORT
    assert info["CFBundleShortVersionString"] == facts.value("egpu_support", "bundle_short_version")
    assert info["CFBundleVersion"] == facts.value("egpu_support", "bundle_version")
    assert info["IOKitPersonalities"]["NVDAStartup"]["NVDARequiredOS"] == "17D47"  # v6 was made for 17D47
    scripts = xar_pkg.read_package(out / "unzipped-v6.pkg").components[0].scripts()
    assert set(scripts) == {"preinstall", "postinstall"}
    assert b"/Library/Extensions/NVDAStartupWeb.kext" in scripts["preinstall"]
    assert b"nvram nvda_drv=1" in scripts["postinstall"]

    # The web driver's kexts carry NVIDIA's 10.x.y versions (facts), not the driver's.
    _, files = _component_info(out / "WebDriver-387.10.10.10.25.156.pkg")
    for name, kext in facts.value("webdriver", "kexts").items():
        info = plistlib.loads(files[f".{kext['path']}/Contents/Info.plist"].data)
        assert info["CFBundleIdentifier"] == kext["id"], name
        assert info["CFBundleShortVersionString"] == facts.value("webdriver", "kext_short_versions")[WD], name
        assert info["CFBundleVersion"] == facts.value("webdriver", "kextstat_versions")[WD], name

    volume = udif.read_dmg(out / "cudadriver_387.128_macos.dmg")
    assert udif.iso_volume_name(volume) == "CUDADriver"


def test_cuda_driver_receipt_and_version_key_are_the_real_ones(mirror, host):
    """CUDADriver.pkg leaves com.nvidia.cuda.kext.pkg; the version is in CFBundleVersion only (what learex reads)."""
    from egpu_lab import facts

    out, _ = mirror
    shutil.copy(out / "cudadriver_387.128_macos.dmg", host.root / "private/tmp/d.dmg")
    host.run(hdiutil, "attach", "/private/tmp/d.dmg", "-nobrowse", "-quiet")
    assert host.run(installer, "-pkg", "/Volumes/CUDADriver/CUDADriver.pkg", "-target", "/").code == 0
    receipts = host.root / "private/var/db/receipts"
    assert (receipts / f"{facts.value('cuda_driver', 'receipt_id')}.plist").is_file()
    assert not (receipts / "com.nvidia.CUDADriver.plist").exists()
    plist = host.root / facts.value("cuda_driver", "framework_info_plist").lstrip("/")
    info = plistlib.loads(plist.read_bytes())
    assert info[facts.value("cuda_driver", "version_key")] == "387.128"
    assert "CFBundleShortVersionString" not in info  # unknown on the real framework: a role reading it fails here
