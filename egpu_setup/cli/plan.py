"""`egpu-setup plan`: provision in check mode with diff; lists per host what would change, changes nothing."""

from __future__ import annotations

import argparse

from egpu_setup.cli.run_options import add_run_options, run_playbook_command
from egpu_setup.output import Context


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plan",
        help="show per host what provision would change (check mode with diff; changes nothing)",
        description="Run egpu.mac.provision in check mode with diff and list, per host, the tasks that would "
        "change something and their diffs. Nothing on the hosts changes.",
    )
    add_run_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    return run_playbook_command(args, ctx, command="plan", check=True)
