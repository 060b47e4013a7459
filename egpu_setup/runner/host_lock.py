"""One run at a time per Mac on this controller: an fcntl lock per target host, taken for the hosts a run targets
(after --limit) before anything of the run is written or started, and held to its end.

The kernel releases an fcntl lock when its process dies, so a lock on the controller is never stale. A host is keyed
by what it is, not by what an inventory calls it: its rehearsal directory, else connection, address and port, so
two inventories naming one Mac share its lock. Runs from two controllers meet at the Mac's own lock instead
(egpu.mac.run_lock). Each lock file holds a note of its holder (JSON) for the message of whoever finds it busy.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from egpu_setup import paths
from egpu_setup.errors import EgpuError, ExitCode
from egpu_setup.files import LockHeld, exclusive

WAIT_FOREVER = float("inf")


def host_keys(inventory: Path, limit: str | None) -> dict[str, str]:
    """{host name: its identity} for the hosts `inventory` and `limit` select, read with Ansible's inventory."""
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.vars.manager import VariableManager

    loader = DataLoader()
    manager = InventoryManager(loader=loader, sources=[str(inventory)])
    variables = VariableManager(loader=loader, inventory=manager)
    keys = {}
    for host in manager.list_hosts(limit or "all"):
        hv = variables.get_vars(host=host, include_hostvars=False)
        rehearsal = hv.get("egpu_rehearsal_host_dir")
        if rehearsal:
            keys[host.name] = f"rehearsal:{Path(str(rehearsal)).expanduser().resolve()}"
        else:
            address = hv.get("ansible_host") or host.name
            keys[host.name] = f"{hv.get('ansible_connection') or 'ssh'}:{address}:{hv.get('ansible_port') or ''}"
    return keys


def lock_path(key: str) -> Path:
    """One file per Mac, named after its identity (readable part and digest), whatever the inventory calls it."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", key.rpartition("/")[2] if key.startswith("rehearsal:") else key)[:40]
    return paths.locks_dir() / f"{slug}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.lock"


def holder_text(path: Path) -> str:
    """`provision (pid 123, since 2026-12-05 13:02:07 UTC, run 2026...-provision)` from the lock's note."""
    try:
        note = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        note = {}
    return (
        f"{note.get('command', 'a run')} (pid {note.get('pid', '?')}, since {note.get('since', '?')}, "
        f"run {note.get('run_id', '?')})"
    )


@contextlib.contextmanager
def hold_hosts(
    inventory: Path,
    limit: str | None,
    note: dict[str, Any],
    wait_s: float | None,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[Callable[..., None]]:
    """The controller's lock of every targeted host for the block, taken in one order (two waiting runs cannot
    deadlock). `wait_s` None: a busy host is refused at once (EgpuError, exit 4); a number waits that long
    (WAIT_FOREVER: as long as it takes), telling `on_wait` once per busy host. The block gets `tell(**fields)`,
    which adds to the note every lock holds (the run id, once the run has one)."""
    keys = host_keys(inventory, limit)
    paths.locks_dir().mkdir(parents=True, exist_ok=True)
    entry = {**note, "pid": os.getpid(), "since": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")}
    deadline = None if wait_s is None else time.monotonic() + wait_s
    held: list[tuple[IO[str], dict[str, Any]]] = []
    with contextlib.ExitStack() as stack:
        for name, key in sorted(keys.items(), key=lambda item: item[1]):
            if any(key == other for other_name, other in keys.items() if other_name < name):
                continue  # two names of one Mac in this run: one lock
            path = lock_path(key)
            held.append((_take(stack, name, path, deadline, on_wait), {**entry, "host": name, "key": key}))

        def tell(**fields: Any) -> None:
            for handle, note_of_host in held:
                note_of_host.update(fields)
                handle.seek(0)
                handle.truncate()
                handle.write(json.dumps(note_of_host))
                handle.flush()

        tell()
        yield tell


def _take(
    stack: contextlib.ExitStack, name: str, path: Path, deadline: float | None, on_wait: Callable[[str], None] | None
) -> IO[str]:
    """`path`'s lock entered on `stack`, at once or (with a deadline) after waiting; EgpuError (exit 4) if not."""
    try:
        return stack.enter_context(exclusive(path, wait_s=0))
    except LockHeld:
        held_by = holder_text(path)
    if deadline is None:
        raise EgpuError(
            f"{name} is busy: another run on this controller holds it: {held_by}",
            fix="wait for that run to end, or run again with --wait [SECONDS] to wait for it",
            exit_code=ExitCode.BUSY,
        )
    if on_wait is not None:
        on_wait(f"waiting for {name}: another run on this controller holds it: {held_by}")
    remaining = deadline - time.monotonic()
    try:
        return stack.enter_context(exclusive(path, wait_s=None if remaining == WAIT_FOREVER else max(remaining, 0.0)))
    except LockHeld:
        raise EgpuError(
            f"{name} is still busy after waiting: another run on this controller holds it: {holder_text(path)}",
            fix="wait longer (--wait with more seconds, or --wait alone to wait as long as it takes)",
            exit_code=ExitCode.BUSY,
        ) from None
