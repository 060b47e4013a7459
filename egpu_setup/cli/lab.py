"""`egpu-setup lab`: start, inspect, reset and remove a lab of rehearsal Macs (simulated High Sierra hosts)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from egpu_setup.cli.arg_types import path_arg
from egpu_setup.output import Context

LAB_HELP = """A rehearsal lab is N simulated macOS High Sierra Macs (bubblewrap sandboxes) that Ansible reaches
over SSH (a real sshd per Mac on 127.0.0.1, the lab's own key and known_hosts). `lab up` writes
<dir>/inventory.yml; use it with
`egpu-setup provision -i <dir>/inventory.yml` or plain `ansible -i <dir>/inventory.yml`."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "lab",
        help="simulated High Sierra Macs to rehearse on",
        description=LAB_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verbs = parser.add_subparsers(dest="lab_command", metavar="VERB")

    def verb(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = verbs.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--dir", type=path_arg, default=None, help="lab directory (default: $EGPU_SETUP_LAB or XDG)")
        return sub

    up = verb("up", "create the lab's hosts and write its inventory")
    up.add_argument("--hosts", type=int, default=2, help="number of Macs, mac1..macN (default 2)")
    up.add_argument("--build", default="17C88", help="macOS build of every host (default 17C88 = 10.13.2)")
    up.add_argument("--sip", default="enabled", choices=("enabled", "kext-off", "disabled"), help="SIP configuration")
    up.add_argument("--gpu", default="gtx1080", choices=("gtx1080", "none"), help="eGPU in the Thunderbolt enclosure")
    up.add_argument("--clt", default="none", choices=("none", "9.2", "9.3"), help="Command Line Tools pre-installed")
    up.add_argument(
        "--reboot-seconds", type=_seconds, default=3.0, help="how long a reboot keeps a host down (default 3)"
    )
    up.add_argument("--no-mirror", action="store_true", help="do not build the stand-in installers")
    up.add_argument(
        "--filevault",
        action="store_true",
        help="FileVault on: a plain restart stops at the unlock screen until `lab unlock` (or `fdesetup authrestart`)",
    )
    up.add_argument(
        "--sudo-password",
        action="store_true",
        help="admin's sudo asks for the account password, as macOS's default sudoers does (default: NOPASSWD); "
        "provision such Macs with -K",
    )
    _password_option(up, "the admin account's password (login, sudo, FileVault)")

    status = verb("status", "show the hosts: build, SIP, which GPU driver booted, faults")
    status.add_argument("--json", action="store_true", help="print JSON on stdout")
    verb("reset", "bring every host back to a bare High Sierra install")
    verb("down", "remove the lab (its cache stays); no process or mount is left behind")

    allow = verb(
        "allow-kexts",
        "allow a kext team on one host, as a user clicks Allow in Security & Privacy (needed while kext signing is on)",
    )
    allow.add_argument("host", help="host name, e.g. mac1")
    allow.add_argument("--team", default="6KR3T733EC", help="team id of the kexts' signature (default NVIDIA's)")

    unlock = verb("unlock", "type the password at a host's FileVault unlock screen, so that it finishes its restart")
    unlock.add_argument("host", help="host name, e.g. mac1")
    _password_option(unlock, "the password to type")

    update = verb(
        "update",
        "install a macOS update on one host, as Software Update does: the new build, the kext cache rebuilt, a "
        "restart (the web driver then declines the new build until provisioned again)",
    )
    update.add_argument("host", help="host name, e.g. mac1")
    update.add_argument("--build", required=True, help="the build the update brings, e.g. 17C205")

    fault = verb("fault", "set or clear fault switches of one host")
    fault.add_argument("host", help="host name, e.g. mac1")
    fault.add_argument("--fail-install", type=int, metavar="N", help="the Nth installer run fails")
    fault.add_argument("--fail-download", type=int, metavar="N", help="the Nth file transfer to the host fails")
    fault.add_argument("--disk-full", action="store_true", help="the disk has no free space")
    fault.add_argument("--reboot-hangs", action="store_true", help="the next reboot never comes back")
    fault.add_argument(
        "--disk-full-at", type=int, metavar="N", help="the disk fills up at the Nth installer run or file transfer"
    )
    fault.add_argument(
        "--lose-after", type=int, metavar="N", help="from the Nth command on the host answers nothing (power lost)"
    )
    fault.add_argument(
        "--fail-build", type=int, metavar="N", help="the Nth make run fails, as a compiler killed for memory does"
    )
    fault.add_argument("--clear", action="store_true", help="clear every fault switch first")
    parser.set_defaults(run=run)


def _password_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--password-file",
        type=path_arg,
        metavar="FILE",
        help=f"read {what} from the first line of FILE; else from $EGPU_LAB_PASSWORD, else asked on the terminal "
        "(never on the command line, where `ps` would show it)",
    )


def read_password(path: Path | None, ctx: Context, *, needed_by: str | None) -> str | None:
    """The lab password from --password-file, else $EGPU_LAB_PASSWORD, else a prompt on a terminal; None when nothing
    needs it (`needed_by` None) and none was given. Never from argv: other users' `ps` shows a command line."""
    import os

    from egpu_setup import lab_loader
    from egpu_setup.errors import EgpuError
    from egpu_setup.files import read_regular_text

    PASSWORD_ENV = lab_loader.load("lab").PASSWORD_ENV

    if path is not None:
        try:
            lines = read_regular_text(path.expanduser()).splitlines()  # a FIFO is refused, not waited on
        except (OSError, UnicodeDecodeError) as exc:
            raise EgpuError(f"cannot read the password file {path}: {exc}", fix="give a readable text file") from None
        if not lines or not lines[0]:
            raise EgpuError(f"the password file {path} is empty", fix="put the password on its first line")
        return lines[0]
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    if needed_by is None:
        return None
    isatty = getattr(ctx.stderr, "isatty", lambda: False)()
    if isatty:
        import getpass

        password = getpass.getpass("admin account password: ", stream=ctx.stderr)
        if password:
            return password
    raise EgpuError(
        f"no password given for the lab's admin account, which {needed_by}",
        fix=f"--password-file FILE, or the environment variable {PASSWORD_ENV} (or run on a terminal to be asked)",
    )


def _seconds(text: str) -> float:
    """A duration for argparse: a finite number (float() also takes 'nan' and 'inf', which no sleep can use)."""
    import math

    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


_seconds.__name__ = "seconds"  # argparse names the type in its message: "invalid seconds value: 'nan'"


def run(args: argparse.Namespace, ctx: Context) -> int:
    from egpu_setup import lab_loader, paths
    from egpu_setup.errors import EgpuError

    lab_module = lab_loader.load("lab")
    if not args.lab_command:
        raise EgpuError(
            "`lab` needs a verb: up, status, reset, down, unlock, allow-kexts, update or fault",
            fix="see `egpu-setup lab --help`",
        )
    verb = _VERBS.get(args.lab_command)
    if verb is None:
        raise EgpuError(f"unknown lab verb {args.lab_command!r}")
    return verb(lab_module.Lab(args.dir or paths.default_lab_dir()), args, ctx)


def _up(lab: Any, args: argparse.Namespace, ctx: Context) -> int:
    from egpu_setup import lab_loader, paths

    hash_password = lab_loader.load("accounts").hash_password
    paths.require_directory(lab.dir, f"lab directory {lab.dir}")
    lab_loader.load("marker").usable_for_up(lab.dir)  # a directory of the user's own: refused before any prompt
    options = lab_loader.load("lab").LabOptions(
        hosts=args.hosts,
        build=args.build,
        sip=args.sip,
        gpu=args.gpu,
        clt=args.clt,
        reboot_seconds=args.reboot_seconds,
        mirror=not args.no_mirror,
        filevault=args.filevault,
        sudo_password=args.sudo_password,
    )
    options.validate(password=False)  # bad options are named before any password is asked
    flags = [name for name, on in (("--filevault", args.filevault), ("--sudo-password", args.sudo_password)) if on]
    needed_by = (
        f"{' and '.join(flags)} need{'s' if len(flags) == 1 else ''} (FileVault unlocks and sudo asks with it)"
        if flags
        else None
    )
    password = read_password(args.password_file, ctx, needed_by=needed_by)
    options.password_hash = hash_password(password) if password else None
    options.validate()  # before saying "starting": a bad value changes nothing and says only what is wrong
    ctx.note(f"starting {options.hosts} rehearsal Mac(s) in {lab.dir} ...")
    lab.up(options)
    extras = [text for text, on in (("FileVault on", options.filevault),
                                    ("sudo asks for the password", options.sudo_password)) if on]  # fmt: skip
    ctx.console().print(
        f"lab up: {options.hosts} host(s), build {options.build}, SIP {options.sip}"
        + "".join(f", {extra}" for extra in extras),
        soft_wrap=True,
    )
    ctx.console().print(f"inventory: {lab.inventory}")
    return 0


def _status(lab: Any, args: argparse.Namespace, ctx: Context) -> int:
    data = lab.status()
    if args.json:
        ctx.emit_json("lab_status", data)
    else:
        _print_status(ctx, data)
    return 0


def _reset(lab: Any, args: argparse.Namespace, ctx: Context) -> int:
    lab.options()
    lab.reset()
    ctx.console().print(f"lab reset: every host of {lab.dir} is a bare High Sierra install again")
    return 0


def _down(lab: Any, args: argparse.Namespace, ctx: Context) -> int:
    from egpu_setup.errors import EgpuError

    lab.require()  # a directory without the lab's marker is refused: nothing in it is removed
    if not lab.exists():
        raise EgpuError(f"no lab at {lab.dir}", fix="nothing to take down; check --dir")
    killed = lab.down()
    if killed:
        ctx.note(f"stopped {len(killed)} sandbox process(es) still running")
    ctx.console().print(f"lab down: removed {lab.dir} (cache kept)")
    return 0


def _unlock(lab: Any, args: argparse.Namespace, ctx: Context) -> int:
    from egpu_setup.errors import EgpuError

    lab.sandbox(args.host)  # an unknown host is named before a password is asked
    password = read_password(args.password_file, ctx, needed_by="the unlock screen asks for")
    assert password is not None
    if not lab.unlock(args.host, password):
        raise EgpuError(
            f"{args.host} is not waiting at the FileVault unlock screen",
            fix="`egpu-setup lab status` shows which hosts are locked",
        )
    ctx.console().print(f"{args.host}: unlocked; it finishes its restart at the next connection")
    return 0


def _allow_kexts(lab: Any, args: argparse.Namespace, ctx: Context) -> int:
    teams = lab.allow_kexts(args.host, args.team)
    ctx.console().print(f"{args.host}: kexts of team(s) {', '.join(teams)} may load from the next kextload or boot")
    return 0


def _update(lab: Any, args: argparse.Namespace, ctx: Context) -> int:
    outcome = lab.update(args.host, args.build)
    ctx.console().print(
        f"{outcome.host}: updated {outcome.old_build} -> {outcome.build} (macOS {outcome.product_version}, Darwin "
        f"{outcome.kernel_version}), kext cache rebuilt, restarted; GPU driver: {outcome.gpu_driver or 'no GPU'}",
        soft_wrap=True,
    )
    for note in outcome.notes:
        ctx.console().print(f"  {note}", soft_wrap=True, markup=False)
    if not outcome.known_to_matrix:
        ctx.note(f"{outcome.build} is not in the compatibility matrix: provision will refuse {outcome.host}")
    return 0


def _fault(lab: Any, args: argparse.Namespace, ctx: Context) -> int:
    from egpu_setup.errors import EgpuError

    # 0 is a value given (and refused below), not "none"
    counted = (args.fail_install, args.fail_download, args.lose_after, args.disk_full_at, args.fail_build)
    if not (args.clear or args.disk_full or args.reboot_hangs or any(n is not None for n in counted)):
        raise EgpuError(
            "no fault switch given",
            fix="one of --fail-install N, --fail-download N, --fail-build N, --disk-full, --disk-full-at N, "
            "--reboot-hangs, --lose-after N, --clear",
        )
    faults = lab.fault(
        args.host,
        fail_install=args.fail_install,
        fail_download=args.fail_download,
        disk_full=args.disk_full,
        reboot_hangs=args.reboot_hangs,
        clear=args.clear,
        lose_after=args.lose_after,
        disk_full_at=args.disk_full_at,
        fail_build=args.fail_build,
    )
    active = [f"{k}={v}" for k, v in faults.items() if v]  # the switches (lab.fault leaves the counters out)
    ctx.console().print(f"{args.host}: faults {', '.join(active) or 'none'}")
    return 0


_VERBS: dict[str, Callable[[Any, argparse.Namespace, Context], int]] = {
    "up": _up,
    "status": _status,
    "reset": _reset,
    "down": _down,
    "unlock": _unlock,
    "allow-kexts": _allow_kexts,
    "update": _update,
    "fault": _fault,
}


def _print_status(ctx: Context, data: dict) -> None:  # type: ignore[type-arg]
    from rich.table import Table

    table = Table(title=f"rehearsal lab {data['lab_dir']}")
    for column in ("host", "state", "build", "SIP", "FileVault", "sudo", "GPU driver", "web driver", "CUDA", "boots",
                   "faults"):  # fmt: skip
        table.add_column(column)
    for h in data["hosts"]:
        faults = ", ".join(f"{k}={v}" for k, v in h["faults"].items() if v) or "-"
        cuda = (
            "-" if not h["cuda_driver_version"] else f"{h['cuda_driver_version']} ({'ok' if h['cuda_works'] else 'no'})"
        )
        table.add_row(
            h["name"],
            h["state"],
            f"{h['product_version']} ({h['build']})",
            h["sip"],
            "on" if h["filevault"] else "off",
            "password" if h["sudo_asks_password"] else "NOPASSWD",
            h["gpu_driver"] or "no GPU",
            h["webdriver_version"] or "-",
            cuda,
            str(h["boot_count"]),
            faults,
        )
    ctx.console().print(table)
    ctx.console().print(f"inventory: {data['inventory']}")
