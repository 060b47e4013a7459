"""Boot model (placeholder until the full model lands)."""

from __future__ import annotations

from egpu_setup.rehearsal.machine import Machine


def ensure_up(machine: Machine, name: str) -> None:
    return None
