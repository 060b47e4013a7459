"""kextstat, kextload, kextunload, kextutil, kextcache: the kext tools over the boot model."""

from __future__ import annotations

import os

from egpu_lab import boot, kexts
from egpu_lab.machine import LoadedKext, MachineState
from egpu_lab.macos.base import Sim

EXECUTABLES = {
    "/usr/sbin/kextstat": "kextstat",
    "/sbin/kextload": "kextload",
    "/sbin/kextunload": "kextunload",
    "/usr/bin/kextutil": "kextutil",
    "/usr/sbin/kextcache": "kextcache",
}

HEADER = "Index Refs Address            Size       Wired      Name (Version) UUID <Linked Against>"
# Exit codes of kextload/kextutil (kext_tools-502 kextload_main.h / kextutil_main.h; macos-commands.md).
EX_NOPERM = 77
EX_OSERR = 71
EX_SYSTEM_POLICY = 27  # user approval needed (User-Approved Kernel Extension Loading)
LOAD_FAILED = "failed to load - (libkern/kext) {reason}; check the system/kernel logs for errors or try kextutil(8)."
SYSTEM_POLICY = "system policy prevents loading"
NOT_LOADABLE = "not loadable (reason unspecified)"
KEXTUTIL_NOT_FOUND = 1
KEXTUTIL_KEXT_BAD = 4
KEXTUTIL_LOAD_FAILED = 6


def _row(k: LoadedKext) -> str:
    address = f"{k.address:#x}" if k.address else "0"
    size = f"{k.size:#x}" if k.size else "0"
    uuid = f" {k.uuid}" if k.uuid else ""
    linked = " ".join(str(n) for n in k.linked)
    return f"{k.index:>5} {k.refs:>4} {address:<18} {size:<10} {size:<10} {k.bundle_id} ({k.version}){uuid} <{linked}>"


def kextstat(argv: list[str], sim: Sim) -> int:
    """Imitates kextstat(8) of 10.13 (kext_tools-502 kextstat_main.c; macos-commands.md).

    Header `Index Refs Address            Size       Wired      Name (Version) UUID <Linked Against>`, then one row
    per loaded kext (from the last boot, plus kextload). `-l` no header; `-b ID` (repeatable, also
    `-bundle-id`) keeps only those; `-k` hides the kernel's own components (com.apple.kpi.*). A kext that is not
    loaded prints nothing, exit 0. Divergence: addresses, sizes and UUIDs are made up but stable.
    """
    header = True
    ids: list[str] = []
    no_kernel = False
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-l", "-list-only"):
            header = False
        elif arg in ("-b", "-bundle-id"):
            if i + 1 >= len(argv):
                sim.fail("kextstat: option requires an argument -- b", EX_USAGE)
            ids.append(argv[i + 1])
            i += 1
        elif arg in ("-k", "-no-kernel"):
            no_kernel = True
        elif arg in ("-a", "-arch"):
            pass
        else:
            sim.fail(f"kextstat: unrecognized option `{arg}'", EX_USAGE)
        i += 1
    rows = sim.machine.read().kexts
    if ids:
        rows = [k for k in rows if k.bundle_id in ids]
    if no_kernel:
        rows = [k for k in rows if not k.bundle_id.startswith("com.apple.kpi.")]
    if header:
        sim.out(HEADER)
    for k in rows:
        sim.out(_row(k))
    return 0


EX_USAGE = 64


def _bundle_from_arg(sim: Sim, arg: str) -> tuple[str, kexts.KextInfo | None]:
    mac_path = os.path.normpath(arg if arg.startswith("/") else os.path.join(sim.cwd, arg))
    return mac_path, kexts.read_kext(sim.path(mac_path), mac_path)


def runtime_problem(kext: kexts.KextInfo, st: MachineState) -> tuple[str, int] | None:
    """Why this kext may not load now, with kextload's exit code (same rules as at boot, read from the disk).

    User approval missing: 27 (system policy); a broken seal under kext signing or an NVIDIA rule: 71.
    """
    entry = {
        "Path": kext.path,
        "CFBundleIdentifier": kext.bundle_id,
        "SealIntact": kext.seal_intact,
        "SealProblem": kext.seal_problem or "",
        "NVDARequiredOS": kext.required_os or "",
    }
    if kext.bundle_id in (kexts.WEB_NVDA, kexts.EGPU_SUPPORT):
        problem = boot.web_rule_problem(entry, st)
    else:
        problem = boot.load_problem(entry, st)
    if problem is None:
        return None
    return problem, EX_SYSTEM_POLICY if problem == boot.consent_problem(entry, st) else EX_OSERR


