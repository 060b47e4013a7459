"""The import graph's rules, read from the sources (ast), lazy imports inside functions included.

1. The product never imports the rehearsal lab (egpu_lab, or the old egpu_setup.rehearsal) except in
   egpu_setup/lab_loader.py, the one place that loads it (`pip install 'egpu-setup[lab]'` is an extra).
2. Nothing below the CLI imports the CLI: outside egpu_setup/cli, no module imports egpu_setup.cli (the package's
   `python -m egpu_setup` entry point, egpu_setup/__main__.py, is the CLI's own door and exempt).
3. The lab does not grade the product with the product's own judgement: egpu_lab imports nothing of egpu_setup
   but LAB_MAY_IMPORT. Decided: egpu_setup.errors (the lab's failures reach the user through egpu-setup's CLI as
   its EgpuError, with their exit code and fix), egpu_setup.matrix (the lab reads the product's matrix data: which
   macOS builds exist, the stand-ins' artifacts), egpu_setup.cache (the stand-ins are put into the product's
   artifact cache, the interface the product reads them through). Never egpu_setup.macho (its dyld, reader,
   fixer), egpu_setup.verify, egpu_setup.runner or egpu_setup.cli: the lab has its own dyld (dyld_sim).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAB_LOADER = "egpu_setup/lab_loader.py"
LAB_MAY_IMPORT = ("egpu_setup.errors", "egpu_setup.matrix", "egpu_setup.cache")


def imported_modules(path: Path) -> set[str]:
    """Every absolute module name the file imports, `from a.b import c` as both a.b and a.b.c."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module" and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                names.add(arg.value)
    return names


def modules_of(package: str) -> list[str]:
    """The package's modules, less the stand-ins' sources (mxnet_src, numpy_src: code of the simulated Mac)."""
    base = ROOT / ("lab" if package == "egpu_lab" else "") / package
    return sorted(p.relative_to(base.parent).as_posix() for p in base.rglob("*.py") if "_src/" not in str(p))


def _names(names: set[str], prefix: str) -> set[str]:
    return {n for n in names if n == prefix or n.startswith(prefix + ".")}


def test_the_product_imports_the_lab_only_in_its_loader() -> None:
    offenders = {
        rel: found
        for rel in modules_of("egpu_setup")
        if rel != LAB_LOADER
        and (
            found := _names(imported_modules(ROOT / rel), "egpu_lab")
            | _names(imported_modules(ROOT / rel), "egpu_setup.rehearsal")
        )
    }
    assert offenders == {}


def test_nothing_below_the_cli_imports_the_cli() -> None:
    offenders = {
        rel
        for rel in modules_of("egpu_setup")
        if not rel.startswith("egpu_setup/cli/")
        and rel != "egpu_setup/__main__.py"
        and _names(imported_modules(ROOT / rel), "egpu_setup.cli")
    }
    assert offenders == set(), "imports of the CLI from below it"


def test_the_lab_imports_no_product_logic_that_it_would_grade() -> None:
    offenders = {}
    for rel in modules_of("egpu_lab"):
        product = _names(imported_modules(ROOT / "lab" / rel), "egpu_setup")
        # `import egpu_setup` alone (its __init__: the version) is how the sandbox finds the package to bind.
        bad = {n for n in product - {"egpu_setup"} if not any(n == a or n.startswith(a + ".") for a in LAB_MAY_IMPORT)}
        if bad:
            offenders[rel] = bad
    assert offenders == {}


@pytest.mark.parametrize("package", ["egpu_setup", "egpu_lab"])
def test_the_rules_see_every_module(package: str) -> None:
    """The walk finds the packages' modules (a moved tree would otherwise pass every rule vacuously)."""
    assert len(modules_of(package)) > 20
