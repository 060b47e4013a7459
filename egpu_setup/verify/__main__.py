"""`python -m egpu_setup.verify [options]`: the verify command alone, for machines that only need this part.

bench/verify_gpu.sh runs it on a GPU box whose Python has none of the controller's dependencies; it imports
no other command (the full CLI's parser imports them all). Same options, output and exit codes as
`egpu-setup verify`.
"""

from __future__ import annotations

import argparse
import sys

from egpu_setup.cli import verify as verify_command
from egpu_setup.errors import EgpuError, ExitCode
from egpu_setup.output import Context


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m egpu_setup.verify")
    verify_command.register(parser.add_subparsers(dest="command"))
    ctx = Context(stdout=sys.stdout, stderr=sys.stderr)
    try:
        args = parser.parse_args(["verify", *(sys.argv[1:] if argv is None else argv)])
        return int(args.run(args, ctx))
    except EgpuError as exc:
        ctx.error(exc.message, exc.fix)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        ctx.error("interrupted")
        return int(ExitCode.INTERRUPTED)


if __name__ == "__main__":
    sys.exit(main())
