"""Stand-in for the python.org installer python-3.11.9-macos11.pkg.

python.org's product archive (public listings of its components, e.g. `pkgutil --pkgs | grep org.python` in
Homebrew and MacPorts discussions): PythonFramework-3.11.pkg (org.python.Python.PythonFramework-3.11) installs
/Library/Frameworks/Python.framework/Versions/3.11; PythonUnixTools-3.11.pkg (org.python.Python.PythonUnixTools-3.11)
links /usr/local/bin/python3 etc. into it with relative links.

Divergence: bin/python3.11 is a link to the lab's hidden interpreter (sandbox.PYTHON3_INTERPRETER), the Linux
CPython 3.11 of the controller, rather than a Mach-O interpreter; the other components (Applications, docs, pip,
profile changes) are left out.
"""

from __future__ import annotations

from pathlib import Path

from egpu_setup.rehearsal import image
from egpu_setup.rehearsal.macos import flatpkg
from egpu_setup.rehearsal.standins import common

FRAMEWORK = "Library/Frameworks/Python.framework"
SHORT = "3.11"


def build_python_pkg(out: Path, work: Path, version: str) -> Path:
    fw_stage = work / "python-framework"
    fw = fw_stage / FRAMEWORK
    bin_dir = fw / f"Versions/{SHORT}/bin"
    common.link(bin_dir / f"python{SHORT}", image.SIM_PYTHON)
    common.link(bin_dir / "python3", f"python{SHORT}")
    common.write_plist(
        fw / f"Versions/{SHORT}/Resources/Info.plist",
        {"CFBundleIdentifier": "org.python.python", "CFBundleShortVersionString": version,
         "CFBundleVersion": version},
    )  # fmt: skip
    common.link(fw / "Versions/Current", SHORT)
    tools_stage = work / "python-unixtools"
    for name in ("python3", f"python{SHORT}"):
        common.link(tools_stage / "usr/local/bin" / name, f"../../../{FRAMEWORK}/Versions/{SHORT}/bin/{name}")
    comps = [
        common.component(fw_stage, f"org.python.Python.PythonFramework-{SHORT}", version,
                         f"PythonFramework-{SHORT}.pkg"),
        common.component(tools_stage, f"org.python.Python.PythonUnixTools-{SHORT}", version,
                         f"PythonUnixTools-{SHORT}.pkg"),
    ]  # fmt: skip
    dist = flatpkg.distribution_xml("Python", comps)
    return flatpkg.write_product_pkg(out, dist, comps)
