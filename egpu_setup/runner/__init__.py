"""Driving ansible-runner for `provision`, `plan` and `rollback`.

Modules: `options` (the command-line options and flow the three commands share; argparse-level only),
`content` (where the playbooks and roles are), `request` (a run's validated inputs), `state` (per-host
progress built from Ansible events), `view` (the live and plain progress views), `report` (the summary and
the JSON run report), `execute` (one ansible-runner run), `rehearse` (`--rehearse`: a one-host lab).

This package's `__init__` imports nothing so that `egpu-setup --help` stays fast.
"""
