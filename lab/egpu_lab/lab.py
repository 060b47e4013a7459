"""A lab of rehearsal Macs: `egpu-setup lab up|status|reset|down|fault` without the printing.

Layout of a lab directory (architecture.md):

    <lab>/.egpu-setup-lab      the marker (egpu_lab.marker): written first, kept by `down`; no verb acts without it
    <lab>/lab.json             the options the lab was made with (reset rebuilds hosts from them; the admin
                               password only as its salted hash)
    <lab>/inventory.yml        a standard Ansible YAML inventory shaped like inventory/example: all > children >
                               group `rehearsal_macs` > hosts mac1..macN with ansible_host 127.0.0.1, ansible_port
    <lab>/group_vars/all.yml   egpu_matrix_overlay, egpu_cache_dir, egpu_lock_file, egpu_rehearsal_lab_dir, and the
                               ssh settings (lab.ssh_connection_vars); other parts may add their own files beside it
    <lab>/ssh/                 the lab's key pair, known_hosts, each host's sshd (sshd.py), the supervisor
    <lab>/matrix-overlay.yaml  the stand-ins' file:// URLs and SHA-256 (written by the stand-in builder)
    <lab>/mirror/              the stand-in installers
    <lab>/cache/               the artifact cache the provisioning uses for this lab
    <lab>/egpu-setup.lock      the lock file (written by the cache)
    <lab>/hosts/<name>/root    the Mac tree (/private/etc/sudoers: NOPASSWD for admin unless --sudo-password);
                               <lab>/hosts/<name>/machine the machine state (FileVault, the password's hash)

`down` removes what the lab made but `cache/` (downloads are worth keeping) and the marker (the directory, holding
the lab's cache, stays the lab's for the next `up`), and kills any process still running in one
of the lab's sandboxes; a sandbox holds no mount outside its own namespace, so nothing stays mounted.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from egpu_lab import accounts, boot, builds, image, marker, sshd, supervisor
from egpu_lab.machine import FileVault, Gpu, Hardware, Machine, MachineState, sip_preset
from egpu_lab.sandbox import HOMES, Sandbox
from egpu_setup.errors import EgpuError

GROUP = "rehearsal_macs"
# Where `lab up` and `lab unlock` read the admin account's password when no --password-file is given.
PASSWORD_ENV = "EGPU_LAB_PASSWORD"
SIP_CHOICES = ("enabled", "kext-off", "disabled")
GPU_CHOICES = ("gtx1080", "none")
CLT_CHOICES = ("none", "9.2", "9.3")
# The fault counters (machine.Faults), which status does not show as switches.
COUNTERS = ("installs", "downloads", "commands", "writes", "builds")


@dataclass
class LabOptions:
    hosts: int = 2
    build: str = "17C88"
    sip: str = "enabled"
    gpu: str = "gtx1080"
    clt: str = "none"
    reboot_seconds: float = 3.0
    mirror: bool = True
    filevault: bool = False  # FileVault on: a plain restart stops at the unlock screen
    sudo_password: bool = False  # admin's sudo asks for the account password (no NOPASSWD in sudoers)
    # The admin account's password, hashed (accounts.hash_password); never the password itself.
    password_hash: str | None = field(default=None, repr=False)

    def validate(self, password: bool = True) -> None:
        """Raise EgpuError for a bad option; `password=False` leaves out the check that a password was given."""
        if not 1 <= self.hosts <= 32:
            raise EgpuError(f"--hosts must be between 1 and 32, not {self.hosts}", fix="give --hosts 1 to 32")
        for name, value, choices in (
            ("--sip", self.sip, SIP_CHOICES),
            ("--gpu", self.gpu, GPU_CHOICES),
            ("--clt", self.clt, CLT_CHOICES),
        ):
            if value not in choices:
                raise EgpuError(f"{name} {value!r} is not one of {', '.join(choices)}", fix=f"give {name} {choices[0]}")
        if self.reboot_seconds < 0:
            raise EgpuError(
                f"--reboot-seconds must not be negative, not {self.reboot_seconds}",
                fix="give the seconds a rehearsal Mac stays down while it restarts, e.g. --reboot-seconds 3",
            )
        builds.product_version(self.build)  # raises for an unknown build
        if password and (self.filevault or self.sudo_password) and not self.password_hash:
            wanted = " and ".join(n for n, on in (("--filevault", self.filevault),
                                                  ("--sudo-password", self.sudo_password)) if on)  # fmt: skip
            raise EgpuError(
                f"{wanted} need the admin account's password (FileVault unlocks and sudo asks with it)",
                fix=f"give it in a file with --password-file FILE or in the environment variable {PASSWORD_ENV}",
            )

    def public(self) -> dict[str, Any]:
        """The options as `lab status` shows them: the password's hash stays out."""
        data = asdict(self)
        data.pop("password_hash")
        data["admin_password"] = self.password_hash is not None
        return data


