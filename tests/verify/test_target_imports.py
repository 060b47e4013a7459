"""Code that runs on the target imports only the standard library at module scope (docs/architecture.md)."""

from __future__ import annotations

import subprocess
import sys

BLOCKED = ("rich", "yaml", "pynvml", "mxnet", "macholib", "numpy", "jsonschema", "ansible", "psutil")


def test_every_verify_module_imports_with_only_the_standard_library(repo_root) -> None:
    code = f"""
import importlib, pkgutil, sys
for name in {BLOCKED!r}:
    sys.modules[name] = None  # importing it now raises ImportError
import egpu_setup.verify as verify, egpu_setup.verify.checks as checks
names = [m.name for p, pre in ((verify, "egpu_setup.verify."), (checks, "egpu_setup.verify.checks."))
         for m in pkgutil.iter_modules(p.__path__, pre)]
for name in names:
    importlib.import_module(name)
importlib.import_module("egpu_setup.cli.verify")
print(len(names))
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) >= 18
