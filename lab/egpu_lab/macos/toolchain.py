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
else the controller's ziglang package; its cache is $ZIG_GLOBAL_CACHE_DIR, else egpu_lab.macho_build's.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import NoReturn

from egpu_lab.macos import receipts
from egpu_lab.macos.base import Sim

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
    "/usr/bin/ar": "xcrun_ar",
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
    A missing input file is clang's `clang: error: no such file or directory: 'X'` (a link without the libdmlc.a a
    failed sub-make did not make); `-dumpmachine` prints the Darwin triple. Divergence: `-framework` flags are
    dropped (zig's SDK stubs have no Accelerate)."""
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
    if argv == ["-dumpmachine"]:
        sim.out(f"x86_64-apple-darwin{sim.machine.read().kernel_version}")  # what dmlc-core's dmlc.mk asks
        return 0
    if any(a in ("-fopenmp", "-Xpreprocessor") or a.startswith("-fopenmp=") for a in argv):
        sim.fail("clang: error: unsupported option '-fopenmp'", 1)
    if not argv:
        sim.fail("clang: error: no input files", 1)
    missing = [f for f in _input_files(argv) if not (sim.path(f).exists() or Path(sim.cwd, f).exists())]
    if missing:
        sim.fail("\n".join(f"clang: error: no such file or directory: '{f}'" for f in missing), 1)
    cxx = sim.prog in ("clang++", "c++", "g++") and not _link_only(argv)
    return compile_with_zig(_translate(argv), sim, cxx=cxx)


_SOURCE_SUFFIXES = (".c", ".cc", ".cpp", ".cxx", ".C", ".m", ".mm", ".cu")
_INPUT_SUFFIXES = (*_SOURCE_SUFFIXES, ".o", ".a", ".dylib", ".so", ".tbd")
# clang options whose value is the next argument (so never an input file).
_CLANG_VALUE_OPTIONS = {
    "-o", "-MF", "-MT", "-MQ", "-I", "-L", "-D", "-U", "-x", "-include", "-isystem", "-isysroot", "-arch",
    "-framework", "-install_name", "-Xlinker", "-Xpreprocessor", "-target", "-F",
}  # fmt: skip


def _input_files(argv: list[str]) -> list[str]:
    """The input files of a clang command line (a missing one is clang's `no such file or directory`)."""
    files, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in _CLANG_VALUE_OPTIONS:
            skip = True
        elif not arg.startswith("-") and arg.endswith(_INPUT_SUFFIXES):
            files.append(arg)
    return files


def _link_only(argv: list[str]) -> bool:
    """A link of objects and archives, nothing to compile: the lab links it with zig's C driver, which does not
    build libc++ (zig's C++ driver would, about a minute the first time). Divergence: no libc++.1.dylib reference,
    a /usr/lib library that is always there; the stand-in's objects need nothing from it."""
    if any(a in ("-c", "-E", "-S") or a.startswith("-M") for a in argv):
        return False
    return not any(not a.startswith("-") and a.endswith(_SOURCE_SUFFIXES) for a in argv)


def _translate(argv: list[str]) -> list[str]:
    """Apple clang/ld64 arguments -> zig cc ones: -dynamiclib, default install name, frameworks, -all_load.

    ld64's -all_load loads every member of every static archive of the link (ld(1)); zig's linker has no
    -all_load but a -force_load per archive, which is the same for the archives named. -noall_load is obsolete in
    ld64 and does nothing (ld(1)): dropped."""
    out: list[str] = []
    shared = any(a in ("-dynamiclib", "-shared") for a in argv)
    has_id = any("-install_name" in a for a in argv)
    all_load = "-Wl,-all_load" in argv
    output = None
    it = iter(argv)
    for arg in it:
        if arg in ("-Wl,-all_load", "-Wl,-noall_load"):
            continue
        if all_load and arg.endswith(".a") and not arg.startswith("-"):
            out.append(f"-Wl,-force_load,{arg}")
        elif arg == "-dynamiclib":
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
            from egpu_lab.macho_build import zig_cache_dir

            cache = str(zig_cache_dir())
    Path(cache).mkdir(parents=True, exist_ok=True)
    return {**sim.env, "ZIG_GLOBAL_CACHE_DIR": cache, "ZIG_LOCAL_CACHE_DIR": cache}


# zig's linker words -> ld64's (ld(1) of ld64-305, Xcode 9.2: "ld: warning: directory not found for option
# '-L/usr/local/cuda/lib64'", as MXNet builds on macOS print it, e.g. apache/mxnet#12568).
_ZIG_MISSING_DIR = re.compile(r'^warning: unable to open library directory "([^"]*)": FileNotFound$', re.M)


def compile_with_zig(args: list[str], sim: Sim, cxx: bool = False) -> int:
    argv = [*zig_binary(sim), "c++" if cxx else "cc", "-target", TARGET, "-fno-sanitize=all", *args]
    proc = subprocess.run(argv, env=_zig_env(sim), cwd=sim.cwd, capture_output=True, text=True, check=False)
    if proc.stdout:
        sim.stdout.write(proc.stdout)
    if proc.stderr:
        sim.stderr.write(_ZIG_MISSING_DIR.sub(r"ld: warning: directory not found for option '-L\1'", proc.stderr))
    return proc.returncode


def xcrun_ar(argv: list[str], sim: Sim) -> int:
    """/usr/bin/ar: the xcrun stub (xcrun(1)), then the CLT's ar."""
    require_developer_dir(sim)
    return ar(argv, sim)


def ar(argv: list[str], sim: Sim) -> int:
    """ar of the Command Line Tools (cctools ar(1): BSD archives with a symbol table unless -S; `v` lists
    `a - member`), done by zig's llvm-ar in its Darwin format. Divergence: llvm-ar's own error texts."""
    args = ["--format=darwin", *argv] if argv and not argv[0].startswith("--") else list(argv)
    proc = subprocess.run([*zig_binary(sim), "ar", *args], env=_zig_env(sim), cwd=sim.cwd, capture_output=True,
                          text=True, check=False)  # fmt: skip
    sim.stdout.write(proc.stdout)
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
    if sim.machine.take_fault("build"):
        # The lab's fault switch (faults.fail_build): the way a build dies when clang is killed for memory, which
        # an MXNet build with parallel jobs on a small Mac meets (make's own report of the failed recipe).
        sim.err("clang: error: unable to execute command: Killed: 9")
        sim.err("clang: error: clang frontend command failed due to signal (use -v to see invocation)")
        sim.fail("make: *** [build/src/operator/tensor/elemwise_binary_op.o] Error 254", 2)
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
# Architectures nvcc 9.1 knows (NVIDIA's NVCC guide for CUDA 9.1, "GPU Feature List"): 2.x went with CUDA 9.0.
NVCC_ARCHS = ("30", "32", "35", "37", "50", "52", "53", "60", "61", "62", "70", "72")
# nvcc options that take the next argument as their value (NVIDIA's NVCC guide, "Command Option Summary"); the
# value of one of these is never an input file.
_NVCC_VALUE_OPTIONS = {
    "-o", "--output-file", "-I", "--include-path", "-isystem", "--system-include", "-include", "--pre-include",
    "-D", "--define-macro", "-U", "--undefine-macro", "-L", "--library-path", "-l", "--library", "-MT",
    "--dependency-target-name", "-MF", "--dependency-output", "-Xlinker", "--linker-options", "-Xptxas",
    "--ptxas-options", "-Xnvlink", "--nvlink-options", "-maxrregcount", "--maxrregcount", "-Werror",
    "-odir", "--output-directory", "-Xarchive", "--archive-options",
}  # fmt: skip
# What nvcc takes as input files, by extension (the NVCC guide's "Supported Input File Suffixes").
_NVCC_INPUTS = (".cu", ".c", ".cc", ".cxx", ".cpp", ".ptx", ".cubin", ".fatbin", ".o", ".obj", ".a", ".lib",
                ".so", ".dylib", ".res", ".gpu", ".ii", ".i")  # fmt: skip
_SHIM_HANDLER = re.compile(r'dispatch\("toolchain", "(xcrun_clang|clang)"')


def _nvcc_fatal(sim: Sim, message: str) -> NoReturn:
    sim.fail(f"nvcc fatal   : {message}", 1)


def _check_arch(sim: Sim, arch: str, option: str) -> None:
    number = arch.split("_", 1)[-1]
    if number not in NVCC_ARCHS:
        if option == "gpu-architecture":
            _nvcc_fatal(sim, f"Value '{arch}' is not defined for option 'gpu-architecture'")
        _nvcc_fatal(sim, f"Unsupported gpu architecture '{arch}'")


def _find_host_compiler(sim: Sim, name: str) -> tuple[str, Path] | None:
    """nvcc's host compiler: `-ccbin` names a file, a directory (its `clang`: nvcc's host compiler on macOS) or a
    command in PATH. Returns (its Mac path, its path in this process), or None."""
    candidates: list[str] = []
    if "/" in name:
        candidates.append(name if name.startswith("/") else os.path.join(sim.cwd, name))
    else:
        candidates += [os.path.join(d, name) for d in sim.env.get("PATH", "").split(":") if d]
    for mac_path in candidates:
        # A Mac path as this process sees it; a test outside the sandbox may name a compiler of this machine.
        for local in (sim.path(mac_path), Path(mac_path)):
            if local.is_dir():
                local, mac_path = local / "clang", f"{mac_path.rstrip('/')}/clang"
            if local.is_file() and os.access(local, os.X_OK):
                return mac_path, local
    return None


def _host_clang(sim: Sim, name: str) -> tuple[str, str]:
    """(Apple LLVM version, clang build) of the compiler nvcc would run as its host compiler, or nvcc's error."""
    found = _find_host_compiler(sim, name)
    if found is None:
        _nvcc_fatal(sim, f"Cannot find compiler '{name}' in PATH")
    mac_path, local = found
    try:
        head = local.read_bytes()[:4096].decode("utf-8", "replace")
    except OSError:
        head = ""
    handler = _SHIM_HANDLER.search(head)
    if handler is None:
        # Only Apple clang (also behind the names gcc/g++, apache/mxnet#1212) is modelled; what nvcc 9.1 says of
        # another program is unknown, so the lab refuses it in words of its own.
        _nvcc_fatal(sim, f"(rehearsal lab) the host compiler '{name}' ({mac_path}) is not Apple clang")
    if handler.group(1) == "xcrun_clang":
        dev = require_developer_dir(sim)  # nvcc runs the host clang: without tools, that is xcrun's error
    else:
        dev = mac_path.rsplit("/usr/bin/", 1)[0] if "/usr/bin/" in mac_path else CLT_DIR
    version = clang_version(sim, dev)
    if version is None:
        sim.fail(f'xcrun: error: unable to find utility "clang", not a developer tool or in PATH ({dev})', 72)
    return version


def nvcc(argv: list[str], sim: Sim) -> int:
    """Imitates nvcc 9.1 of the CUDA 9.1 toolkit for macOS.

    Sources: macos-commands.md for `--version` and the host-compiler refusal `nvcc fatal   : The version ('90100')
    of the host compiler ('Apple clang') is not supported` (apache/mxnet#1212 shows the same form, '70002', for
    `-ccbin g++`: on a Mac g++ is Apple clang); NVIDIA's NVCC guide for -ccbin/--compiler-bindir (the host
    compiler's file, directory or name; on macOS clang by default), -gencode/-arch, the input file suffixes and the
    fat binary in section `__NV_CUDA,__nv_fatbin` of Mach-O objects; an argument nvcc cannot classify is an input
    file it refuses with `nvcc fatal   : Don't know what to do with 'C'` (AveNoF/pyrit_cuda_correct:README.md,
    for a stray `C`), so `-ccbin ccache clang++` (what CXX="ccache clang++" gives MXNet's Makefile,
    apache/mxnet#11516) fails on 'clang++'; `Value 'sm_20' is not defined for option 'gpu-architecture'` and
    `Unsupported gpu architecture 'compute_20'` for an arch nvcc 9.1 dropped.

    Divergences: .cu files are compiled as C with zig; the fat binary is a text naming the targets; `-M` prints
    only the target and the source; `-E`/`-cuda` produce nothing; unknown options pass through to the compiler.
    Unconfirmed (so kept strict): nvcc 9.1's words for a host compiler it cannot find (`Cannot find compiler 'X' in
    PATH` is its Windows form) and for one that is not Apple clang (refused here in the lab's own words)."""
    if "--version" in argv or "-V" in argv:
        sim.out(NVCC_VERSION)
        return 0
    archs: list[str] = []
    passthrough: list[str] = []
    sources: list[str] = []
    host = "clang"
    mode = "compile"
    dep_target = output = None
    language = None
    it = iter(argv)
    for arg in it:
        if arg in ("-gencode", "--generate-code") or arg.startswith(("-gencode=", "--generate-code=")):
            spec = arg.split("=", 1)[1] if arg.startswith(("-gencode=", "--generate-code=")) else next(it, "")
            virtual = _GENCODE.search(spec)
            if virtual:
                _check_arch(sim, virtual.group(1), "gencode")
            for code in _gencode(spec):
                _check_arch(sim, code, "gencode")
                archs.append(code)
        elif arg in ("-arch", "--gpu-architecture") or arg.startswith(("-arch=", "--gpu-architecture=")):
            value = arg.split("=", 1)[1] if "=" in arg else next(it, "")
            _check_arch(sim, value, "gpu-architecture")
            archs.append(value.replace("compute_", "sm_"))
        elif arg in ("-Xcompiler", "--compiler-options"):
            passthrough += next(it, "").replace(",", " ").split()
        elif arg in ("-ccbin", "--compiler-bindir"):
            host = next(it, "")
        elif arg.startswith(("-ccbin=", "--compiler-bindir=")):
            host = arg.split("=", 1)[1]
        elif arg in ("--fatbin-options", "-Xfatbin"):
            next(it, None)  # -compress-all and friends: the stand-in fat binary is not compressed
        elif arg in ("-x", "--x"):
            language = next(it, "")
        elif arg in ("-M", "--generate-dependencies"):
            mode = "depend"
        elif arg in ("-E", "--preprocess"):
            mode = "preprocess"
        elif arg in ("-cuda", "--cuda"):
            mode = "cuda"
        elif arg in ("-o", "--output-file"):
            output = next(it, "")
        elif arg in ("-MT", "--dependency-target-name"):
            dep_target = next(it, "")
        elif arg in _NVCC_VALUE_OPTIONS:
            passthrough += [arg, next(it, "")]
        elif arg.startswith(("-std=", "--std", "-m64", "--use_fast_math", "-lineinfo", "--expt-")):
            continue
        elif arg.startswith("-"):
            passthrough.append(arg)
        elif arg.endswith(".cu") or (language == "cu" and arg == "/dev/null"):
            sources.append(arg)
        elif arg.endswith(_NVCC_INPUTS):
            passthrough.append(arg)
        else:
            _nvcc_fatal(sim, f"Don't know what to do with '{arg}'")
    _host_version = _host_clang(sim, host)
    llvm = _host_version[0]
    if llvm != NVCC_ACCEPTED_LLVM:
        number = "".join(f"{int(p):02d}" for p in llvm.split("."))[1:] if llvm else ""
        _nvcc_fatal(sim, f"The version ('{number}') of the host compiler ('Apple clang') is not supported")
    if mode in ("preprocess", "cuda"):
        return 0
    if mode == "depend":
        for src in sources:
            sim.out(f"{dep_target or Path(src).stem + '.o'} : {src}")
        return 0
    archs = archs or ["sm_30"]  # nvcc 9.1's default target
    if output:
        passthrough += ["-o", output]
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
