"""The `egpu-setup` entry point: parses arguments and hands over to one module per command.

Start-up must stay fast (`egpu-setup --help` <= 0.3 s): command modules import only argparse-level
things at module scope and import their heavy machinery (Ansible, rich, macholib) inside `run`.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
from typing import TextIO

from egpu_setup import __version__
from egpu_setup.errors import EXIT_CODE_HELP, EgpuError, ExitCode
from egpu_setup.output import Context

# name -> module under egpu_setup.cli; each module has register(subparsers) and run(args, ctx) -> int.
COMMANDS: tuple[str, ...] = (
    "matrix",
    "cache",
    "lab",
    "provision",
    "plan",
    "rollback",
    "verify",
    "fix_rpaths",
    "status",
    "diagnose",
)


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 through our error path (message plus usage, no traceback)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise EgpuError(message, fix=f"see `{self.prog} --help`", exit_code=ExitCode.USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="egpu-setup",
        description="Set up NVIDIA eGPU deep learning on macOS High Sierra Macs, one Mac or a lab of them.",
        epilog=EXIT_CODE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"egpu-setup {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        module = importlib.import_module(f"egpu_setup.cli.{name}")
        module.register(subparsers)
    _remember_prog(parser)
    return parser


def _remember_prog(parser: argparse.ArgumentParser) -> None:
    """Let every (sub)command record its own name, so an unknown option's fix names `egpu-setup cache add --help`.

    argparse reports options it does not know from the top-level parser, which knows only `egpu-setup`.
    """
    parser.set_defaults(_prog=parser.prog)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in set(action.choices.values()):
                _remember_prog(sub)


def main(argv: list[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run one command; returns the exit code. Tests call this with injected streams."""
    ctx = Context(stdout=stdout or sys.stdout, stderr=stderr or sys.stderr)
    try:
        parser = build_parser()
        with contextlib.redirect_stdout(ctx.stdout):  # --help and --version print to the injected stream
            args, unknown = parser.parse_known_args(argv)
        if unknown:
            raise EgpuError(f"unrecognized arguments: {' '.join(unknown)}", fix=f"see `{args._prog} --help`")
        if not args.command:
            names = ", ".join(name.replace("_", "-") for name in COMMANDS)
            raise EgpuError("no command given", fix=f"one of: {names}; `egpu-setup --help` says what each does")
        return int(args.run(args, ctx))
    except EgpuError as exc:
        ctx.error(exc.message, exc.fix)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        ctx.error(
            "interrupted",
            fix="run the same command again to carry on (cut downloads resume; provisioning skips what is done)",
        )
        return int(ExitCode.INTERRUPTED)
    except SystemExit as exc:  # argparse --help / --version
        return int(exc.code or 0) if isinstance(exc.code, int) or exc.code is None else int(ExitCode.USAGE)


def entry_point() -> None:
    sys.exit(main())
