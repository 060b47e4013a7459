"""Stand-ins for the CUDA driver dmg and the CUDA 9.1 toolkit dmg.

From public sources (high-sierra-egpu.md; NVIDIA's CUDA 9.1 Installation Guide for Mac OS X, sections 2-4;
Homebrew's cuda casks): cudadriver_<ver>_macos.dmg mounts as /Volumes/CUDADriver holding CUDADriver.pkg, which
installs /Library/Frameworks/CUDA.framework (version in Resources/Info.plist) and /Library/Extensions/CUDA.kext
(bundle id com.nvidia.CUDA, version 1.1.0 as kextstat prints it), the updater launch agent
/Library/LaunchAgents/com.nvidia.CUDASoftwareUpdate.plist and /usr/local/cuda/lib/libcuda.dylib, a small
library of its own (not a link; id /usr/local/cuda/lib/libcuda.dylib; it loads the framework's binary through
@rpath: facts/cuda_driver.yaml). The toolkit's lib/ has no libcuda.dylib (facts/cuda_toolkit.yaml), so `-lcuda`
links only where the CUDA driver is installed.
cuda_<ver>_mac.dmg mounts as /Volumes/CUDAMacOSXInstaller with CUDAMacOSXInstaller.app, whose unattended flags
install the toolkit into /Developer/NVIDIA/CUDA-9.1 with /usr/local/cuda links, and the uninstaller
bin/uninstall_cuda_9.1.pl.

Stand-in choices: the CUDA driver pkg's receipt id is com.nvidia.cuda.kext.pkg (facts: cuda_driver.yaml, medium);
the framework's Info.plist carries the version in CFBundleVersion only (the key learex reads; its
CFBundleShortVersionString is unknown, so it is left out and a role reading it fails); the app's payloads are
tar.gz files under Contents/Resources/payload/ named after the three --install-package values (the real names
are unconfirmed); `/usr/local/cuda` is a directory whose bin/include/... link to the CUDA-9.1 tree and whose
lib/ holds one link per library (so cuDNN and the driver's libcuda.dylib can go there, as the real layout allows).
The links are relative (the real ones are absolute, unconfirmed): they resolve the same on the Mac, and also when
the controller reads a host's tree from outside its sandbox.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from egpu_lab import facts, kexts
from egpu_lab.macos import xar_pkg
from egpu_lab.standins import common, machos, udif

CUDA_DRIVER_RECEIPT = facts.value("cuda_driver", "receipt_id")
FRAMEWORK = "Library/Frameworks/CUDA.framework"
TOOLKIT_VERSION = "9.1.128"
CUDA_HOME = "/Developer/NVIDIA/CUDA-9.1"
APP = "CUDAMacOSXInstaller.app"
PACKAGES = ("cuda-driver", "cuda-toolkit", "cuda-samples")

HEADERS = {
    "cuda.h": "#define CUDA_VERSION 9010\ntypedef int CUresult;\nCUresult cuDriverGetVersion(int *v);\n",
    "cuda_runtime_api.h": "#define CUDART_VERSION 9010\nint cudaRuntimeGetVersion(int *v);\n",
    "cuda_runtime.h": '#include "cuda_runtime_api.h"\n',
    "cublas_v2.h": "#define CUBLAS_VER_MAJOR 9\n#define CUBLAS_VER_MINOR 1\n",
    "curand.h": "#define CURAND_VER_MAJOR 9\n",
    "cufft.h": "#define CUFFT_VER_MAJOR 9\n",
    "nvrtc.h": "int nvrtcVersion(int *major, int *minor);\n",
}

UNINSTALLER = r"""#!/usr/bin/perl
# Stand-in of NVIDIA's uninstall_cuda_9.1.pl: removes the CUDA 9.1 toolkit and the /usr/local/cuda links to it.
# Builtins only (no `use` of library modules): the rehearsal host's perl has no module tree.
my $silent = grep { $_ eq '--silent' } @ARGV;
my $home = '/Developer/NVIDIA/CUDA-9.1';
my $user = $ENV{EGPU_SIM_USER};  # the rehearsal host's simulated user (the sandbox runs with one uid)
if (defined $user ? $user ne 'root' : $> != 0) { print STDERR "Must be run as root\n"; exit 1; }
sub remove_tree {
    my ($path) = @_;
    if (-l $path || ! -d $path) { unlink $path; return; }
    opendir(my $dh, $path) or return;
    my @names = grep { $_ ne '.' && $_ ne '..' } readdir $dh;
    closedir $dh;
    remove_tree("$path/$_") for @names;
    rmdir $path;
}
for my $dir ('/usr/local/cuda/lib', '/usr/local/cuda') {
    opendir(my $dh, $dir) or next;
    for my $name (readdir $dh) {
        my $path = "$dir/$name";
        next unless -l $path;
        unlink $path if index(readlink($path), 'Developer/NVIDIA/CUDA-9.1') >= 0;
    }
    closedir $dh;
}
rmdir '/usr/local/cuda/lib';
rmdir '/usr/local/cuda';
remove_tree($home);
rmdir '/Developer/NVIDIA';
print "Uninstalled CUDA 9.1\n" unless $silent;
exit 0;
"""


def _driver_tree(staging: Path, version: str) -> None:
    fw = staging / FRAMEWORK
    binary = machos.cuda_framework(fw / "Versions/A/CUDA", version)
    common.write_plist(
        fw / "Versions/A/Resources/Info.plist",
        {"CFBundleExecutable": "CUDA", "CFBundleIdentifier": "com.nvidia.CUDA", "CFBundleName": "CUDA",
         "CFBundlePackageType": "FMWK", "CFBundleVersion": version,
         "CFBundleGetInfoString": f"CUDA {version}"},
    )  # fmt: skip
    common.link(fw / "Versions/Current", "A")
    common.link(fw / "CUDA", "Versions/Current/CUDA")
    common.link(fw / "Resources", "Versions/Current/Resources")
    kexts.make_kext(
        staging / "Library/Extensions/CUDA.kext", kexts.CUDA_KEXT, "1.1.0", extra={"CFBundleGetInfoString": version}
    )
    libcuda = staging / facts.value("cuda_driver", "libcuda_path").lstrip("/")
    libcuda.parent.mkdir(parents=True, exist_ok=True)
    machos.libcuda_stub(libcuda, binary, version)
    # CUDA's updater, which offers newer CUDA drivers (facts: cuda_driver.update_agent; keys beyond Label unknown).
    common.launchd_job(
        staging, facts.value("cuda_driver", "update_agent"), facts.value("cuda_driver", "update_agent_label")
    )


def build_driver_pkg(out: Path, work: Path, version: str) -> Path:
    staging = work / f"cuda-driver-{version}"
    _driver_tree(staging, version)
    comp = common.component(staging, CUDA_DRIVER_RECEIPT, version, "CUDADriver.pkg")
    dist = xar_pkg.distribution_xml(f"CUDA Driver {version}", [comp], restart=True)
    return xar_pkg.write_product_pkg(out, dist, [comp])


def build_driver_dmg(out: Path, work: Path, version: str) -> Path:
    volume = work / f"cuda-driver-volume-{version}"
    volume.mkdir(parents=True, exist_ok=True)
    build_driver_pkg(volume / "CUDADriver.pkg", work, version)
    return udif.build_dmg(out, volume, "CUDADriver", common.FIXED_MTIME)


def _toolkit_tree(staging: Path) -> None:
    home = staging / CUDA_HOME.lstrip("/")
    common.shim(home / "bin/nvcc", "toolchain", "nvcc")
    common.write(home / "bin/uninstall_cuda_9.1.pl", UNINSTALLER, 0o755)
    common.write(home / "version.txt", f"CUDA Version {TOOLKIT_VERSION}\n")
    for name, text in HEADERS.items():
        common.write(home / "include" / name, f"/* stand-in of NVIDIA's {name} (CUDA 9.1) */\n{text}")
    libs = machos.cuda_libs(home / "lib")
    local = staging / "usr/local/cuda"
    for lib in libs:
        unversioned = lib.name.replace(".9.1.dylib", ".dylib")
        common.link(home / "lib" / unversioned, lib.name)
        for name in (lib.name, unversioned):
            common.link(local / "lib" / name, f"../../../..{CUDA_HOME}/lib/{name}")
    for name in ("bin", "include", "version.txt"):
        common.link(local / name, f"../../..{CUDA_HOME}/{name}")


def _samples_tree(staging: Path) -> None:
    samples = staging / CUDA_HOME.lstrip("/") / "samples/1_Utilities/deviceQuery"
    common.write(
        samples / "deviceQuery.cpp", "/* stand-in of the deviceQuery sample */\nint main(void) { return 0; }\n"
    )
    common.write(samples / "Makefile", "deviceQuery: deviceQuery.cpp\n\t$(CC) -x c -o $@ $<\n")


def _tar_gz(src: Path) -> bytes:
    """A deterministic tar.gz of `src` (paths relative to it, root:wheel, fixed mtime)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT, compresslevel=6) as tar:
        for path in sorted(src.rglob("*")):
            info = tar.gettarinfo(str(path), arcname=path.relative_to(src).as_posix())
            info.uid = info.gid = 0
            info.uname, info.gname = "root", "wheel"
            info.mtime = common.FIXED_MTIME
            if info.isfile():
                with open(path, "rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
    data = bytearray(buf.getvalue())
    data[4:8] = b"\0\0\0\0"  # gzip header mtime
    return bytes(data)


def build_toolkit_dmg(out: Path, work: Path, driver_version: str) -> Path:
    """cuda_9.1.128_mac.dmg: CUDAMacOSXInstaller.app with the toolkit, driver and samples payloads."""
    volume = work / "cuda-toolkit-volume"
    app = volume / APP / "Contents"
    common.shim(app / "MacOS/CUDAMacOSXInstaller", "cuda_installer", "cuda_installer")
    common.write_plist(
        app / "Info.plist",
        {"CFBundleExecutable": "CUDAMacOSXInstaller", "CFBundleIdentifier": "com.nvidia.CUDAMacOSXInstaller",
         "CFBundleShortVersionString": TOOLKIT_VERSION, "CFBundleVersion": TOOLKIT_VERSION},
    )  # fmt: skip
    trees = {"cuda-toolkit": _toolkit_tree, "cuda-samples": _samples_tree}
    for package in PACKAGES:
        staging = work / f"cuda-payload-{package}"
        if package == "cuda-driver":
            _driver_tree(staging, driver_version)
        else:
            trees[package](staging)
        common.write(app / "Resources/payload" / f"{package}.tar.gz", _tar_gz(staging))
    return udif.build_dmg(out, volume, "CUDAMacOSXInstaller", common.FIXED_MTIME)
