"""Controller-side: copy a controller file to the target through the connection and check its SHA-256 there.

Uses only the connection's put_file and `shasum -a 256` (Perl's, present on every macOS), so it works before the
target has a Python 3. The upload lands in a private directory under /tmp first (put_file runs as the connection
user), then moves into place with become.
"""

from __future__ import annotations

import posixpath
import secrets
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleError

from ansible_collections.egpu.mac.plugins.module_utils.target_shell import TargetCommandError, quote, run
from ansible_collections.egpu.mac.plugins.module_utils.transfers import SENT, note

# Controller side: the cache's own digest function, so a file hashes here exactly as `egpu-setup cache` hashed it.
from egpu_setup.cache.store import sha256_of
from egpu_setup.runner.failure_kinds import KindFailure, failure


def checked_sha256(src: Path, sha256: str | None) -> str:
    """The SHA-256 of the controller file `src`, which must be `sha256` when that is given.

    A cache entry whose bytes no longer match its digest (a disk error, a hand-edited file) is refused before
    anything is copied, with the way to replace it. Raises TargetCommandError, the one error the plugins catch.
    """
    got = sha256_of(src)
    if sha256 and sha256.lower() != got:
        raise TargetCommandError(
            f"{src} has SHA-256 {got}, expected {sha256.lower()}: the controller's cached copy is damaged. "
            "Delete it and fetch it again (`egpu-setup cache fetch`, or `egpu-setup cache add FILE` for an installer "
            "behind a login), then run again; `egpu-setup cache verify` lists every damaged file in the cache.",
            f"sha256 {src}",
            1,
        )
    return got


def _sha256_command(path: str) -> str:
    """sh that prints the SHA-256 of the file `path` (and its name), or fails when there is no such file."""
    return f"[ -f {quote(path)} ] && sha256sum_of {quote(path)}"


def _digest_in(out: str) -> str | None:
    return out.split()[0].lower() if out.strip() else None


def remote_sha256(action: Any, path: str) -> str | None:
    rc, out, _ = run(action, _sha256_command(path), check_rc=False)
    return _digest_in(out) if rc == 0 else None


def upload(
    action: Any, src: Path, dest: str, sha256: str | None = None, mode: str = "0644", *, differs: bool = False
) -> bool:
    """Ensure `dest` on the target holds the bytes of `src`; returns True when it copied.

    A copy is counted for the run report (transfers.note: the file's name on the Mac and its size); a Mac that holds
    the right digest is sent nothing. `differs`: the caller has just read `dest`'s digest on the Mac and it is not
    `sha256`, so it is not read again. Raises TargetCommandError when the copy on the target does not hash to the
    expected digest.

    Round trips: the digest (unless `differs`), the staging directory (as the connection user, who writes into it),
    the copy, then one command with become that moves the file into place, removes the staging directory and hashes
    the result.
    """
    want = (sha256 or sha256_of(src)).lower()
    if not differs and remote_sha256(action, dest) == want:
        return False
    staging = f"/tmp/egpu-upload-{secrets.token_hex(6)}"
    run(action, f"umask 077; mkdir -p {quote(staging)}", what="staging upload", sudoable=False)
    staged = posixpath.join(staging, posixpath.basename(dest))
    placed = False
    try:
        try:
            action._connection.put_file(str(src), staged)
        except AnsibleError as exc:  # the connection broke, or the Mac's disk is full: say which
            name, detail = posixpath.basename(dest), str(exc).strip()
            raise space_or(
                action,
                name,
                src.stat().st_size,
                lambda: failure("transfer", artifact=name, host=target_name(action), detail=detail),
            ) from exc
        note(action, SENT, posixpath.basename(dest), src.stat().st_size)
        _, out, _ = run(
            action,
            f"mkdir -p {quote(posixpath.dirname(dest))} && mv -f {quote(staged)} {quote(dest)} && "
            f"chmod {mode} {quote(dest)}; placed=$?; rm -rf {quote(staging)}; [ $placed -eq 0 ] || exit $placed; "
            + _sha256_command(dest),
            what=f"placing {dest}",
        )
        placed = True
    finally:
        if not placed:  # the copy or the move failed: the staging directory may still be there
            run(action, f"rm -rf {quote(staging)}", check_rc=False, sudoable=False)
    got = _digest_in(out)
    if got != want:
        raise TargetCommandError(
            f"{dest} on the target has SHA-256 {got}, expected {want}: the copy was damaged; run again",
            f"shasum -a 256 {dest}",
            1,
        )
    return True


def target_name(action: Any) -> str:
    """The Mac as the inventory names it."""
    return str((getattr(action, "task_vars", None) or {}).get("inventory_hostname") or action._play_context.remote_addr)


def free_bytes(action: Any, path: str = "/") -> int | None:
    """Free bytes on the volume of `path` (`df -k`: Available is the fourth column); None when it cannot be read
    (the Mac no longer answers)."""
    try:
        rc, out, _ = run(action, f"df -k {quote(path)}", check_rc=False, sudoable=False)
    except AnsibleError:
        return None
    lines = out.strip().splitlines()
    fields = lines[-1].split() if rc == 0 and len(lines) > 1 else []
    return int(fields[3]) * 1024 if len(fields) > 3 and fields[3].isdigit() else None


def space_or(action: Any, what: str, need: int, otherwise: Any) -> KindFailure:
    """After a write failed on the Mac: the full disk when its free space is below `need`, else `otherwise()`."""
    free = free_bytes(action)
    if free is not None and free < need:
        return failure("disk_full", host=target_name(action), free=free, what=what, need=need)
    return otherwise()
