"""Default directories on the controller, following the XDG base directory spec."""

from __future__ import annotations

import os
from pathlib import Path


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
