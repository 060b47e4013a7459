"""The options and the flow that `provision`, `plan` and `rollback` share.

Only argparse here: the CLI imports this module at start-up; `run_command` (which builds the runner's request) is
imported when a command runs.
"""

from __future__ import annotations

import argparse

from egpu_setup.cli.arg_types import host_pattern, inventory_path, name_arg, path_arg
from egpu_setup.output import Context


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
        type=name_arg,
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
        type=path_arg,
        metavar="DIR",
        help="the rehearsal lab for --rehearse (default: $EGPU_SETUP_LAB or ~/.local/share/egpu-setup/lab)",
    )
    parser.add_argument(
        "-K",
        "--ask-become-pass",
        action="store_true",
        help="ask for the sudo password of the Macs (as ansible-playbook -K); it goes to Ansible's prompt only",
    )
    parser.add_argument(
        "--wait",
        nargs="?",
        type=_seconds,
        const=float("inf"),
        metavar="SECONDS",
        help="when another run holds a targeted Mac (on this controller or another), wait for it (at most SECONDS; "
        "as long as it takes without a number) instead of stopping with exit 4",
    )
    parser.add_argument(
        "--break-lock",
        action="store_true",
        help="remove the Macs' run locks left by a run that is gone (a crashed or unreachable controller), then run",
    )
    parser.add_argument(
        "--serial",
        type=serial_arg,
        metavar="N|P%",
        help="roll through the Macs in batches of N (or P%% of them), as Ansible's `serial`; the next batch starts "
        "when one ends (default: all Macs at once)",
    )
    parser.add_argument(
        "--max-fail-percent",
        type=percent_arg,
        metavar="P",
        help="stop before the next batch when more than P%% of a batch's Macs failed (0: the first failure), as "
        "Ansible's max_fail_percentage (default: a failing Mac stops no other)",
    )
    parser.add_argument("--json", action="store_true", help="print the run report as JSON on stdout")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}")
    return value


def serial_arg(text: str) -> int | str:
    """`--serial`: a whole number of Macs (>= 1) or a percentage of them (1% to 100%), as Ansible's `serial`."""
    number = text[:-1] if text.endswith("%") else text
    if not (number.isdigit() and number.isascii()) or int(number) < 1 or (number != text and int(number) > 100):
        raise argparse.ArgumentTypeError(
            f"not a batch size: {text!r} (a whole number of Macs from 1, or a percentage from 1% to 100%, e.g. 25%)"
        )
    return f"{int(number)}%" if number != text else int(number)


def percent_arg(text: str) -> int:
    """`--max-fail-percent`: a whole percentage from 0 to 100 (a trailing % is allowed)."""
    number = text.removesuffix("%")
    if not (number.isdigit() and number.isascii()) or int(number) > 100:
        raise argparse.ArgumentTypeError(f"not a percentage: {text!r} (a whole number from 0 to 100)")
    return int(number)


def run_playbook_command(args: argparse.Namespace, ctx: Context, *, command: str, check: bool = False) -> int:
    """Shared by the three commands: validate, run the playbook named after the command, report."""
    from egpu_setup.cli.run_command import run

    return run(args, ctx, command=command, check=check)