class Lab:
    def __init__(self, directory: Path) -> None:
        self.dir = Path(directory).expanduser().absolute()

    # --- paths ---
    @property
    def hosts_dir(self) -> Path:
        return self.dir / "hosts"

    @property
    def inventory(self) -> Path:
        return self.dir / "inventory.yml"

    @property
    def group_vars(self) -> Path:
        return self.dir / "group_vars" / "all.yml"

    @property
    def config(self) -> Path:
        return self.dir / "lab.json"

    @property
    def overlay(self) -> Path:
        return self.dir / "matrix-overlay.yaml"

    @property
    def mirror(self) -> Path:
        return self.dir / "mirror"

    @property
    def cache(self) -> Path:
        return self.dir / "cache"

    @property
    def lock_file(self) -> Path:
        return self.dir / "egpu-setup.lock"

    def exists(self) -> bool:
        """A lab is up here: the directory carries the lab marker and the lab's record."""
        return marker.is_lab(self.dir) and self.config.is_file()

    def require(self) -> None:
        """Refuse (exit 2) a directory without the lab marker, before any verb reads or changes it."""
        marker.require(self.dir)

    def options(self) -> LabOptions:
        self.require()
        if not self.exists():
            raise EgpuError(f"no lab at {self.dir}", fix="`egpu-setup lab up --dir DIR` first")
        try:
            return LabOptions(**json.loads(self.config.read_text())["options"])
        except (OSError, ValueError, TypeError, KeyError) as exc:
            # A hand-edited or half-written lab.json: name it rather than fail on what is inside.
            raise EgpuError(
                f"the lab's record {self.config} is damaged ({exc.__class__.__name__}: {exc})",
                fix=f"`egpu-setup lab down --dir {self.dir}` and `lab up` again (the cache is kept)",
            ) from exc

    def host_names(self) -> list[str]:
        return [f"mac{i}" for i in range(1, self.options().hosts + 1)]

    def sandbox(self, name: str) -> Sandbox:
        self.require()
        host_dir = self.hosts_dir / name
        if not (host_dir / "machine").is_dir():
            raise EgpuError(f"no host {name!r} in the lab at {self.dir}", fix=f"hosts: {', '.join(self.host_names())}")
        if sshd.ssh_dir(self.dir).is_dir():
            supervisor.ensure_running(self.dir, self.host_names(), wait=False)  # a lab command restarts it
        return Sandbox(host_dir)

    # --- up / reset / down ---
    def up(self, options: LabOptions) -> None:
        options.validate()
        marker.usable_for_up(self.dir)  # a directory of the user's own is refused before a byte is written
        if self.exists():
            raise EgpuError(
                f"a lab is already up at {self.dir}",
                fix="`egpu-setup lab reset` brings its hosts back to bare; `egpu-setup lab down` removes it",
            )
        from egpu_lab.sandbox import bwrap_path

        bwrap_path()  # fail early, before writing anything, when bubblewrap is missing
        self.dir.mkdir(parents=True, exist_ok=True)
        marker.write(self.dir)  # first: from here on the directory is the lab's
        self.cache.mkdir(exist_ok=True)
        self.config.write_text(json.dumps({"options": asdict(options), "created": int(time.time())}, indent=2))
        try:
            for name in [f"mac{i}" for i in range(1, options.hosts + 1)]:
                self._make_host(name, options)
            sshd.prepare(self.dir, self.host_names())
            self._write_inventory(options)
            if options.mirror:
                fill_mirror(self)
            self.serve()
        except BaseException:
            self.down()
            raise

    def reset(self) -> None:
        options = self.options()
        supervisor.stop(self.dir)
        self.kill_processes()
        for name in self.host_names():
            image.wipe_root(self.hosts_dir / name)
            self._make_host(name, options)
        self.serve()

    def serve(self) -> None:
        """Start the hosts' SSH servers (the supervisor) unless they run, and wait until the hosts that are up
        answer: `lab up`, `lab reset`, `--rehearse` on an existing lab."""
        supervisor.ensure_running(self.dir, self.host_names())

    def down(self) -> list[int]:
        """Remove the lab (but its cache); returns the pids of sandbox processes that had to be killed."""
        self.require()
        supervisor.stop(self.dir)
        killed = self.kill_processes()
        sshd.remove_control_link(self.dir)
        for path in (self.hosts_dir, self.mirror, self.dir / "group_vars", self.dir / "work", sshd.ssh_dir(self.dir)):
            image.wipe_root(path)
        lock_guard = self.lock_file.with_name(self.lock_file.name + ".lock")  # egpu_setup.cache.lock's
        for path in (self.inventory, self.overlay, self.lock_file, lock_guard, self.config):
            path.unlink(missing_ok=True)
        # cache/ and the marker stay: the directory remains the lab's, and the next `up` there reuses the cache.
        return killed

    def kill_processes(self) -> list[int]:
        """Stop processes still running in this lab's sandboxes (a hung command, a reboot that hangs)."""
        import psutil

        marker = str(self.hosts_dir) + "/"
        ssh_markers = (str(sshd.ssh_dir(self.dir)), str(sshd.control_dir(self.dir)))
        victims = []
        for proc in psutil.process_iter(["pid", "cmdline"]):
            cmdline = proc.info.get("cmdline") or []
            if cmdline and cmdline[0].endswith("bwrap") and any(arg.startswith(marker) for arg in cmdline):
                victims.append(proc)
            elif proc.pid != os.getpid() and any(m in arg for arg in cmdline for m in ssh_markers):
                victims.append(proc)  # the supervisor, an sshd, a ControlPersist master (its socket is in ssh/cp)
        for proc in victims:
            try:
                for child in proc.children(recursive=True):
                    child.kill()
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(victims, timeout=5)
        return [p.pid for p in victims]

    # --- hosts ---
    def _make_host(self, name: str, options: LabOptions) -> None:
        make_host(self.hosts_dir / name, options, work=self.dir / "work")

    def _write_inventory(self, options: LabOptions) -> None:
        """inventory.yml shaped like inventory/example (all > children > group > hosts with ansible_host), and
        group_vars/all.yml with the connection settings of a real lab: ssh as admin with the lab's key, its
        known_hosts (host keys checked as ansible.cfg asks), sudo become, ControlPersist sockets inside the lab."""
        hosts = {name: {"ansible_host": sshd.ADDRESS, "ansible_port": sshd.port_of(self.dir, name)}
                 for name in [f"mac{i}" for i in range(1, options.hosts + 1)]}  # fmt: skip
        header = "# Written by `egpu-setup lab up`: the rehearsal Macs of this lab, reached over SSH.\n"
        self.inventory.write_text(header + _yaml({"all": {"children": {GROUP: {"hosts": hosts}}}}))
        self.group_vars.parent.mkdir(parents=True, exist_ok=True)
        group_vars: dict[str, Any] = {"egpu_rehearsal_lab_dir": str(self.dir)}
        if options.mirror:
            # Without the stand-ins (--no-mirror) there is no overlay: provisioning then resolves the real matrix
            # against what the lab's cache holds (`egpu-setup cache add`).
            group_vars["egpu_matrix_overlay"] = str(self.overlay)
        group_vars |= {"egpu_cache_dir": str(self.cache), "egpu_lock_file": str(self.lock_file)}
        group_vars |= ssh_connection_vars(self.dir)
        header = "# Written by `egpu-setup lab up`; other files in group_vars/ may add to it.\n"
        self.group_vars.write_text(header + _yaml(group_vars))

    # --- status and faults ---
    def status(self) -> dict[str, Any]:
        options = self.options()
        hosts = []
        for name in self.host_names():
            sandbox = self.sandbox(name)
            st = sandbox.machine.read()
            if st.faults.lose_after is not None and st.faults.commands >= st.faults.lose_after:
                state = "down (lost)"
            elif not st.boot.pending:
                state = "up"
            elif st.faults.reboot_hangs:
                state = "down (reboot hangs)"
            elif st.boot.unlock_pending:
                state = "locked (FileVault unlock screen)"
            else:
                state = "rebooting"
            hosts.append(
                {
                    "name": name,
                    "state": state,
                    "build": st.build,
                    "product_version": st.product_version,
                    "sip": _sip_name(st.sip),
                    "boot_count": st.boot.count,
                    "gpu": st.hardware.gpu.model if st.hardware.gpu else None,
                    "gpu_driver": st.boot.gpu_driver,
                    "webdriver_version": st.boot.webdriver_version,
                    "cuda_driver_version": st.boot.cuda_driver_version,
                    "cuda_works": st.boot.cuda_works,
                    "developer_dir": st.developer_dir,
                    "kext_consent": st.kext_consent,
                    "filevault": st.filevault.on,
                    "sudo_asks_password": sandbox_asks_password(sandbox),
                    "nvram": {k: bytes.fromhex(v).decode("latin-1") for k, v in st.nvram.items()},
                    "notes": st.boot.notes,
                    "faults": {k: v for k, v in asdict(st.faults).items() if k not in COUNTERS},
                    "host_dir": str(sandbox.host_dir),
                }
            )
        return {
            "lab_dir": str(self.dir),
            "inventory": str(self.inventory),
            "options": options.public(),
            "hosts": hosts,
        }

    def fault(
        self,
        name: str,
        fail_install: int | None = None,
        fail_download: int | None = None,
        disk_full: bool = False,
        reboot_hangs: bool = False,
        clear: bool = False,
        lose_after: int | None = None,
        disk_full_at: int | None = None,
        fail_build: int | None = None,
    ) -> dict[str, Any]:
        machine = self.sandbox(name).machine
        counted = (
            ("--fail-install", fail_install),
            ("--fail-download", fail_download),
            ("--lose-after", lose_after),
            ("--disk-full-at", disk_full_at),
            ("--fail-build", fail_build),
        )
        for label, value in counted:
            if value is not None and value < 1:
                raise EgpuError(
                    f"{label} counts from 1 (the first install/download/command/make run), not {value}",
                    fix=f"give {label} 1 or more",
                )
        with machine.edit() as st:
            if clear:
                st.faults.fail_install = st.faults.fail_download = None
                st.faults.disk_full = st.faults.reboot_hangs = False
                st.faults.lose_after = st.faults.disk_full_at = st.faults.fail_build = None
            if fail_install is not None:
                st.faults.fail_install, st.faults.installs = fail_install, 0
            if fail_download is not None:
                st.faults.fail_download, st.faults.downloads = fail_download, 0
            if disk_full_at is not None:
                st.faults.disk_full_at, st.faults.writes = disk_full_at, 0
            if fail_build is not None:
                st.faults.fail_build, st.faults.builds = fail_build, 0
            if lose_after is not None:
                st.faults.lose_after, st.faults.commands = lose_after, 0
            st.faults.disk_full = st.faults.disk_full or disk_full
            st.faults.reboot_hangs = st.faults.reboot_hangs or reboot_hangs
            return {k: v for k, v in asdict(st.faults).items() if k not in COUNTERS}

    def unlock(self, name: str, password: str) -> bool:
        """Type the password at a host's FileVault unlock screen; False when the host was not waiting there."""
        return boot.unlock(self.sandbox(name).machine, name, password)

    def update(self, name: str, build: str) -> Any:
        """A macOS update of one host to `build` (update.py): new SystemVersion, kext cache rebuilt, restarted."""
        from egpu_lab import update

        outcome = update.update(self.sandbox(name).machine, name, build)
        supervisor.ensure_running(self.dir, [name])  # back once the sshd of the new boot answers
        return outcome

    def allow_kexts(self, name: str, team: str) -> list[str]:
        """A user's click on "Allow" in Security & Privacy: kexts signed by `team` may load (TN2459)."""
        return allow_kexts(self.sandbox(name).machine, team)


