"""Fixtures for matrix tests: the packaged matrix, and a writable copy to break on purpose."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from egpu_setup.matrix import DATA_FILE, Matrix, load_matrix


@pytest.fixture(scope="session")
def matrix() -> Matrix:
    return load_matrix()


@pytest.fixture
def broken_matrix(tmp_path: Path) -> Callable[[str, str], tuple[Path, int]]:
    """`broken_matrix(old, new)` writes a copy of the matrix with the first `old` replaced by `new`.

    Returns the file and the 1-based line where the replacement starts.
    """

    def make(old: str, new: str) -> tuple[Path, int]:
        text = DATA_FILE.read_text(encoding="utf-8")
        assert old in text, f"fixture text not in matrix: {old!r}"
        line = text[: text.index(old)].count("\n") + 1
        path = tmp_path / "matrix.yaml"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
        return path, line

    return make
