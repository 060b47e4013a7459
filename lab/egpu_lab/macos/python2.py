"""/usr/bin/python: the Python 2.7.10 that macOS 10.13 ships, as far as Ansible can tell it apart.

It answers `--version` / `-V` like 2.7 (on stderr: Python 2 printed its version there) and evaluates nothing:
any script or `-c` code is checked the way Python 2.7's compiler would reject Ansible's modules, whose AnsiballZ
wrapper starts with `from __future__ import annotations` (ansible-core 2.19 _ansiballz/_wrapper.py): 2.7 stops
with `SyntaxError: future feature annotations is not defined`. Source of the version: macOS 10.13's
/usr/bin/python is 2.7.10 (Apple's python-* open-source projects for 10.13; `python --version` transcripts).
"""

from __future__ import annotations

import re
import sys

from egpu_lab.macos.base import Sim

EXECUTABLES = {"/usr/bin/python": "python", "/usr/bin/python2.7": "python"}

VERSION = "Python 2.7.10"
FUTURE = re.compile(rb"^\s*from\s+__future__\s+import\s+([^\n#]+)", re.M)
PY2_FUTURES = {b"nested_scopes", b"generators", b"division", b"absolute_import", b"with_statement",
               b"print_function", b"unicode_literals"}  # fmt: skip


def _reject(source: bytes, filename: str) -> str | None:
    """The SyntaxError Python 2.7 reports for this source, or None when we cannot tell."""
    for match in FUTURE.finditer(source):
        names = [n.strip(b" ()\r") for n in match.group(1).split(b",")]
        for name in names:
            if name and name not in PY2_FUTURES:
                line = source[: match.start(1)].count(b"\n") + 1
                return f'  File "{filename}", line {line}\nSyntaxError: future feature {name.decode()} is not defined'
    return None


def python(argv: list[str], sim: Sim) -> int:
    """Imitates /usr/bin/python 2.7.10 of macOS 10.13 for interpreter probes (see the module docstring).

    `--version`/`-V`: `Python 2.7.10` on stderr, exit 0. A script file, `-` or stdin, or `-c CODE` holding a
    Python-3-only `from __future__` import: 2.7's SyntaxError, exit 1. Anything else: `python: the rehearsal
    Mac's Python 2.7 stand-in runs no code`, exit 1 (divergence: a real 2.7 would run Python 2 code).
    """
    args = list(argv)
    while args and args[0] in ("-E", "-s", "-S", "-u", "-B", "-O", "-OO", "-I", "-t"):
        args.pop(0)
    if args[:1] in (["--version"], ["-V"]):
        sim.err(VERSION)
        return 0
    if args[:1] == ["-c"] and len(args) > 1:
        source, filename = args[1].encode(), "<string>"
    elif args and args[0] != "-":
        try:
            source, filename = sim.path(args[0]).read_bytes(), args[0]
        except OSError as exc:
            sim.fail(f"/usr/bin/python: can't open file '{args[0]}': [Errno {exc.errno}] {exc.strerror}", 2)
    else:
        source, filename = sys.stdin.buffer.read(), "<stdin>"
    error = _reject(source, filename)
    if error:
        sim.fail(error, 1)
    sim.fail("python: the rehearsal Mac's Python 2.7 stand-in runs no code (Python 2.7.10)", 1)
