"""The genuine Mach-O files of the stand-ins (x86_64, macOS 10.13), built with egpu_lab.macho_build (zig).

Install names come from the facts table (facts/cuda_toolkit.yaml, cuda_driver.yaml), i.e. from `otool -L` in public
transcripts: the toolkit's libraries are `@rpath/libcudart.9.1.dylib`, `@rpath/libcublas.9.1.dylib`, ...
(every library MXNet 1.0.0 links: cudart, cublas, curand, cusolver, cufft, nvrtc), cuDNN's `@rpath/libcudnn.7.dylib`;
the CUDA driver's /usr/local/cuda/lib/libcuda.dylib is a small library of its own with that absolute id, which
loads `@rpath/CUDA.framework/Versions/A/CUDA` through an LC_RPATH of its own. Each library exports a few real
functions (version queries return the real encodings: CUDA 9.1 = 9010, cuDNN 7.0.5 = 7005) so a test can link
against them; the code does nothing else.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from egpu_lab import facts
from egpu_lab import macho_build as build

# CUDA 9.1 toolkit libraries: file name -> C body.
CUDA_LIBS: dict[str, str] = {
    "libcudart.9.1.dylib": (
        "int cudaRuntimeGetVersion(int *v) { *v = 9010; return 0; }\n"
        "int cudaGetDeviceCount(int *n) { *n = 0; return 35; }\n"
    ),
    "libcublas.9.1.dylib": "int cublasGetVersion_v2(void *h, int *v) { (void)h; *v = 9010; return 0; }\n",
    "libcurand.9.1.dylib": "int curandGetVersion(int *v) { *v = 9010; return 0; }\n",
    "libcusolver.9.1.dylib": "int cusolverGetVersion(int *v) { *v = 9010; return 0; }\n",
    "libcufft.9.1.dylib": "int cufftGetVersion(int *v) { *v = 9010; return 0; }\n",
    "libnvrtc.9.1.dylib": "int nvrtcVersion(int *a, int *b) { *a = 9; *b = 1; return 0; }\n",
}
CUDNN_LIB = "libcudnn.7.dylib"
CUDNN_SOURCE = "unsigned long cudnnGetVersion(void) { return 7005; }\n"
CUDA_DRIVER_SOURCE = "int cuDriverGetVersion(int *v) { *v = 9010; return 0; }\nint cuInit(unsigned f) { return 100; }\n"


def dylib(out: Path, source: str, install_name: str, link: list[Path] | None = None) -> Path:
    """One dylib: the single place that knows how stand-in libraries are compiled."""
    return build.build_dylib(out, source, install_name, link=link or [])


def cuda_libs(lib_dir: Path) -> list[Path]:
    """The toolkit's libraries, each with the install name the facts table gives it."""
    lib_dir.mkdir(parents=True, exist_ok=True)
    ids = facts.value("cuda_toolkit", "libraries")
    if set(ids) != set(CUDA_LIBS):
        raise ValueError(f"stand-in CUDA libraries {sorted(CUDA_LIBS)} differ from the facts table's {sorted(ids)}")
    return [dylib(lib_dir / name, body, ids[name]) for name, body in CUDA_LIBS.items()]


def _driver_versions(driver_version: str) -> dict[str, str]:
    """The versions the driver's libraries carry (`otool -L`: compatibility 1.1.0, current = the driver's)."""
    return {
        "current_version": ".".join([*driver_version.split("."), "0", "0"][:3]),  # ld takes X.Y.Z: 387.128.0
        "compatibility_version": facts.value("cuda_driver", "libcuda_compatibility_version"),
    }


def cuda_framework(out: Path, driver_version: str) -> Path:
    """CUDA.framework/Versions/A/CUDA of the CUDA driver, the library the libcuda.dylib stub loads."""
    install_name = facts.value("cuda_driver", "framework_install_name")
    return build.build_dylib(out, CUDA_DRIVER_SOURCE, install_name, **_driver_versions(driver_version))


def libcuda_stub(out: Path, framework_binary: Path, driver_version: str) -> Path:
    """/usr/local/cuda/lib/libcuda.dylib of the CUDA driver: its absolute id, compatibility version 1.1.0, the
    driver's version as current version, and a reference to the framework found through its own LC_RPATH."""
    with tempfile.TemporaryDirectory(prefix="egpu-standin-") as tmp:
        # zig's linker takes a dylib by path only with a .dylib name; the reference is its install name anyway
        framework = Path(tmp) / "CUDA.dylib"
        framework.symlink_to(Path(framework_binary).resolve())
        return build.build_dylib(
            out,
            CUDA_DRIVER_SOURCE,
            facts.value("cuda_driver", "libcuda_install_name"),
            link=[framework],
            rpaths=[facts.value("cuda_driver", "libcuda_rpath")],
            **_driver_versions(driver_version),
        )


def cudnn_lib(lib_dir: Path) -> Path:
    lib_dir.mkdir(parents=True, exist_ok=True)
    return dylib(lib_dir / CUDNN_LIB, CUDNN_SOURCE, f"@rpath/{CUDNN_LIB}")


def static_archive(out: Path, source: str) -> Path:
    """A static library (ar archive of one x86_64 Mach-O object), like libcudnn_static.a."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="egpu-standin-") as tmp:
        src, obj = Path(tmp) / "s.c", Path(tmp) / "cudnn_static.o"
        src.write_text(source)
        env = build._zig_env()
        argv = [*build.zig_cc_command(), "-target", build.DEFAULT_TARGET, *build.DEFAULT_CFLAGS, "-c", str(src)]
        subprocess.run([*argv, "-o", str(obj)], env=env, check=True, capture_output=True)
        data = obj.read_bytes()
    name = obj.name.encode() + b"/"
    header = b"%-16s%-12d%-6d%-6d%-8o%-10d`\n" % (name, 0, 0, 0, 0o644, len(data))
    out.write_bytes(b"!<arch>\n" + header + data + (b"\n" if len(data) % 2 else b""))
    return out
