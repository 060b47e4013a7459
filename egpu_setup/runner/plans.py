"""Every host's plan, resolved once on the controller before the play: the matrix loaded once, each distinct
(build, profile, GPU, ...) resolved once, each artifact fetched once (with the cache's progress bars), each lock
file written once (atomically, under its file lock). The play's `egpu.mac.resolve_plan` only reads the result.

`plan` (check mode) downloads nothing and writes no lock file: it needs every artifact of the plan in the cache
already (what `egpu-setup cache fetch` puts there), since its diffs are read from the installers; a missing one
is refused, naming each and the command that fetches them.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from egpu_setup.errors import EgpuError

PLANS_FILE = "plans.json"  # in the run directory; extravar egpu_plans_file names it
# The inventory variable behind each plan input that names a path the controller writes (preflight's defaults).
INVENTORY_NAMES = {"cache_dir": "egpu_cache_dir", "lock_file": "egpu_lock_file"}


def written_path(variable: str, given: str, expanded: str) -> str:
    """`expanded` when it is an absolute path outside egpu-setup's own tree; else EgpuError (exit 2) naming the
    inventory variable and its value. A relative path would be made wherever Ansible happens to run (inside the
    tool's tree, once), so none is taken."""
    if not os.path.isabs(expanded):
        raise EgpuError(
            f"{variable}: {given!r} is not an absolute path (after ~ expansion)",
            fix=f"give {variable} an absolute path, e.g. ~/.cache/egpu-setup, or leave it out for the default",
        )
    own = Path(__file__).resolve().parents[1]  # the egpu_setup package
    tree = own.parent if (own.parent / "pyproject.toml").is_file() else own  # a checkout: all of it
    resolved = Path(os.path.realpath(expanded))
    if resolved == tree or tree in resolved.parents:
        raise EgpuError(
            f"{variable}: {given!r} lies inside egpu-setup's own tree ({tree})",
            fix=f"give {variable} a path outside it, e.g. ~/.cache/egpu-setup",
        )
    return expanded


@dataclass(frozen=True)
class PlanInputs:
    """What a host's plan depends on: the Mac's build and GPU (read from it) and the inventory's settings."""

    build: str
    profile: str = "default"
    overlay: str | None = None
    gpu: int | str | None = None
    allow_nearest: bool = False
    cache_dir: str | None = None
    lock_file: str | None = None
    mirror_url: str | None = None
    urls: dict[str, str] = field(default_factory=dict, hash=False)

    @classmethod
    def from_args(cls, args: dict[str, Any]) -> PlanInputs:
        """From resolve_plan's arguments (or the facts play's `preflight_plan_inputs`, which has the same keys)."""
        known = {name: args.get(name) for name in cls.__dataclass_fields__ if args.get(name) not in (None, "")}
        for name in ("overlay", "cache_dir", "lock_file"):  # as Ansible's `path` type gives them to resolve_plan
            if name in known:
                known[name] = os.path.expanduser(os.path.expandvars(str(known[name])))
        for name in ("cache_dir", "lock_file"):  # the controller writes there
            if name in known:
                written_path(INVENTORY_NAMES[name], str(args[name]), known[name])
        return cls(**known)

    def key(self) -> str:
        """The same for two hosts that get the same plan and artifacts; the plans file is keyed by it."""
        return json.dumps(asdict(self), sort_keys=True)


def resolve_plan(inputs: PlanInputs, *, fetch: bool, wanted: list[str] | None = None, lock: Any = None,
                 progress: Any = None) -> dict[str, Any]:  # fmt: skip
    """The plan dict (docs/architecture.md, Resolution) with `local_path` and `local_sha256` per cached artifact;
    artifacts are downloaded only when `fetch`. Raises EgpuError (the resolver's refusal or a fetch failure)."""
    from egpu_setup.cache import Cache
    from egpu_setup.matrix import load_matrix

    matrix = load_matrix(overlay=Path(inputs.overlay) if inputs.overlay else None)
    gpu = inputs.gpu
    if isinstance(gpu, str) and gpu.lower().startswith("0x"):
        try:
            gpu = int(gpu, 16)
        except ValueError:
            raise EgpuError(
                f"gpu {gpu!r} is not a PCI device id", fix="give the GPU's device id, e.g. 0x1b80, or a matrix GPU key"
            ) from None
    resolution = matrix.resolve(inputs.build, profile=inputs.profile, gpu=gpu, allow_nearest=inputs.allow_nearest)
    plan = resolution.to_dict()
    cache = Cache(inputs.cache_dir) if inputs.cache_dir else Cache()
    missing: list[str] = []
    for artifact_id, artifact in resolution.artifacts.items():
        if artifact is None or (wanted is not None and artifact_id not in wanted):
            continue
        if fetch:
            url = inputs.urls.get(artifact_id)
            path = cache.ensure(artifact, lock=lock, mirror=inputs.mirror_url, url=url, progress=progress)
        else:
            path = cache.find(artifact, lock)
        if path is None:
            missing.append(f"{artifact.filename} ({artifact_id} {artifact.version})")
            continue
        plan["artifacts"][artifact_id]["local_path"] = str(path)
        plan["artifacts"][artifact_id]["local_sha256"] = path.name  # the store names files by their SHA-256
    if missing:
        raise EgpuError(
            f"plan downloads nothing, and the cache {cache.root} lacks: {', '.join(missing)}",
            fix=f"fill the cache first: `egpu-setup cache fetch --build {inputs.build}` (with the inventory's "
            "--cache-dir, --lock and --overlay where it sets them; it names the installers behind a login, which "
            "`egpu-setup cache add FILE` imports), or run provision, which downloads them",
        )
    return plan


def resolve_saving_lock(inputs: PlanInputs, *, fetch: bool, wanted: list[str] | None = None,
                        progress: Any = None) -> dict[str, Any]:  # fmt: skip
    """`resolve_plan` with the inputs' lock file loaded and, when something was pinned, saved (even when a later
    artifact fails, as `cache fetch` does: what was verified stays pinned). Check mode (not `fetch`) writes none."""
    from egpu_setup.cache import Lock

    lock = Lock.load(inputs.lock_file) if inputs.lock_file else None
    try:
        return resolve_plan(inputs, fetch=fetch, wanted=wanted, lock=lock, progress=progress)
    finally:
        if fetch and lock is not None and lock.changed:
            lock.save()


def resolve_all(inputs_by_host: dict[str, PlanInputs], *, fetch: bool, progress: Any = None) -> dict[str, Any]:
    """{key: {"plan": ...} or {"error": ..., "fix": ...}} for each distinct input of the hosts. One Lock per lock
    file serves every host that names it, and is written once at the end (merged, under its file lock)."""
    from egpu_setup.cache import Lock

    locks: dict[str, Lock] = {}
    resolved: dict[str, Any] = {}
    try:
        for inputs in inputs_by_host.values():
            key = inputs.key()
            if key in resolved:
                continue
            try:
                if inputs.lock_file and inputs.lock_file not in locks:
                    locks[inputs.lock_file] = Lock.load(inputs.lock_file)
                lock = locks.get(inputs.lock_file or "")
                resolved[key] = {"plan": resolve_plan(inputs, fetch=fetch, lock=lock, progress=progress)}
            except EgpuError as exc:
                resolved[key] = {"error": exc.message, "fix": exc.fix, "exit_code": int(exc.exit_code)}
    finally:
        for lock in locks.values():
            if fetch and lock.changed:
                lock.save()
    return resolved


def write_plans(resolved: dict[str, Any], run_dir: Path) -> Path:
    path = run_dir / PLANS_FILE
    path.write_text(json.dumps({"plans": resolved}, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path


def read_plan(plans_file: Path, inputs: PlanInputs) -> dict[str, Any] | None:
    """The entry the controller resolved for these inputs ({"plan"} or {"error", "fix"}); None when it has none
    (the Mac's build changed between the facts play and this one)."""
    doc = json.loads(plans_file.read_text(encoding="utf-8"))
    entry = doc.get("plans", {}).get(inputs.key())
    return entry if isinstance(entry, dict) else None
