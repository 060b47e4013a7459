"""egpu.mac.build_host: every Mac of a play names the same building Mac for its key."""

from __future__ import annotations

from ansible_collections.egpu.mac.plugins.filter.build_host import FilterModule, build_host

HOSTVARS = {
    "mac1": {"mxnet_build_key": "k1", "mxnet_ready": False},
    "mac2": {"mxnet_build_key": "k1", "mxnet_ready": False},
    "mac3": {"mxnet_build_key": "k2", "mxnet_ready": False},
    "mac4": {"mxnet_build_key": "k1", "mxnet_ready": True},
}


def test_the_first_in_name_order_builds_unless_one_holds_the_build_already() -> None:
    hosts = ["mac3", "mac2", "mac1"]
    assert build_host(hosts, HOSTVARS, "k1") == "mac1"
    assert build_host(hosts, HOSTVARS, "k2") == "mac3"
    assert build_host([*hosts, "mac4"], HOSTVARS, "k1") == "mac4"  # it packs what it has: no compile


def test_a_host_gone_from_the_play_is_not_chosen_and_an_unknown_key_has_no_builder() -> None:
    assert build_host(["mac2", "mac3"], HOSTVARS, "k1") == "mac2"  # mac1 failed earlier: not in ansible_play_hosts
    assert build_host(["mac3"], HOSTVARS, "k1") is None
    assert FilterModule().filters()["build_host"] is build_host
