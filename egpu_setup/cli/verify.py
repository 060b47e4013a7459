"""`egpu-setup verify`: the command lives in egpu_setup.verify.command, which a Mac runs without the CLI
(`python -m egpu_setup.verify`, the tools bundle holds no egpu_setup.cli)."""

from egpu_setup.verify.command import register, run

__all__ = ["register", "run"]
