"""JSON Schema checks of marked YAML (marked_yaml), each failure reported as `file:line: what is wrong`.

The schemas are JSON files beside the code that reads the file they describe. A schema may give the words for a
failure with `errorMessage`: one text, or one per keyword ({"type": ..., "required": ...}); `{value}` is the
offending value's repr, `{unknown}` the keys that `additionalProperties: false` refused. A failure is reported at
the line of the value the error's path reaches (the key's line inside a mapping, the item's inside a list).
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

    from egpu_setup.matrix.validate import Problems

Path_ = tuple[Any, ...]


@functools.cache
def load_schema(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


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


def _message(error: ValidationError) -> str:
    words = error.schema.get("errorMessage") if isinstance(error.schema, dict) else None
    if isinstance(words, dict):
        words = words.get(str(error.validator))
    if not isinstance(words, str):
        return str(error.message)
    unknown = ""
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set(error.schema.get("properties", {}))
        unknown = ", ".join(sorted(str(k) for k in error.instance if k not in known))
    return words.format(value=repr(error.instance), unknown=unknown)


def check(data: Any, schema: Path, problems: Problems, label: Callable[[Path_], str]) -> None:
    """Add a problem for each way `data` fails `schema`; `label(path)` prefixes it ('cudnn@7.0.5: ')."""
    import jsonschema  # here, not at the top: `egpu-setup --help` must not pay for its import

    validator = jsonschema.Draft202012Validator(load_schema(schema))
    for error in sorted(validator.iter_errors(data), key=lambda e: line_of(data, tuple(e.absolute_path))):
        path = tuple(error.absolute_path)
        problems.add(line_of(data, path), label(path) + _message(error))
