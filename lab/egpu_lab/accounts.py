"""The admin account's password and sudo policy of a rehearsal Mac.

On a Mac the first admin user's password is one secret with three uses: logging in, `sudo` (unless sudoers says
NOPASSWD) and, on a FileVault Mac, unlocking the disk at the pre-boot screen and answering `fdesetup authrestart`
(FileVault-enabled users unlock with their login password: Apple's fdesetup(8)). A rehearsal Mac keeps that password
only as a salted PBKDF2-SHA256 hash in its machine state (`MachineState.admin_password`), the way macOS keeps a
salted PBKDF2 hash (ShadowHashData) rather than the password; the lab never writes the password itself anywhere.

sudoers: macOS 10.13's /etc/sudoers lets group admin run anything after typing the account password
(`%admin ALL = (ALL) ALL`); a lab Mac made for unattended runs has `NOPASSWD:` in that rule instead
(`egpu-setup lab up` without `--sudo-password`). `/private/etc/sudoers` in the host tree holds the rule and the
`sudo` stand-in reads it (`admin_needs_password`).

Only the standard library: the `sudo` and `fdesetup` shims import this inside the sandbox.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

SUDOERS = "/private/etc/sudoers"
HASH_SCHEME = "pbkdf2_sha256"
HASH_ROUNDS = 20_000  # about 10 ms: every sudo that asks for the password checks it once

SUDOERS_HEADER = """#
# Sudoers file of a rehearsal Mac (egpu-setup lab). On macOS 10.13 it holds, among defaults not imitated here:
#
"""
ROOT_RULE = "root\tALL = (ALL) ALL\n"
ADMIN_RULE = "%admin\tALL = (ALL) ALL\n"
ADMIN_RULE_NOPASSWD = "%admin\tALL = (ALL) NOPASSWD: ALL\n"


def hash_password(password: str, salt: bytes | None = None, rounds: int = HASH_ROUNDS) -> str:
    """`pbkdf2_sha256$<rounds>$<salt hex>$<digest hex>` of a password."""
    salt = os.urandom(16) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, rounds)
    return f"{HASH_SCHEME}${rounds}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str | None) -> bool:
    """Whether `password` is the one `stored` (a hash_password value) was made from; False without a stored one."""
    if not stored:
        return False
    try:
        scheme, rounds, salt, digest = stored.split("$")
        if scheme != HASH_SCHEME:
            return False
        candidate = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), bytes.fromhex(salt), int(rounds))
    except ValueError:
        return False
    return hmac.compare_digest(candidate.hex(), digest)


def sudoers_text(nopasswd: bool) -> str:
    """/etc/sudoers of a lab Mac: macOS's admin rule, with NOPASSWD for an unattended lab."""
    return SUDOERS_HEADER + ROOT_RULE + (ADMIN_RULE_NOPASSWD if nopasswd else ADMIN_RULE)


def write_sudoers(root: Path, nopasswd: bool) -> None:
    path = root / SUDOERS.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(sudoers_text(nopasswd))
    path.chmod(0o440)


def admin_needs_password(sudoers: str) -> bool:
    """Whether the rules of a sudoers text make group admin type its password: the `%admin` rule lacks NOPASSWD.

    Only the rule forms this module writes are understood; anything else (no admin rule, an unreadable file) counts
    as asking for the password, which is macOS's default and the stricter answer.
    """
    for line in sudoers.splitlines():
        rule = line.split("#", 1)[0].strip()
        if rule.startswith("%admin") and "NOPASSWD:" in rule:
            return False
    return True
