"""Stand-in for the python.org installer python-3.11.9-macos11.pkg.

python.org's product archive (public listings of its components, e.g. `pkgutil --pkgs | grep org.python` in
Homebrew and MacPorts discussions): PythonFramework-3.11.pkg (org.python.Python.PythonFramework-3.11) installs
/Library/Frameworks/Python.framework/Versions/3.11; PythonUnixTools-3.11.pkg (org.python.Python.PythonUnixTools-3.11)
links /usr/local/bin/python3 etc. into it with relative links.

Versions/3.11 is a prefix of its own, as in the real framework: bin/python3.11 is a copy of the controller's
Linux CPython 3.11 interpreter (the lab's hidden prefix, image.PYTHON3, gives it its libpython), the
standard library entries of lib/python3.11 are links into the hidden prefix, and lib/python3.11/site-packages is
a directory of the framework. Python finds its prefix from the interpreter's real path, so sys.prefix is the
framework and its site-packages holds only what is installed on the simulated Mac: the controller's own packages
(numpy, requests, PyYAML, ...) stay out of sight, as they are on a Mac (a link to the whole prefix showed them).
`python3 -m venv` finds the standard library through pyvenv.cfg's home, and `python -m ensurepip` the pip and
setuptools wheels of the standard library's ensurepip (the controller's, not 3.11.9's pip 24.0).

Divergence: the interpreter is Linux CPython (its version is the controller's 3.11); the framework's
Resources/Info.plist and the other components (Applications, docs, "Install or upgrade pip", profile changes) are
left out, so the framework's site-packages has no pip: nothing may rely on it (the roles bootstrap pip into the
tools venv with ensurepip). /usr/local/bin/python3 and python3.11 are two-line `exec` scripts rather than
python.org's relative links: Linux CPython takes sys.executable from the path it was started by, and a venv made
through a link in /usr/local/bin would look for its standard library in /usr/local/lib (a framework build resolves
to the framework instead).
"""

from __future__ import annotations

import sys
from pathlib import Path

from egpu_lab import facts, image
from egpu_lab.macos import xar_pkg
from egpu_lab.standins import common

FRAMEWORK = facts.value("python3", "framework_dir")
SHORT = "3.11"


def build_python_pkg(out: Path, work: Path, version: str) -> Path:
    fw_stage = work / "python-framework"
    fw = fw_stage / FRAMEWORK
    _framework_prefix(fw / f"Versions/{SHORT}")
    common.link(fw / "Versions/Current", SHORT)
    tools_stage = work / "python-unixtools"
    for name in ("python3", f"python{SHORT}"):
        target = f"/{FRAMEWORK}/Versions/{SHORT}/bin/{name}"
        common.write(tools_stage / "usr/local/bin" / name, f'#!/bin/sh\nexec {target} "$@"\n', 0o755)
    comps = [
        common.component(fw_stage, facts.value("python3", "framework_receipt_id"), version,
                         f"PythonFramework-{SHORT}.pkg"),
        common.component(tools_stage, facts.value("python3", "unixtools_receipt_id"), version,
                         f"PythonUnixTools-{SHORT}.pkg"),
    ]  # fmt: skip
    dist = xar_pkg.distribution_xml("Python", comps)
    return xar_pkg.write_product_pkg(out, dist, comps)


def _framework_prefix(prefix: Path, base: Path | None = None) -> None:
    """Versions/3.11: the interpreter copied from the controller's prefix `base` (the sandbox binds it at
    image.PYTHON3), its standard library linked there entry by entry, an empty site-packages of its own."""
    base = Path(base or sys.base_prefix)
    stdlib = f"lib/python{SHORT}"
    common.write(prefix / f"bin/python{SHORT}", (base / f"bin/python{SHORT}").read_bytes(), 0o755)
    common.link(prefix / "bin/python3", f"python{SHORT}")
    common.link(prefix / "include", f"{image.PYTHON3}/include")
    for entry in sorted((base / stdlib).iterdir()):
        if entry.name not in ("site-packages", "__pycache__"):
            common.link(prefix / stdlib / entry.name, f"{image.PYTHON3}/{stdlib}/{entry.name}")
    # A file keeps the directory in the payload (the framework installs it empty but for pip).
    common.write(prefix / stdlib / "site-packages/README.txt", "Packages installed into this framework's Python.\n")
