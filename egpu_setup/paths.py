"""Default directories on the controller, following the XDG base directory spec, and the check that a directory
given on the command line can be used before anything is written there."""

from __future__ import annotations

import os
from pathlib import Path

from egpu_setup.errors import EgpuError

# The lab's lock file, beside its inventory (docs/architecture.md, "Artifact cache").
DEFAULT_LOCK_NAME = "egpu-setup.lock"


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var)
    return Path(value) if value else Path.home() / fallback


def cache_dir() -> Path:
    """The artifact cache: $EGPU_SETUP_CACHE, else $XDG_CACHE_HOME/egpu-setup, else ~/.cache/egpu-setup."""
    override = os.environ.get("EGPU_SETUP_CACHE")
    return Path(override) if override else _xdg("XDG_CACHE_HOME", ".cache") / "egpu-setup"


def data_dir() -> Path:
    """Where labs and run logs live: $XDG_DATA_HOME/egpu-setup, else ~/.local/share/egpu-setup."""
    return _xdg("XDG_DATA_HOME", ".local/share") / "egpu-setup"


def default_lab_dir() -> Path:
    """The rehearsal lab: $EGPU_SETUP_LAB, else <data_dir>/lab."""
    override = os.environ.get("EGPU_SETUP_LAB")
    return Path(override) if override else data_dir() / "lab"


def runs_dir() -> Path:
    """Logs and JSON reports of provision/plan/rollback runs."""
    return data_dir() / "runs"


def locks_dir() -> Path:
    """The per-host run locks of this controller (egpu_setup.runner.host_lock)."""
    return data_dir() / "locks"


def require_directory(path: Path, what: str) -> Path:
    """`path` itself, when it is a directory or can become one; else an EgpuError (exit 2) naming what is in the way.

    Checked before a command writes anything, so `--cache-dir FILE` or a lock path through a regular file stops
    with a message instead of failing half-way with an OSError. `what` names the thing in messages ("cache DIR").
    """
    for candidate in (path, *path.parents):
        if candidate.is_dir():
            return path
        if candidate.exists() or candidate.is_symlink():
            raise EgpuError(
                f"{what}: {candidate} is not a directory",
                fix=f"give a path whose directories exist or can be made, or move {candidate} out of the way",
            )
    return path
