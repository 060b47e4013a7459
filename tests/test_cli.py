"""The entry point: help, exit codes, and errors without tracebacks."""

from __future__ import annotations

import io

from egpu_setup.cli import main


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_help_lists_commands_and_exit_codes() -> None:
    code, out, _ = run_cli("--help")
    assert code == 0
    for command in ("matrix", "cache", "lab", "provision", "plan", "rollback", "verify", "fix-rpaths"):
        assert command in out
    assert "exit codes:" in out and "130" in out


def test_unknown_option_is_a_usage_error_without_traceback() -> None:
    code, _, err = run_cli("--no-such-option")
    assert code == 2
    assert err.startswith("error: ")
    assert "Traceback" not in err


def test_no_command_prints_help_and_exits_2() -> None:
    code, out, _ = run_cli()
    assert code == 2
    assert "usage: egpu-setup" in out
