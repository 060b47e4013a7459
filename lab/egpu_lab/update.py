"""`egpu-setup lab update HOST --build B`: a macOS security (or supplemental) update on one rehearsal Mac.

What such an update does to an eGPU Mac, as its users report it (facts/macos_update.yaml): the build changes in
SystemVersion.plist (ProductBuildVersion, and ProductVersion where the update is a point release), the kernel
version follows the product version, the installer rebuilds the kext cache and restarts; third-party kexts in
/Library/Extensions stay installed (receipts and NVRAM are not touched), but NVIDIA's web driver declines to start
because its NVDARequiredOS names the old build, so the Mac comes back on Apple's driver. The boot model (boot.py)
already refuses a mismatched NVDARequiredOS: the update only changes the build, rebuilds the cache and boots.

A build the matrix does not know may still be made (a real update can bring one): its product version comes from
the build number's letter (17G99 -> 10.13.6); provisioning then refuses the host with the matrix's own remedy.
"""

from __future__ import annotations

import os
import plistlib
import time
from dataclasses import dataclass

from egpu_lab import boot, builds
from egpu_lab.machine import Machine
from egpu_setup.errors import EgpuError

SYSTEM_VERSION = "/System/Library/CoreServices/SystemVersion.plist"


@dataclass(frozen=True)
class UpdateOutcome:
    """What `lab update` did: the builds before and after, and how the host came back."""

    host: str
    old_build: str
    build: str
    product_version: str
    kernel_version: str
    known_to_matrix: bool
    gpu_driver: str | None
    notes: tuple[str, ...]


def update(machine: Machine, host: str, build: str) -> UpdateOutcome:
    """Install the update to `build` on a host that is up, rebuild its kext cache and restart it once."""
    product, known = builds.update_product_version(build)
    state = machine.read()
    if state.boot.pending:
        raise EgpuError(
            f"{host} is not up (it is restarting or waits at its unlock screen): an update needs a running Mac",
            fix=f"`egpu-setup lab status` shows its state; bring it up (`egpu-setup lab unlock {host}`) first",
        )
    if state.build == build:
        raise EgpuError(f"{host} already runs {build}", fix="give the build the update brings, e.g. --build 17C205")
    old = state.build
    kernel = builds.kernel_version(product)
    path = machine.entitled_path(SYSTEM_VERSION)  # /System: the installer is entitled, SIP does not stop it
    with open(path, "rb") as f:
        plist = plistlib.load(f)
    plist |= {"ProductBuildVersion": build, "ProductVersion": product, "ProductUserVisibleVersion": product}
    tmp = path.with_name(f".{path.name}.update")
    tmp.write_bytes(plistlib.dumps(plist))
    os.replace(tmp, path)  # sw_vers never reads half a file
    with machine.edit() as st:
        st.build, st.product_version, st.kernel_version = build, product, kernel
    boot.rebuild_cache(machine)  # the update's own kextcache run: the web driver's kexts are still in /L/E
    restart(machine, host)  # the boot model keeps the web driver out (NVDARequiredOS)
    after = machine.read()
    return UpdateOutcome(host, old, build, product, kernel, known, after.boot.gpu_driver, tuple(after.boot.notes))


def restart(machine: Machine, host: str) -> None:
    """The update's restart as any reboot of the host (boot.request_reboot): the host goes down, so the lab's
    supervisor ends its sshd and every session (a connection made before the update does not outlive it), and
    boots after the reboot delay, by the supervisor or here, whichever comes first. Divergence: a FileVault Mac
    comes back without the unlock screen (the installer's restart is taken as an authenticated one)."""
    boot.request_reboot(machine)
    with machine.edit() as st:
        st.boot.unlock_pending = False
        up_at = st.boot.up_at
    while time.time() < up_at:
        time.sleep(min(0.1, max(0.0, up_at - time.time())))
    boot.ensure_up(machine, host)  # raises HostDown when the reboot hangs (fault switch)