def _load(sim: Sim, kext: kexts.KextInfo) -> tuple[str, int] | None:
    """Add the kext to the loaded list unless a rule refuses it; returns the refusal and its exit code."""
    with sim.machine.edit() as st:
        if any(k.bundle_id == kext.bundle_id for k in st.kexts):
            return None
        refusal = runtime_problem(kext, st)
        if refusal:
            return refusal
        last = st.kexts[-1] if st.kexts else None
        address = (last.address + last.size) if last and last.address else boot.ADDRESS_BASE
        st.kexts.append(
            LoadedKext(
                bundle_id=kext.bundle_id,
                version=kext.version,
                path=kext.path,
                index=(last.index + 1) if last else 1,
                address=address,
                size=0x4000,
                uuid=boot._kextstat_rows([(kext.bundle_id, kext.version, kext.path)])[0].uuid,
                linked=[1, 3, 4],
            )
        )
    return None


def kextload(argv: list[str], sim: Sim) -> int:
    """Imitates kextload(8) of 10.13 (kext_tools-502 kextload_main.c; exit codes in macos-commands.md).

    Not root: `You must be running as root to load kexts.`, exit 77. Unknown path: `Can't create <path>.` and
    exit 71. A third-party kext whose team the user has not allowed while kext signing is on (User-Approved Kernel
    Extension Loading, TN2459; transcripts of 10.13 kextload in public issues, e.g. GlobalProtect on 10.13.3):
    `<path> failed to load - (libkern/kext) system policy prevents loading; check the system/kernel logs for errors
    or try kextutil(8).`, exit 27. A kext the other boot rules refuse (kext signing on and a broken seal;
    NVDAStartupWeb without nvda_drv=1 or with another NVDARequiredOS): the same line with `not loadable (reason
    unspecified)` (public transcripts of unsigned kexts under SIP), exit 71. Loaded or already loaded: silent,
    exit 0. `-b ID` loads an installed kext by bundle id. Divergences: the approval alert is not shown; the NVIDIA
    rules' refusal text is unconfirmed (on a Mac the driver's own start routine declines); a web driver loaded at
    run time shows in kextstat but does not take the GPU (that needs a reboot, as the roles do).
    """
    sim.require_root("You must be running as root to load kexts.", EX_NOPERM)
    targets: list[tuple[str, kexts.KextInfo | None]] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-b", "-bundle-identifier"):
            if i + 1 >= len(argv):
                sim.fail("kextload: option requires an argument -- b", EX_USAGE)
            bid = argv[i + 1]
            found = [k for k in kexts.installed_kexts(sim.machine.root) if k.bundle_id == bid]
            targets.append((bid, found[0] if found else None))
            i += 1
        elif arg in ("-q", "-quiet", "-v", "-verbose"):
            pass
        elif arg.startswith("-"):
            sim.fail(f"kextload: unrecognized option `{arg}'", EX_USAGE)
        else:
            targets.append(_bundle_from_arg(sim, arg))
        i += 1
    if not targets:
        sim.fail(
            "No kernel extensions specified; name kernel extension bundles\n    following options, or use -b.", EX_USAGE
        )
    code = 0
    for name, kext in targets:
        if kext is None:
            sim.err(f"Can't create {name}.")
            code = EX_OSERR
            continue
        refusal = _load(sim, kext)
        if refusal:
            reason = SYSTEM_POLICY if refusal[1] == EX_SYSTEM_POLICY else NOT_LOADABLE
            sim.err(f"{name} {LOAD_FAILED.format(reason=reason)}")
            code = refusal[1]
    return code


def kextunload(argv: list[str], sim: Sim) -> int:
    """Imitates kextunload(8) (kext_tools kextunload_main.c): root only (`You must be running as root to unload
    kexts, terminate services, or remove driver personalities.`, exit 77); `-b ID` or a path; removes the kext from
    the loaded list. Divergence: no retain counts, so an unload never fails for being in use.
    """
    sim.require_root(
        "You must be running as root to unload kexts, terminate services, or remove driver personalities.", EX_NOPERM
    )
    ids = []
    i = 0
    while i < len(argv):
        if argv[i] in ("-b", "-bundle-identifier") and i + 1 < len(argv):
            ids.append(argv[i + 1])
            i += 1
        elif not argv[i].startswith("-"):
            _path, kext = _bundle_from_arg(sim, argv[i])
            if kext is None:
                sim.fail(f"Can't create {argv[i]}.", 3)
            ids.append(kext.bundle_id)
        i += 1
    if not ids:
        sim.fail("No kernel extensions specified.", EX_USAGE)
    with sim.machine.edit() as st:
        st.kexts = [k for k in st.kexts if k.bundle_id not in ids]
    return 0


