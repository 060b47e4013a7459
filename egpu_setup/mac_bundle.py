"""What goes onto a Mac: the one list of the Python code that runs there, and the bundle made of it.

The egpu.mac.target_tools action pushes this bundle into the tools venv on each Mac
(/usr/local/egpu-setup/venv). Only what runs on the Mac belongs in it: `python -m egpu_setup.verify` (the
gpu_verify role), egpu_setup.builds (the build_archive module, `python -m egpu_setup.builds`), egpu_setup.macho (the
macho_rpaths module), egpu_setup.verify.macos (module_utils/macos_parse),
and what those import (egpu_setup.matrix for verify's expectations); no CLI (egpu_setup.cli), no controller-only
code (runner, cache), no rehearsal lab (egpu_lab). tests/roles/test_mac_bundle.py holds the list to that;
bench/bundle_size.py prints its size.
"""

from __future__ import annotations

import gzip
import importlib.util
import io
import tarfile
from pathlib import Path

# Entries: a top-level package (the whole of it), or a path below one (a module file or a subpackage directory).
MAC_BUNDLE: tuple[str, ...] = (
    "egpu_setup/__init__.py",
    "egpu_setup/errors.py",
    "egpu_setup/files.py",
    "egpu_setup/output.py",
    "egpu_setup/paths.py",
    "egpu_setup/builds",
    "egpu_setup/macho",
    "egpu_setup/matrix",
    "egpu_setup/verify",
    # egpu_setup.macho reads and edits Mach-O with these two of macholib's modules (no MachO graph, no altgraph).
    "macholib/__init__.py",
    "macholib/mach_o.py",
    "macholib/ptypes.py",
    "yaml",  # verify's expectations read the matrix where PyYAML imports
)


def _top_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"no package {package!r} on the controller for the Mac's tools bundle")
    return Path(next(iter(spec.submodule_search_locations)))


def bundle_files(entries: tuple[str, ...] | list[str] = MAC_BUNDLE) -> list[tuple[str, Path]]:
    """(path in the bundle, file here) for every .py and data file the entries name, sorted, no bytecode."""
    files: dict[str, Path] = {}
    for entry in entries:
        top, _, below = entry.partition("/")
        source = _top_dir(top) / below if below else _top_dir(top)
        found = [source] if source.is_file() else sorted(source.rglob("*"))
        for path in found:
            if "__pycache__" in path.parts or path.suffix in (".pyc", ".so") or not path.is_file():
                continue
            files[f"{top}/{path.relative_to(_top_dir(top)).as_posix()}"] = path
    return sorted(files.items())


def build_bundle(entries: tuple[str, ...] | list[str] = MAC_BUNDLE) -> bytes:
    """A reproducible tar.gz of the entries' files (fixed owner, mode and mtime)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, path in bundle_files(entries):
            data = path.read_bytes()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(buf.getvalue(), compresslevel=6, mtime=0)
