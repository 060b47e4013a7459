"""Helpers shared by the stand-in builders: staging trees, plists, command shims inside payloads."""

from __future__ import annotations

import os
import plistlib
from pathlib import Path
from typing import Any

from egpu_lab import image
from egpu_lab.macos import xar_pkg

FIXED_MTIME = xar_pkg.FIXED_MTIME


def write(path: Path, data: bytes | str, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    path.chmod(mode)
    return path


def write_plist(path: Path, data: dict[str, Any]) -> Path:
    return write(path, plistlib.dumps(data, sort_keys=True))


def launchd_job(staging: Path, plist_path: str, label: str) -> Path:
    """A launchd job's property list in a payload: Label and RunAtLoad only, the keys no public source shows are
    left out (facts: *.update_agent*), so nothing can come to depend on invented ones."""
    return write_plist(staging / plist_path.lstrip("/"), {"Label": label, "RunAtLoad": True})


def link(path: Path, target: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink() or path.exists():
        path.unlink()
    os.symlink(target, path)
    return path


def shim(path: Path, module: str, handler: str) -> Path:
    """An executable inside a payload that runs an imitated command (same form as the host's own shims)."""
    text = image.SHIM.format(python=image.SIM_PYTHON, project=image.PROJECT, module=module, handler=handler)
    return write(path, text, 0o755)


def component(staging: Path, identifier: str, version: str, dirname: str, **kwargs: Any) -> xar_pkg.Component:
    """A component package whose payload is the tree under `staging` (install location '/')."""
    return xar_pkg.Component(identifier, version, xar_pkg.pack_tree(staging), dirname=dirname, **kwargs)
