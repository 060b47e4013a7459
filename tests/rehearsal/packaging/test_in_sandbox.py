"""The web driver stand-in through a real rehearsal Mac (bubblewrap): refused, patched as the role does, installed.

Uses the lab's `make_host` fixture (tests/rehearsal/conftest.py): commands run in the host's sandbox by their
real macOS paths, so this covers the shims, the installer's postinstall inside the sandbox and PlistBuddy.
"""

from __future__ import annotations

import pytest

from egpu_lab.standins import WEBDRIVER_BUILT_FOR, WEBDRIVER_VERSION, webdriver

pytestmark = pytest.mark.lab

KEY = ":IOKitPersonalities:NVDAStartup:NVDARequiredOS"
KEXT_PLIST = "Library/Extensions/NVDAStartupWeb.kext/Contents/Info.plist"


def test_webdriver_patch_and_install_in_a_sandbox(make_host, tmp_path):
    mac = make_host()
    webdriver.build_webdriver_pkg(mac.root / "private/tmp/wd.pkg", tmp_path, WEBDRIVER_VERSION, *WEBDRIVER_BUILT_FOR)
    refused = mac.sh("installer -pkg /private/tmp/wd.pkg -target /", user="root")
    assert refused.rc == 1 and "because it is disabled" in refused.out, refused
    as_admin = mac.sh("installer -pkg /private/tmp/wd.pkg -target /")
    assert as_admin.out == "installer: Must be run as root to install this package.\n"

    patch = (
        "set -e; cd /private/tmp; pkgutil --expand-full wd.pkg wd; "
        "grep -v installation-check wd/Distribution > D; mv D wd/Distribution; "
        f"/usr/libexec/PlistBuddy -c 'Set {KEY} 17C88' wd/NVWebDrivers.pkg/Payload/{KEXT_PLIST}; "
        "pkgutil --flatten-full wd patched.pkg; installer -pkg patched.pkg -target /"
    )
    done = mac.sh(patch, user="root")
    assert done.rc == 0, done
    assert done.out.splitlines()[-1] == "installer: The install was successful."
    assert mac.sh(f"/usr/libexec/PlistBuddy -c 'Print {KEY}' /{KEXT_PLIST}").out == "17C88\n"
    assert "com.nvidia.web-driver" in mac.sh("pkgutil --pkgs").out.split()
    assert mac.sh("nvram nvda_drv").out == "nvda_drv\t1%00\n"  # set by the postinstall, inside the sandbox


def test_cuda_toolkit_dmg_install_and_uninstall_in_a_sandbox(make_host, tmp_path):
    from egpu_lab.standins import CUDA_DRIVER_VERSION, cuda

    mac = make_host()
    cuda.build_toolkit_dmg(mac.root / "private/tmp/cuda.dmg", tmp_path, CUDA_DRIVER_VERSION)
    app = "/Volumes/CUDAMacOSXInstaller/CUDAMacOSXInstaller.app/Contents/MacOS/CUDAMacOSXInstaller"
    flags = "--accept-eula --silent --no-window --install-package=cuda-toolkit"
    r = mac.sh(f"hdiutil attach /private/tmp/cuda.dmg -nobrowse -quiet && {app} {flags}; echo rc=$?", user="root")
    assert r.out.endswith("rc=0\n"), r
    assert mac.sh("/usr/local/cuda/bin/nvcc --version").out.splitlines()[-1] == (
        "Cuda compilation tools, release 9.1, V9.1.128"
    )
    assert (mac.root / "usr/local/cuda/lib/libcudart.9.1.dylib").is_symlink()
    assert mac.sh(f"{app} --silent --install-package=cuda-toolkit", user="root").rc == 1
    assert mac.sh("perl /Developer/NVIDIA/CUDA-9.1/bin/uninstall_cuda_9.1.pl --silent").rc == 1  # admin
    gone = mac.sh("perl /Developer/NVIDIA/CUDA-9.1/bin/uninstall_cuda_9.1.pl --silent", user="root")
    assert gone.rc == 0, gone
    assert not (mac.root / "Developer/NVIDIA/CUDA-9.1").exists()
    assert not (mac.root / "usr/local/cuda/lib/libcudart.9.1.dylib").is_symlink()
    assert mac.sh("hdiutil detach /Volumes/CUDAMacOSXInstaller", user="root").out == '"disk2" ejected.\n'


