"""YAML that remembers where each value came from, so a bad entry can be reported as `file:line`.

PyYAML's plain loaders drop the node marks once values are built. This loader subclasses the safe loader (the C
parser when libyaml is there, for start-up speed) and keeps, for every mapping and sequence, the line of each key
and item. It also refuses duplicate keys, which PyYAML would otherwise resolve silently to the last one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from egpu_setup.errors import EgpuError
from egpu_setup.files import NotRegularFile, read_regular_text

try:  # libyaml's parser: several times faster than the pure-Python one
    _BaseLoader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _BaseLoader = yaml.SafeLoader


class MarkedDict(dict):
    """A mapping from YAML with the 1-based line of the mapping and of each key."""

    line: int = 0
    key_lines: dict[Any, int]

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class MarkedList(list):
    """A sequence from YAML with the 1-based line of the sequence and of each item."""

    line: int = 0
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if 0 <= index < len(self.item_lines) else self.line


class _DuplicateKey(yaml.MarkedYAMLError):
    pass


class _MarkingLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> MarkedDict:  # type: ignore[override]
        result = MarkedDict()
        result.line = node.start_mark.line + 1
        result.key_lines = {}
        self.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool | None):  # a `? [list]` key: what SafeLoader refuses too
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping", node.start_mark, "a key must be a plain value", key_node.start_mark
                )
            if key in result.key_lines:
                raise _DuplicateKey(
                    "while reading a mapping", node.start_mark, f"duplicate key {key!r}", key_node.start_mark
                )
            result[key] = self.construct_object(value_node, deep=True)
            result.key_lines[key] = key_node.start_mark.line + 1
        return result

    def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> MarkedList:  # type: ignore[override]
        result = MarkedList(self.construct_object(child, deep=True) for child in node.value)
        result.line = node.start_mark.line + 1
        result.item_lines = [child.start_mark.line + 1 for child in node.value]
        return result


_MarkingLoader.add_constructor("tag:yaml.org,2002:map", _MarkingLoader.construct_mapping)
_MarkingLoader.add_constructor("tag:yaml.org,2002:seq", _MarkingLoader.construct_sequence)


def load_marked(path: Path, what: str) -> Any:
    """Parse `path`; a missing, unreadable or malformed file is an EgpuError naming `path:line`.

    `what` names the file's role in messages ("matrix", "lock file", "matrix overlay").
    """
    try:
        text = read_regular_text(path)  # a FIFO is refused, not waited on
    except NotRegularFile as exc:
        if exc.kind == "a directory":
            raise EgpuError(
                f"{what} {path} is a directory", fix=f"give the path of the {what} itself, not of a directory"
            ) from None
        raise EgpuError(f"{what} {path} is {exc.kind}, not a regular file", fix=f"give the {what} itself") from None
    except (FileNotFoundError, NotADirectoryError):
        raise EgpuError(f"{what} {path} does not exist", fix=f"check the path of the {what}") from None
    except UnicodeDecodeError as exc:
        raise EgpuError(
            f"{what} {path} is not UTF-8 text ({exc.reason} at byte {exc.start})",
            fix=f"check that {path} is the {what} (YAML text), not another file",
        ) from None
    except OSError as exc:
        raise EgpuError(f"cannot read {what} {path}: {exc.strerror}", fix=f"check the {what}'s permissions") from None
    try:
        return yaml.load(text, Loader=_MarkingLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = exc.problem or exc.context or "malformed YAML"
        raise EgpuError(
            f"{where}: {what} is not valid YAML: {problem}",
            fix=f"correct line {mark.line + 1 if mark else '?'} of {path}",
        ) from None
    except yaml.YAMLError as exc:
        raise EgpuError(f"{path}: {what} is not valid YAML: {exc}", fix=f"correct {path}") from None
