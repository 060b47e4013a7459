"""The entry point: help, exit codes, and errors without tracebacks."""

from __future__ import annotations

import argparse

import pytest


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


def test_no_command_is_a_usage_error_that_lists_the_commands(cli) -> None:
    result = cli()
    assert result.code == 2 and result.out == ""
    assert result.err.startswith("error: no command given\nfix: one of: matrix, cache, lab,")
    assert "fix-rpaths" in result.err


@pytest.mark.parametrize(
    ("argv", "help_of"),
    [
        (("matrix", "--bogus"), "egpu-setup matrix"),
        (("cache", "add", "x", "--bogus"), "egpu-setup cache add"),
        (("lab", "status", "--bogus"), "egpu-setup lab status"),
        (("--bogus",), "egpu-setup"),
    ],
)
def test_an_unknown_option_points_at_its_own_commands_help(cli, argv: tuple[str, ...], help_of: str) -> None:
    result = cli(*argv)
    assert result.code == 2
    assert result.err == f"error: unrecognized arguments: --bogus\nfix: see `{help_of} --help`\n"


def test_every_command_has_a_description_in_its_help(cli) -> None:
    from egpu_setup.cli import build_parser

    parsers = [build_parser()]
    seen = []
    while parsers:
        parser = parsers.pop()
        seen.append(parser.prog)
        assert parser.description, f"`{parser.prog} --help` does not say what it does"
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers.extend(action.choices.values())
    assert "egpu-setup cache fetch" in seen and "egpu-setup lab up" in seen


@pytest.mark.parametrize(
    ("flag", "value", "problem"),
    [
        ("--mxnet-python", "{tmp}", "not an executable file"),
        ("--mxnet-lib", "{tmp}/libmxnet.so", "no such file"),
        ("--json", "{tmp}/a-file/report.json", "a-file is not a directory"),
    ],
)
def test_verify_refuses_paths_that_cannot_be_used_before_checking_anything(cli, tmp_path, flag, value, problem) -> None:
    (tmp_path / "a-file").write_text("x")
    result = cli("verify", flag, value.format(tmp=tmp_path))
    assert result.code == 2 and result.out == ""
    assert result.err.startswith("error: ") and problem in result.err and "\nfix: " in result.err


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (("lab",), "`lab` needs a verb"),
        (("lab", "up", "--reboot-seconds", "nan"), "invalid seconds value: 'nan'"),
        (("lab", "up", "--dir", "{tmp}/a-file/lab"), "a-file is not a directory"),
        (("lab", "fault", "mac1", "--dir", "{tmp}/no-lab", "--fail-install", "0"), "no lab at"),  # 0 is a value
    ],
)
def test_lab_arguments_that_cannot_work_stop_before_anything_is_made(cli, tmp_path, argv, problem) -> None:
    (tmp_path / "a-file").write_text("x")
    result = cli(*(arg.format(tmp=tmp_path) for arg in argv))
    assert result.code == 2 and result.out == ""
    assert result.err.startswith("error: ") and problem in result.err and "\nfix: " in result.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_every_json_document_has_a_schema_version_and_a_snake_case_kind(cli, tmp_path) -> None:
    import json
    import re

    cache = ("--cache-dir", str(tmp_path / "cache"))
    for argv in (
        ("matrix", "--json"),
        ("matrix", "--build", "17C88", "--json"),
        ("cache", "list", "--json", *cache),
        ("cache", "verify", "--json", *cache),
        ("fix-rpaths", "--json", "--check", str(tmp_path)),
    ):
        result = cli(*argv)
        document = json.loads(result.out)  # stdout holds the document and nothing else
        assert document["schema_version"] == 1, argv
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", document["kind"]), (argv, document["kind"])
