"""The artifact cache on the controller: content-addressed store, resuming downloader, lock file.

from egpu_setup.cache import Cache, Lock
lock = Lock.load(inventory_dir / "egpu-setup.lock")
path = Cache().ensure(plan.artifacts["cuda_toolkit"], lock=lock, mirror=None)   # -> <cache>/sha256/<hex>
lock.save()
"""

from __future__ import annotations

from egpu_setup.cache.lock import Lock, LockConflict, LockEntry
from egpu_setup.cache.store import Cache, CacheEntry, ManualDownloadNeeded, sha256_of
from egpu_setup.paths import DEFAULT_LOCK_NAME

__all__ = [
    "DEFAULT_LOCK_NAME",
    "Cache",
    "CacheEntry",
    "Lock",
    "LockConflict",
    "LockEntry",
    "ManualDownloadNeeded",
    "sha256_of",
]
