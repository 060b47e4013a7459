"""egpu_cache_dir and egpu_lock_file from an inventory: only an absolute path (after ~ expansion) outside
egpu-setup's own tree is taken; anything else is refused with exit 2 naming the variable and its value, before
a directory is made (a relative `42` once made a cache directory inside the tool's tree)."""

from __future__ import annotations

from pathlib import Path

import pytest

import egpu_setup
from egpu_setup.errors import EgpuError, ExitCode
from egpu_setup.runner.plans import PlanInputs

TREE = Path(egpu_setup.__file__).resolve().parent


@pytest.mark.parametrize("value", ["42", "cache", "./cache", "~user-that-does-not-exist/x"])
@pytest.mark.parametrize(("key", "variable"), [("cache_dir", "egpu_cache_dir"), ("lock_file", "egpu_lock_file")])
def test_a_relative_path_is_refused_naming_the_variable(key, variable, value, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(EgpuError) as refused:
        PlanInputs.from_args({"build": "17C88", key: value})
    assert refused.value.exit_code == ExitCode.USAGE
    assert f"{variable}: {value!r} is not an absolute path" in str(refused.value)
    assert variable in (refused.value.fix or "")
    assert list(tmp_path.iterdir()) == []  # nothing made


def test_a_path_inside_the_tools_tree_is_refused():
    with pytest.raises(EgpuError, match="lies inside egpu-setup's own tree"):
        PlanInputs.from_args({"build": "17C88", "cache_dir": str(TREE / "cache")})


def test_home_relative_and_absolute_paths_are_taken(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    inputs = PlanInputs.from_args({"build": "17C88", "cache_dir": "~/cache", "lock_file": str(tmp_path / "l.lock")})
    assert inputs.cache_dir == str(tmp_path / "cache") and inputs.lock_file == str(tmp_path / "l.lock")
    assert not (tmp_path / "cache").exists()