def allow_kexts(machine: Machine, team: str) -> list[str]:
    """Record the user's approval of a kext team on one host; returns the approved teams."""
    from egpu_lab import kexts

    known = {t for t, _developer in kexts.TEAMS.values()}
    if team not in known:
        raise EgpuError(
            f"unknown kext team {team!r}",
            fix=f"the rehearsal kexts are signed by: {', '.join(sorted(known))}",
        )
    with machine.edit() as st:
        if team not in st.kext_consent:
            st.kext_consent.append(team)
        return list(st.kext_consent)


def ssh_connection_vars(lab_dir: Path) -> dict[str, Any]:
    """How Ansible's ssh connection reaches the lab's Macs (the keys inventory/example sets, and the lab's own)."""
    ssh = sshd.ssh_dir(lab_dir)
    return {
        "ansible_user": sshd.USER,
        "ansible_become": True,
        "ansible_become_method": "ansible.builtin.sudo",
        # the target tools' venv python (python_bootstrap); without it Ansible's discovery picks /usr/bin/python3,
        # which High Sierra does not have
        "ansible_python_interpreter": "/usr/local/egpu-setup/venv/bin/python3",
        "ansible_ssh_private_key_file": str(ssh / sshd.KEY),
        "ansible_ssh_common_args": f"-o UserKnownHostsFile={ssh / 'known_hosts'} -o IdentitiesOnly=yes",
        # %h-%p-%r under sshd.control_dir, not Ansible's %(directory)s/%C: a socket path must stay under 108 bytes
        # (Ansible resolves the link of control_path_dir, ssh does not resolve one in control_path)
        "ansible_control_path_dir": str(ssh / "cp"),
        "ansible_control_path": f"{sshd.control_dir(lab_dir)}/%%h-%%p-%%r",
    }


