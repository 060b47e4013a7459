"""Boot model: which kexts a rehearsal Mac loads, from what, and the reboot transition.

As on a Mac (kext_tools kextcache/kextd of 10.13; the web driver procedure in high-sierra-egpu.md):

1. Installing a kext (files under /Library/Extensions) changes nothing that runs. `kextcache -i /` (or
   `-system-caches`, `-u /`) writes the kext cache: here a stand-in prelinked kernel at
   /System/Library/PrelinkedKernels/prelinkedkernel, an XML plist listing every kext of /System/Library/Extensions
   and /Library/Extensions with its bundle id, version, Info.plist SHA-256, NVDARequiredOS and seal state at that
   moment (`rebuild_cache`). Divergence: kextd's own rebuild on `touch /Library/Extensions` is not imitated.
2. `shutdown -r` / `reboot` mark a pending reboot (`request_reboot`); the host is down for `boot.delay_s` seconds
   (tests: 0), or for ever with the `reboot_hangs` fault. The next command after that boots it (`ensure_up`).
3. At boot (`boot`), kexts load from the cache record, not from the disk:
   - Apple's base kexts always; a third-party kext only if kext signing is off, or its seal was intact and the
     user allowed its team (User-Approved Kernel Extension Loading, TN2459: `MachineState.kext_consent`, set by
     `egpu-setup lab allow-kexts`, as a user's click on "Allow" in Security & Privacy);
   - NVDAStartupWeb (com.nvidia.NVDAStartupWeb) starts only when NVRAM nvda_drv is `1` (or `1%00`), its
     NVDARequiredOS equals the running build and the signing rule holds; NVDAEGPUSupport follows the same rules and
     is needed for a GPU on Thunderbolt (10.13.0-10.13.5). When the web driver takes the GPU, GeForceWeb loads too;
     NVDAResmanWeb (which GeForceWeb links against) loads with it, NVDAResmanTeslaWeb never (no Tesla GPU here);
     otherwise Apple's NVDAStartup (com.apple.nvidia.NVDAStartup) stays and a Pascal card shows as
     "NVIDIA Chip Model" in system_profiler;
   - CUDA.kext loads by the signing rule; the CUDA driver (CUDA.framework's version) *works* only beside a web
     driver of the same major (387.128 with 387.10.10.10.x): `boot.cuda_works`.
   The outcome is kept in `MachineState.boot` (gpu_driver "web"/"apple"/None, webdriver_version,
   cuda_driver_version, cuda_works, notes saying why a driver did not start) and `MachineState.kexts` (kextstat).
4. Each boot gets a new boot time on a simulated clock that advances at least one minute per boot, so `who -b`
   (minute resolution) always changes.
5. FileVault (`MachineState.filevault`): a restart of a FileVault Mac stops at the pre-boot unlock screen, where
   nothing runs (no sshd: the host is unreachable) until someone types a FileVault user's password
   (`unlock`, what `egpu-setup lab unlock HOST` does). `fdesetup authrestart` stores an unlock key first
   (`filevault.authrestart_armed`): the next restart, whatever starts it, skips the screen once and uses the key
   up (Apple's fdesetup(8), "authrestart"; munki/munki:code/client/munkilib/authrestart/__init__.py@83accce sets
   one up with `-delayminutes -1` and restarts later by other means).
"""

from __future__ import annotations

import hashlib
import plistlib
import re
import time
from typing import Any

from egpu_lab import kexts
from egpu_lab.machine import LoadedKext, Machine, MachineState
from egpu_setup.errors import EgpuError

PRELINKED_KERNEL = "/System/Library/PrelinkedKernels/prelinkedkernel"
CUDA_FRAMEWORK_PLIST = "/Library/Frameworks/CUDA.framework/Resources/Info.plist"
ADDRESS_BASE = 0xFFFFFF7F80000000

# Kernel programming interfaces every kextstat lists first (index 1..), versioned like the kernel.
KPI = (
    "com.apple.kpi.bsd",
    "com.apple.kpi.dsep",
    "com.apple.kpi.iokit",
    "com.apple.kpi.libkern",
    "com.apple.kpi.mach",
    "com.apple.kpi.private",
    "com.apple.kpi.unsupported",
)
GPU_KEXTS = {kexts.WEB_NVDA, kexts.WEB_GEFORCE, kexts.EGPU_SUPPORT, kexts.APPLE_NVDA, kexts.APPLE_GEFORCE,
             kexts.WEB_RESMAN, kexts.WEB_RESMAN_TESLA}  # fmt: skip
VERSION_RE = re.compile(r"\b(\d{3}\.\d+(?:\.\d+)*)\b")


class HostDown(EgpuError):
    """The host does not answer: it is rebooting, its reboot never came back, or it waits at the unlock screen."""