def test_python_pkg_gives_a_python3_that_makes_venvs(make_host, tmp_path):
    from egpu_lab import facts
    from egpu_lab.standins import python3

    mac = make_host()
    assert mac.sh("python3 --version").rc == 127  # 10.13 has no python3
    python3.build_python_pkg(mac.root / "private/tmp/py.pkg", tmp_path, "3.11.9")
    assert mac.sh("installer -pkg /private/tmp/py.pkg -target /", user="root").rc == 0
    venv = mac.sh("python3 -m venv --without-pip /tmp/v && /tmp/v/bin/python -c 'import sys; print(sys.prefix)'")
    assert venv.out == "/tmp/v\n", venv
    # The receipt the real installer leaves (the facts table), which python_bootstrap's receipt check reads.
    assert facts.value("python3", "framework_receipt_id") in mac.sh("pkgutil --pkgs").out.split()


@pytest.mark.slow
def test_mxnet_from_source_in_a_host(make_host, tmp_path):
    """CLT 9.2 + the CUDA driver and CUDA 9.1 + cuDNN from the stand-ins, `make` of the MXNet source (osx.mk's
    `gcc`/`g++`, the xcrun stubs, as compilers and as nvcc's `-ccbin g++`), dyld's refusal, the rpath fix."""
    import shutil

    import altgraph
    import macholib

    from egpu_lab.standins import CUDA_DRIVER_VERSION, cuda, cudnn, mxnet, numpy_wheel, python3

    mac = make_host(clt="9.2")
    tmp = mac.root / "private/tmp"
    cuda.build_toolkit_dmg(tmp / "cuda.dmg", tmp_path, CUDA_DRIVER_VERSION)
    cudnn.build_cudnn_tgz(tmp / "cudnn.tgz", tmp_path)
    mxnet.build_source_tarball(tmp / "mx.tar.gz", tmp_path)
    python3.build_python_pkg(tmp / "py.pkg", tmp_path, "3.11.9")
    # what python_bootstrap leaves: egpu-setup's target venv with macholib and altgraph (architecture.md)
    site = mac.root / "usr/local/egpu-setup/venv/lib/python3.11/site-packages"
    for package in (macholib, altgraph):
        shutil.copytree(package.__path__[0], site / package.__name__, ignore=shutil.ignore_patterns("__pycache__"))
    app = "/Volumes/CUDAMacOSXInstaller/CUDAMacOSXInstaller.app/Contents/MacOS/CUDAMacOSXInstaller"
    setup = mac.sh(
        "set -e; installer -pkg /private/tmp/py.pkg -target / >/dev/null;"
        f" hdiutil attach /private/tmp/cuda.dmg -nobrowse -quiet; {app} --accept-eula --silent --no-window"
        " --install-package=cuda-driver --install-package=cuda-toolkit; cd /private/tmp; tar -xzf cudnn.tgz;"
        " cp cuda/include/cudnn.h /usr/local/cuda/include/; cp -P cuda/lib/libcudnn* /usr/local/cuda/lib/",
        user="root",
    )
    assert setup.rc == 0, setup
    src = "/Users/admin/apache-mxnet-src-1.0.0-incubating"
    build = mac.sh(
        f"set -e; cd /Users/admin; tar -xzf /private/tmp/mx.tar.gz; cd {src}; cp make/osx.mk config.mk;"
        " printf 'USE_CUDA = 1\\nUSE_CUDA_PATH = /usr/local/cuda\\nUSE_CUDNN = 1\\nUSE_OPENCV = 0\\n"
        "CUDA_ARCH := -gencode arch=compute_61,code=sm_61\\n' >> config.mk; make >/dev/null; otool -L lib/libmxnet.so"
    )
    assert build.rc == 0, build
    assert "\t@rpath/libcudart.9.1.dylib (compatibility version" in build.out
    # -lcuda: the CUDA driver's own library, by its absolute id (facts: cuda_driver.libcuda_install_name)
    assert "\t/usr/local/cuda/lib/libcuda.dylib (compatibility version 1.1.0, current version 387.128.0)" in build.out
    # MXNet 1.0.0 imports numpy first: python.org's Python has none
    (mac.root / "private/tmp/check.py").write_text(
        "import mxnet as mx\ntry:\n    mx.nd.empty((1,), ctx=mx.gpu(0))\nexcept mx.MXNetError as e:\n"
        "    print(mx.__version__, str(e).splitlines()[0].split(': ', 1)[1])\n"
    )
    check = '$(cat /private/tmp/check.py)'
    no_numpy = mac.sh(f'cd {src}/python && python3 -c "{check}"')
    assert no_numpy.rc == 1 and no_numpy.err.endswith("ModuleNotFoundError: No module named 'numpy'\n"), no_numpy
    framework_site = mac.root / "Library/Frameworks/Python.framework/Versions/3.11/lib/python3.11/site-packages"
    shutil.copytree(numpy_wheel.SOURCE / "numpy", framework_site / "numpy")  # what pip would install there
    before = mac.sh(f'cd {src}/python && python3 -c "{check}"')
    assert before.rc == 1 and "Library not loaded: @rpath/libcu" in before.err and "image not found" in before.err
    fixed = mac.sh(f"install_name_tool -add_rpath /usr/local/cuda/lib {src}/lib/libmxnet.so")
    assert fixed.rc == 0, fixed
    after = mac.sh(f'cd {src}/python && python3 -c "{check}"')
    # a CUDA build (a CPU build says "Compile with USE_CUDA=1"); this host has no working CUDA driver
    assert after.out == (
        "1.0.0 Check failed: e == cudaSuccess || e == cudaErrorCudartUnloading CUDA: CUDA driver version is "
        "insufficient for CUDA runtime version\n"
    ), after


