"""The mark that makes a directory a rehearsal lab: `<lab>/.egpu-setup-lab`, a small JSON record (kind, format)
that `lab up` writes before anything else; `lab down` keeps it with the lab's cache. Every lab verb and
`--rehearse --lab-dir` acts only on a directory that carries it, so a directory of the user's own (an inventory,
group_vars/) is never written into or cleaned out because of its name or a typo in --dir.

`lab up` takes a directory that is absent, empty or already marked. A lab made before the marker existed (its
lab.json holds "options", beside hosts/ or inventory.yml) is recognised once and marked then."""

from __future__ import annotations

import json
import time
from pathlib import Path

from egpu_setup.errors import EgpuError

NAME = ".egpu-setup-lab"
KIND = "egpu-setup-lab"
FORMAT = 1


def path(directory: Path) -> Path:
    return directory / NAME


def write(directory: Path) -> None:
    """Mark `directory` as a lab (the first file `lab up` writes there)."""
    record = {"kind": KIND, "format": FORMAT, "created": int(time.time())}
    path(directory).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def is_lab(directory: Path) -> bool:
    """Whether `directory` carries a sound marker (or is an unmarked lab of the old layout, which is marked now)."""
    if not path(directory).is_symlink() and path(directory).is_file():
        return _sound(directory)
    if _old_layout(directory):
        write(directory)
        return True
    return False


def usable_for_up(directory: Path) -> None:
    """Refuse (exit 2, nothing written) a directory that holds something and is not a lab."""
    if not directory.exists() or (directory.is_dir() and not any(directory.iterdir())) or is_lab(directory):
        return
    raise EgpuError(
        f"{directory} is not empty and is not a rehearsal lab (it has no {NAME}, the mark `lab up` writes first): "
        "egpu-setup makes a lab only in an absent or empty directory",
        fix=f"give --dir (or --lab-dir) a new or empty directory, e.g. {directory / 'lab'}",
    )


def require(directory: Path) -> None:
    """Refuse (exit 2) a directory that is not a lab: absent, or without the marker."""
    if is_lab(directory):
        return
    if not directory.exists() or (directory.is_dir() and not any(directory.iterdir())):
        raise EgpuError(f"no lab at {directory}", fix="`egpu-setup lab up --dir DIR` first (or check --dir)")
    raise EgpuError(
        f"{directory} is not a rehearsal lab: it has no {NAME} (the mark `lab up` writes first); "
        "egpu-setup changes nothing in it",
        fix="check --dir (or --lab-dir): name a directory made by `egpu-setup lab up`",
    )


def _sound(directory: Path) -> bool:
    try:
        record = json.loads(path(directory).read_text(encoding="utf-8"))  # is_lab checked: a regular file
    except (OSError, ValueError) as exc:
        raise _damaged(directory, f"{type(exc).__name__}: {exc}") from None
    if not isinstance(record, dict) or record.get("kind") != KIND:
        raise _damaged(directory, f"its kind is not {KIND!r}")
    if record.get("format") != FORMAT:
        raise _damaged(directory, f"format {record.get('format')!r}, this egpu-setup knows {FORMAT}")
    return True


def _damaged(directory: Path, why: str) -> EgpuError:
    return EgpuError(
        f"the lab marker {path(directory)} is damaged ({why})",
        fix=f"if {directory} is a lab, write {json.dumps({'kind': KIND, 'format': FORMAT})} into it; "
        "else check --dir",
    )


def _old_layout(directory: Path) -> bool:
    """A lab from before the marker: lab.json with the lab's options, and its hosts/ or inventory.yml."""
    config = directory / "lab.json"
    if config.is_symlink() or not config.is_file():
        return False
    if not ((directory / "hosts").is_dir() or (directory / "inventory.yml").is_file()):
        return False
    try:
        record = json.loads(config.read_text(encoding="utf-8"))  # checked above: a regular file
    except (OSError, ValueError):
        return False  # a damaged lab.json of an old lab: refused as a foreign directory, named with its fix
    return isinstance(record, dict) and isinstance(record.get("options"), dict) and "created" in record
