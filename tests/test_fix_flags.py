"""Every flag a `fix:` text names exists in the commands that can print it.

The texts are read from the source (each `fix=` argument of egpu_setup/, with the module's string constants and the
function's string variables it uses filled in), the commands from egpu_setup.cli's own parser. A flag inside
`egpu-setup CMD ...` belongs to CMD; a flag in a text that names commands in backticks (`cache fetch`: --url, or
`egpu-setup cache fetch ...` (with --lock)) must exist in one of them; any other flag must exist in one of a command
module's (sub)commands, and in every command that reaches a shared module (AREAS). Flags of other tools (inside a
backtick span that does not start with egpu-setup, e.g. `ansible-inventory --graph`) are not ours to check.
"""

from __future__ import annotations

import argparse
import ast
import re
from pathlib import Path

import pytest

from egpu_setup.cli import build_parser

PACKAGE = Path(__file__).resolve().parents[1] / "egpu_setup"
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]+")
SPAN = re.compile(r"`([^`]*)`")
RUNS = ("provision", "plan", "rollback")
DOWNLOADS = ("cache fetch", "provision")  # plan downloads nothing; rollback and cache add fetch no URL
# module (relative to egpu_setup/, a file or a folder; the longest match wins) -> the commands that can print it
AREAS: dict[str, tuple[str, ...]] = {
    "cli/matrix.py": ("matrix",),
    "cli/cache.py": ("cache fetch", "cache add", "cache list", "cache verify"),
    "cli/lab.py": ("lab up", "lab status", "lab reset", "lab down", "lab allow-kexts", "lab unlock", "lab fault"),
    "cli/run_command.py": RUNS,
    "cli/run_options.py": RUNS,
    "runner": RUNS,
    "cli/fix_rpaths.py": ("fix-rpaths",),
    "macho": ("fix-rpaths",),
    "verify": ("verify",),
    "cache/download.py": DOWNLOADS,
    "cache/store.py": DOWNLOADS,
    "cache/identify.py": ("cache add",),
    "matrix": ("matrix", "cache fetch", "provision", "plan"),
}


def _commands() -> dict[str, set[str]]:
    """{"cache fetch": {"--url", ...}, ...}: every (sub)command's option strings."""
    found: dict[str, set[str]] = {}

    def walk(parser: argparse.ArgumentParser, name: str) -> None:
        found[name] = set()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub_name, sub in action.choices.items():
                    walk(sub, f"{name} {sub_name}".strip())
            else:
                found[name].update(action.option_strings)

    walk(build_parser(), "")
    return found


COMMANDS = _commands()


def _text(node: ast.AST | None, names: dict[str, list[ast.AST]]) -> str:
    """The text an expression can produce; a value not known from the source reads as {}."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(_text(value, names) for value in node.values)
    if isinstance(node, ast.FormattedValue):
        return _text(node.value, names)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _text(node.left, names) + _text(node.right, names)
    if isinstance(node, ast.IfExp):
        return _text(node.body, names) + " " + _text(node.orelse, names)
    if isinstance(node, ast.Name) and node.id in names:
        return " ".join(_text(value, names) for value in names[node.id])
    return "{}"


def _fix_texts() -> list[tuple[str, str]]:
    """(module relative to egpu_setup/, fix text) for each `fix=` argument."""
    texts = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        names: dict[str, list[ast.AST]] = {}
        for node in ast.walk(tree):  # module constants and local variables alike: names are not reused for flags
            if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        names.setdefault(target.id, []).append(node.value)
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "fix":
                texts.append((path.relative_to(PACKAGE).as_posix(), _text(node.value, names)))
    return texts


def _area(module: str) -> tuple[str, ...]:
    matches = [key for key in AREAS if module == key or module.startswith(key + "/")]
    return AREAS[max(matches, key=len)] if matches else tuple(name for name in COMMANDS if name)


def _command_in(span: str) -> str | None:
    """The longest command name `span` starts with (after an optional egpu-setup)."""
    words = span.removeprefix("egpu-setup ").split()
    for size in (2, 1):
        name = " ".join(words[:size])
        if name in COMMANDS and name:
            return name
    return None


def problems_of(module: str, text: str) -> list[str]:
    """Each flag of `text` that the commands it belongs to lack."""
    problems = []
    named: list[str] = []
    for span in SPAN.findall(text):
        command = _command_in(span) if span.startswith("egpu-setup ") or _command_in(span) == span.strip() else None
        if command is not None:  # `cache fetch`: or `egpu-setup cache fetch ...` (its flags may follow)
            named.append(command)
            problems += [f"{flag} (in `{span}`)" for flag in FLAG.findall(span) if flag not in COMMANDS[command]]
    outside = SPAN.sub(" ", text)
    for flag in FLAG.findall(outside):
        if named:
            if not any(flag in COMMANDS[command] for command in named):
                problems.append(f"{flag} (none of {', '.join(named)} has it)")
        elif module.startswith("cli/"):  # a command's own module: the text is printed by one of its (sub)commands
            if not any(flag in COMMANDS[command] for command in _area(module)):
                problems.append(f"{flag} (none of {', '.join(_area(module))} has it)")
        else:  # shared code: every command that reaches it may print the text
            lacking = [command for command in _area(module) if flag not in COMMANDS[command]]
            if lacking:
                problems.append(f"{flag} ({', '.join(lacking)} can print this and lack it)")
    return problems


def test_the_fix_texts_are_found() -> None:
    texts = _fix_texts()
    assert len(texts) > 100
    flagged = [text for _, text in texts if FLAG.search(text)]
    assert any("--url" in text for text in flagged) and any("--build" in text for text in flagged)


@pytest.mark.parametrize(
    ("module", "text", "bad"),
    [
        ("cache/store.py", "check the URL (--url/--mirror) and fetch again", ["--url", "--mirror"]),
        ("cli/cache.py", "run `egpu-setup cache fetch --bogus`", ["--bogus"]),
        ("runner/execute.py", "`cache fetch`: --nope or --url", ["--nope"]),
        ("runner/execute.py", "check with `ansible-inventory -i INVENTORY --graph`", []),
        ("cli/lab.py", "one of --fail-install N, --nope", ["--nope"]),
        ("matrix/matrix.py", "pass --compute-capability X.Y", ["--compute-capability"]),
    ],
)
def test_the_check_can_fail(module: str, text: str, bad: list[str]) -> None:
    assert [problem.split()[0] for problem in problems_of(module, text)] == bad


def test_every_flag_a_fix_names_exists_where_it_is_printed() -> None:
    texts = _fix_texts()
    found = [f"{module}: {problem}\n    {text!r}" for module, text in texts for problem in problems_of(module, text)]
    assert not found, "\n".join(found)
