"""From parsed arguments to the runner's request, and from its outcome to an exit code and the printed report."""

from __future__ import annotations

import argparse
import os

from egpu_setup.errors import EgpuError
from egpu_setup.output import Context
from egpu_setup.runner.request import INVENTORY_HELP, RunRequest, check_hosts, check_inventory, check_profile

# command -> playbook of the egpu.mac collection; `plan` is provision in check mode.
PLAYBOOK_OF = {"provision": "provision", "plan": "provision", "rollback": "rollback"}


def run(args: argparse.Namespace, ctx: Context, *, command: str, check: bool = False) -> int:
    from egpu_setup import runner
    from egpu_setup.runner.content import find_content
    from egpu_setup.runner.report import REPORT_KIND, print_summary

    find_content()  # no playbooks: refused before anything else
    request = build_request(args, ctx, command=command, check=check)
    outcome = runner.run(request)
    report = outcome.report
    print_summary(ctx.console("stderr" if args.json else "stdout"), report)
    if args.json:
        ctx.emit_json(REPORT_KIND, {k: v for k, v in report.items() if k not in ("schema_version", "kind")})
    return outcome.exit_code


def build_request(args: argparse.Namespace, ctx: Context, *, command: str, check: bool) -> RunRequest:
    """The options checked (exit 2 on bad input, before a run directory exists) and turned into a RunRequest."""
    check_profile(args.profile)
    if args.rehearse and args.inventory is not None:
        raise EgpuError("-i and --rehearse exclude each other", fix="--rehearse makes and uses the lab's inventory")
    if args.lab_dir is not None and not args.rehearse:
        raise EgpuError("--lab-dir only chooses the lab of --rehearse", fix="add --rehearse, or leave out --lab-dir")
    if args.rehearse:
        from egpu_setup.runner.rehearse import rehearsal_inventory

        inventory = rehearsal_inventory(args.lab_dir, ctx, bring_up=command != "rollback")
    elif args.inventory is None:
        raise EgpuError(f"`{command}` needs an inventory", fix=INVENTORY_HELP)
    else:
        inventory = check_inventory(args.inventory)
    hosts = check_hosts(inventory, args.limit)
    return RunRequest(
        command=command,
        playbook=PLAYBOOK_OF[command],
        inventory=inventory,
        limit=args.limit,
        profile=args.profile,
        check=check,
        become_password=ask_become_password(ctx) if args.ask_become_pass else None,
        view=choose_view(ctx, command),
        on_start=lambda log: ctx.note(f"log: {log}"),
        console=ctx.console("stderr"),
        resolve_plans=command != "rollback",
        wait_s=args.wait,
        on_wait=ctx.note,
        break_lock=args.break_lock,
        hosts=hosts,
        serial=args.serial,
        max_fail_percent=args.max_fail_percent,
    )


def has_terminal() -> bool:
    """Whether this process has a controlling terminal (/dev/tty opens), where getpass prompts."""
    try:
        os.close(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))
    except OSError:
        return False
    return True


def ask_become_password(ctx: Context) -> str:
    """-K's prompt, on the terminal only: without one, getpass would read stdin (a pipe, /dev/null) and end in an
    EOFError or take a line meant for something else."""
    import getpass

    no_terminal = EgpuError(
        "-K needs a terminal; give ansible_become_password from a vault file instead",
        fix="run on a terminal, or put ansible_become_password in an ansible-vault encrypted group_vars file "
        "(and leave out -K)",
    )
    if not has_terminal():
        raise no_terminal
    try:
        return getpass.getpass("BECOME password: ", stream=ctx.stderr)
    except EOFError:  # Ctrl-D at the prompt
        raise no_terminal from None


def choose_view(ctx: Context, command: str) -> object:
    """The live table on a terminal; plain lines in pipes, logs and CI (and where TERM is dumb)."""
    from egpu_setup.runner.view import LiveView, PlainView

    isatty = getattr(ctx.stderr, "isatty", lambda: False)()
    if isatty and os.environ.get("TERM", "") != "dumb":
        return LiveView(ctx.console("stderr"), f"egpu-setup {command}")
    return PlainView(ctx.stderr)
