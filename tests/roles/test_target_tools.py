"""The target tools bundle: reproducible (its digest is the installed state) and pure Python."""

from __future__ import annotations

import hashlib
import io
import tarfile

from egpu_setup.mac_bundle import MAC_BUNDLE, build_bundle


def test_bundle_is_reproducible_and_holds_only_sources() -> None:
    first, second = build_bundle(["egpu_setup", "macholib"]), build_bundle(["egpu_setup", "macholib"])
    assert hashlib.sha256(first).digest() == hashlib.sha256(second).digest()
    with tarfile.open(fileobj=io.BytesIO(first), mode="r:gz") as tar:
        names = tar.getnames()
        assert {member.mtime for member in tar.getmembers()} == {0}
    assert "egpu_setup/__init__.py" in names and "macholib/MachO.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".so"))]
    assert "egpu_setup/verify/report.schema.json" in names  # data files travel too


def test_the_macs_bundle_holds_what_runs_there_and_no_cli_or_lab() -> None:
    """What goes onto a Mac is its code only: no egpu_setup.cli, no runner or cache, no rehearsal lab (egpu_lab),
    and every egpu_setup module that the Mac's entry points import (at any depth, lazily too) is in it."""
    import ast
    from pathlib import Path

    with tarfile.open(fileobj=io.BytesIO(build_bundle(MAC_BUNDLE)), mode="r:gz") as tar:
        names = set(tar.getnames())
    assert not [n for n in names if n.startswith(("egpu_lab/", "egpu_setup/cli/", "egpu_setup/runner/"))]
    assert not [n for n in names if n.startswith(("egpu_setup/cache/", "altgraph/"))]
    root = Path(__file__).resolve().parents[2]
    todo = ["egpu_setup/verify/__main__.py", "egpu_setup/macho/fixer.py", "egpu_setup/verify/macos.py"]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        assert name in names, f"{name} runs on a Mac but is not in egpu_setup.mac_bundle.MAC_BUNDLE"
        for node in ast.walk(ast.parse((root / name).read_text())):
            module = node.module if isinstance(node, ast.ImportFrom) and node.level == 0 else None
            if not module or not module.startswith("egpu_setup"):
                continue
            for dotted in [module, *(f"{module}.{alias.name}" for alias in node.names)]:
                for candidate in (f"{dotted.replace('.', '/')}.py", f"{dotted.replace('.', '/')}/__init__.py"):
                    if (root / candidate).is_file():
                        todo.append(candidate)
    assert "egpu_setup/verify/command.py" in seen and "egpu_setup/macho/reader.py" in seen


def test_verify_reads_the_matrix_from_the_bundle_alone(tmp_path) -> None:
    """On a Mac the tools venv holds the bundle and nothing else: verify's expectations load the packaged matrix
    there without jsonschema (whose rpds-py is compiled for the controller), as the rehearsal's verify does."""
    import subprocess
    import sys

    with tarfile.open(fileobj=io.BytesIO(build_bundle(MAC_BUNDLE)), mode="r:gz") as tar:
        tar.extractall(tmp_path, filter="data")
    probe = (
        "import sys; from egpu_setup.verify.expectations import expectations_for; "
        "e = expectations_for('default', 'darwin'); assert 'jsonschema' not in sys.modules; print(type(e).__name__)"
    )
    # -I -S: no site-packages, no user site, no PYTHONPATH from here; only the bundle on the path
    done = subprocess.run([sys.executable, "-I", "-S", "-c", f"import sys; sys.path.insert(0, {str(tmp_path)!r}); "
                           + probe], capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Expectations"
