"""Driving ansible-runner for `provision`, `plan` and `rollback`: `run(RunRequest) -> RunOutcome`.

Modules: `request` (a run's request, outcome and input checks), `content` (where the playbooks and roles are),
`facts` (the facts play that reads each Mac's build), `plans` (every host's plan resolved once on the controller),
`run_state` (per-host progress built from Ansible events), `view` (the live and plain progress views), `report`
(the summary and the JSON run report), `batches` (forks and serial batches), `stops` (a run stopped after a
batch: the Macs not run), `execute` (one ansible-runner run), `rehearse` (`--rehearse`: a one-host lab).
Nothing here imports the CLI or argparse.

This package's `__init__` imports nothing at start-up so that `egpu-setup --help` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from egpu_setup.runner.request import RunOutcome, RunRequest


def run(request: RunRequest) -> RunOutcome:
    """Run the request's playbook with its view; the outcome holds the report (also kept in the run directory)."""
    from egpu_setup.runner.execute import run_playbook

    return run_playbook(request)
