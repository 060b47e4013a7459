"""CUDAMacOSXInstaller (inside /Volumes/CUDAMacOSXInstaller/CUDAMacOSXInstaller.app): CUDA 9.1's unattended install.

Sources: NVIDIA's CUDA 9.1 Installation Guide for Mac OS X (the installer app; `--accept-eula --silent
--no-window --install-package=cuda-toolkit|cuda-driver|cuda-samples`, repeatable; root needed), Homebrew's
cuda cask (the same flags), high-sierra-egpu.md. The payloads are the app's Contents/Resources/payload/*.tar.gz
(stand-in layout, see standins.cuda), extracted at /.

Divergences: exit codes and log texts are unconfirmed (macos-commands.md): refusals here print one line on
stderr and exit 1; without --silent the real app opens a window, which a rehearsal Mac cannot, so it refuses too.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

from egpu_lab.macos.base import Sim

EXECUTABLES: dict[str, str] = {}  # lives in the dmg, not at a fixed path: the stand-in app carries its own shim
PACKAGES = ("cuda-driver", "cuda-toolkit", "cuda-samples")


def _payload_dir(sim: Sim) -> Path:
    """Contents/Resources/payload next to the running executable (Contents/MacOS/CUDAMacOSXInstaller)."""
    import sys

    exe = Path(sys.argv[0]) if sys.argv and sys.argv[0].endswith("CUDAMacOSXInstaller") else None
    explicit = sim.env.get("EGPU_SIM_CUDA_PAYLOAD")
    if explicit:
        return sim.path(explicit)
    if exe is not None:
        return exe.resolve().parent.parent / "Resources/payload"
    return sim.path("/Volumes/CUDAMacOSXInstaller/CUDAMacOSXInstaller.app/Contents/Resources/payload")


def cuda_installer(argv: list[str], sim: Sim) -> int:
    """--accept-eula --silent --no-window --install-package=PKG [...]: install CUDA components as root (CUDA 9.1
    Installation Guide for Mac OS X; Homebrew's cuda cask); exit codes and texts unconfirmed (module docstring)."""
    silent = "--silent" in argv
    packages = [a.split("=", 1)[1] for a in argv if a.startswith("--install-package=")]
    unknown = [a for a in argv if a not in ("--silent", "--no-window", "--accept-eula")
               and not a.startswith("--install-package=")]  # fmt: skip
    if unknown:
        sim.fail(f"Unknown option: {unknown[0]}", 1)
    if not silent:
        sim.fail("CUDAMacOSXInstaller: a window is needed without --silent (not available on a rehearsal Mac)", 1)
    if "--accept-eula" not in argv:
        sim.fail("CUDAMacOSXInstaller: the EULA must be accepted with --accept-eula in silent mode", 1)
    if not sim.is_root:
        sim.fail("CUDAMacOSXInstaller: must be run as root", 1)
    bad = [p for p in packages if p not in PACKAGES]
    if bad or not packages:
        sim.fail(f"CUDAMacOSXInstaller: unknown package '{bad[0] if bad else ''}'", 1)
    payload = _payload_dir(sim)
    root = sim.machine.root
    if sim.machine.take_fault("install"):
        sim.fail("CUDAMacOSXInstaller: installation failed", 1)
    for package in packages:
        archive = payload / f"{package}.tar.gz"
        if not archive.is_file():
            sim.fail(f"CUDAMacOSXInstaller: payload of {package} is missing", 1)
        with tarfile.open(archive) as tar:
            tar.extractall(root, filter="tar")
    return 0
