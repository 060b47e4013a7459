"""The filter egpu.mac.build_host: which Mac of the play builds for a build key.

    {{ ansible_play_hosts | egpu.mac.build_host(hostvars, mxnet_build_key) }}

Among the hosts given (the play's active hosts: a host that failed or went unreachable earlier is not one), those
whose `key_var` is `key`; one whose `ready_var` is true (it holds that build already: packing it costs no compile)
comes first, then name order. Every host computes the same answer from the same facts, so there is no `run_once`
and no `delegate_to` (a `run_once` task is skipped for every host when its one host skips it, ansible/ansible#23594;
under the free strategy it runs whenever its host gets there). The play runs under the linear strategy, so every
host's key is set before any host asks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def build_host(
    hosts: Iterable[str],
    hostvars: Mapping[str, Any],
    key: str,
    key_var: str = "mxnet_build_key",
    ready_var: str = "mxnet_ready",
) -> str | None:
    """The host that builds for `key`, or None when no host given has that key."""
    same = [str(h) for h in hosts if hostvars[h].get(key_var) == key]
    if not same:
        return None
    return min(same, key=lambda h: (not bool(hostvars[h].get(ready_var)), h))


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"build_host": build_host}
