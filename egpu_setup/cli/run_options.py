"""The options and the flow that `provision`, `plan` and `rollback` share.

Only argparse here: the CLI imports this module at start-up; `run_command` (which builds the runner's request) is
imported when a command runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from egpu_setup.output import Context


def inventory_path(text: str) -> Path:
    """-i's value: an empty one would make Ansible read every file of the current directory as inventory."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty inventory path (Ansible would read every file of the current "
                                         "directory as inventory): name the inventory file or directory")  # fmt: skip
    return Path(text)


def host_pattern(text: str) -> str:
    """--limit's value: an empty pattern would mean every host."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty pattern (it would select every host): name hosts or groups, "
                                         "or leave --limit out to run on all")  # fmt: skip
    return text


def add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-i",
        "--inventory",
        type=inventory_path,
        metavar="INVENTORY",
        help="an Ansible inventory of the Macs (YAML or INI, a file or a directory), as for ansible-playbook",
    )
    parser.add_argument(
        "--limit", metavar="PATTERN", type=host_pattern, help="only these hosts or groups (Ansible's --limit)"
    )
    parser.add_argument(
        "--profile",
        metavar="PROFILE",
        help="the matrix profile (`egpu-setup matrix` lists them); default: the inventory's egpu_profile",
    )
    parser.add_argument(
        "--rehearse",
        action="store_true",
        help="run on the rehearsal lab (a simulated High Sierra Mac); provision and plan bring up a one-host lab "
        "when there is none",
    )
    parser.add_argument(
        "--lab-dir",
        type=Path,
        metavar="DIR",
        help="the rehearsal lab for --rehearse (default: $EGPU_SETUP_LAB or ~/.local/share/egpu-setup/lab)",
    )
    parser.add_argument(
        "-K",
        "--ask-become-pass",
        action="store_true",
        help="ask for the sudo password of the Macs (as ansible-playbook -K); it goes to Ansible's prompt only",
    )
    parser.add_argument("--json", action="store_true", help="print the run report as JSON on stdout")


def run_playbook_command(args: argparse.Namespace, ctx: Context, *, command: str, check: bool = False) -> int:
    """Shared by the three commands: validate, run the playbook named after the command, report."""
    from egpu_setup.cli.run_command import run

    return run(args, ctx, command=command, check=check)
