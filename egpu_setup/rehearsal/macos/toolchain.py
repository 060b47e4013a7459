"""The compilers of a rehearsal Mac: clang/cc/c++ (xcrun stubs and the Command Line Tools), make, and nvcc.

Sources: xcode-select(1) and xcrun(1) (the /usr/bin tools are stubs that run the selected developer dir's tool;
with none installed: `xcrun: error: invalid active developer path (/Library/Developer/CommandLineTools), missing
xcrun at: /Library/Developer/CommandLineTools/usr/bin/xcrun`, as countless Homebrew issues quote it);
macos-commands.md for `clang --version` (CLT 9.2 / 9.3) and nvcc's `--version` and host-compiler refusal;
ld(1) (without -install_name, a dylib's install name is its -o path: why MXNet's id is `lib/libmxnet.so`);
Apple clang's refusal of OpenMP (`clang: error: unsupported option '-fopenmp'`, the reason osx.mk sets
USE_OPENMP=0); NVIDIA's CUDA Compiler Driver NVCC guide (-gencode arch=compute_XX,code=sm_XX, -Xcompiler,
-ccbin; device code is embedded as a fat binary in section __NV_CUDA,__nv_fatbin of Mach-O objects).

Compilation is real: `zig cc -target x86_64-macos.10.13` produces genuine Mach-O. Divergences: .cu files are
compiled as C (the stand-in kernels are C); the fat binary is a short text naming the gencode targets, not
PTX/SASS. Zig runs from $EGPU_SIM_ZIG, else /.rehearsal/ziglang/zig (the lab binds the ziglang wheel there),
else the controller's ziglang package; its cache is $ZIG_GLOBAL_CACHE_DIR, else egpu_setup.macho.build's.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from egpu_setup.rehearsal.macos import receipts
from egpu_setup.rehearsal.macos.base import Sim

CLT_DIR = "/Library/Developer/CommandLineTools"
CLT_RECEIPT = "com.apple.pkg.CLTools_Executables"
TARGET = "x86_64-macos.10.13"

EXECUTABLES = {
    "/usr/bin/clang": "xcrun_clang",
    "/usr/bin/clang++": "xcrun_clang",
    "/usr/bin/cc": "xcrun_clang",
    "/usr/bin/c++": "xcrun_clang",
    "/usr/bin/gcc": "xcrun_clang",
    "/usr/bin/g++": "xcrun_clang",
    "/usr/bin/make": "xcrun_make",
}

# CLT release (receipt version prefix) -> (Apple LLVM version, clang build); llvm dir -> release as a fallback.
CLANG_VERSIONS = {
    "9.2": ("9.0.0", "clang-900.0.39.2"),
    "9.3": ("9.1.0", "clang-902.0.39.1"),
    "9.4": ("9.1.0", "clang-902.0.39.2"),
}
NVCC_VERSION = """nvcc: NVIDIA (R) Cuda compiler driver
Copyright (c) 2005-2017 NVIDIA Corporation
Built on Tue_Dec_19_21:36:29_CST_2017
Cuda compilation tools, release 9.1, V9.1.128"""
NVCC_ACCEPTED_LLVM = "9.0.0"  # nvcc 9.1 accepts Apple LLVM 9.0.0 (Xcode/CLT 9.2) and older


def _xcrun_error(sim: Sim, dev: str) -> None:
    sim.fail(f"xcrun: error: invalid active developer path ({dev}), missing xcrun at: {dev}/usr/bin/xcrun", 1)


def developer_dir(sim: Sim) -> str | None:
    """xcode-select's choice: the selected dir, else the CLT when installed; None when there is no tool."""
    selected = sim.machine.read().developer_dir
    dev = selected or CLT_DIR
    return dev if sim.path(f"{dev}/usr/bin").is_dir() else None


def clang_version(sim: Sim, dev: str) -> tuple[str, str] | None:
    """(Apple LLVM version, clang build) of the tools in `dev`, from the CLT receipt or the clang resource dir."""
    receipt = receipts.read(sim.machine.root, CLT_RECEIPT)
    if receipt and dev == CLT_DIR:
        release = ".".join(receipt.version.split(".")[:2])
        if release in CLANG_VERSIONS:
            return CLANG_VERSIONS[release]
    lib = sim.path(f"{dev}/usr/lib/clang")
    found = sorted(p.name for p in lib.iterdir()) if lib.is_dir() else []
    for release, (llvm, build) in CLANG_VERSIONS.items():
        if found and found[-1] == llvm and release != "9.4":
            return llvm, build
    return None


