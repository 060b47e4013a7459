"""Per-host machine state: what a Mac keeps outside its file system.

On a real Mac the product build sits in a file (SystemVersion.plist, which the host tree has), but NVRAM, the SIP
configuration, the boot record, the loaded kexts, the hardware and our fault switches do not. They live as one JSON
document `<host>/machine/state.json`, guarded by an fcntl lock on `<host>/machine/lock` because Ansible may run
several commands on a host at once (forks, async).

Two ways to get a `Machine`:

- on the controller: `Machine(state_dir=<host>/machine, root=<host>/root)`;
- inside the sandbox (the command shims): `Machine.from_env()`; the sandbox binds the state dir read-write at
  `/.rehearsal/machine` (`EGPU_SIM_STATE` overrides) and the Mac tree is `/` (`EGPU_SIM_ROOT` overrides).

Reading: `machine.read()` returns a `MachineState` snapshot. Changing: `with machine.edit() as st: st.nvram[...] = ...`
holds the lock from read to atomic write. Mac paths map to the controller with `machine.path("/Library/Extensions")`.

Fault switches (`st.faults`) are counted here so every part sees the same count:
`machine.take_fault("install")` increments the install counter and says whether this install is the Nth that must
fail (`faults.fail_install == N`); same for "download", and for "build" (a `make` run of the CLT:
`faults.fail_build`). `faults.disk_full` and `faults.reboot_hangs` are flags.
`faults.disk_full_at` N sets `disk_full` at the Nth install or download (a disk that fills mid-run, after preflight
found room). `machine.take_fault("command")` counts one command that reaches the host and says whether the host is lost
(`faults.lose_after`: from the Nth command on it answers nothing, as a Mac that lost power or its network); boot.py's
`ensure_up`, which every connection calls before a command, asks it, so the lab's commands and each ssh session
of the host honour it alike.
Each counted event is also appended to `<host>/machine/faults.log` (`TIME KIND COUNT`, TIME in seconds since the
epoch): the fault matrix (tests/faults) tells from it and the run's task events which role each event fell in.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from egpu_lab.layout import ENV_ENTITLED_ROOT, ENV_STATE, STATE_FILE, sandbox_root, under_root

FAULTS_LOG = "faults.log"  # the counted fault events, a line each
LOCK_FILE = "lock"
# Where the sandbox exposes the state dir, and the env variables that override the defaults inside it.
SANDBOX_STATE_DIR = "/.rehearsal/machine"

# The SIP flags in the order `csrutil status` prints them in a custom configuration (csrutil on 10.13).
SIP_FLAGS: tuple[str, ...] = (
    "Apple Internal",
    "Kext Signing",
    "Filesystem Protections",
    "Debugging Restrictions",
    "DTrace Restrictions",
    "NVRAM Protections",
    "BaseSystem Verification",
)


def sip_preset(name: str) -> dict[str, bool]:
    """SIP flags (True = protection enabled) for `enabled`, `kext-off` (`csrutil enable --without kext`), `disabled`."""
    if name == "enabled":
        return {flag: flag != "Apple Internal" for flag in SIP_FLAGS}
    if name == "kext-off":
        return {flag: flag not in ("Apple Internal", "Kext Signing") for flag in SIP_FLAGS}
    if name == "disabled":
        return dict.fromkeys(SIP_FLAGS, False)
    raise ValueError(f"unknown SIP preset {name!r} (enabled, kext-off, disabled)")


@dataclass
class Gpu:
    """The GPU of the host (the eGPU in its Thunderbolt enclosure)."""

    model: str = "NVIDIA GeForce GTX 1080"
    vendor_id: int = 0x10DE
    device_id: int = 0x1B80
    revision_id: int = 0x00A1
    vram_mb: int = 8192
    thunderbolt: bool = True
    lane_width: str = "x4"
    rom_revision: str = "86.04.17.00.01"


@dataclass
class ThunderboltDevice:
    vendor_name: str = "GIGABYTE"
    device_name: str = "GP-AORUS GTX1080 Gaming Box"
    vendor_id: str = "0x1DA"
    device_id: str = "0x1"
    firmware: str = "20.1"
    speed: str = "Up to 40 Gb/s x1"


@dataclass
class Hardware:
    gpu: Gpu | None = field(default_factory=Gpu)
    thunderbolt: list[ThunderboltDevice] = field(default_factory=lambda: [ThunderboltDevice()])
    # The built-in GPU that keeps the display when the eGPU has no working driver.
    internal_gpu: str = "Intel Iris Plus Graphics 650"


@dataclass
class LoadedKext:
    """One row of kextstat."""

    bundle_id: str
    version: str
    path: str = ""
    index: int = 0
    refs: int = 0
    address: int = 0
    size: int = 0x2000
    uuid: str = ""
    linked: list[int] = field(default_factory=list)


@dataclass
class Boot:
    count: int = 0  # boots so far; lab up boots once
    time: int = 0  # epoch seconds of the last boot (simulated clock, minute aligned)
    pending: bool = False  # shutdown -r issued, host going down
    down_since: float = 0.0
    up_at: float = 0.0  # real time at which the host can boot again
    delay_s: float = 0.0  # how long a reboot keeps the host down (tests: 0)
    # Outcome of the last boot, for kextstat, system_profiler and verify: which driver drives the GPU and why.
    gpu_driver: str | None = None  # "web", "apple" or None (no GPU)
    webdriver_version: str | None = None
    cuda_driver_version: str | None = None
    cuda_works: bool = False
    notes: list[str] = field(default_factory=list)
    # FileVault: this restart stops at the pre-boot unlock screen until the password is typed (`lab unlock`).
    unlock_pending: bool = False


@dataclass
class Faults:
    fail_install: int | None = None  # the Nth installer run on this host fails (1-based)
    fail_download: int | None = None  # the Nth file put onto this host by the connection fails
    disk_full: bool = False
    reboot_hangs: bool = False
    disk_full_at: int | None = None  # the disk fills up at the Nth write (installer run or file put; 1-based)
    lose_after: int | None = None  # from the Nth command on (1-based) the host answers nothing: power or network lost
    fail_build: int | None = None  # the Nth `make` run of the Command Line Tools on this host fails (1-based)
    installs: int = 0  # counters since the switch was set
    downloads: int = 0
    commands: int = 0
    writes: int = 0
    builds: int = 0


@dataclass
class FileVault:
    """FileVault on the boot volume (fdesetup(8); boot.py for the unlock screen)."""

    on: bool = False
    users: list[str] = field(default_factory=list)  # the FileVault-enabled users, who may unlock the disk
    # `fdesetup supportsauthrestart`: true on Macs from about 2010 on (Apple's "Macs that support authenticated
    # restart with FileVault"), which every High Sierra Mac is
    supports_authrestart: bool = True
    conversion: str = ""  # a second `fdesetup status` line while converting, e.g. "Encryption in progress: ..."
    # `fdesetup authrestart` stored an unlock key: the next restart skips the unlock screen, once.
    authrestart_armed: bool = False


@dataclass
class Disk:
    total_bytes: int = 499_963_174_912
    free_bytes: int = 250_000_000_000


@dataclass
class MachineState:
    hostname: str = "mac1"
    product_name: str = "Mac OS X"
    product_version: str = "10.13.2"
    build: str = "17C88"
    kernel_version: str = "17.3.0"
    hw_model: str = "MacBookPro14,3"
    ncpu: int = 8
    memsize: int = 17_179_869_184
    sip: dict[str, bool] = field(default_factory=lambda: sip_preset("enabled"))
    nvram: dict[str, str] = field(default_factory=dict)  # name -> value bytes as hex
    boot: Boot = field(default_factory=Boot)
    kexts: list[LoadedKext] = field(default_factory=list)
    hardware: Hardware = field(default_factory=Hardware)
    developer_dir: str | None = None  # xcode-select's selection; None = none selected
    # Team ids the user allowed in System Preferences > Security & Privacy (User-Approved Kernel Extension
    # Loading, TN2459); on a Mac they sit in the SIP-protected /var/db/SystemPolicyConfiguration/KextPolicy.
    kext_consent: list[str] = field(default_factory=list)
    disk: Disk = field(default_factory=Disk)
    faults: Faults = field(default_factory=Faults)
    # The admin account's password as a salted hash (accounts.hash_password); None: the lab was made without one.
    admin_password: str | None = None
    filevault: FileVault = field(default_factory=FileVault)

    # --- NVRAM: values are bytes; JSON keeps them as hex ---
    def nvram_get(self, name: str) -> bytes | None:
        value = self.nvram.get(name)
        return None if value is None else bytes.fromhex(value)

    def nvram_set(self, name: str, value: bytes) -> None:
        self.nvram[name] = value.hex()

    def nvram_delete(self, name: str) -> None:
        self.nvram.pop(name, None)

    @property
    def kext_signing(self) -> bool:
        return self.sip.get("Kext Signing", True)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MachineState:
        data = dict(data)
        boot = Boot(**data.pop("boot", {}))
        kexts = [LoadedKext(**k) for k in data.pop("kexts", [])]
        hw = dict(data.pop("hardware", {}))
        gpu = hw.pop("gpu", None)
        tb = [ThunderboltDevice(**d) for d in hw.pop("thunderbolt", [])]
        hardware = Hardware(gpu=Gpu(**gpu) if gpu else None, thunderbolt=tb, **hw)
        return cls(
            boot=boot,
            kexts=kexts,
            hardware=hardware,
            disk=Disk(**data.pop("disk", {})),
            faults=Faults(**data.pop("faults", {})),
            filevault=FileVault(**data.pop("filevault", {})),
            **data,
        )


class Machine:
    """Handle on one host's machine state (and its Mac root, to map Mac paths)."""

    def __init__(self, state_dir: Path | str, root: Path | str, entitled_root: Path | str | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.root = Path(root)
        self.entitled_root = Path(entitled_root) if entitled_root else self.root

    @classmethod
    def from_env(cls) -> Machine:
        """The host's machine state as seen from inside the sandbox."""
        return cls(
            os.environ.get(ENV_STATE, SANDBOX_STATE_DIR),
            sandbox_root(),
            os.environ.get(ENV_ENTITLED_ROOT) or None,
        )

    @property
    def state_file(self) -> Path:
        return self.state_dir / STATE_FILE

    def path(self, mac_path: str) -> Path:
        """Where a Mac path of this host is, from the current process (controller or sandbox)."""
        return under_root(self.root, mac_path)

    def entitled_path(self, mac_path: str) -> Path:
        """Where an entitled Apple tool writes a SIP-protected Mac path (kextcache into /System): inside a host
        whose filesystem protections are on, / mounts /System read-only and the writable tree is elsewhere."""
        return self.entitled_root / mac_path.lstrip("/")

    def exists(self) -> bool:
        return self.state_file.is_file()

    @contextlib.contextmanager
    def _locked(self, exclusive: bool) -> Iterator[None]:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with open(self.state_dir / LOCK_FILE, "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _load(self) -> MachineState:
        return MachineState.from_dict(json.loads(self.state_file.read_text()))

    def _save(self, state: MachineState) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.state_dir, prefix=".state.", suffix=".json")
        with os.fdopen(fd, "w") as out:
            json.dump(state.to_dict(), out, indent=1, sort_keys=True)
        os.replace(tmp, self.state_file)  # readers never see a half-written file

    def read(self) -> MachineState:
        with self._locked(exclusive=False):
            return self._load()

    @contextlib.contextmanager
    def edit(self) -> Iterator[MachineState]:
        """Lock, load, let the caller change the state, write it back (only if the block did not raise)."""
        with self._locked(exclusive=True):
            state = self._load()
            yield state
            self._save(state)

    def write(self, state: MachineState) -> None:
        """Replace the whole state (lab up, lab reset)."""
        with self._locked(exclusive=True):
            self._save(state)

    def take_fault(self, kind: str) -> bool:
        """Count one "install", "download", "build" or "command" and say whether the fault switch makes this one fail
        (a lost host stays lost: every command from the Nth on fails)."""
        if kind == "command" and self.read().faults.lose_after is None:
            return False  # no exclusive lock per command when the switch is off
        if kind not in ("install", "download", "build", "command"):
            raise ValueError(f"unknown fault kind {kind!r}")
        with self.edit() as st:
            self._journal(kind, st.faults)
            if kind == "command":
                st.faults.commands += 1
                return st.faults.lose_after is not None and st.faults.commands >= st.faults.lose_after
            if kind == "build":  # a compile writes nothing the disk-full switch counts
                st.faults.builds += 1
                return st.faults.fail_build is not None and st.faults.builds == st.faults.fail_build
            if st.faults.disk_full_at is not None:
                st.faults.writes += 1
                st.faults.disk_full = st.faults.disk_full or st.faults.writes >= st.faults.disk_full_at
            if kind == "install":
                st.faults.installs += 1
                return st.faults.fail_install is not None and st.faults.installs == st.faults.fail_install
            st.faults.downloads += 1
            return st.faults.fail_download is not None and st.faults.downloads == st.faults.fail_download

    def _journal(self, kind: str, faults: Faults) -> None:
        """Append this event to FAULTS_LOG (under the state lock, so lines keep the counters' order)."""
        counts = {"install": faults.installs, "download": faults.downloads, "build": faults.builds}
        count = {**counts, "command": faults.commands}[kind] + 1
        with open(self.state_dir / FAULTS_LOG, "a", encoding="utf-8") as log:
            log.write(f"{time.time():.6f} {kind} {count}\n")
