"""Runner: `python -m egpu_lab.macos <module> <handler> [args...]`, and the shims' `dispatch`."""

from __future__ import annotations

import importlib
import os
import sys

from egpu_lab.macos.base import Sim, SimExit


def dispatch(module: str, handler: str, argv: list[str], prog: str | None = None) -> int:
    """Run one handler with the process's streams and environment; returns its exit code."""
    mod = importlib.import_module(f"egpu_lab.macos.{module}")
    func = getattr(mod, handler)
    sim = Sim(prog or handler)
    try:
        code = int(func(argv, sim) or 0)
    except SimExit as exc:
        code = exc.code
    except BrokenPipeError:  # `kextstat | head` on a Mac exits quietly too
        code = 141
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        pass
    return code


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2:
        sys.stderr.write("usage: python -m egpu_lab.macos <module> <handler> [args...]\n")
        return 2
    return dispatch(args[0], args[1], args[2:], prog=os.path.basename(args[1]))


if __name__ == "__main__":
    sys.exit(main())
