"""MXNet 1.0.0's make structure: the stand-in tree and the role's config.mk held to the facts table, and the old
mistakes failing the way they fail on a Mac (a config.mk that includes make/osx.mk; ccache in CXX).

The builds run outside a sandbox, with wrappers of the lab's clang/nvcc/ar/uname first on PATH (`build_host`).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from egpu_lab import facts
from egpu_lab.macos.toolchain import nvcc
from egpu_lab.standins import common, install_clt, mxnet
from egpu_setup.matrix import load_matrix

ROOT = Path(__file__).resolve().parents[3]
ROLE = ROOT / "ansible_collections/egpu/mac/roles/mxnet"
CUDA_SETTINGS = "USE_CUDA = 1\nUSE_CUDA_PATH = {cuda}\nUSE_CUDNN = 1\nUSE_OPENCV = 0\n"
SM61 = "-gencode arch=compute_61,code=sm_61"
CLT_CXX = "/Library/Developer/CommandLineTools/usr/bin/clang++"
_ASSIGN = re.compile(r"^(export\s+)?([A-Z_0-9]+)\s*(?::=|=)\s*(.*?)\s*$")


def fact(name: str):
    return facts.value("mxnet", name)


def settings(text: str) -> tuple[dict[str, str], set[str]]:
    """The top-level assignments of a make file (outside ifeq blocks), in order, and the exported names."""
    found: dict[str, str] = {}
    exported: set[str] = set()
    depth = 0
    for line in text.splitlines():
        word = line.strip().split(" ", 1)[0]
        if word in ("ifeq", "ifneq", "ifdef", "ifndef"):
            depth += 1
        elif word == "endif":
            depth -= 1
        elif depth == 0 and (m := _ASSIGN.match(line)):
            assert m.group(2) not in found, f"{m.group(2)} set twice"
            found[m.group(2)] = m.group(3)
            if m.group(1):
                exported.add(m.group(2))
    return found, exported


def includes(makefile: Path) -> list[str]:
    """The `include` lines of a make file, in order (not the optional `-include` ones)."""
    return [line.split(None, 1)[1].strip() for line in makefile.read_text().splitlines() if line.startswith("include ")]


def render_role_config(tmp: Path, cuda_arch_flags: str = SM61) -> str:
    """The role's config.mk as Ansible renders it: defaults/main.yml with the matrix's mxnet_source build fields."""
    build = load_matrix().artifacts[("mxnet_source", "1.0.0")].fields["build"]
    plan = {"artifacts": {"mxnet_source": {"version": "1.0.0", "build": build}}, "cuda_arch_flags": cuda_arch_flags}
    playbook = tmp / "render.yml"
    playbook.write_text(
        "- name: Render the mxnet role's config.mk\n  hosts: localhost\n  gather_facts: false\n"
        "  connection: local\n  vars_files: ['{{ role }}/defaults/main.yml']\n  tasks:\n"
        "    - name: Write config.mk\n      ansible.builtin.copy:\n"
        "        content: \"{{ lookup('ansible.builtin.template', role ~ '/templates/config.mk.j2') }}\"\n"
        "        dest: '{{ out }}'\n        mode: '0644'\n"
    )
    extra = {"egpu_plan": plan, "role": str(ROLE), "out": str(tmp / "config.mk"),
             "ansible_python_interpreter": sys.executable}  # fmt: skip
    (tmp / "vars.json").write_text(json.dumps(extra))
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", str(playbook),
         "-e", f"@{tmp / 'vars.json'}"],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return (tmp / "config.mk").read_text()


# --- the stand-in tree against the facts table -----------------------------------------------------------------------


def test_osx_mk_and_config_mk_carry_the_real_settings():
    found, exported = settings((mxnet.TEMPLATE / "make/osx.mk").read_text())
    assert list(found.items()) == list(fact("osx_mk").items())
    assert exported == set(fact("osx_mk_exported"))
    template, exported = settings((mxnet.TEMPLATE / "make/config.mk").read_text())
    assert {k: template[k] for k in fact("config_mk")} == fact("config_mk")
    assert {"CC", "CXX", "NVCC"} <= exported


def test_the_make_files_include_what_the_real_ones_include():
    assert includes(mxnet.TEMPLATE / "Makefile") == fact("top_includes")
    assert includes(mxnet.TEMPLATE / "dmlc-core/Makefile") == fact("dmlc_core_includes")
    assert includes(mxnet.TEMPLATE / "nnvm/Makefile") == fact("nnvm_includes")
    top = (mxnet.TEMPLATE / "Makefile").read_text()
    for recipe in ("dmlc_core_submake", "nnvm_submake"):
        assert re.search(rf"^\t\+ {re.escape(fact(recipe))}$", top, re.M), recipe
    assert f"NVCCFLAGS += {fact('nvccflags')}" in top
    assert "KNOWN_CUDA_ARCHS := " + " ".join(map(str, fact("known_cuda_archs"))) in top
    assert not re.search(r"^\t.*-install_name", top, re.M)  # the link sets no id: it is the -o path
    assert re.search(r"^all: " + " ".join(fact("default_targets")) + r" ", top, re.M)


def test_the_make_variables_hold_the_real_link_set_and_nvcc_flags(build_host, tmp_path):
    """Evaluated by make itself, on a Darwin uname: LDFLAGS in the real order, nvcc's -ccbin, the archive flags."""
    b = build_host()
    src = b.source(tmp_path / "mx")
    (src / "config.mk").write_text((src / "make/osx.mk").read_text() + CUDA_SETTINGS.format(cuda=b.cuda))
    show = (
        "show: ; @echo 'LDFLAGS=$(LDFLAGS)'; echo 'NVCCFLAGS=$(NVCCFLAGS)'; echo 'WHOLE=$(WHOLE_ARCH) $(NO_WHOLE_ARCH)'"
    )
    proc = b.make(src, "--eval", show, "show")
    assert proc.returncode == 0, proc.stderr
    values = dict(line.split("=", 1) for line in proc.stdout.splitlines())
    cuda_dirs = [d.replace("$(USE_CUDA_PATH)", str(b.cuda)) for d in fact("mshadow_cuda_libdirs")]
    expected = [*fact("mshadow_cuda_ldflags"), *cuda_dirs, *fact("apple_blas_ldflags"), *fact("cudnn_ldflags"),
                *fact("cuda_ldflags")]  # fmt: skip
    assert values["LDFLAGS"].split() == ["-pthread", "-lm", *expected]
    assert " -ccbin g++ " in values["NVCCFLAGS"]  # osx.mk's CXX
    assert values["WHOLE"].split() == fact("whole_archive_darwin")


