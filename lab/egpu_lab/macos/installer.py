"""`/usr/sbin/installer`: installs flat packages (xar) onto `/`, running their scripts and writing receipts.

Sources: installer(8) (flags -pkg/-package, -target/-tgt, -allowUntrusted, -verbose, -dumplog, -pkginfo; root
only); Apple's "Distribution XML Reference" (installation-check, volume-check with allowed-os-versions and
required-bundles: distribution_check.py, pkg-ref, choices); pkgbuild(1) (preinstall and
postinstall get `$1` package path, `$2` install location, `$3` target volume, `$4` root of the startup volume;
a non-zero exit fails the install); ../shared/docs/macos-commands.md for the output lines; transcripts in public
issues for the refusal lines: `installer: Must be run as root to install this package.` (stdout; e.g.
nodejs/node-version-manager and Homebrew tooling), `installer: Cannot install on volume / because it is disabled.`
followed by the check's message (Homebrew/homebrew-cask#45142, yantis/instant-archlinux-on-mac#3),
`installer: Error trying to locate volume at X` (macfuse/macfuse#732).

Divergences: packages are never signed here (-allowUntrusted is accepted and changes nothing); a full disk fails
with the generic failure line (no public transcript of the exact not-enough-space text was found); -verbose prints
a few of the real phase lines, not all; -pkginfo prints the package title and its component ids (unconfirmed).
Scripts run inside the host's sandbox; on a controller path (tests) through `sandbox.Sandbox`.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import PurePosixPath

from egpu_lab.macos import distribution_check, receipts, xar_pkg
from egpu_lab.macos.base import Sim

EXECUTABLES = {"/usr/sbin/installer": "installer"}

FAILED = (
    "installer: The install failed (The Installer encountered an error that caused the installation to fail. "
    "Contact the software manufacturer for assistance.)"
)
USAGE = """Usage: installer [-dominfo] [-volinfo] [-pkginfo] [-allowUntrusted] [-dumplog]
         [-help] [-verbose] [-verboseR] [-vers] [-config] [-plist]
         [-file <pathToFile>] [-lang <ISOLanguageCode>] [-listiso]
         [[-showChoicesXML] [-applyChoiceChangesXML <pathToFile>]]
         [-showChoicesAfterApplyingChangesXML <pathToFile>]
         -pkg <pathToPackage>
         -target <[DomainKey|MountPoint|DiskIdentifier|DomainUUID]>"""

_FLAGS = {"-allowUntrusted", "-verbose", "-verboseR", "-dumplog", "-pkginfo", "-volinfo", "-dominfo", "-help"}


class _Failed(Exception):
    """The install failed after it started; the message is the detail -verbose/-dumplog show."""


def _parse(argv: list[str], sim: Sim) -> tuple[str | None, str | None, set[str]]:
    pkg = target = None
    flags: set[str] = set()
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg in ("-pkg", "-package", "-target", "-tgt"):
            if not args:
                sim.fail(USAGE, 1)
            value = args.pop(0)
            if arg in ("-pkg", "-package"):
                pkg = value
            else:
                target = value
        elif arg in _FLAGS:
            flags.add(arg)
        else:
            sim.fail(USAGE, 1)
    return pkg, target, flags


def installer(argv: list[str], sim: Sim) -> int:
    """Imitates installer(8): -pkg X.pkg -target / [-allowUntrusted] [-verbose] [-dumplog]; -pkginfo -pkg X.pkg.

    Sources and divergences: the module docstring (installer(8), Distribution XML reference, pkgbuild(1),
    macos-commands.md, public transcripts of the refusal lines)."""
    pkg_arg, target, flags = _parse(argv, sim)
    if "-help" in flags or pkg_arg is None:
        sim.fail(USAGE, 1 if pkg_arg is None and "-help" not in flags else 0)
    pkg_path = sim.path(pkg_arg)
    try:
        package = xar_pkg.read_package(pkg_path)
    except xar_pkg.PackageError:
        sim.fail(f"installer: Error - the package path specified was invalid: '{pkg_arg}'.", 1)
    title = _title(package, pkg_arg)
    if "-pkginfo" in flags:
        sim.out(title)
        for comp in package.components:
            sim.out(comp.info.identifier)
        return 0
    if target is None:
        sim.fail(USAGE, 1)
    if not sim.is_root:
        sim.out("installer: Must be run as root to install this package.")
        return 1
    if target.rstrip("/") not in ("", "/Volumes/Macintosh HD"):
        sim.fail(f"installer: Error trying to locate volume at {target}", 1)
    log = _Log(sim, "-dumplog" in flags)
    verbose = "-verbose" in flags or "-verboseR" in flags
    state = sim.machine.read()
    log.line(f"Product archive {pkg_arg} trustLevel=0 (unsigned: rehearsal lab)")
    sim.out(f"installer: Package name is {title}")
    if package.distribution is not None:
        check = distribution_check.evaluate(package.distribution, state.build, state.product_version)
        if not check.ok:
            log.line(f"InstallationCheck failed: {check.message}")
            sim.out("installer: Cannot install on volume / because it is disabled.")
            if check.message:
                sim.out(f"installer: {check.message}")
            return 1
        volume = distribution_check.evaluate_volume_check(
            package.distribution, state.build, state.product_version, lambda path: _bundle_info(sim, path)
        )
        if not volume.ok:
            log.line(f"VolumeCheck failed: {volume.message}")
            sim.out("installer: Cannot install on volume / because it is disabled.")
            if volume.message:
                sim.out(f"installer: {volume.message}")
            return 1
    upgrade = any(receipts.read(sim.machine.root, c.info.identifier) for c in package.components)
    sim.out(f"installer: {'Upgrading' if upgrade else 'Installing'} at base path /")
    try:
        _install(package, pkg_arg, sim, log, verbose)
    except _Failed as exc:
        log.line(f"Install failed: {exc}")
        sim.err(FAILED)
        return 1
    if verbose:
        sim.out("installer: The software was successfully installed......")
    sim.out(f"installer: The {'upgrade' if upgrade else 'install'} was successful.")
    return 0


def _bundle_info(sim: Sim, mac_path: str) -> dict | None:
    """The Info.plist of the bundle at `mac_path` (Contents/Info.plist, as kexts and apps keep it), or None."""
    import plistlib

    try:
        with open(sim.path(mac_path.rstrip("/") + "/Contents/Info.plist"), "rb") as f:
            info = plistlib.load(f)
    except (OSError, plistlib.InvalidFileException, ValueError):
        return None
    return info if isinstance(info, dict) else None


def _title(package: xar_pkg.FlatPackage, pkg_arg: str) -> str:
    if package.distribution is not None:
        import xml.etree.ElementTree as ET

        try:
            title = ET.fromstring(package.distribution).findtext("title")
        except ET.ParseError:
            title = None
        if title:
            return title.strip()
    return PurePosixPath(pkg_arg).stem


class _Log:
    """install.log lines; -dumplog copies them to stderr (installer(8))."""

    def __init__(self, sim: Sim, dump: bool) -> None:
        self.sim = sim
        self.dump = dump

    def line(self, text: str) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S%z")
        entry = f"{stamp} {self.sim.env.get('HOSTNAME', 'localhost')} installer[{os.getpid()}]: {text}"
        if self.dump:
            self.sim.err(entry)
        try:
            with open(self.sim.path("/private/var/log/install.log"), "a") as f:
                f.write(entry + "\n")
        except OSError:
            pass


def _install(package: xar_pkg.FlatPackage, pkg_arg: str, sim: Sim, log: _Log, verbose: bool) -> None:
    machine = sim.machine
    if machine.take_fault("install"):
        raise _Failed("fault switch: this install fails (faults.fail_install)")
    state = machine.read()
    size = 0
    comps = [(c, c.entries(), c.scripts()) for c in package.components]
    for _c, entries, _s in comps:
        size += sum(len(e.data) for e in entries)
    if state.faults.disk_full or size > state.disk.free_bytes:
        raise _Failed(f"not enough space on / for {size} bytes")
    if verbose:
        sim.out("installer: Preparing for installation.....")
        sim.out("installer: Writing files.....")
    for comp, entries, scripts in comps:
        location = comp.info.install_location or "/"
        log.line(f"Installing {comp.info.identifier} {comp.info.version} at {location}")
        if "preinstall" in scripts:
            _run_script(sim, scripts["preinstall"], "preinstall", pkg_arg, location, log)
        dest = machine.path(location)
        try:
            written = xar_pkg.extract_entries(entries, dest)
        except (OSError, xar_pkg.PackageError) as exc:
            raise _Failed(f"writing the payload of {comp.info.identifier}: {exc}") from exc
        if "postinstall" in scripts:
            if verbose:
                sim.out("installer: Running package scripts.....")
            _run_script(sim, scripts["postinstall"], "postinstall", pkg_arg, location, log)
        bom = xar_pkg.make_bom(entries)
        receipt = receipts.Receipt(
            identifier=comp.info.identifier,
            version=comp.info.version,
            prefix=location.strip("/"),
            install_time=int(time.time()),
            package_file=PurePosixPath(pkg_arg).name,
            files=[w.removeprefix("./") for w in written if w != "."],
        )
        receipts.write(machine.root, receipt, bom)
        if verbose:
            sim.out("installer: Registering updated components.....")


def _run_script(sim: Sim, script: bytes, name: str, pkg_arg: str, location: str, log: _Log) -> None:
    """Run a package script as root inside the host; a non-zero exit fails the install (pkgbuild(1))."""
    machine = sim.machine
    pkg_mac = pkg_arg if pkg_arg.startswith("/") else os.path.join(sim.cwd, pkg_arg)
    tmp_dir = machine.path("/private/tmp")
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f"{name}.", dir=tmp_dir)
    with os.fdopen(fd, "wb") as f:
        f.write(script)
    os.chmod(tmp, 0o755)
    mac_script = "/private/tmp/" + os.path.basename(tmp)
    args = [mac_script, pkg_mac, location, "/", "/"]
    try:
        if str(machine.root) == "/":  # inside the sandbox already
            env = {**sim.env, "EGPU_SIM_USER": "root", "USER": "root", "HOME": "/var/root"}
            proc = subprocess.run(args, env=env, capture_output=True, check=False)
        else:
            from egpu_lab.sandbox import Sandbox

            proc = Sandbox(machine.state_dir.parent).run(args, user="root")
    finally:
        os.unlink(tmp)
    for line in (proc.stdout + proc.stderr).decode(errors="replace").splitlines():
        log.line(f"./{name}: {line}")
    if proc.returncode != 0:
        raise _Failed(f"{name} script failed with exit code {proc.returncode}")
