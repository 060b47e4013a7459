"""The genuine Mach-O files of the stand-ins (x86_64, macOS 10.13), built with egpu_setup.macho.build (zig).

Install names follow NVIDIA's libraries as `otool -L` shows them in public transcripts (MXNet, TensorFlow and
PyTorch build logs on macOS): `@rpath/libcudart.9.1.dylib`, `@rpath/libcublas.9.1.dylib`, ...,
`@rpath/libcudnn.7.dylib`; the CUDA driver framework's binary has an absolute id. Each library exports a few real
functions (version queries return the real encodings: CUDA 9.1 = 9010, cuDNN 7.0.5 = 7005) so a test can link
against them; the code does nothing else.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from egpu_setup.macho import build

# CUDA 9.1 toolkit libraries: file name -> C body.
CUDA_LIBS: dict[str, str] = {
    "libcudart.9.1.dylib": (
        "int cudaRuntimeGetVersion(int *v) { *v = 9010; return 0; }\n"
        "int cudaGetDeviceCount(int *n) { *n = 0; return 35; }\n"
    ),
    "libcublas.9.1.dylib": "int cublasGetVersion_v2(void *h, int *v) { (void)h; *v = 9010; return 0; }\n",
    "libcurand.9.1.dylib": "int curandGetVersion(int *v) { *v = 9010; return 0; }\n",
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
    lib_dir.mkdir(parents=True, exist_ok=True)
    return [dylib(lib_dir / name, body, f"@rpath/{name}") for name, body in CUDA_LIBS.items()]


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
