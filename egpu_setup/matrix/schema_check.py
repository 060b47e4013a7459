"""JSON Schema checks of marked YAML (marked_yaml), each failure reported as `file:line: what is wrong`.

The schemas are JSON files beside the code that reads the file they describe; `digests.schema.json` holds the one
definition of a SHA-256's and a SHA-512's form, which they `$ref`. A schema may give the words for a failure with
`errorMessage`: one text, or one per keyword ({"type": ..., "required": ...}). Placeholders: `{value}` the
offending value's repr, `{field}` the name of the field it sits in, `{missing}` the fields `required` missed,
`{unknown}` the keys `additionalProperties`/`unevaluatedProperties: false` refused and `{known}` those allowed.
A failure is reported at the line of the value the error's path reaches (the key's line inside a mapping, the
item's inside a list). An integer is what YAML reads as one: 5.0 is a number, not a whole number.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from egpu_setup.matrix.marked_yaml import MarkedDict, MarkedList

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator

    from egpu_setup.matrix.validate import Problems

Path_ = tuple[Any, ...]
DIGESTS_SCHEMA = Path(__file__).with_name("digests.schema.json")


@functools.cache
def available() -> bool:
    """Whether jsonschema (and its `referencing`) can be imported: not on a Mac's tools venv, which gets only the
    pure-Python bundle (jsonschema needs rpds-py, a compiled extension built for the controller)."""
    try:
        import jsonschema  # noqa: F401
        import referencing  # noqa: F401
    except ImportError:
        return False
    return True


def load_schema(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def without_required(schema: Any) -> Any:
    """`schema` with no `required` (outside `if`, where it only picks a branch): what a partial entry must meet."""
    if isinstance(schema, list):
        return [without_required(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    return {
        key: (value if key == "if" else without_required(value))
        for key, value in schema.items()
        if not (key == "required" and isinstance(value, list))
    }


def line_of(data: Any, path: Path_) -> int:
    """The line of the value at `path` in marked `data` (the nearest enclosing one where the path stops)."""
    line = int(getattr(data, "line", 1) or 1)
    node = data
    for part in path:
        in_dict = isinstance(node, MarkedDict) and part in node
        in_list = isinstance(node, MarkedList) and isinstance(part, int) and 0 <= part < len(node)
        if not (in_dict or in_list):
            break
        line, node = node.line_of(part), node[part]
    return line


def _known(error: ValidationError, validator: Validator) -> set[Any]:
    """The keys the failing schema allows: its `properties`, and for `unevaluatedProperties` those of each
    `allOf` branch whose `if` the mapping meets (how the matrix adds an artifact id's own fields)."""
    schema = error.schema if isinstance(error.schema, dict) else {}
    known = set(schema.get("properties", {}))
    if error.validator == "unevaluatedProperties":
        for branch in schema.get("allOf", []):
            if "if" in branch and validator.evolve(schema=branch["if"]).is_valid(error.instance):
                known |= set(branch.get("then", {}).get("properties", {}))
    return known


def _unknown(error: ValidationError, validator: Validator) -> list[Any]:
    """The keys `additionalProperties`/`unevaluatedProperties: false` refused (none for other failures)."""
    if error.validator not in ("additionalProperties", "unevaluatedProperties") or not isinstance(error.instance, dict):
        return []
    known = _known(error, validator)
    return sorted((key for key in error.instance if key not in known), key=repr)


def _line(data: Any, error: ValidationError, validator: Validator) -> int:
    """Where the failure is: the value's line, or for refused keys the first one's (a misspelt field's own line)."""
    path = tuple(error.absolute_path)
    unknown = _unknown(error, validator)
    return line_of(data, (*path, unknown[0])) if unknown else line_of(data, path)


def _message(error: ValidationError, validator: Validator) -> str:
    words = error.schema.get("errorMessage") if isinstance(error.schema, dict) else None
    if isinstance(words, dict):
        words = words.get(str(error.validator))
    if not isinstance(words, str):
        return str(error.message)
    instance = error.instance if isinstance(error.instance, dict) else {}
    known = _known(error, validator)
    missing = [name for name in error.validator_value if name not in instance] if error.validator == "required" else []
    return words.format(
        value=repr(error.instance),
        field=next((str(part) for part in reversed(error.absolute_path) if isinstance(part, str)), "value"),
        missing=", ".join(repr(name) for name in missing),
        unknown=", ".join(repr(key) for key in _unknown(error, validator)),
        known=", ".join(str(name) for name in sorted(known)),
    )


@functools.cache
def _validator_class() -> Any:
    import jsonschema  # here, not at the top: `egpu-setup --help` must not pay for its import

    base = jsonschema.Draft202012Validator
    strict = base.TYPE_CHECKER.redefine("integer", lambda _checker, value: type(value) is int)
    return jsonschema.validators.extend(base, type_checker=strict)


def check(
    data: Any,
    schema: Path,
    problems: Problems,
    label: Callable[[Path_], str],
    ref: str | None = None,
    partial: bool = False,
) -> None:
    """Add a problem for each way `data` fails `schema` (or its subschema `ref`, '#/$defs/artifact'); `label(path)`
    prefixes it ('cudnn@7.0.5: '). `partial`: fields may be missing (an overlay replaces some fields of an entry)."""
    from referencing import Registry, Resource

    root = load_schema(schema)
    shown = {**root, "$ref": ref, "$defs": root.get("$defs", {})} if ref else root
    if ref:  # the root's own keywords are not the subschema's
        shown = {key: shown[key] for key in ("$schema", "$id", "$ref", "$defs") if key in shown}
    digests = load_schema(DIGESTS_SCHEMA)
    registry = Registry().with_resource(digests["$id"], Resource.from_contents(digests))
    validator = _validator_class()(without_required(shown) if partial else shown, registry=registry)
    seen: set[tuple[int, str]] = set()
    for error in sorted(validator.iter_errors(data), key=lambda e: _line(data, e, validator)):
        if error.validator == "unevaluatedProperties" and not _unknown(error, validator):
            continue  # jsonschema counts a known field that failed its own check as unevaluated: reported already
        found = (_line(data, error, validator), label(tuple(error.absolute_path)) + _message(error, validator))
        if found not in seen:  # `required` fails once per missing field; {missing} names them all
            seen.add(found)
            problems.add(*found)
