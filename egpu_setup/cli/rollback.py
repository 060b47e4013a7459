"""`egpu-setup rollback`: placeholder until its issue lands; refuses with exit 2."""

from __future__ import annotations

import argparse

from egpu_setup.cli.context import Context
from egpu_setup.errors import EgpuError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("rollback", help="(not available yet)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    raise EgpuError("`rollback` is not available in this version", fix="see README.md for the commands that are")
