"""/usr/libexec/PlistBuddy: read and edit property lists by key path."""

from __future__ import annotations

import datetime
import plistlib
import shlex
from pathlib import Path
from typing import Any

from egpu_lab import permissions
from egpu_lab.macos.base import Sim, dump_plist, plist_format

EXECUTABLES = {"/usr/libexec/PlistBuddy": "plistbuddy"}

USAGE = """Usage: PlistBuddy [-cxh] <file.plist>
    -c "<command>" execute command and exit
    -x             output will be in the form of an xml plist where appropriate
    -h             print the complete help info, with command guide"""
TYPES = {"string", "array", "dict", "bool", "real", "integer", "date", "data"}


class _Missing(Exception):
    pass


def _keys(entry: str) -> list[str]:
    return [k for k in entry.split(":") if k != ""]


def _get(root: Any, keys: list[str]) -> Any:
    node = root
    for key in keys:
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            raise _Missing(key)
    return node


def _format(value: Any, indent: int = 0) -> str:
    pad = "    " * (indent + 1)
    if isinstance(value, dict):
        inner = "".join(f"{pad}{k} = {_format(v, indent + 1)}\n" for k, v in value.items())
        return "Dict {\n" + inner + "    " * indent + "}"
    if isinstance(value, list):
        inner = "".join(f"{pad}{_format(v, indent + 1)}\n" for v in value)
        return "Array {\n" + inner + "    " * indent + "}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, datetime.datetime):
        return value.strftime("%a %b %d %H:%M:%S UTC %Y")
    return str(value)


class _BadValue(Exception):
    """A value that does not parse as the entry's type."""


def _convert(kind: str, text: str) -> Any:
    try:
        return _parse_value(kind, text)
    except ValueError as exc:
        raise _BadValue(text) from exc


def _parse_value(kind: str, text: str) -> Any:
    if kind == "string":
        return text
    if kind == "bool":
        return text.lower() in ("true", "yes", "1")
    if kind == "integer":
        return int(text or 0)
    if kind == "real":
        return float(text or 0)
    if kind == "data":
        return text.encode()
    if kind == "date":
        return datetime.datetime.now() if not text else datetime.datetime.strptime(text, "%a %b %d %H:%M:%S %Z %Y")
    return {} if kind == "dict" else []


def _run(command: str, data: dict[str, Any], sim: Sim, xml: bool) -> tuple[bool, bool]:
    """Run one -c command; returns (ok, changed)."""
    words = shlex.split(command)
    if not words:
        return True, False
    verb = words[0].capitalize()
    entry = words[1] if len(words) > 1 else ""
    keys = _keys(entry)
    if verb == "Print":
        try:
            value = _get(data, keys)
        except _Missing:
            sim.err(f'Print: Entry, "{entry}", Does Not Exist')
            return False, False
        if xml:
            sim.stdout.write(plistlib.dumps(value).decode())
        else:
            sim.out(_format(value))
        return True, False
    if verb == "Set":
        if not keys:
            sim.err("Set: Can't set the root entry")
            return False, False
        try:
            parent = _get(data, keys[:-1])
            old = _get(parent, keys[-1:])
        except _Missing:
            sim.err(f'Set: Entry, "{entry}", Does Not Exist')
            return False, False
        if isinstance(old, dict | list):
            sim.err("Set: Cannot Perform Set On Containers")
            return False, False
        kind = {bool: "bool", int: "integer", float: "real", bytes: "data"}.get(type(old), "string")
        value = _convert(kind, " ".join(words[2:]))
        if isinstance(parent, list):
            parent[int(keys[-1])] = value
        else:
            parent[keys[-1]] = value
        return True, True
    if verb == "Add":
        if len(words) < 3 or words[2].lower() not in TYPES:
            sim.err(f"Unrecognized Type: {words[2] if len(words) > 2 else ''}")
            return False, False
        try:
            parent = _get(data, keys[:-1])
        except _Missing:
            sim.err(f'Add: Entry, "{entry}", Does Not Exist')
            return False, False
        value = _convert(words[2].lower(), " ".join(words[3:]))
        if isinstance(parent, list):
            parent.append(value)
        elif isinstance(parent, dict):
            if keys[-1] in parent:
                sim.err(f'Add: ":{":".join(keys)}" Entry Already Exists')
                return False, False
            parent[keys[-1]] = value
        return True, True
    if verb == "Delete":
        try:
            parent = _get(data, keys[:-1])
            _get(parent, keys[-1:])
        except _Missing:
            sim.err(f'Delete: Entry, "{entry}", Does Not Exist')
            return False, False
        if isinstance(parent, list):
            del parent[int(keys[-1])]
        else:
            del parent[keys[-1]]
        return True, True
    if verb in ("Save", "Exit", "Quit"):
        return True, False
    sim.err(f"Unrecognized Command: {words[0]}")
    return False, False