def make_host(host_dir: Path, options: LabOptions, work: Path) -> Sandbox:
    """Create one bare High Sierra host at `host_dir` (named after the directory) and boot it once."""
    name = host_dir.name
    root = host_dir / "root"
    product = builds.product_version(options.build)
    image.build_root(root, image.HostSpec(name, options.build, product))
    lib = _uname_lib()
    if lib is not None:
        shutil.copyfile(lib, root / image.UNAME_LIB.lstrip("/"))
    state = MachineState(
        hostname=name,
        product_version=product,
        build=options.build,
        kernel_version=builds.kernel_version(product),
        sip=sip_preset(options.sip),
        hardware=Hardware(gpu=Gpu() if options.gpu == "gtx1080" else None),
        admin_password=options.password_hash,
        filevault=FileVault(on=True, users=["admin"]) if options.filevault else FileVault(),
    )
    state.boot.delay_s = options.reboot_seconds
    accounts.write_sudoers(root, nopasswd=not options.sudo_password)
    machine = Machine(host_dir / "machine", root)
    machine.write(state)
    boot.first_boot(machine)
    sandbox = Sandbox(host_dir)
    if options.clt != "none":
        preinstall_clt(sandbox, options.clt, work)
    return sandbox


def sandbox_asks_password(sandbox: Sandbox) -> bool:
    """Whether the host's sudo asks admin for the password (its /etc/sudoers has no NOPASSWD for admin)."""
    try:
        return accounts.admin_needs_password((sandbox.root / accounts.SUDOERS.lstrip("/")).read_text())
    except OSError:
        return True


