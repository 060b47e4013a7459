#!/usr/bin/env python3
"""Time checking and fixing a tree of 200 dylibs: egpu_setup.macho against llvm-install-name-tool-14 per file.

Each dylib is a libmxnet.so-like library (built with the ziglang wheel) that references @rpath/libcudart.9.1.dylib,
@rpath/libcublas.9.1.dylib and @rpath/libcudnn.7.dylib and has no LC_RPATH; /usr/local/cuda/lib of the tree
holds the three. Both contenders start from identical fresh copies of the tree.

- egpu_setup.macho: `fix_rpaths(check=True)` (dyld resolution of every reference, plan), then `fix_rpaths()`.
- per file: `llvm-otool-14 -l` to see whether the LC_RPATH is there, then `llvm-install-name-tool-14 -add_rpath`
  where it is missing: what a shell loop does; it does not verify that the references resolve.

Usage: .venv/bin/python bench/fix_rpaths.py [--count N]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from egpu_lab.macho_build import build_dylib, build_stub_dylib
from egpu_setup.macho.fixer import fix_rpaths

CUDA = ("libcudart.9.1.dylib", "libcublas.9.1.dylib", "libcudnn.7.dylib")
CUDA_LIB = "/usr/local/cuda/lib"


def make_tree(base: Path, count: int, work: Path) -> Path:
    root = base / "root"
    cuda = root / CUDA_LIB.lstrip("/")
    cuda.mkdir(parents=True)
    stubs = [build_stub_dylib(work / name, f"@rpath/{name}") for name in CUDA]
    for stub in stubs:
        shutil.copyfile(stub, cuda / stub.name)
    # A few distinct libraries, copied to `count` files.
    originals = []
    for i in range(4):
        source = f"int mx{i}(void) {{ return {i}; }}\n"
        originals.append(build_dylib(work / f"libmx{i}.dylib", source, f"@rpath/libmx{i}.dylib", link=stubs))
    lib = root / "opt/mxnet/lib"
    lib.mkdir(parents=True)
    for i in range(count):
        shutil.copyfile(originals[i % len(originals)], lib / f"lib{i:03d}.dylib")
    return root


def run_egpu(root: Path) -> tuple[float, float, int]:
    start = time.perf_counter()
    plan = fix_rpaths(["/opt/mxnet/lib"], root=str(root), check=True)
    checked = time.perf_counter()
    report = fix_rpaths(["/opt/mxnet/lib"], root=str(root))
    done = time.perf_counter()
    assert plan.exit_code == 1 and report.exit_code == 0, report.to_dict()
    return checked - start, done - checked, sum(1 for f in report.files if f.changed)


def run_llvm(root: Path) -> tuple[float, float, int]:
    files = sorted((root / "opt/mxnet/lib").iterdir())
    start = time.perf_counter()
    missing = []
    for f in files:
        out = subprocess.run(["llvm-otool-14", "-l", str(f)], capture_output=True, text=True, check=True).stdout
        if f"path {CUDA_LIB} " not in out:
            missing.append(f)
    checked = time.perf_counter()
    for f in missing:
        subprocess.run(["llvm-install-name-tool-14", "-add_rpath", CUDA_LIB, str(f)], check=True)
    done = time.perf_counter()
    return checked - start, done - checked, len(missing)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    args = parser.parse_args()
    for tool in ("llvm-otool-14", "llvm-install-name-tool-14"):
        if shutil.which(tool) is None:
            print(f"{tool} not found (apt-get install llvm-14)", file=sys.stderr)
            return 2
    with tempfile.TemporaryDirectory(prefix="bench-fix-rpaths-") as tmp:
        tmpdir = Path(tmp)
        template = make_tree(tmpdir / "template", args.count, tmpdir / "work")
        results = {}
        for name, runner in (("egpu_setup.macho", run_egpu), ("llvm-install-name-tool-14 per file", run_llvm)):
            tree = tmpdir / name.split()[0]
            shutil.copytree(template, tree / "root", symlinks=True)
            results[name] = runner(tree / "root")
        print(f"tree: {args.count} dylibs, each needing an LC_RPATH {CUDA_LIB} for 3 CUDA references")
        print(f"{'':38} {'check':>8} {'fix':>8} {'total':>8}  files changed")
        for name, (check, fix, changed) in results.items():
            print(f"{name:38} {check:7.2f}s {fix:7.2f}s {check + fix:7.2f}s  {changed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
