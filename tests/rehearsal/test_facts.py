"""The facts table (egpu_setup.rehearsal.facts): every row sourced, and the roles and the matrix held to it.

The roles' identifiers are compared with the table written from the real packages, never with the stand-ins (which
are built from the same table and tested against it in their own tests): a role that expects what the real artifact
does not have fails here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from egpu_setup.matrix import load_matrix
from egpu_setup.rehearsal import facts

ROOT = Path(__file__).resolve().parents[2]
ROLES = ROOT / "roles"


def _role_default(role: str, var: str) -> Any:
    defaults = yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text()) or {}
    assert var in defaults, f"role {role} has no default {var}"
    return defaults[var]


def _dig(value: Any, path: str) -> Any:
    for part in path.split("."):
        assert isinstance(value, dict) and part in value, f"no field {path}"
        value = value[part]
    return value


def test_every_fact_has_a_source_and_a_confidence() -> None:
    rows = facts.all_facts()
    assert rows, "the facts table is empty"
    for row in rows:
        assert row.source and row.confidence in facts.CONFIDENCE, row.key


@pytest.mark.parametrize(
    "fact", [f for f in facts.all_facts() if f.role_vars], ids=lambda f: f.key
)  # fmt: skip
def test_role_defaults_equal_the_real_identifiers(fact: facts.Fact) -> None:
    for ref in fact.role_vars:
        role, var = ref.split(":")
        assert _role_default(role, var) == fact.value, f"{ref} differs from {fact.key} ({fact.source})"


@pytest.mark.parametrize(
    "fact", [f for f in facts.all_facts() if f.matrix], ids=lambda f: f.key
)  # fmt: skip
def test_matrix_fields_equal_the_real_identifiers(fact: facts.Fact) -> None:
    artifacts = load_matrix().artifacts
    for ref in fact.matrix:
        key, path = ref.split(":")
        artifact_id, version = key.split("@")
        assert (artifact_id, version) in artifacts, f"the matrix has no {key}"
        assert _dig(artifacts[(artifact_id, version)].fields, path) == fact.value, f"{ref} differs from {fact.key}"


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"value": 1, "confidence": "high"}, "has no source"),
        ({"value": 1, "source": " ", "confidence": "high"}, "has no source"),
        ({"value": 1, "source": "x", "confidence": "sure"}, "confidence must be"),
        ({"source": "x", "confidence": "high"}, "has no value"),
        ({"value": 1, "source": "x", "confidence": "high", "role_vars": ["novar"]}, "role_vars"),
        ({"value": 1, "source": "x", "confidence": "high", "matrix": ["clt:receipt"]}, "matrix must be"),
        ({"value": 1, "source": "x", "confidence": "high", "extra": 1}, "unknown keys"),
    ],
)
def test_a_malformed_row_is_refused(tmp_path: Path, bad: dict[str, Any], message: str) -> None:
    path = tmp_path / "thing.yaml"
    path.write_text(yaml.safe_dump({"product": "thing", "facts": {"row": bad}}))
    with pytest.raises(facts.FactsError, match=message):
        facts.load_file(path)


def test_the_product_must_match_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "thing.yaml"
    path.write_text(yaml.safe_dump({"product": "other", "facts": {}}))
    with pytest.raises(facts.FactsError, match="does not match"):
        facts.load_file(path)
