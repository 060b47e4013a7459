"""The entry point: help, exit codes, and errors without tracebacks."""

from __future__ import annotations


def test_help_lists_commands_and_exit_codes(cli) -> None:
    result = cli("--help")
    assert result.code == 0
    for command in ("matrix", "cache", "lab", "provision", "plan", "rollback", "verify", "fix-rpaths"):
        assert command in result.out
    assert "exit codes:" in result.out and "130" in result.out


def test_unknown_option_is_a_usage_error_without_traceback(cli) -> None:
    result = cli("--no-such-option")
    assert result.code == 2
    assert result.err.startswith("error: ")
    assert "Traceback" not in result.err


def test_no_command_prints_help_and_exits_2(cli) -> None:
    result = cli()
    assert result.code == 2
    assert "usage: egpu-setup" in result.out