# --- the role's config.mk -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def role_config(tmp_path_factory) -> str:
    return render_role_config(tmp_path_factory.mktemp("role"))


def test_role_config_mk_stands_alone_with_every_osx_mk_setting(role_config):
    assert not re.search(r"^\s*-?include\b", role_config, re.M)
    found, exported = settings(role_config)
    osx = fact("osx_mk")
    assert list(found)[: len(osx)] == list(osx)  # osx.mk's settings, in its order, each once
    matrix = load_matrix().artifacts[("mxnet_source", "1.0.0")].fields["build"]["config"]
    ours = {**matrix, "CC": CLT_CXX.removesuffix("++"), "CXX": CLT_CXX, "USE_CUDA_PATH": "/usr/local/cuda"}
    assert {k: v for k, v in found.items() if k in osx} == {**osx, **{k: v for k, v in ours.items() if k in osx}}
    assert exported == set(fact("osx_mk_exported"))
    assert found["CUDA_ARCH"] == SM61  # the GPU's architecture only
    assert set(found) == set(osx) | {"CUDA_ARCH"}


def test_role_config_mk_is_read_the_same_from_the_top_dmlc_core_and_nnvm(role_config, build_host, tmp_path):
    """`make -n` runs the recursive makes (their lines are $(MAKE) lines): dmlc-core reads this config.mk from its
    own directory, nnvm gets the exported compilers, and nvcc and the link get what the Mac needs."""
    b = build_host()
    src = b.source(tmp_path / "mx")
    (src / "config.mk").write_text(role_config)
    proc = b.make(src, "-n")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "osx.mk" not in out and "No rule to make target" not in out
    lines = proc.stdout.splitlines()
    dmlc = lines[lines.index(f"make[1]: Entering directory '{src}/dmlc-core'") :]
    assert any(line.startswith(f"{CLT_CXX} -c ") and line.endswith("src/io.cc") for line in dmlc)
    nnvm = lines[lines.index(f"make[1]: Entering directory '{src}/nnvm'") :]
    assert any(line.startswith(f"{CLT_CXX} -c ") and "src/core/graph.cc" in line for line in nnvm)
    nvcc_lines = [line for line in lines if line.startswith(f"{b.bindir}/nvcc ")]
    assert nvcc_lines and all(f" -ccbin {CLT_CXX} " in line for line in nvcc_lines)
    assert all(set(re.findall(r"arch=\S+", line)) == {"arch=compute_61,code=sm_61"} for line in nvcc_lines)
    link = next(line for line in lines if " -shared -o lib/libmxnet.so " in line)
    for flag in (*fact("mshadow_cuda_ldflags"), *fact("cuda_ldflags"), *fact("cudnn_ldflags"), "Accelerate"):
        assert f" {flag} " in f" {link} ", flag


