"""The bad-input corpus (issue 11, point 8): the harness lives in corpus_harness.py beside this file."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # test modules import corpus_harness (pytest's importlib mode)

from corpus_harness import Where


@pytest.fixture
def where(tmp_path: Path) -> Where:
    """A fresh case directory (cwd, HOME and the XDG directories inside it)."""
    return Where(tmp_path / "case")