def plistbuddy(argv: list[str], sim: Sim) -> int:
    """Imitates /usr/libexec/PlistBuddy of 10.13 (PlistBuddy -h command guide; messages in macos-commands.md and
    in public scripts such as vulgo/webdriver.sh that edit NVDARequiredOS with it).

    `-c "Print :a:b"` prints the bare value (dicts/arrays as `Dict {`/`Array {` blocks, -x as XML);
    `-c "Set :a:b v"` silent, keeps the value's type; `-c "Add :a:b type [v]"`; `-c "Delete :a:b"`.
    Missing entry: `Print: Entry, ":a:b", Does Not Exist` (likewise Set/Delete), exit 1 (unconfirmed);
    `Add: ":a:b" Entry Already Exists`. Several -c run in order; changes are saved once at the end in the file's
    format (binary stays binary). A missing file: `File Doesn't Exist, Will Create: PATH`. Saving refuses what the
    user may not write on a Mac (rehearsal.permissions: admin outside its home, /tmp and /Applications; anyone
    under SIP's protected /System, /usr, /bin, /sbin): `Error Writing File: PATH (Permission denied)` or
    `(Operation not permitted)`, exit 1, the file unchanged. A value that does not parse as the entry's type
    (`Set :n abc` on an integer): `Unrecognized Set Value: abc`, exit 1.
    Divergence: interactive mode (no -c) is not imitated; `Merge`, `Import`, `Copy` neither; the texts of the two
    errors above are unconfirmed.
    """
    commands: list[str] = []
    xml = False
    files: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "-c" and i + 1 < len(argv):
            commands.append(argv[i + 1])
            i += 1
        elif arg == "-x":
            xml = True
        elif arg == "-h":
            sim.out(USAGE)
            return 0
        else:
            files.append(arg)
        i += 1
    if len(files) != 1 or not commands:
        sim.fail(USAGE, 1)
    path: Path = sim.path(files[0])
    binary = False
    if path.exists():
        binary = plist_format(path)
        try:
            with open(path, "rb") as f:
                data = plistlib.load(f)
        except (plistlib.InvalidFileException, ValueError):
            sim.fail(f"Error Reading File: {files[0]}", 1)
    else:
        sim.out(f"File Doesn't Exist, Will Create: {files[0]}")
        data = {}
    ok = True
    changed = False
    for command in commands:
        try:
            step_ok, step_changed = _run(command, data, sim, xml)
        except _BadValue as exc:
            sim.err(f"Unrecognized {command.split()[0].capitalize()} Value: {exc}")  # text unconfirmed
            step_ok, step_changed = False, False
        ok = ok and step_ok
        changed = changed or step_changed
    if changed:
        refusal = permissions.write_refusal(files[0], sim.user, sim.machine.read(), sim.cwd)
        try:
            if refusal:
                raise PermissionError(refusal)
            dump_plist(data, path, binary=binary)
        except OSError as exc:
            sim.fail(f"Error Writing File: {files[0]} ({exc.strerror or exc})", 1)  # text unconfirmed
    return 0 if ok else 1
