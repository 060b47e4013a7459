"""How many Macs Ansible works on at once: its forks, sized to the hosts a run targets, and the serial batches of
`--serial` (the rules of Ansible's own PlaybookExecutor._get_serialized_batches, so the report can count the
batches a stopped run never started)."""

from __future__ import annotations

import math

# One fork per Mac up to this many: a play over Macs mostly waits on them (installers, downloads, a build), so
# Ansible's default of 5 forks would work through 8 Macs in two waves; past the limit the controller's own CPU and
# memory decide.
MAX_FORKS = 25

Serial = int | str  # a number of Macs per batch (>= 1) or a percentage of them ("25%"), as Ansible's `serial`


def batch_size(serial: Serial | None, hosts: int) -> int:
    """Macs per batch: Ansible's pct_to_int (a percentage rounds down, at least 1); no serial: all in one."""
    if serial is None:
        return max(hosts, 1)
    if isinstance(serial, str) and serial.endswith("%"):
        size = int(int(serial[:-1]) / 100.0 * hosts) or 1
    else:
        size = int(serial)
    return max(hosts, 1) if size <= 0 else min(size, max(hosts, 1))


def batch_count(serial: Serial | None, hosts: int) -> int:
    return math.ceil(hosts / batch_size(serial, hosts)) if hosts else 0


def forks_for(hosts: int, serial: Serial | None = None) -> int:
    """Ansible's forks for a run over `hosts` Macs: one per Mac of a batch, within MAX_FORKS."""
    return max(1, min(batch_size(serial, hosts), MAX_FORKS))