def _sip_name(sip: dict[str, bool]) -> str:
    for name in SIP_CHOICES:
        if sip == sip_preset(name):
            return name
    return "custom"


def _yaml(data: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False)


def _uname_lib() -> Path | None:
    from egpu_lab import uname_lib

    return uname_lib.library()


def preinstall_clt(sandbox: Sandbox, version: str, work: Path) -> None:
    """`--clt 9.3`: install that Command Line Tools stand-in with the host's own installer, as a user would have."""
    from egpu_lab.standins import clt

    work.mkdir(parents=True, exist_ok=True)
    pkg = work / f"clt-{version}.pkg"
    if not pkg.exists():
        clt.build_clt_pkg(pkg, work / f"clt-{version}-build", version)
    inside = f"/private/tmp/clt-{version}.pkg"
    shutil.copyfile(pkg, sandbox.root / inside.lstrip("/"))
    result = sandbox.run(f"installer -pkg {inside} -target / && rm -f {inside}", user="root", cwd=HOMES["root"])
    if result.returncode != 0:
        raise EgpuError(
            f"could not pre-install Command Line Tools {version} in {sandbox.name}: "
            f"{(result.stdout + result.stderr).decode(errors='replace').strip()}"
        )


def fill_mirror(lab: Lab) -> None:
    """<lab>/mirror: the stand-in installers, and <lab>/matrix-overlay.yaml with their file:// URLs, SHA-256, sizes."""
    from egpu_lab import standins

    lab.mirror.mkdir(parents=True, exist_ok=True)
    standins.build_mirror(mirror=lab.mirror, overlay=lab.overlay, work=lab.dir / "work")
