"""bench/lab_scale.py's model of a CPU-bound lab: the ceiling it prints is the Macs' own CPU per Mac at which the
larger lab's first run takes exactly the goal's multiple of the smallest's, on the cores given."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "lab_scale.py"


@pytest.fixture(scope="module")
def lab_scale() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lab_scale", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def lab(hosts: int, wall: float, controller: float, machine: float) -> dict:
    return {"hosts": hosts, "first_run": {"wall_s": wall, "cpu_s": controller, "machine_cpu_s": machine}}


def test_at_the_ceiling_the_larger_lab_takes_the_goal_multiple(lab_scale: ModuleType) -> None:
    one, eight = lab(1, 41.1, 10.3, 38.7), lab(8, 147.9, 62.0, 276.6)
    got = lab_scale.mac_cpu_ceiling(one, eight, 2)

    assert got["mac_cpu_per_mac_s"] == pytest.approx(26.6, abs=0.01)  # (276.6 - 62.0 - (38.7 - 10.3)) / 7
    assert got["mac_cpu_fixed_s"] == pytest.approx(1.8, abs=0.01)
    assert got["controller_cpu_per_mac_s"] == pytest.approx(7.39, abs=0.01)
    # the same labs with the Macs' own CPU at the ceiling: the smallest one runs step by step, the larger CPU-bound
    ceiling = got["mac_cpu_per_mac_ceiling_s"]
    wall_one = 41.1 - (got["mac_cpu_per_mac_s"] - ceiling)
    wall_eight = (62.0 + got["mac_cpu_fixed_s"] + 8 * ceiling) / 2
    assert wall_eight / wall_one == pytest.approx(lab_scale.FIRST_RUN_GOAL, abs=0.01)


def test_no_ceiling_where_the_cores_outnumber_what_the_goal_allows(lab_scale: ModuleType) -> None:
    # 8 Macs on 4 cores: their CPU over the cores grows slower than the goal's multiple of one Mac's
    assert lab_scale.mac_cpu_ceiling(lab(1, 41.1, 10.3, 38.7), lab(8, 80.0, 62.0, 276.6), 4) is None
    assert lab_scale.mac_cpu_ceiling(lab(8, 1, 1, 1), lab(8, 1, 1, 1), 2) is None
