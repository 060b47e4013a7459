"""egpu.mac.resolve_plan: the host's plan from the compatibility matrix, with every artifact in the controller cache.

Controller-side: imports egpu_setup.matrix and egpu_setup.cache (the same code `egpu-setup matrix` and
`egpu-setup cache fetch` use), resolves the host's build and GPU against the profile, makes sure each artifact is in
the cache with its SHA-256 checked (downloading from the mirror, a per-artifact URL or the matrix's URL), records
digests in the lock file, and returns the plan as the `egpu_plan` fact with each artifact's `local_path` and
`local_sha256` (the SHA-256 the cache checked and names the file by: for artifacts whose publisher gives no SHA-256,
the one the roles hand to the upload check).
A refusal of the resolver (not 10.13, a build outside the profile, an impossible pairing) fails the task with the
resolver's message and its remedy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ansible_collections.egpu.mac.plugins.plugin_utils.mac_action import MacAction


def resolve_and_fetch(args: dict[str, Any]) -> dict[str, Any]:
    """The plan dict (docs/architecture.md, Resolution) plus `local_path` per fetched artifact. Raises EgpuError."""
    from egpu_setup.cache import Cache, Lock
    from egpu_setup.matrix import load_matrix

    matrix = load_matrix(overlay=Path(args["overlay"]) if args["overlay"] else None)
    gpu = args["gpu"]
    if isinstance(gpu, str) and gpu.lower().startswith("0x"):
        gpu = int(gpu, 16)
    resolution = matrix.resolve(args["build"], profile=args["profile"], gpu=gpu, allow_nearest=args["allow_nearest"])
    plan = resolution.to_dict()
    cache = Cache(args["cache_dir"]) if args["cache_dir"] else Cache()
    lock = Lock.load(args["lock_file"]) if args["lock_file"] else None
    wanted = args["fetch"]
    try:
        for artifact_id, artifact in resolution.artifacts.items():
            if artifact is None or (wanted is not None and artifact_id not in wanted):
                continue
            path = cache.ensure(artifact, lock=lock, mirror=args["mirror_url"], url=args["urls"].get(artifact_id))
            plan["artifacts"][artifact_id]["local_path"] = str(path)
            plan["artifacts"][artifact_id]["local_sha256"] = path.name  # the store names files by their SHA-256
    finally:
        if lock is not None and lock.changed:
            lock.save()  # as `cache fetch` does: what was verified stays pinned even when a later artifact fails
    return plan


class ActionModule(MacAction):
    def act(self, result: dict[str, Any], args: dict[str, Any], task_vars: dict[str, Any]) -> None:
        plan = resolve_and_fetch(args)  # an EgpuError fails the task with the resolver's message and remedy
        result.update(changed=False, ansible_facts={"egpu_plan": plan}, plan=plan)
        for warning in plan.get("warnings") or []:
            self._display.warning(str(warning))