def _web_kexts(mac, short_version: str) -> None:
    """NVIDIA's three kexts NVDAEGPUSupport's required-bundles name, at a CFBundleShortVersionString."""
    from egpu_lab import facts, kexts

    table = facts.value("webdriver", "kexts")
    for name in ("NVDAStartupWeb", "NVDAResmanWeb", "NVDAResmanTeslaWeb"):
        kexts.make_kext(mac.root / f"Library/Extensions/{name}.kext", table[name]["id"], "10.3.1",
                        {"CFBundleShortVersionString": short_version})  # fmt: skip


def _enabler(mac, tmp_path, with_volume_check: bool = True) -> str:
    from egpu_lab.standins import egpu_support

    egpu_support.build_enabler_pkg(mac.root / "private/tmp/e.pkg", tmp_path, "6", with_volume_check)
    return "installer -pkg /private/tmp/e.pkg -target /"


def _log(mac) -> str:
    return (mac.root / "private/var/log/install.log").read_text()


def test_enabler_preinstall_refuses_without_the_web_driver(make_host, tmp_path):
    # The real Distribution refuses first (volume-check); with it stripped, the preinstall still refuses.
    mac = make_host(sip="kext-off")
    refused = mac.sh(_enabler(mac, tmp_path), user="root")
    assert refused.rc == 1 and "because it is disabled" in refused.out, refused
    stripped = mac.sh(_enabler(mac, tmp_path, with_volume_check=False), user="root")
    assert stripped.rc == 1 and "installer: The install failed" in stripped.err, stripped
    assert "./preinstall: Starting..." in _log(mac) and "preinstall script failed with exit code 1" in _log(mac)
    assert not (mac.root / "Library/Extensions/NVDAEGPUSupport.kext").exists()


def test_enabler_preinstall_alert_fails_over_ssh_while_kext_signing_is_on(make_host, tmp_path):
    mac = make_host()  # SIP enabled: the preinstall asks with an alert, which has no screen to show on
    _web_kexts(mac, "10.29.10")
    failed = mac.sh(_enabler(mac, tmp_path), user="root")
    assert failed.rc == 1 and "installer: The install failed" in failed.err, failed
    assert "execution error: No user interaction allowed. (-1713)" in _log(mac)
    assert not (mac.root / "Library/Extensions/NVDAEGPUSupport.kext").exists()
    assert "lu.yifan.NVDAEGPUSupport" not in mac.sh("pkgutil --pkgs").out


def test_enabler_installs_with_kext_signing_off_and_selects_the_web_driver(make_host, tmp_path):
    mac = make_host(sip="kext-off")
    _web_kexts(mac, "10.29.10")
    done = mac.sh(_enabler(mac, tmp_path), user="root")
    assert done.rc == 0, done
    assert done.out.splitlines()[-1] == "installer: The install was successful."
    assert "./preinstall: Done" in _log(mac)
    assert mac.sh("nvram nvda_drv").out == "nvda_drv\t1\n"  # the postinstall's `nvram nvda_drv=1`
    assert (mac.root / "Library/Extensions/NVDAEGPUSupport.kext/Contents/Info.plist").is_file()
    assert "lu.yifan.NVDAEGPUSupport" in mac.sh("pkgutil --pkgs").out.split()