def require_developer_dir(sim: Sim) -> str:
    """What every /usr/bin developer-tool stub does first: find the active developer dir, or fail as xcrun."""
    dev = developer_dir(sim)
    if dev is None:
        _xcrun_error(sim, sim.machine.read().developer_dir or CLT_DIR)
    return dev  # type: ignore[return-value]


def xcrun_clang(argv: list[str], sim: Sim) -> int:
    """/usr/bin/clang and friends: xcrun stubs (xcrun(1)) that need an active developer dir, else
    `xcrun: error: invalid active developer path (...), missing xcrun at: ...` (Homebrew issue transcripts)."""
    return clang(argv, sim, require_developer_dir(sim))


def xcrun_make(argv: list[str], sim: Sim) -> int:
    """/usr/bin/make: the xcrun stub (xcrun(1)), then the CLT's make."""
    require_developer_dir(sim)
    return make(argv, sim)


def clang(argv: list[str], sim: Sim, dev: str | None = None) -> int:
    """Apple clang of the Command Line Tools (macos-commands.md for `--version` per CLT release; ld(1) for the
    default install name; Apple clang's `unsupported option '-fopenmp'`): compiles with zig for macOS 10.13.
    Divergence: `-framework` flags are dropped (zig's SDK stubs have no Accelerate)."""
    dev = dev or CLT_DIR
    version = clang_version(sim, dev)
    if version is None:
        sim.fail(f'xcrun: error: unable to find utility "clang", not a developer tool or in PATH ({dev})', 72)
    if "--version" in argv or argv == ["-v"]:
        llvm, build = version
        kernel = sim.machine.read().kernel_version
        sim.out(f"Apple LLVM version {llvm} ({build})")
        sim.out(f"Target: x86_64-apple-darwin{kernel}")
        sim.out("Thread model: posix")
        sim.out(f"InstalledDir: {dev}/usr/bin")
        return 0
    if any(a in ("-fopenmp", "-Xpreprocessor") or a.startswith("-fopenmp=") for a in argv):
        sim.fail("clang: error: unsupported option '-fopenmp'", 1)
    if not argv:
        sim.fail("clang: error: no input files", 1)
    cxx = sim.prog in ("clang++", "c++", "g++")
    return compile_with_zig(_translate(argv), sim, cxx=cxx)


def _translate(argv: list[str]) -> list[str]:
    """Apple clang/ld64 arguments -> zig cc ones: -dynamiclib, default install name, frameworks."""
    out: list[str] = []
    shared = any(a in ("-dynamiclib", "-shared") for a in argv)
    has_id = any("-install_name" in a for a in argv)
    output = None
    it = iter(argv)
    for arg in it:
        if arg == "-dynamiclib":
            out.append("-shared")
        elif arg == "-framework":
            next(it, None)  # Apple frameworks (Accelerate, ...) are not in zig's SDK stubs: linked implicitly
        elif arg == "-o":
            output = next(it, "a.out")
            out += ["-o", output]
        elif arg in ("-arch",):
            next(it, None)  # -arch x86_64: the only architecture here
        else:
            out.append(arg)
    if shared and not has_id and output:
        out.append(f"-Wl,-install_name,{output}")
    return out


def zig_binary(sim: Sim) -> list[str]:
    explicit = sim.env.get("EGPU_SIM_ZIG")
    for candidate in (explicit, "/.rehearsal/ziglang/zig"):
        if candidate and os.path.exists(candidate):
            return [candidate]
    try:
        import ziglang

        return [str(Path(ziglang.__file__).parent / "zig")]
    except ImportError:
        sim.fail("clang: error: the rehearsal lab's compiler (zig) is not reachable in this host", 1)


def _zig_env(sim: Sim) -> dict[str, str]:
    cache = sim.env.get("ZIG_GLOBAL_CACHE_DIR")
    if not cache:
        shared = Path("/.rehearsal/zig-cache")
        if shared.is_dir() and os.access(shared, os.W_OK):
            cache = str(shared)
        else:
            from egpu_setup.macho.build import zig_cache_dir

            cache = str(zig_cache_dir())
    Path(cache).mkdir(parents=True, exist_ok=True)
    return {**sim.env, "ZIG_GLOBAL_CACHE_DIR": cache, "ZIG_LOCAL_CACHE_DIR": cache}


def compile_with_zig(args: list[str], sim: Sim, cxx: bool = False) -> int:
    argv = [*zig_binary(sim), "c++" if cxx else "cc", "-target", TARGET, "-fno-sanitize=all", *args]
    proc = subprocess.run(argv, env=_zig_env(sim), cwd=sim.cwd, capture_output=True, text=True, check=False)
    if proc.stdout:
        sim.stdout.write(proc.stdout)
    if proc.stderr:
        sim.stderr.write(proc.stderr)
    return proc.returncode