# --- the old mistakes fail as on a Mac --------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_config_mk_that_includes_osx_mk_fails_in_the_dmlc_core_sub_make(build_host, tmp_path):
    """The role's former config.mk: fine at the top, "No such file" inside dmlc-core/; the recipe's `cd` hides
    that, and the link finds no libdmlc.a (what `make -n` on the real tree shows, and a Mac's build then does)."""
    b = build_host()
    src = b.source(tmp_path / "mx")
    (src / "config.mk").write_text(
        "include make/osx.mk\n" + CUDA_SETTINGS.format(cuda=b.cuda) + f"CUDA_ARCH := {SM61}\n"
    )
    proc = b.make(src)
    assert proc.returncode != 0
    assert f"{src}/config.mk:1: make/osx.mk: No such file or directory" in proc.stderr
    assert "make[1]: *** No rule to make target 'make/osx.mk'.  Stop." in proc.stderr
    assert f"clang: error: no such file or directory: '{src}/dmlc-core/libdmlc.a'" in proc.stderr
    assert not (src / "lib/libmxnet.so").exists()


@pytest.mark.slow
def test_ccache_in_cxx_reaches_nvcc_and_nvcc_refuses_it(build_host, tmp_path):
    """The role's former command line, `make CC="ccache clang" CXX="ccache clang++"`: the C++ compiles work (ccache
    runs clang++), then nvcc gets `-ccbin ccache clang++` and takes clang++ for an input file."""
    b = build_host()
    src = b.source(tmp_path / "mx")
    (src / "config.mk").write_text((src / "make/osx.mk").read_text() + CUDA_SETTINGS.format(cuda=b.cuda)
                                   + f"CUDA_ARCH := {SM61}\n")  # fmt: skip
    proc = b.make(src, "CC=ccache clang", "CXX=ccache clang++")
    assert proc.returncode != 0
    assert " -ccbin ccache clang++ " in proc.stdout
    assert "nvcc fatal   : Don't know what to do with 'clang++'\n" in proc.stderr
    assert (src / "build/src/c_api/c_api.o").exists() and not (src / "lib/libmxnet.so").exists()


# --- nvcc's host compiler ------------------------------------------------------------------------------------------


def _nvcc_host(host) -> dict[str, str]:
    """/usr/bin's xcrun stubs and a ccache in /usr/local/bin, as a Mac with Homebrew's ccache has them."""
    for name in ("clang", "clang++", "g++"):
        common.shim(host.root / "usr/bin" / name, "toolchain", "xcrun_clang")
    common.write(host.root / "usr/local/bin/ccache", '#!/bin/sh\nexec "$@"\n', 0o755)
    return {"PATH": "/usr/local/bin:/usr/bin:/bin"}


@pytest.mark.parametrize(
    "ccbin",
    [["-ccbin", "clang++"], ["-ccbin", "g++"], ["--compiler-bindir", CLT_CXX],
     ["--compiler-bindir=/Library/Developer/CommandLineTools/usr/bin"], []],
)  # fmt: skip
def test_nvcc_accepts_clt_92_clang_however_named(host, ccbin):
    install_clt(host.root, "9.2")
    env = _nvcc_host(host)
    r = host.run(nvcc, *ccbin, "-gencode", "arch=compute_61,code=sm_61", "-M", "-MT", "build/k_gpu.o", "k.cu", env=env)
    assert (r.code, r.out, r.err) == (0, "build/k_gpu.o : k.cu\n", "")


def test_nvcc_refuses_a_host_compiler_it_cannot_use(host):
    install_clt(host.root, "9.3")
    env = _nvcc_host(host)
    cu = ("-M", "k.cu")
    r = host.run(nvcc, "-ccbin", "ccache", "clang++", *cu, env=env)
    assert (r.code, r.err) == (1, "nvcc fatal   : Don't know what to do with 'clang++'\n")
    r = host.run(nvcc, "-ccbin", CLT_CXX, *cu, env=env)  # CLT 9.3: Apple LLVM 9.1.0
    assert (r.code, r.err) == (
        1,
        "nvcc fatal   : The version ('90100') of the host compiler ('Apple clang') is not supported\n",
    )
    r = host.run(nvcc, "-ccbin", "clang-9", *cu, env=env)
    assert (r.code, r.err) == (1, "nvcc fatal   : Cannot find compiler 'clang-9' in PATH\n")
    r = host.run(nvcc, "-ccbin", "ccache", *cu, env=env)
    assert r.code == 1 and r.err.startswith("nvcc fatal   : (rehearsal lab) the host compiler 'ccache'")


def test_nvcc_refuses_architectures_it_does_not_know(host):
    install_clt(host.root, "9.2")
    env = _nvcc_host(host)
    r = host.run(nvcc, "-arch=sm_20", "-E", "--x", "cu", "/dev/null", env=env)
    assert (r.code, r.err) == (1, "nvcc fatal   : Value 'sm_20' is not defined for option 'gpu-architecture'\n")
    r = host.run(nvcc, "-gencode", "arch=compute_20,code=sm_20", "-M", "k.cu", env=env)
    assert (r.code, r.err) == (1, "nvcc fatal   : Unsupported gpu architecture 'compute_20'\n")
    assert host.run(nvcc, "-arch=sm_70", "-E", "--x", "cu", "/dev/null", env=env).code == 0
