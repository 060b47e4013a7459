"""The matrix's JSON Schema: its lists agree with the code, and no swapped value ever gives a traceback."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
import yaml

from egpu_setup.cache.lock import LOCK_SCHEMA
from egpu_setup.errors import EgpuError
from egpu_setup.matrix import ARTIFACT_IDS, DATA_FILE, load_matrix
from egpu_setup.matrix.marked_yaml import MarkedDict, MarkedList, load_marked
from egpu_setup.matrix.matrix import _apply_overlay
from egpu_setup.matrix.schema_check import load_schema
from egpu_setup.matrix.validate import MATRIX_SCHEMA, SHA256_HEX, SHA512_HEX, validate_matrix

SWAPS: tuple[Any, ...] = (None, True, 1.5, -3, "", "x y", [], ["x", 2], {}, {"a": [1]})


def test_the_schema_names_the_artifact_ids_the_code_knows() -> None:
    defs = load_schema(MATRIX_SCHEMA)["$defs"]
    assert tuple(defs["artifact"]["properties"]["id"]["enum"]) == ARTIFACT_IDS
    assert tuple(defs["profile"]["required"]) == ARTIFACT_IDS
    branches = [b["if"]["properties"]["id"] for b in defs["artifact"]["allOf"]]
    assert {i for b in branches for i in b.get("enum", [b.get("const")])} <= set(ARTIFACT_IDS)


def test_digests_have_one_form_everywhere() -> None:
    lock = load_schema(LOCK_SCHEMA)
    for name, regex in (("sha256", SHA256_HEX), ("sha512", SHA512_HEX)):
        assert lock["$defs"]["entry"]["properties"][name]["$ref"] == f"digests.schema.json#/$defs/{name}"
        assert load_schema(MATRIX_SCHEMA)["$defs"][name]["$ref"] == f"digests.schema.json#/$defs/{name}"
        assert regex.match("a" * (64 if name == "sha256" else 128)) and not regex.match("A" * 64)


def _cases() -> list[tuple[tuple[Any, ...], Any]]:
    """(path, value): each field of one entry per kind (the first artifact of each id) gets a swapped value."""
    data = load_marked(DATA_FILE, "matrix")
    firsts = {entry["id"]: index for index, entry in reversed(list(enumerate(data["artifacts"])))}
    entries = [("artifacts", i) for i in firsts.values()]
    entries += [("gpus", "gtx1080"), ("links", "thunderbolt3"), ("macos_builds", 0), ("profiles", "default")]
    paths = [(section,) for section in data] + [(s, k, f) for s, k in entries for f in data[s][k]]
    swaps = itertools.cycle(SWAPS)
    return [(path, next(swaps)) for path in paths]


@pytest.mark.parametrize(("path", "value"), _cases(), ids=lambda v: str(v))
def test_a_swapped_value_is_a_named_problem_never_a_traceback(tmp_path: Path, path: tuple[Any, ...], value: Any):
    data = load_marked(DATA_FILE, "matrix")
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    try:
        validate_matrix(data, tmp_path / "m.yaml")
    except EgpuError as error:
        assert f"{tmp_path / 'm.yaml'}:" in error.message
        assert "unknown field  (" not in error.message  # a known field that failed is not also 'unknown'


@pytest.mark.parametrize("value", SWAPS, ids=repr)
@pytest.mark.parametrize("name", ["url", "sha256", "size", "filename_patterns", "cuda", "version", "colour"])
def test_a_swapped_overlay_field_is_a_named_problem(tmp_path: Path, name: str, value: Any) -> None:
    matrix = load_matrix()
    matrix.artifacts = dict(matrix.artifacts)
    overlay = tmp_path / "o.yaml"
    entry = {"id": "cudnn", "version": "7.0.5", name: value}
    overlay.write_text(yaml.safe_dump({"artifacts": [entry]}))
    try:
        _apply_overlay(matrix, overlay)
    except EgpuError as error:
        assert f"{overlay}:" in error.message


def test_a_missing_field_is_named_at_its_entry(broken_matrix) -> None:
    path, line = broken_matrix("    package: NVDAEGPUSupport-v1.pkg\n", "")
    with pytest.raises(EgpuError) as info:
        load_matrix(path=path)
    assert f"{path}:{line - 3}: artifact egpu_support 1: missing field 'package'" in info.value.message


def test_marked_types_are_not_left_in_the_records() -> None:
    matrix = load_matrix()
    for artifact in matrix.artifacts.values():
        assert not any(isinstance(v, MarkedDict | MarkedList) for v in artifact.fields.values()), artifact.key


# Exact sizes only: `size` is a download limit (egpu_setup.cache.download). numpy's is PyPI's published size of the
# wheel, and the size of the file `pip download --no-deps --only-binary=:all: --platform macosx_10_9_x86_64
# --python-version 3.11 numpy==1.23.5` saved (its SHA-256 the matrix's); python3's agrees with a public build manifest
# giving the same SHA-256. cuda_toolkit's 1.53 GB is only approximate, so it has none.
PUBLISHED_SIZES = {("numpy", "1.23.5"): 18_089_545, ("python3", "3.11.9"): 44_860_848}


def test_matrix_sizes_are_the_published_exact_sizes(matrix) -> None:
    sizes = {key: artifact.size for key, artifact in matrix.artifacts.items() if artifact.size is not None}
    assert sizes == PUBLISHED_SIZES


@pytest.mark.parametrize("value", [0, -1, 1.5, "18 MB", True])
def test_a_size_that_is_not_a_whole_number_of_bytes_is_named(broken_matrix, value: Any) -> None:
    path, line = broken_matrix("    size: 18089545", f"    size: {yaml.safe_dump(value).splitlines()[0]}")
    with pytest.raises(EgpuError) as bad:
        load_matrix(path)
    assert f"{path}:{line}" in bad.value.message and "size must be the file's exact size" in bad.value.message
    assert bad.value.exit_code == 2