MAKE_VERSION = """GNU Make 3.81
Copyright (C) 2006  Free Software Foundation, Inc.
This is free software; see the source for copying conditions.
There is NO warranty; not even for MERCHANTABILITY or FITNESS FOR A
PARTICULAR PURPOSE.

This program built for i386-apple-darwin11.3.0"""


def make(argv: list[str], sim: Sim) -> int:
    """GNU make 3.81 of the Command Line Tools (its --version banner); divergence: the lab's GNU make 4.x does
    the work."""
    if argv[:1] in (["--version"], ["-v"]):
        sim.out(MAKE_VERSION)
        return 0
    linux_make = "/.rehearsal/linux/usr/bin/make"
    exe = linux_make if os.path.exists(linux_make) else shutil.which("make")
    if exe is None:
        sim.fail("make: command not found", 127)
    proc = subprocess.run([exe, *argv], env=sim.env, cwd=sim.cwd, capture_output=True, text=True, check=False)
    sim.stdout.write(proc.stdout)
    sim.stderr.write(proc.stderr)
    return proc.returncode


# ----------------------------------------------------------------------------------------------------- nvcc

_GENCODE = re.compile(r"arch=(compute_\d+),code=(sm_\d+|compute_\d+|\[[^\]]*\])")


def nvcc(argv: list[str], sim: Sim) -> int:
    """Imitates nvcc 9.1 (macos-commands.md for `--version` and `nvcc fatal   : The version ('90100') of the host
    compiler ('Apple clang') is not supported`; NVIDIA's NVCC guide for -gencode/-arch and the `__NV_CUDA,
    __nv_fatbin` section): refuses a host clang other than Apple LLVM 9.0.0, compiles .cu (as C) with zig.
    Divergences: -ccbin is ignored (the selected clang is checked either way); the fat binary is a text naming
    the targets."""
    if "--version" in argv or "-V" in argv:
        sim.out(NVCC_VERSION)
        return 0
    archs: list[str] = []
    passthrough: list[str] = []
    sources: list[str] = []
    it = iter(argv)
    for arg in it:
        if arg in ("-gencode", "--generate-code"):
            archs += _gencode(next(it, ""))
        elif arg.startswith("-gencode="):
            archs += _gencode(arg.split("=", 1)[1])
        elif arg in ("-arch", "--gpu-architecture"):
            archs.append(next(it, "").replace("compute_", "sm_"))
        elif arg.startswith("-arch="):
            archs.append(arg.split("=", 1)[1].replace("compute_", "sm_"))
        elif arg in ("-Xcompiler", "--compiler-options"):
            passthrough += next(it, "").replace(",", " ").split()
        elif arg in ("-ccbin", "--compiler-bindir"):
            next(it, None)  # the host compiler is the selected clang either way (checked below)
        elif arg.startswith(("-std=", "--std", "-m64", "--use_fast_math", "-lineinfo", "--expt-")):
            continue
        elif arg.endswith(".cu"):
            sources.append(arg)
        else:
            passthrough.append(arg)
    dev = require_developer_dir(sim)  # nvcc runs the host clang: without tools, that is xcrun's error
    version = clang_version(sim, dev)
    if version is None:
        sim.fail(f'xcrun: error: unable to find utility "clang", not a developer tool or in PATH ({dev})', 72)
    llvm = version[0]
    if llvm != NVCC_ACCEPTED_LLVM:
        number = "".join(f"{int(p):02d}" for p in llvm.split("."))[1:] if llvm else ""
        sim.fail(f"nvcc fatal   : The version ('{number}') of the host compiler ('Apple clang') is not supported", 1)
    archs = archs or ["sm_30"]  # nvcc 9.1's default target
    with tempfile.TemporaryDirectory(prefix="nvcc-", dir=_tmp_dir(sim)) as tmp:
        wrapped = []
        for i, src in enumerate(sources):
            path = Path(tmp) / f"cu{i}.c"
            include = src if src.startswith("/") else os.path.join(sim.cwd, src)
            path.write_text(
                f'#include "{include}"\n'
                '__attribute__((used, section("__NV_CUDA,__nv_fatbin"))) static const char egpu_nv_fatbin[] = '
                f'"EGPU_NV_FATBIN:{";".join(archs)};";\n'
            )
            wrapped += ["-x", "c", str(path)]
        return compile_with_zig([*passthrough, *wrapped], sim)


def _gencode(spec: str) -> list[str]:
    m = _GENCODE.search(spec)
    if not m:
        return []
    code = m.group(2).strip("[]")
    return [c.strip() for c in code.split(",") if c.strip()]


def _tmp_dir(sim: Sim) -> str | None:
    tmp = sim.path("/private/tmp")
    return str(tmp) if tmp.is_dir() else None
