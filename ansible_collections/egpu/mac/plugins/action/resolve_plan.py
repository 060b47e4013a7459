"""egpu.mac.resolve_plan: the host's plan from the compatibility matrix, with every artifact in the controller cache.

Controller-side. Under egpu-setup (`plans_file` given) it only reads the plan the runner resolved for every host
before the play (egpu_setup/runner/plans.py: once per distinct build, artifacts fetched once, the lock file written
once). Under plain ansible-playbook it resolves the host's build and GPU itself with that same code: each artifact
in the cache with its SHA-256 checked (downloaded unless in check mode), digests merged into the lock file under its
file lock. It returns the plan as the `egpu_plan` fact with each artifact's `local_path` and
`local_sha256` (the SHA-256 the cache checked and names the file by: for artifacts whose publisher gives no SHA-256,
the one the roles hand to the upload check).
A refusal of the resolver (not 10.13, a build outside the profile, an impossible pairing) fails the task with the
resolver's message and its remedy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ansible_collections.egpu.mac.plugins.plugin_utils.mac_action import MacAction


def resolve_and_fetch(args: dict[str, Any], fetch: bool = True) -> dict[str, Any]:
    """The plan of a run without egpu-setup (plain ansible-playbook): resolved here, the lock file saved under its
    file lock. Raises EgpuError."""
    from egpu_setup.runner.plans import PlanInputs, resolve_saving_lock

    return resolve_saving_lock(PlanInputs.from_args(args), fetch=fetch, wanted=args["fetch"])


def resolved_before(args: dict[str, Any]) -> dict[str, Any]:
    """The plan egpu-setup resolved on the controller before the play (`plans_file`). Raises EgpuError."""
    from egpu_setup.errors import EgpuError, ExitCode
    from egpu_setup.runner.plans import PlanInputs, read_plan

    entry = read_plan(Path(args["plans_file"]), PlanInputs.from_args(args))
    if entry is None:
        raise EgpuError(
            f"no plan was resolved before the play for build {args['build']} (profile {args['profile']})",
            fix="the Mac's build or GPU changed during the run: run provision again",
        )
    if "error" in entry:
        code = ExitCode(entry.get("exit_code", ExitCode.USAGE))
        raise EgpuError(entry["error"], fix=entry.get("fix"), exit_code=code)
    return dict(entry["plan"])


class ActionModule(MacAction):
    INPUT_CHECK = True  # the resolver's refusals and a damaged lock are bad input (2), a failed download is not (1)

    def act(self, result: dict[str, Any], args: dict[str, Any], task_vars: dict[str, Any]) -> None:
        # An EgpuError fails the task with the resolver's message and remedy (MacAction).
        plan = resolved_before(args) if args["plans_file"] else resolve_and_fetch(args, fetch=not self.check_mode)
        result.update(changed=False, ansible_facts={"egpu_plan": plan}, plan=plan)
        for warning in plan.get("warnings") or []:
            self._display.warning(str(warning))
