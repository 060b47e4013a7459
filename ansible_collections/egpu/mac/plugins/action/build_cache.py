"""egpu.mac.build_cache: a build's key, and its archive brought to and found in the controller cache.

Controller-side. The key is egpu_setup.builds.archive.build_key, the archive's checks archive.read_manifest: the
same code the Mac's build_archive module packs and unpacks with.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleError

from ansible_collections.egpu.mac.plugins.module_utils import transfers
from ansible_collections.egpu.mac.plugins.module_utils.target_shell import TargetCommandError
from ansible_collections.egpu.mac.plugins.module_utils.uploads import remote_sha256, target_name
from ansible_collections.egpu.mac.plugins.plugin_utils.mac_action import ActionFailed, MacAction
from egpu_setup.runner.failure_kinds import failure


class ActionModule(MacAction):
    # A damaged lock file or cache index is bad input (2), as wherever else they are met.
    INPUT_CHECK = True

    def act(self, result: dict[str, Any], args: dict[str, Any], task_vars: dict[str, Any]) -> None:
        from egpu_setup.builds.archive import build_key
        from egpu_setup.builds.artifact import build_artifact
        from egpu_setup.cache.lock import Lock
        from egpu_setup.cache.store import Cache

        key = build_key(args["name"], args["version"], args["inputs"])
        artifact = build_artifact(args["name"], args["version"], key)
        cache = Cache(args["cache_dir"]) if args["cache_dir"] else Cache()
        lock = Lock.load(args["lock_file"]) if args["lock_file"] else None
        result.update(changed=False, key=key, filename=artifact.filename, archive=_found(cache, lock, artifact))
        if args["state"] == "fetched" and result["archive"] is None:
            result["changed"] = True
            if not self.check_mode:
                result["archive"] = self._fetch(args, key, artifact, cache, lock)

    def _fetch(self, args: dict[str, Any], key: str, artifact: Any, cache: Any, lock: Any) -> dict[str, Any]:
        """The Mac's archive copied into the cache's partial/ dir, checked (digest, manifest), stored, recorded."""
        from egpu_setup.builds.archive import read_manifest
        from egpu_setup.cache.store import sha256_of

        src, want = args["src"], (args["sha256"] or "").lower()
        if not src or not want:
            raise ActionFailed("state=fetched needs src and sha256 (what egpu.mac.build_archive packed)")
        cache.partial.mkdir(parents=True, exist_ok=True)
        local = cache.partial / f"{artifact.filename}.{secrets.token_hex(4)}"
        host = target_name(self)
        try:
            try:
                transfers.fetch(self, src, local)  # counted in the run report as received from this Mac
            except AnsibleError as exc:
                raise failure("transfer", artifact=artifact.filename, host=host, detail=str(exc).strip()) from exc
            got = sha256_of(local)
            if got != want:
                theirs = remote_sha256(self, src)
                raise TargetCommandError(
                    f"the archive {src} came from {host} with SHA-256 {got}, but {host} packed {want} (it holds "
                    f"{theirs or 'nothing'} now): the copy was damaged; run again",
                    f"fetch {src}",
                    1,
                )
            read_manifest(local, key)
            stored = cache.add_file(local, artifact, got)
        finally:
            local.unlink(missing_ok=True)
        if lock is not None:
            lock.record_build(artifact, got, stored.stat().st_size, host)
            if lock.changed:
                lock.save()
        return _found(cache, lock, artifact) or _entry(stored, got, host)


def _found(cache: Any, lock: Any, artifact: Any) -> dict[str, Any] | None:
    """The cached archive of the key: the one the lock records (a file with another digest is not it), or without a
    lock file the cache's one copy."""
    entry = lock.get(artifact) if lock is not None else None
    if lock is not None and entry is None:
        return None  # maybe cached by another lab, but never recorded in this one's lock: this lab builds its own
    path = cache.find(artifact, lock)
    return None if path is None else _entry(path, path.name, entry.built_on if entry else None)


def _entry(path: Path, sha256: str, built_on: str | None) -> dict[str, Any]:
    return {"path": str(path), "sha256": sha256, "size": path.stat().st_size, "built_on": built_on}
