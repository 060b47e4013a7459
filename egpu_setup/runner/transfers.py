"""Bytes that crossed the connection to and from each Mac, as the collection's action plugins count them.

A plugin that copies a file to a Mac (egpu.mac's uploads.upload) or brings one back (transfers.fetch) lists it in
its task result: `egpu_sent` / `egpu_received`, each `[{"name": <file name>, "bytes": <size>}]`. A file the Mac
already held with the right SHA-256 is not copied, so it is not listed. Ansible's own module transfers (the
Python it copies for a module run on the Mac) are not counted. The run state sums the lists per host and name.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

SENT = "egpu_sent"  # controller -> Mac
RECEIVED = "egpu_received"  # Mac -> controller


def listed(res: dict[str, Any], key: str) -> Iterator[tuple[str, int]]:
    """(name, bytes) of every transfer one task result lists under `key`, its loop items' included; entries that
    are not of that shape are passed over (a result is data from a plugin, not trusted to be well formed)."""
    items = [res, *(item for item in res.get("results") or [] if isinstance(item, dict))]
    for item in items:
        for entry in item.get(key) or []:
            if isinstance(entry, dict) and isinstance(entry.get("bytes"), int) and entry["bytes"] >= 0:
                yield str(entry.get("name") or "?"), entry["bytes"]


def add_up(counts: dict[str, int], res: dict[str, Any], key: str) -> None:
    """Adds the transfers `res` lists under `key` to `counts` (name -> bytes)."""
    for name, size in listed(res, key):
        counts[name] = counts.get(name, 0) + size
