"""Running a lab after provisioning: `status` (each Mac's stack and its drift from the plan and the lock) and
`diagnose` (a support bundle per Mac).

Modules: `read` (one read-only facts play over the inventory: runner/facts.py with preflight's plan_inputs tasks
reading more), `status` (facts -> per-Mac records with drift), `table` (the terminal table), `html` (the
self-contained page), `diagnose` (the bundles). Nothing here imports the CLI.
"""