def kextutil(argv: list[str], sim: Sim) -> int:
    """Imitates kextutil(8) of 10.13 (kext_tools-502 kextutil_main.c; exit codes in macos-commands.md:
    0 ok, 1 not found, 4 kext bad, 6 load failed, 27 system policy).

    `-n` (no load), `-t` (print diagnostics), `-q`; loading needs root (`You must be running as root to load
    kexts.`, exit 77). A broken seal while kext signing is on prints the diagnostics block
    `Diagnostics for <path>:` / `Authentication Failures:` / `\\tCode Signing Failure: <reason>` and
    `Untrusted kexts are not allowed`, exit 4. Load refused for want of user approval: the system policy line,
    exit 27; refused by the NVIDIA rules: exit 6.
    Divergence: validation and dependency checks are not imitated.
    """
    no_load = False
    paths = []
    for arg in argv:
        if arg in ("-n", "-no-load"):
            no_load = True
        elif arg in ("-t", "-print-diagnostics", "-q", "-quiet", "-v", "-verbose"):
            pass
        elif arg.startswith("-"):
            sim.fail(f"kextutil: unrecognized option `{arg}'", EX_USAGE)
        else:
            paths.append(arg)
    if not paths:
        sim.fail(
            "No kernel extensions specified; name kernel extension bundles\n"
            "    following options, or use -bundle-id (-b).",
            EX_USAGE,
        )
    if not no_load:
        sim.require_root("You must be running as root to load kexts.", EX_NOPERM)
    st = sim.machine.read()
    for arg in paths:
        name, kext = _bundle_from_arg(sim, arg)
        if kext is None:
            sim.fail(f"Can't create {name}.", KEXTUTIL_NOT_FOUND)
        if st.kext_signing and not kext.seal_intact:
            sim.err(f"Diagnostics for {name}:")
            sim.err("Authentication Failures:")
            sim.err(f"\tCode Signing Failure: {kext.seal_problem}")
            sim.err("Untrusted kexts are not allowed")
            sim.fail(f"{name} failed security checks; failing.", KEXTUTIL_KEXT_BAD)
        if no_load:
            continue
        refusal = _load(sim, kext)
        if refusal and refusal[1] == EX_SYSTEM_POLICY:
            sim.fail(f"{name} {LOAD_FAILED.format(reason=SYSTEM_POLICY)}", EX_SYSTEM_POLICY)
        if refusal:
            sim.fail(
                f"{name} failed to load - (libkern/kext) kext (kmod) start/stop routine failed; {refusal[0]}.",
                KEXTUTIL_LOAD_FAILED,
            )
    return 0


def kextcache(argv: list[str], sim: Sim) -> int:
    """Imitates kextcache(8) of 10.13 (kext_tools-502 kextcache_main.c; macos-commands.md).

    `-i /` (`-invalidate`), `-u /` (`-update-volume`), `-system-caches`, `-system-prelinked-kernel`: root only
    (not root: `You must be running as root to update the kext caches.`, exit 77; the exact text is unconfirmed,
    modelled on kextunload's), rebuild the stand-in prelinked kernel (boot.rebuild_cache) and log
    `rebuilding //System/Library/PrelinkedKernels/prelinkedkernel` on stderr unless `-q`. A kext with a broken
    seal is recorded as such and refused at boot while kext signing is on (divergence: the real tool logs it, in
    words no source confirmed, so nothing is printed). `-clear-staging`: nothing to do, exit 0. Other forms: usage,
    exit 64.
    """
    quiet = "-q" in argv or "-quiet" in argv
    args = [a for a in argv if a not in ("-q", "-quiet", "-v", "-verbose", "-f", "-force")]
    forms = {"-i", "-invalidate", "-u", "-update-volume", "-system-caches", "-system-prelinked-kernel",
             "-prelinked-kernel", "-clear-staging"}  # fmt: skip
    if not args or args[0] not in forms:
        sim.fail(
            "usage: kextcache -i | -u | -system-caches | -system-prelinked-kernel | -clear-staging [-q] [/]", EX_USAGE
        )
    if args[0] in ("-i", "-invalidate", "-u", "-update-volume") and (len(args) < 2 or args[1] != "/"):
        sim.fail(f"kextcache: {args[0]} needs a volume; only / is imitated", EX_USAGE)
    sim.require_root("You must be running as root to update the kext caches.", EX_NOPERM)
    if args[0] == "-clear-staging":
        return 0
    boot.rebuild_cache(sim.machine)
    if not quiet:
        sim.err(f"rebuilding /{boot.PRELINKED_KERNEL}")
    return 0
