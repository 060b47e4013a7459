"""`egpu-setup diagnose`: a support bundle (tar.gz with a manifest) per Mac, nothing secret, bounded in size."""

from __future__ import annotations

import argparse
from pathlib import Path

from egpu_setup.cli.status import add_fleet_options
from egpu_setup.output import Context


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "diagnose",
        help="write one support bundle per Mac (sw_vers, csrutil, kexts, nvram, system_profiler, journal, logs)",
        description="Read every Mac of the inventory (read-only) and write one tar.gz per Mac into DIR with what "
        "support asks for and a manifest (each member's size, SHA-256, command and exit code). Passwords and keys "
        "are filtered out; each member is capped at 1 MiB.",
    )
    add_fleet_options(parser)
    parser.add_argument("-o", "--output-dir", type=Path, metavar="DIR", default=Path("."),
                        help="an existing directory for the bundles (default: the current one)")  # fmt: skip
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from egpu_setup import paths
    from egpu_setup.cli.run_command import ask_become_password
    from egpu_setup.errors import EgpuError, ExitCode
    from egpu_setup.fleet.diagnose import write_bundle
    from egpu_setup.fleet.read import read_fleet
    from egpu_setup.runner.request import check_hosts, check_inventory

    out_dir = args.output_dir.expanduser()
    if out_dir.is_symlink() or not out_dir.is_dir():
        why = "a symbolic link" if out_dir.is_symlink() else "not a directory"
        raise EgpuError(f"-o {out_dir} is {why}", fix="name an existing directory, not a link to one")
    inventory = check_inventory(args.inventory)
    hosts = check_hosts(inventory, args.limit)
    password = ask_become_password(ctx) if args.ask_become_pass else None
    read = read_fleet(inventory, args.limit, "diagnose", password)
    code = ExitCode.OK
    for host in hosts:
        mac = read.facts.get(host)
        if mac is None:
            ctx.error(f"{host}: not read: {read.failed.get(host, 'no facts')}", fix="see `egpu-setup status`")
            code = ExitCode.CHECK_FAILED
            continue
        path = write_bundle(out_dir, host, mac, paths.runs_dir(), [password] if password else [])
        print(f"{host}: {path}", file=ctx.stdout)
    return int(code)