class WrongPassword(EgpuError):
    """The FileVault unlock screen refused the password typed at it."""


# --- the kext cache ---------------------------------------------------------------------------------------------


def rebuild_cache(machine: Machine) -> list[kexts.KextInfo]:
    """kextcache: record the kexts on disk now into the stand-in prelinked kernel; returns them."""
    found = kexts.installed_kexts(machine.root)
    # No build time in the record: the same kexts give the same bytes, so a rollback that rebuilds the cache (it
    # cannot copy one back into SIP-protected /System) leaves the tree as it was. A real prelinked kernel differs
    # per build; docs/rehearsal.md lists the divergence.
    record = {
        "Kexts": [
            {
                "Path": k.path,
                "CFBundleIdentifier": k.bundle_id,
                "CFBundleVersion": k.version,
                "CFBundleGetInfoString": str(k.info.get("CFBundleGetInfoString", "")),
                "InfoPlistSHA256": k.info_sha256,
                "SealIntact": k.seal_intact,
                "SealProblem": k.seal_problem or "",
                "NVDARequiredOS": k.required_os or "",
            }
            for k in found
        ],
    }
    target = machine.entitled_path(PRELINKED_KERNEL)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as f:
        plistlib.dump(record, f)
    return found


def read_cache(machine: Machine) -> list[dict[str, Any]]:
    try:
        with open(machine.path(PRELINKED_KERNEL), "rb") as f:
            return list(plistlib.load(f).get("Kexts", []))
    except (OSError, plistlib.InvalidFileException, AttributeError):
        return []


# --- rules ------------------------------------------------------------------------------------------------------


def nvda_drv_on(state: MachineState) -> bool:
    """NVIDIA's installers set `nvda_drv=1%00`; `nvram nvda_drv=1` stores `1`. Both mean on."""
    value = state.nvram_get("nvda_drv")
    return value is not None and value.rstrip(b"\x00") == b"1"


def signing_problem(entry: dict[str, Any], state: MachineState) -> str | None:
    if not state.kext_signing:
        return None
    if not entry.get("SealIntact", False):
        return f"kext signing is enabled and {entry['Path']} has an invalid signature ({entry.get('SealProblem')})"
    bundle_id = str(entry.get("CFBundleIdentifier", ""))
    team, developer = kexts.team_of(bundle_id)
    if not kexts.is_apple(bundle_id) and team not in kexts.KEXT_SIGNING_TEAMS:
        return (
            f"kext signing is enabled and {entry['Path']} is signed by {developer} (team {team}) without a "
            "certificate for kext signing"
        )
    return None


def consent_problem(entry: dict[str, Any], state: MachineState) -> str | None:
    """User-Approved Kernel Extension Loading (TN2459, Apple HT208019): a third-party kext installed on 10.13 loads
    only once the user allowed its team in System Preferences > Security & Privacy. Lifted here when kext signing
    is off (csrutil disable / enable --without kext): divergence, unconfirmed for --without kext."""
    bundle_id = str(entry.get("CFBundleIdentifier", ""))
    if not state.kext_signing or kexts.is_apple(bundle_id):
        return None
    team, developer = kexts.team_of(bundle_id)
    if team in state.kext_consent:
        return None
    return (
        f"{entry['Path']} needs user approval: system software from {developer} (team {team}) was blocked from "
        "loading until allowed in System Preferences > Security & Privacy"
    )


def load_problem(entry: dict[str, Any], state: MachineState) -> str | None:
    """Why a kext may not load under the signing and approval rules, or None."""
    return signing_problem(entry, state) or consent_problem(entry, state)


def web_rule_problem(entry: dict[str, Any], state: MachineState) -> str | None:
    """Why an NVIDIA web-driver kext (NVDAStartupWeb, NVDAEGPUSupport) does not start, or None."""
    name = entry["Path"].rsplit("/", 1)[-1]
    if not nvda_drv_on(state):
        return f"{name} not started: NVRAM nvda_drv is not set to 1"
    required = entry.get("NVDARequiredOS") or ""
    if required != state.build:
        return f"{name} not started: its NVDARequiredOS {required or '(none)'} is not the running build {state.build}"
    return load_problem(entry, state)


def major(version: str | None) -> str | None:
    return version.split(".", 1)[0] if version else None


def webdriver_version(entries: dict[str, dict[str, Any]]) -> str | None:
    """The web driver's version: GeForceWeb's CFBundleGetInfoString, else NVDAStartupWeb's bundle version."""
    for bundle_id in (kexts.WEB_GEFORCE, kexts.WEB_NVDA):
        entry = entries.get(bundle_id)
        if entry:
            match = VERSION_RE.search(entry.get("CFBundleGetInfoString", ""))
            if match:
                return match.group(1)
    entry = entries.get(kexts.WEB_NVDA)
    return str(entry["CFBundleVersion"]) if entry else None


