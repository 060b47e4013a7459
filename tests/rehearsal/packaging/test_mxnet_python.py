"""MXNet 1.0.0's Python package stand-in and the numpy wheel stand-in, held to the facts table (facts/mxnet_python.yaml,
facts/numpy.yaml), run on the controller with the lab's dyld model (no sandbox)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from egpu_lab import facts
from egpu_lab.machine import Machine, MachineState
from egpu_lab.standins import mxnet, numpy_wheel

PACKAGE = mxnet.TEMPLATE / "python" / "mxnet"
PROJECT = Path(__file__).resolve().parents[3]


def _run(code: str, env: dict[str, str], *flags: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *flags, "-c", code], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip


def test_the_wheel_has_the_real_name_tag_and_dist_info_and_its_own_digest(tmp_path: Path) -> None:
    wheel = numpy_wheel.build_wheel(tmp_path / "a")
    assert wheel.name == facts.value("numpy", "wheel_filename")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        dist = facts.value("numpy", "dist_info")
        text = archive.read(f"{dist}/WHEEL").decode()
        assert f"Tag: {facts.value('numpy', 'wheel_tag')}\n" in text and "Root-Is-Purelib: false\n" in text
        assert "Version: 1.23.5\n" in archive.read(f"{dist}/METADATA").decode()
        record = archive.read(f"{dist}/RECORD").decode()
    assert {n.split("/")[0] for n in names} == {"numpy", dist}
    assert all(f"{n}," in record for n in names)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert digest == hashlib.sha256(numpy_wheel.build_wheel(tmp_path / "b").read_bytes()).hexdigest()  # stable
    assert digest != facts.value("numpy", "wheel_sha256")  # the lab's lock pins the stand-in's own digest


def test_the_stand_in_numpy_has_what_mxnet_reads_while_importing(tmp_path: Path) -> None:
    names = facts.value("mxnet_python", "numpy_names_at_import")
    modules = facts.value("mxnet_python", "numpy_submodules_at_import")
    code = (
        "import functools, importlib, numpy\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"for n in {names!r}: functools.reduce(getattr, n.split('.'), numpy)\n"
        "print(numpy.__version__)"
    )
    done = _run(code, {"PYTHONPATH": str(numpy_wheel.SOURCE), "PATH": os.environ["PATH"]}, "-S")
    assert done.stdout == f"{facts.value('numpy', 'version')}\n", done.stderr


def test_the_package_follows_mxnet_1_0_0() -> None:
    real = set(facts.value("mxnet_python", "modules"))
    ours = {p.stem for p in PACKAGE.iterdir() if p.name != "__init__.py" and p.name != "__pycache__"}
    assert ours <= real and "runtime" not in ours, ours - real
    assert 'return Context("gpu", device_id)' in (PACKAGE / "context.py").read_text()
    assert "def num_gpus" not in (PACKAGE / "context.py").read_text()
    libinfo = (PACKAGE / "libinfo.py").read_text()
    assert '__version__ = "1.0.0"' in libinfo and "MXNET_LIBRARY_PATH\"" not in libinfo
    assert repr(facts.value("mxnet_python", "find_lib_path_error"))[1:-1] in libinfo
    base = (PACKAGE / "base.py").read_text()
    assert facts.value("mxnet_python", "gpu_on_cpu_build_error") in base
    assert base.index("import numpy as np") < base.index("_LIB = _load_lib()")


def test_without_numpy_import_mxnet_fails_there(tmp_path: Path) -> None:
    done = _run("import mxnet", {"PYTHONPATH": str(PACKAGE.parent), "PATH": os.environ["PATH"]}, "-S")
    assert done.returncode == 1
    assert done.stderr.splitlines()[-2:] == ["    import numpy as np", "ModuleNotFoundError: No module named 'numpy'"]


@pytest.mark.parametrize("system", ["Darwin", "Linux"])
def test_find_lib_path_searches_as_1_0_0(tmp_path: Path, system: str) -> None:
    top = tmp_path / "mxnet-1.0.0"
    shutil.copytree(PACKAGE.parent, top / "python", ignore=shutil.ignore_patterns("__pycache__"))
    for place in ("lib/libmxnet.so", "build/Release/libmxnet.dylib", "extra/libmxnet.so"):
        (top / place).parent.mkdir(parents=True, exist_ok=True)
        (top / place).write_bytes(b"")
    code = (
        f"import platform; platform.system = lambda: {system!r}\n"
        "import importlib.util as u\n"  # libinfo alone, as 1.0.0's setup.py loads it (the package needs numpy)
        f"spec = u.spec_from_file_location('libinfo', {str(top / 'python/mxnet/libinfo.py')!r})\n"
        "libinfo = u.module_from_spec(spec); spec.loader.exec_module(libinfo)\n"
        "print(*libinfo.find_lib_path(), sep='\\n')"
    )
    env = {"PATH": os.environ["PATH"], "LD_LIBRARY_PATH": str(top / "extra")}
    done = _run(code, env, "-S", cwd=top / "python")
    assert done.returncode == 0, done.stderr
    found = [os.path.relpath(os.path.normpath(p), top) for p in done.stdout.split()]
    # Darwin: every directory's libmxnet.dylib before any libmxnet.so; elsewhere libmxnet.so only
    expected = ["build/Release/libmxnet.dylib"] if system == "Darwin" else []
    assert found == [*expected, "lib/libmxnet.so", "extra/libmxnet.so"]


@pytest.fixture(scope="module")
def libraries(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, Path]:
    from egpu_lab.macho_build import build_dylib

    out = tmp_path_factory.mktemp("libmxnet")
    made = {}
    for cuda in (True, False):
        source = (
            f'__attribute__((used)) static const char f[] = "EGPU_MXNET_FEATURES:CUDA={int(cuda)};CUDNN=0;";\n'
            "int MXGetVersion(int *out) { *out = 10000; return 0; }\n"
        )
        made[cuda] = build_dylib(out / f"cuda{int(cuda)}" / "libmxnet.so", source, "lib/libmxnet.so")
    return made


def _mac(tmp_path: Path, library: Path, cuda_works: bool) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "root"
    home = root / "Users/admin/mxnet"
    shutil.copytree(PACKAGE.parent, home / "python", ignore=shutil.ignore_patterns("__pycache__"))
    (home / "lib").mkdir(parents=True)
    shutil.copy(library, home / "lib/libmxnet.so")
    state = MachineState()
    state.boot.cuda_works = cuda_works
    Machine(tmp_path / "machine", root).write(state)
    env = {
        "PATH": os.environ["PATH"],
        "EGPU_SIM_STATE": str(tmp_path / "machine"),
        "EGPU_SIM_ROOT": str(root),
        "PYTHONPATH": os.pathsep.join([str(home / "python"), str(numpy_wheel.SOURCE), str(PROJECT)]),
    }
    return home, env


GPU_ARRAY = (
    "import mxnet as mx\ntry:\n    mx.nd.empty((1,), ctx=mx.gpu(0))\n    print('allocated')\n"
    "except mx.MXNetError as e:\n    print(str(e).splitlines()[0].split(': ', 1)[1])"
)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("cuda", "works", "said"),
    [
        (False, True, "Compile with USE_CUDA=1 to enable GPU usage"),
        (True, False, "Check failed: e == cudaSuccess || e == cudaErrorCudartUnloading CUDA: CUDA driver version is "
                      "insufficient for CUDA runtime version"),
        (True, True, "allocated"),
    ],
    ids=["cpu-build", "cuda-build-driver-off", "cuda-build"],
)  # fmt: skip
def test_an_array_on_gpu0_tells_the_build_as_1_0_0(tmp_path, libraries, cuda: bool, works: bool, said: str) -> None:
    _home, env = _mac(tmp_path, libraries[cuda], works)
    done = _run(GPU_ARRAY, env)
    assert done.stdout == said + "\n", done.stderr
    assert (facts.value("mxnet_python", "gpu_on_cpu_build_error") in said) is not cuda


@pytest.mark.slow
def test_an_operator_on_gpu0_of_a_cpu_build_ends_the_process(tmp_path, libraries) -> None:
    # mx.nd.ones allocates on an engine thread, where 1.0.0 LOG(FATAL)s again: the process aborts
    _home, env = _mac(tmp_path, libraries[False], True)
    done = _run("import mxnet as mx; mx.nd.ones((2, 3), ctx=mx.gpu(0)); print('survived')", env)
    assert done.returncode < 0 and "survived" not in done.stdout
    assert facts.value("mxnet_python", "engine_allocation_error") in done.stderr
