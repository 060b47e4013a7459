"""`egpu-setup status`: each Mac's stack and its drift from the plan and the lock, read-only."""

from __future__ import annotations

import argparse
from pathlib import Path

from egpu_setup.output import Context


def add_fleet_options(parser: argparse.ArgumentParser) -> None:
    """-i, --limit and -K, as provision has them (status and diagnose)."""
    parser.add_argument("-i", "--inventory", type=Path, metavar="INVENTORY", required=True,
                        help="an Ansible inventory of the Macs, as for provision")  # fmt: skip
    parser.add_argument("--limit", metavar="PATTERN", help="only these hosts or groups (Ansible's --limit)")
    parser.add_argument("-K", "--ask-become-pass", action="store_true",
                        help="ask for the Macs' sudo password (Ansible's prompt only)")  # fmt: skip


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "status",
        help="each Mac's build, drivers, CUDA, cuDNN, CLT, MXNet and last verify, and their drift (read-only)",
        description="Read every Mac of the inventory (one read-only play; nothing changes) and compare its stack "
        "with the plan its build resolves to and with the lock beside the inventory. Exit 0 without drift, 1 "
        "with drift (or a Mac not read), 2 on bad input.",
    )
    add_fleet_options(parser)
    parser.add_argument("--json", action="store_true", help="print the status as JSON (schema_version) on stdout")
    parser.add_argument("--html", type=Path, metavar="FILE", help="also write a self-contained HTML page to FILE")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from datetime import UTC, datetime

    from egpu_setup.cli.run_command import ask_become_password
    from egpu_setup.errors import ExitCode
    from egpu_setup.files import write_text_atomically
    from egpu_setup.fleet.read import read_fleet
    from egpu_setup.fleet.status import STATUS_KIND, host_statuses, status_document
    from egpu_setup.runner.request import check_hosts, check_inventory

    inventory = check_inventory(args.inventory)
    hosts = check_hosts(inventory, args.limit)
    html_path = check_output_file(args.html) if args.html is not None else None
    password = ask_become_password(ctx) if args.ask_become_pass else None
    read = read_fleet(inventory, args.limit, "status", password)
    statuses = host_statuses(hosts, read.facts, read.inputs, read.failed)
    if html_path is not None:
        from egpu_setup.fleet.html import render_html

        generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        write_text_atomically(html_path, render_html(statuses, generated))
        ctx.note(f"html: {html_path}")
    if args.json:
        ctx.emit_json(STATUS_KIND, status_document(statuses))
    else:
        from egpu_setup.fleet.table import print_table

        print_table(ctx.console("stdout"), statuses)
    return int(ExitCode.CHECK_FAILED if any(s.drift for s in statuses) else ExitCode.OK)


def check_output_file(path: Path) -> Path:
    """Where a page or a bundle may be written: not a symlink (written around, never through), in a directory."""
    from egpu_setup.errors import EgpuError

    path = path.expanduser()
    if path.is_symlink():
        raise EgpuError(f"{path} is a symbolic link; egpu-setup does not write through links",
                        fix="name the file itself, or remove the link")  # fmt: skip
    if path.exists() and not path.is_file():
        raise EgpuError(f"{path} exists and is not a file", fix="name a file to write")
    if not path.parent.is_dir():
        raise EgpuError(f"the directory of {path} does not exist", fix=f"create {path.parent} first")
    return path.absolute()