def cuda_driver_version(machine: Machine) -> str | None:
    try:
        with open(machine.path(CUDA_FRAMEWORK_PLIST), "rb") as f:
            info = plistlib.load(f)
    except (OSError, plistlib.InvalidFileException):
        return None
    for key in ("CFBundleShortVersionString", "CFBundleVersion"):
        if info.get(key):
            return str(info[key])
    return None


def compute_boot(machine: Machine, state: MachineState) -> None:
    """Fill state.kexts and the boot outcome from the cache record and the current NVRAM/SIP/hardware."""
    record = read_cache(machine)
    entries = {e["CFBundleIdentifier"]: e for e in record}
    notes: list[str] = []
    loaded: list[tuple[str, str, str]] = [(bid, state.kernel_version, "") for bid in KPI]
    apple = {k.bundle_id: k for k in kexts.APPLE_KEXTS}
    for kext in kexts.APPLE_KEXTS:
        if kext.bundle_id in GPU_KEXTS:
            continue
        if kext.bundle_id == "com.apple.driver.AppleThunderboltNHI" and not state.hardware.thunderbolt:
            continue
        loaded.append((kext.bundle_id, kext.version, kext.path))

    gpu = state.hardware.gpu
    state.boot.gpu_driver = None
    state.boot.webdriver_version = None
    if gpu is not None:
        web = entries.get(kexts.WEB_NVDA)
        web_problem = web_rule_problem(web, state) if web else "the NVIDIA web driver is not in the kext cache"
        egpu_ok = True
        if gpu.thunderbolt and state.product_version < "10.13.6":
            support = entries.get(kexts.EGPU_SUPPORT)
            support_problem = (
                web_rule_problem(support, state) if support else "NVDAEGPUSupport is not in the kext cache"
            )
            egpu_ok = support_problem is None
            if support is not None and support_problem is None:
                loaded.append((support["CFBundleIdentifier"], support["CFBundleVersion"], support["Path"]))
            elif web_problem is None and support_problem:
                notes.append(f"the GPU is on Thunderbolt and {support_problem}")
        if web is not None and web_problem is None and egpu_ok:
            state.boot.gpu_driver = "web"
            state.boot.webdriver_version = webdriver_version(entries)
            loaded.append((web["CFBundleIdentifier"], web["CFBundleVersion"], web["Path"]))
            # The resource manager GeForceWeb links against (kextstat listings show both); the Tesla one matches
            # only Tesla-class GPUs, which no rehearsal host has, so it stays unloaded.
            for bundle_id in (kexts.WEB_RESMAN, kexts.WEB_GEFORCE):
                kext = entries.get(bundle_id)
                if kext and load_problem(kext, state) is None:
                    loaded.append((kext["CFBundleIdentifier"], kext["CFBundleVersion"], kext["Path"]))
        else:
            if web_problem:
                notes.append(web_problem)
            state.boot.gpu_driver = "apple"
            for bid in (kexts.APPLE_NVDA, kexts.APPLE_GEFORCE):
                loaded.append((bid, apple[bid].version, apple[bid].path))

    apple_ids = set(apple) | set(KPI)
    for entry in record:
        bid = entry["CFBundleIdentifier"]
        if bid in apple_ids or bid in GPU_KEXTS:
            continue
        problem = load_problem(entry, state)
        if problem:
            notes.append(problem)
            continue
        loaded.append((bid, entry["CFBundleVersion"], entry["Path"]))

    state.boot.cuda_driver_version = cuda_driver_version(machine)
    cuda_loaded = any(bid == kexts.CUDA_KEXT for bid, _v, _p in loaded)
    state.boot.cuda_works = bool(
        cuda_loaded
        and state.boot.gpu_driver == "web"
        and major(state.boot.cuda_driver_version) == major(state.boot.webdriver_version)
    )
    if cuda_loaded and not state.boot.cuda_works:
        beside = f"web driver {state.boot.webdriver_version}" if state.boot.gpu_driver == "web" else "no web driver"
        notes.append(f"CUDA driver {state.boot.cuda_driver_version} does not work with {beside}")
    state.boot.notes = notes
    state.kexts = _kextstat_rows(loaded)


