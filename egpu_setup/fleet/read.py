"""One read-only facts play over an inventory for `status` or `diagnose`: preflight's plan_inputs tasks with the
command's own lists (preflight_status_*, preflight_diagnose_*), run by ansible-runner in a temporary private data
dir (nothing is kept: these commands change nothing, on the Macs or in the runs directory)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from egpu_setup.runner.batches import forks_for
from egpu_setup.runner.facts import FACTS_PLAYBOOK_READING, FactsRead, read_facts


def read_fleet(inventory: Path, limit: str | None, what: str, become_password: str | None = None,
               hosts: int = 5) -> FactsRead:  # fmt: skip
    """Each host's `egpu_mac` (with the probes of `what`), plan inputs, or why it could not be read; `hosts`, the
    number of Macs selected, sizes Ansible's forks."""
    from egpu_setup.runner.content import find_content
    from egpu_setup.runner.execute import BECOME_PROMPT, ansible_env

    content = find_content()
    runner_args = {
        "inventory": str(inventory),
        "limit": limit,
        "envvars": ansible_env(content),
        "cmdline": "--ask-become-pass" if become_password is not None else None,
        "passwords": {BECOME_PROMPT: become_password} if become_password is not None else None,
        "forks": forks_for(hosts),
    }
    with tempfile.TemporaryDirectory(prefix=f"egpu-setup-{what}-") as tmp:
        return read_facts(Path(tmp) / "facts", FACTS_PLAYBOOK_READING.format(what=what), runner_args)
