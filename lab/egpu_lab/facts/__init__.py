"""The facts table: what the real artifacts are, read from public sources, one YAML file per product.

Every identifier, version and path a stand-in carries (a receipt id, a kext's bundle version, a make file's name,
the wheel file of numpy) comes from here, and tests hold both the stand-ins and the roles' own identifiers to it.
The table is the simulator's, not the product's: it is written from the real packages' public metadata and source,
never from what a role expects, so a role that expects the wrong thing fails against it.

A file `<product>.yaml` holds:

    product: cuda_driver
    facts:
      receipt_id:
        value: com.nvidia.cuda.kext.pkg
        source: "Homebrew/homebrew-cask-drivers:Casks/cuda-driver.rb (uninstall pkgutil)"
        confidence: medium        # high: two or more sources agree; medium: one good source; low: inferred
        note: "..."               # optional: what is uncertain, how the stand-in copes
        role_vars: [cuda_driver:cuda_driver_receipt]   # optional: role defaults that must equal the value
        matrix: ["cuda_driver@387.128:receipt"]        # optional: matrix fields (artifact@version:dotted.path) too

`value(product, name)` returns a value; `load()` the whole table, validated (a row without a source is an error).
Only the standard library and PyYAML are imported, and only when the table is first read.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FACTS_DIR = Path(__file__).resolve().parent
CONFIDENCE = ("high", "medium", "low")
_ROW_KEYS = {"value", "source", "confidence", "note", "role_vars", "matrix"}


class FactsError(ValueError):
    """The facts table itself is malformed (a row without a source, an unknown key): a bug in this package."""


@dataclass(frozen=True)
class Fact:
    product: str
    name: str
    value: Any
    source: str
    confidence: str
    note: str = ""
    role_vars: tuple[str, ...] = field(default=())
    matrix: tuple[str, ...] = field(default=())

    @property
    def key(self) -> str:
        return f"{self.product}.{self.name}"


def _row(product: str, name: str, raw: Any, where: Path) -> Fact:
    if not isinstance(raw, dict):
        raise FactsError(f"{where}: fact {name!r} is not a mapping")
    unknown = set(raw) - _ROW_KEYS
    if unknown:
        raise FactsError(f"{where}: fact {name!r} has unknown keys {sorted(unknown)}")
    if "value" not in raw:
        raise FactsError(f"{where}: fact {name!r} has no value")
    source = raw.get("source")
    if not isinstance(source, str) or not source.strip():
        raise FactsError(f"{where}: fact {name!r} has no source")
    confidence = raw.get("confidence")
    if confidence not in CONFIDENCE:
        raise FactsError(f"{where}: fact {name!r}: confidence must be one of {CONFIDENCE}, not {confidence!r}")
    role_vars = raw.get("role_vars") or []
    if not isinstance(role_vars, list) or not all(isinstance(v, str) and v.count(":") == 1 for v in role_vars):
        raise FactsError(f"{where}: fact {name!r}: role_vars must be a list of 'role:variable'")
    matrix = raw.get("matrix") or []
    if not isinstance(matrix, list) or not all(isinstance(m, str) and re.fullmatch(r"[a-z0-9_]+@[^:]+:[\w.]+", m)
                                               for m in matrix):
        raise FactsError(f"{where}: fact {name!r}: matrix must be a list of 'artifact@version:field.path'")
    return Fact(product, name, raw["value"], source.strip(), confidence, str(raw.get("note") or ""),
                tuple(role_vars), tuple(matrix))  # fmt: skip


def load_file(path: Path) -> dict[str, Fact]:
    import yaml

    doc = yaml.safe_load(Path(path).read_text())
    if not isinstance(doc, dict) or not isinstance(doc.get("product"), str) or not isinstance(doc.get("facts"), dict):
        raise FactsError(f"{path}: expected a mapping with 'product' and 'facts'")
    product = doc["product"]
    if product != Path(path).stem:
        raise FactsError(f"{path}: product {product!r} does not match the file name")
    return {name: _row(product, name, raw, Path(path)) for name, raw in doc["facts"].items()}


@functools.cache
def load() -> dict[str, dict[str, Fact]]:
    """product -> name -> Fact, for every `*.yaml` beside this module."""
    return {path.stem: load_file(path) for path in sorted(FACTS_DIR.glob("*.yaml"))}


def fact(product: str, name: str) -> Fact:
    try:
        return load()[product][name]
    except KeyError:
        raise KeyError(f"no fact {product}.{name} in {FACTS_DIR}") from None


def value(product: str, name: str) -> Any:
    return fact(product, name).value


def all_facts() -> list[Fact]:
    return [f for rows in load().values() for f in rows.values()]
