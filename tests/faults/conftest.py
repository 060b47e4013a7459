"""The fault matrix reuses the end-to-end fixtures of tests/provision: its lab_up and Lab handle (loaded by path,
as pytest's importlib mode keeps each conftest to its own directory)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_PROVISION = Path(__file__).parent.parent / "provision/conftest.py"
_spec = importlib.util.spec_from_file_location("provision_fixtures", _PROVISION)
assert _spec and _spec.loader
provision_fixtures = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = provision_fixtures  # its dataclasses look their module up there
_spec.loader.exec_module(provision_fixtures)


@pytest.fixture(scope="session")
def make_lab():
    """`with make_lab(base_dir, hosts=4) as lab:` (tests/provision's lab_up)."""
    return provision_fixtures.lab_up
