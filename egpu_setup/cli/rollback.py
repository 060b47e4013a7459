"""`egpu-setup rollback`: undo provisioning from the backups kept on each host."""

from __future__ import annotations

import argparse

from egpu_setup.cli.run_options import add_run_options, run_playbook_command
from egpu_setup.output import Context


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "rollback",
        help="restore the Macs to their state before provision (backups, receipts, nvram), rebooting if needed",
        description="Run egpu.mac.rollback: restore every file provision replaced or patched from the backup "
        "on the host (checked against its SHA-256 manifest), remove what it added, forget its receipts, remove "
        "nvram nvda_drv and reboot when a driver it loaded must go.",
    )
    add_run_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    return run_playbook_command(args, ctx, command="rollback")
