"""argparse `type=` helpers every command shares: an empty path or name is refused (exit 2, "argument --X: ...")
before anything runs, because Path("") is the current directory and an empty profile or pattern silently means
the default one or every host.

Only argparse and pathlib here: the CLI imports this module at start-up."""

from __future__ import annotations

import argparse
from pathlib import Path


def path_arg(text: str) -> Path:
    """A file or directory the user names: never empty (Path("") would be the current directory)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(
            "an empty path (it would mean the current directory): name the file or directory, "
            "or leave the option out for its default"
        )
    return Path(text)


def name_arg(text: str) -> str:
    """A name (a profile, a host, an id): never empty (an empty one would silently mean the default)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty value: give one, or leave the option out for its default")
    return text


def inventory_path(text: str) -> Path:
    """-i's value: an empty one would make Ansible read every file of the current directory as inventory."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty inventory path (Ansible would read every file of the current "
                                         "directory as inventory): name the inventory file or directory")  # fmt: skip
    return Path(text)


def host_pattern(text: str) -> str:
    """--limit's value: an empty pattern would mean every host."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty pattern (it would select every host): name hosts or groups, "
                                         "or leave --limit out to run on all")  # fmt: skip
    return text
