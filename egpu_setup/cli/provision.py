"""`egpu-setup provision`: run egpu.mac.provision on an inventory (or a rehearsal lab) with a live view."""

from __future__ import annotations

import argparse

from egpu_setup.cli.run_options import add_run_options, run_playbook_command
from egpu_setup.output import Context


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "provision",
        help="install the eGPU stack (web driver, CUDA, cuDNN, MXNet) on the Macs of an inventory",
        description="Provision the Macs of an Ansible inventory: web driver, eGPU support, CUDA driver and toolkit, "
        "Command Line Tools, cuDNN, MXNet from source, then verify the GPU. A second run changes nothing. "
        "The same as `ansible-playbook egpu.mac.provision -i INVENTORY`, with a live view and a run report.",
    )
    add_run_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    return run_playbook_command(args, ctx, command="provision")