def _kextstat_rows(loaded: list[tuple[str, str, str]]) -> list[LoadedKext]:
    rows = []
    address = ADDRESS_BASE
    for index, (bid, version, path) in enumerate(loaded, start=1):
        # The kernel's own components (com.apple.kpi.*) share the kernel's UUID, as kextstat shows them.
        seed = f"kernel {version}" if bid.startswith("com.apple.kpi.") else f"{bid} {version}"
        digest = hashlib.md5(seed.encode()).hexdigest().upper()
        uuid = f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
        size = 0x2000 if bid.startswith("com.apple.kpi.") else 0x1000 * (8 + int(digest[:2], 16))
        is_kpi = bid.startswith("com.apple.kpi.")
        rows.append(
            LoadedKext(
                bundle_id=bid,
                version=version,
                path=path,
                index=index,
                refs=0 if not is_kpi else 100 + index,
                address=0 if is_kpi else address,
                size=0 if is_kpi else size,
                uuid=uuid,
                linked=[] if is_kpi else [1, 3, 4],
            )
        )
        if not is_kpi:
            address += size
    return rows


# --- the reboot transition --------------------------------------------------------------------------------------


def next_boot_time(previous: int, now: float) -> int:
    """The simulated clock: at least one minute after the last boot, minute aligned (who -b has minute resolution)."""
    minute = int(now) // 60 * 60
    return max(minute, previous + 60)


def boot(machine: Machine) -> None:
    """Boot the host now: new boot record, kexts from the cache record."""
    with machine.edit() as st:
        _boot_locked(machine, st)


def _boot_locked(machine: Machine, st: MachineState) -> None:
    st.boot.count += 1
    st.boot.time = next_boot_time(st.boot.time, time.time())
    st.boot.pending = False
    st.boot.up_at = 0.0
    compute_boot(machine, st)


def request_reboot(machine: Machine) -> None:
    """shutdown -r / reboot: the host goes down now and can boot after its reboot delay. A FileVault host stops
    at the unlock screen unless `fdesetup authrestart` stored an unlock key, which this restart uses up."""
    with machine.edit() as st:
        now = time.time()
        st.boot.pending = True
        st.boot.down_since = now
        st.boot.up_at = now + st.boot.delay_s
        st.boot.unlock_pending = st.filevault.on and not st.filevault.authrestart_armed
        st.filevault.authrestart_armed = False


def is_lost(state: MachineState) -> bool:
    """Whether the fault switch lose-after has taken the host off (from its Nth command on), without counting."""
    lose_after = state.faults.lose_after
    return lose_after is not None and state.faults.commands >= lose_after


def ensure_up(machine: Machine, name: str, *, count_command: bool = True) -> None:
    """Raise HostDown while the host is down (or lost: fault switch lose-after, counted per call where
    `count_command`: a session of the host's sshd (ssh_login) or a lab command runs this once per command; the
    supervisor's polling does not count); boot it once its reboot delay is over (and, with FileVault, once the disk
    was unlocked)."""
    if machine.take_fault("command") if count_command else is_lost(machine.read()):
        raise HostDown(
            f"rehearsal host {name} does not answer: it lost power or its network (fault switch lose-after)",
            fix=f"`egpu-setup lab fault {name} --clear`, then reach the host again",
        )
    state = machine.read()
    if not state.boot.pending:
        return
    if state.faults.reboot_hangs:
        raise HostDown(
            f"rehearsal host {name} did not come back from its reboot (fault switch reboot-hangs)",
            fix=f"`egpu-setup lab fault {name} --clear`, then reach the host again",
        )
    if time.time() < state.boot.up_at:
        raise HostDown(f"rehearsal host {name} is rebooting", fix="wait a moment and retry")
    if state.boot.unlock_pending:
        raise HostDown(
            f"rehearsal host {name} is waiting at the FileVault unlock screen after its restart: nothing runs until "
            "someone types a FileVault user's password there",
            fix=f"`egpu-setup lab unlock {name}` (typing the password at the Mac); restart FileVault Macs with "
            "`fdesetup authrestart` to skip the screen",
        )
    with machine.edit() as st:
        if st.boot.pending and not st.boot.unlock_pending:  # another connection may have booted it meanwhile
            _boot_locked(machine, st)


def unlock(machine: Machine, name: str, password: str) -> bool:
    """Type `password` at the FileVault unlock screen; returns False when the host was not waiting there.

    Raises WrongPassword when it is no FileVault user's password (the screen refuses it; the host keeps waiting).
    """
    from egpu_lab import accounts

    state = machine.read()
    if not (state.boot.pending and state.boot.unlock_pending):
        return False
    if not any(user == "admin" and accounts.check_password(password, state.admin_password)
               for user in state.filevault.users):  # fmt: skip
        raise WrongPassword(
            f"the FileVault unlock screen of {name} refuses that password",
            fix="type the password of a FileVault user of that Mac (the lab's admin account)",
        )
    with machine.edit() as st:
        st.boot.unlock_pending = False
    return True


def first_boot(machine: Machine) -> None:
    """lab up: build the kext cache of the bare tree and boot it once."""
    rebuild_cache(machine)
    boot(machine)
