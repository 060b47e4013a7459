"""Stand-in for the python.org installer python-3.11.9-macos11.pkg.

python.org's product archive (public listings of its components, e.g. `pkgutil --pkgs | grep org.python` in
Homebrew and MacPorts discussions): PythonFramework-3.11.pkg (org.python.Python.PythonFramework-3.11) installs
/Library/Frameworks/Python.framework/Versions/3.11; PythonUnixTools-3.11.pkg (org.python.Python.PythonUnixTools-3.11)
links /usr/local/bin/python3 etc. into it with relative links.

Divergence: Versions/3.11 is a link to the lab's hidden Python prefix (sandbox.PYTHON3_PREFIX: the controller's
Linux CPython 3.11, whose bin/python3.11 is then the interpreter) rather than a framework with a Mach-O
interpreter; linking the whole prefix lets `python3 -m venv` find the standard library through pyvenv.cfg's home.
The framework's Resources/Info.plist and the other components (Applications, docs, pip, profile changes) are
left out. /usr/local/bin/python3 and python3.11 are two-line `exec` scripts rather than python.org's relative
links: Linux CPython takes sys.executable from the path it was started by, and a venv made through a link in
/usr/local/bin would look for its standard library in /usr/local/lib (a framework build resolves to the
framework instead).
"""

from __future__ import annotations

from pathlib import Path

from egpu_setup.rehearsal import facts, image
from egpu_setup.rehearsal.macos import flatpkg
from egpu_setup.rehearsal.standins import common

FRAMEWORK = facts.value("python3", "framework_dir")
SHORT = "3.11"


def build_python_pkg(out: Path, work: Path, version: str) -> Path:
    fw_stage = work / "python-framework"
    fw = fw_stage / FRAMEWORK
    common.link(fw / f"Versions/{SHORT}", image.PYTHON3)
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
    dist = flatpkg.distribution_xml("Python", comps)
    return flatpkg.write_product_pkg(out, dist, comps)
