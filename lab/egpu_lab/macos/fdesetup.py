"""fdesetup: FileVault's status and the authenticated restart (`MachineState.filevault`, boot.py's unlock screen)."""

from __future__ import annotations

import os
import plistlib
import sys
import uuid

from egpu_lab.macos.base import Sim

EXECUTABLES = {"/usr/bin/fdesetup": "fdesetup"}

# What fdesetup prints (sources in the handler's docstring; lab/egpu_lab/facts/filevault.yaml).
STATUS_ON = "FileVault is On."
STATUS_OFF = "FileVault is Off."
PROMPT_USER = "Enter the user name:"
PROMPT_PASSWORD = "Enter a password for '/', or the recovery key:"
UNLOCK_FAILED = "Error: Unable to unlock FileVault."
RESTARTING = "System is being restarted"
# Texts no public source showed: the stand-in fails there, with a line of its own.
NOT_ROOT = "Error: This command requires root access."
NOT_ON = "Error: FileVault is Off."
NO_SUPPORT = "Error: This system does not support authenticated restart."
BAD_PLIST = "Error: Unable to read the input plist."
NO_PASSWORD = "Error: Unable to get the password (no terminal to ask on)."
USAGE = """Usage: fdesetup <verb> <options>
  verbs imitated on a rehearsal Mac: status, isactive, supportsauthrestart, list, authrestart"""


def fdesetup(argv: list[str], sim: Sim) -> int:
    """Imitates fdesetup(8) of macOS 10.13 for the verbs a provisioning run needs.

    Sources: Apple's fdesetup(8) (copies at keith.github.io/xcode-man-pages/fdesetup.8.html and
    unix.com/man-page/mojave/8/fdesetup; the 10.12 synopsis `authrestart [-inputplist] [-delayminutes
    number_of_minutes_to_delay] [-verbose]` quoted in gist rtrouton/931fd9b2: "If FileVault is enabled on the current
    volume, it restarts the system, bypassing the initial unlock ... A value of 0 represents 'immediately', and a
    value of -1 represents 'never'"; stdin data for -inputplist is a plist whose Password key is a FileVault user's
    password or the recovery key, the Username key being ignored for commands other than enable; "If a password is
    not in the property list, fdesetup will prompt the user for it"); munki/munki:code/client/munkilib/authrestart/
    __init__.py@83accce (`isactive` prints true/false and fails when off, `supportsauthrestart` prints true/false,
    `list` prints `user,UUID` lines, `authrestart -delayminutes N -inputplist` with {Password[, Username]} on stdin,
    "System is being restarted" on stderr when it restarts); status texts `FileVault is On.`/`FileVault is Off.`
    and a second line while converting (`Encryption in progress: Percent completed = N`; TheJumpCloud/support
    scripts/macos/fvsetup.sh, JAMF extension attributes); the 10.13 prompts `Enter the user name:` and `Enter a
    password for '/', or the recovery key:` (expect scripts that drive fdesetup on build 17); a wrong password:
    `Error: Unable to unlock FileVault.` (a JAMF key-refresh script expecting it from fdesetup).

    Divergences: the texts for running without root, with FileVault off, without authrestart support and for a
    plist it cannot read are the stand-in's own (unconfirmed), each exit 1 like the wrong password (exit codes
    unconfirmed); interactive prompts read /dev/tty, which no rehearsal command has (fails, as an unattended
    authrestart without -inputplist cannot succeed on a Mac either); recovery keys are not imitated; a delay of N > 0
    minutes is refused (a Mac restarts after N minutes); enable, disable, add, remove, changerecovery and the other
    verbs are not imitated.
    """
    if not argv:
        sim.fail(USAGE, 1)
    verb, options = argv[0], argv[1:]
    state = sim.machine.read()
    fv = state.filevault
    if verb == "status":
        sim.out(STATUS_ON if fv.on else STATUS_OFF)
        if fv.conversion:
            sim.out(fv.conversion)
        return 0
    if verb == "isactive":
        sim.out("true" if fv.on else "false")
        return 0 if fv.on else 1
    if verb == "supportsauthrestart":
        sim.out("true" if fv.supports_authrestart else "false")
        return 0
    if verb == "list":
        sim.require_root(NOT_ROOT, 1)
        for user in fv.users if fv.on else []:
            sim.out(f"{user},{_user_uuid(state.hostname, user)}")
        return 0
    if verb == "authrestart":
        return _authrestart(options, sim)
    sim.fail(f"fdesetup: {verb!r} is not imitated on a rehearsal Mac\n{USAGE}", 1)


def _authrestart(options: list[str], sim: Sim) -> int:
    from egpu_lab import accounts, boot

    input_plist = False
    delay = 0
    i = 0
    while i < len(options):
        option = options[i]
        if option == "-inputplist":
            input_plist = True
        elif option == "-verbose":
            pass
        elif option == "-delayminutes" and i + 1 < len(options):
            try:
                delay = int(options[i + 1])
            except ValueError:
                sim.fail(f"Error: -delayminutes needs a number of minutes, not {options[i + 1]!r}.\n{USAGE}", 1)
            i += 1
        else:
            sim.fail(f"Error: unknown option {option!r} for authrestart.\n{USAGE}", 1)
        i += 1
    sim.require_root(NOT_ROOT, 1)
    state = sim.machine.read()
    if not state.filevault.on:
        sim.fail(NOT_ON, 1)
    if not state.filevault.supports_authrestart:
        sim.fail(NO_SUPPORT, 1)
    if delay > 0:
        sim.fail(f"fdesetup: a restart after {delay} minutes is not imitated on a rehearsal Mac (use 0 or -1)", 1)
    password = _password_from_plist(sim) if input_plist else None
    if password is None:
        password = _ask(sim)
    if not any(user == "admin" and accounts.check_password(password, state.admin_password)
               for user in state.filevault.users):  # fmt: skip
        sim.fail(UNLOCK_FAILED, 1)
    with sim.machine.edit() as st:
        st.filevault.authrestart_armed = True
    if delay == 0:
        sim.err(RESTARTING)
        sim.stdout.flush()
        sim.stderr.flush()
        boot.request_reboot(sim.machine)
    return 0


def _password_from_plist(sim: Sim) -> str | None:
    """The Password of the plist on stdin; None when it has none (fdesetup then asks)."""
    try:
        data = sys.stdin.buffer.read()
    except (OSError, ValueError):  # no stdin at all
        data = b""
    try:
        doc = plistlib.loads(data)
    except (plistlib.InvalidFileException, ValueError, TypeError):
        sim.fail(BAD_PLIST, 1)
    if not isinstance(doc, dict):
        sim.fail(BAD_PLIST, 1)
    password = doc.get("Password")
    return str(password) if isinstance(password, str) and password else None


def _ask(sim: Sim) -> str:
    """The 10.13 prompts, answered on the terminal (never on stdin): a command without one cannot answer them."""
    try:
        tty = os.open("/dev/tty", os.O_RDWR)
    except OSError:
        sim.err(PROMPT_USER)
        sim.fail(NO_PASSWORD, 1)
    with os.fdopen(tty, "r+b", buffering=0) as term:
        term.write(PROMPT_USER.encode() + b" ")
        term.readline()
        term.write(PROMPT_PASSWORD.encode() + b" ")
        return term.readline().rstrip(b"\r\n").decode("utf-8", "replace")


def _user_uuid(hostname: str, user: str) -> str:
    """The user's GeneratedUID as fdesetup list prints it: stable per host and user (made up)."""
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{user}.{hostname}.rehearsal")).upper()
