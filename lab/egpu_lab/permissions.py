"""Who may write where on a rehearsal Mac: the file ownership of a fresh 10.13 install and SIP's protected paths.

The sandbox runs every process with one Linux uid, so the kernel enforces neither macOS ownership nor SIP.
PlistBuddy, the imitated command the roles use to edit files in place, asks `write_refusal` before it saves, so
it refuses what a real Mac refuses. Plain Linux tools (cp, touch, rm, ...) and the other imitated commands are
not checked: docs/rehearsal.md lists that divergence.

Sources:
- ownership of a fresh install: /System, /Library, /usr, /bin, /sbin, /private/etc, /private/var/db are root:wheel
  and not writable by others; /private/tmp and /private/var/tmp are world-writable (sticky); /Applications is
  root:admin 775 and the first user is in group admin; a user's home is theirs (`ls -ld` transcripts of 10.13);
- SIP's filesystem protections: /System/Library/Sandbox/rootless.conf protects /System, /usr (but /usr/local),
  /bin and /sbin even from root (quoted in apple.stackexchange.com/questions/269813; Apple's "About System
  Integrity Protection on your Mac", HT204899); a write there fails with EPERM, "Operation not permitted".
Divergences: rootless.conf's finer exceptions (new files in /System/Library/Extensions, /System/Library/Caches)
are not modelled: everything under /System is protected; so is /System/Library/PrelinkedKernels, which only
kextcache (entitled on a Mac) writes here.
"""

from __future__ import annotations

import posixpath

from egpu_lab.layout import SIP_EXEMPT, SIP_PROTECTED
from egpu_lab.machine import MachineState

# macOS's top-level links into /private.
_PRIVATE_LINKS = {"/etc": "/private/etc", "/tmp": "/private/tmp", "/var": "/private/var"}
# Where the admin user (uid 501, groups staff and admin) may write on a fresh 10.13 install.
ADMIN_WRITABLE = ("/Users/admin", "/private/tmp", "/private/var/tmp", "/private/var/folders", "/Applications")
# What SIP's filesystem protections keep even root from writing (rootless.conf).

PERMISSION_DENIED = "Permission denied"
NOT_PERMITTED = "Operation not permitted"


def mac_path(path: str, cwd: str = "/") -> str:
    """An absolute, normalised Mac path with /etc, /tmp and /var resolved into /private."""
    full = posixpath.normpath(posixpath.join(cwd, path))
    for link, target in _PRIVATE_LINKS.items():
        if full == link or full.startswith(link + "/"):
            return target + full[len(link) :]
    return full


def _under(path: str, tops: tuple[str, ...]) -> bool:
    return any(path == top or path.startswith(top + "/") for top in tops)


def write_refusal(path: str, user: str, state: MachineState, cwd: str = "/") -> str | None:
    """None when `user` may write `path` (create or change it), else the errno text a Mac would give."""
    full = mac_path(path, cwd)
    if user != "root" and not _under(full, ADMIN_WRITABLE):
        return PERMISSION_DENIED  # the file's own permissions refuse first
    if state.sip.get("Filesystem Protections", True) and _under(full, SIP_PROTECTED) and not _under(full, SIP_EXEMPT):
        return NOT_PERMITTED
    return None
