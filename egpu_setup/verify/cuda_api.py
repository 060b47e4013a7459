"""ctypes bindings to the CUDA driver API, the CUDA runtime, cuBLAS and cuDNN, and where to find them.

Standard library only: this runs on a Mac's bare Python 3, where no CUDA Python package exists for CUDA 9.1.
Library names differ by platform and install: /usr/local/cuda/lib/libcuda.dylib and libcudart.9.1.dylib on
macOS; libcuda.so.1 (from the driver), libcudart.so.12 / .13 from a toolkit, the ld cache, or NVIDIA's pip wheels
(site-packages/nvidia/<part>/lib, or nvidia/cu13/lib for CUDA 13 wheels) on Linux. Version encodings: the driver
and the runtime report 1000*major + 10*minor; cuDNN reports 1000*major + 100*minor + patch before 9 and
10000*major + 100*minor + patch from 9 on.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import glob
import os
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass

# Extra directories to search first, colon separated (for example a PyTorch environment's nvidia/*/lib).
LIBRARY_PATH_ENV = "EGPU_VERIFY_LIBRARY_PATH"

# Enum values from cuda.h / cuda_runtime_api.h / cublas_api.h (stable since CUDA 3-6).
CU_DEVICE_ATTRIBUTE_CLOCK_RATE = 13  # kHz
CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16
CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75
CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76
CUDA_ERROR_NO_DEVICE = 100
CUDA_MEMCPY_HOST_TO_DEVICE = 1
CUDA_MEMCPY_DEVICE_TO_HOST = 2
CUBLAS_OP_N = 0

# FP32 cores per streaming multiprocessor by compute capability (CUDA C Programming Guide, arithmetic throughput).
_CORES_PER_SM = {
    (3, 0): 192, (3, 2): 192, (3, 5): 192, (3, 7): 192,
    (5, 0): 128, (5, 2): 128, (5, 3): 128,
    (6, 0): 64, (6, 1): 128, (6, 2): 128,
    (7, 0): 64, (7, 2): 64, (7, 5): 64,
    (8, 0): 64, (8, 6): 128, (8, 7): 128, (8, 9): 128,
    (9, 0): 128,
}  # fmt: skip


class CudaError(Exception):
    """A CUDA library is missing or a call failed; the message says which and why."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class LibraryMissing(CudaError):
    """No candidate of a library could be loaded (the message lists what was tried)."""


def cores_per_sm(major: int, minor: int) -> int | None:
    """FP32 cores per SM; None for a compute capability this table does not know (>= 10 is 128 so far)."""
    if (major, minor) in _CORES_PER_SM:
        return _CORES_PER_SM[(major, minor)]
    return 128 if major >= 10 else None


def version_text(encoded: int) -> str:
    """Driver and runtime versions: 9010 -> "9.1", 12040 -> "12.4"."""
    return f"{encoded // 1000}.{(encoded % 1000) // 10}"


def cudnn_version_text(encoded: int) -> str:
    """cuDNN: 7005 -> "7.0.5", 8907 -> "8.9.7", 90100 -> "9.1.0"."""
    if encoded >= 90000:
        return f"{encoded // 10000}.{(encoded % 10000) // 100}.{encoded % 100}"
    return f"{encoded // 1000}.{(encoded % 1000) // 100}.{encoded % 100}"


# ---------------------------------------------------------------------------------------------------------------
# Finding the libraries


def _site_dirs() -> list[str]:
    """Directories on sys.path that may hold NVIDIA's wheels (site-packages, dist-packages)."""
    return [p for p in sys.path if p and os.path.basename(p) in ("site-packages", "dist-packages")]


def search_dirs(platform: str) -> list[str]:
    """Where toolkit libraries are looked for, in order (the ld cache is asked separately, after these)."""
    dirs = [d for d in os.environ.get(LIBRARY_PATH_ENV, "").split(os.pathsep) if d]
    if platform == "darwin":
        dirs += ["/usr/local/cuda/lib", *sorted(glob.glob("/Developer/NVIDIA/CUDA-*/lib"), reverse=True)]
        return dirs
    for env in ("CUDA_HOME", "CUDA_PATH"):
        if os.environ.get(env):
            dirs += [os.path.join(os.environ[env], "lib64"), os.path.join(os.environ[env], "lib")]
    dirs += ["/usr/local/cuda/lib64", "/usr/local/cuda/lib"]
    dirs += sorted(glob.glob("/usr/local/cuda-*/lib64"), reverse=True)
    for site in _site_dirs():
        dirs += sorted(glob.glob(os.path.join(site, "nvidia", "*", "lib")))
    return list(dict.fromkeys(dirs))  # first occurrence of each, in order


def major_of(path: str, stem: str) -> int | None:
    """The major version in a library's file name: libcudart.so.12.4.127 -> 12, libcudart.9.1.dylib -> 9."""
    base = os.path.basename(path)
    match = re.match(rf"lib{stem}\.so\.(\d+)", base) or re.match(rf"lib{stem}\.(\d+)(?:\.\d+)*\.dylib$", base)
    return int(match.group(1)) if match else None


def library_candidates(stem: str, platform: str, dirs: Iterable[str] | None = None) -> list[str]:
    """Paths (or ld-cache names) of lib<stem>, newest major first within each directory, then the ld cache.

    Unversioned names (libcudart.so, libcudart.dylib) come after the versioned ones of the same directory:
    they are links made by the toolkit and may be absent from wheels.
    """
    found: list[str] = []
    suffix = ".dylib" if platform == "darwin" else ".so*"
    for directory in search_dirs(platform) if dirs is None else dirs:
        names = [p for p in glob.glob(os.path.join(directory, f"lib{stem}{suffix}")) if os.path.isfile(p)]
        if platform == "darwin":
            names += [p for p in glob.glob(os.path.join(directory, f"lib{stem}.*.dylib")) if os.path.isfile(p)]
        names = sorted(set(names), key=lambda p: (major_of(p, stem) or -1, len(p)), reverse=True)
        found += [n for n in names if os.path.realpath(n) not in {os.path.realpath(f) for f in found}]
    if platform != "darwin":
        cached = ctypes.util.find_library(stem)  # the ld cache's name, e.g. libcudart.so.13
        if cached and cached not in found:
            found.append(cached)
    return found


def pick_by_major(candidates: list[str], stem: str, most: int | None, prefer: int | None = None) -> list[str]:
    """Order candidates: first those of major `prefer`, then the newest major not above `most` (what the driver
    supports), then the rest (they fail to initialise, and the error says why)."""

    def key(path: str) -> tuple[int, int, int]:
        major = major_of(path, stem)
        fits = 1 if most is None or major is None or major <= most else 0
        return (1 if prefer is not None and major == prefer else 0, fits, major or 0)

    return sorted(candidates, key=key, reverse=True)


def load_first(candidates: list[str], what: str, global_symbols: bool = False) -> tuple[ctypes.CDLL, str]:
    """Load the first candidate that loads; CudaError listing every reason when none does."""
    errors = []
    mode = ctypes.RTLD_GLOBAL if global_symbols else ctypes.DEFAULT_MODE
    for path in candidates:
        try:
            return ctypes.CDLL(path, mode=mode), path
        except OSError as exc:
            errors.append(f"{path}: {exc}")
    if not candidates or all("No such file" in e or "not found" in e for e in errors):
        raise LibraryMissing(f"{what} not found")
    raise LibraryMissing(f"{what} could not be loaded ({'; '.join(errors)})")


def driver_candidates(platform: str) -> list[str]:
    if platform == "darwin":
        # /usr/local/cuda/lib/libcuda.dylib links to the CUDA driver's framework (docs high-sierra-egpu.md).
        return [
            p
            for p in ("/usr/local/cuda/lib/libcuda.dylib", "/Library/Frameworks/CUDA.framework/CUDA")
            if os.path.exists(p)
        ]
    # libcuda.so.1 comes with the kernel driver and sits in the ld cache; WSL keeps it under /usr/lib/wsl/lib.
    names = ["libcuda.so.1"]
    cached = ctypes.util.find_library("cuda")
    if cached and cached not in names:
        names.append(cached)
    names += [p for p in ("/usr/lib/wsl/lib/libcuda.so.1",) if os.path.exists(p)]
    return names


# ---------------------------------------------------------------------------------------------------------------
# The driver API


@dataclass
class DriverDevice:
    index: int
    name: str
    compute_capability: str
    memory_bytes: int
    multiprocessors: int | None
    clock_mhz: float | None
    pci_bus_id: str | None


class CudaDriver:
    """libcuda: cuInit, versions, devices."""

    def __init__(self, platform: str, candidates: list[str] | None = None) -> None:
        wanted = driver_candidates(platform) if candidates is None else candidates
        name = "libcuda.dylib (CUDA driver)" if platform == "darwin" else "libcuda.so.1 (NVIDIA driver)"
        self.lib, self.path = load_first(wanted, name)
        self._initialised = False

    def _call(self, func: str, *args: object) -> None:
        code = getattr(self.lib, func)(*args)
        if code != 0:
            raise CudaError(f"{func} failed: {self.error_name(code)} ({code})", code)

    def error_name(self, code: int) -> str:
        text = ctypes.c_char_p()
        try:
            if self.lib.cuGetErrorName(code, ctypes.byref(text)) == 0 and text.value:
                return text.value.decode()
        except AttributeError:  # drivers older than CUDA 6 lack cuGetErrorName
            pass
        return "CUDA_ERROR"

    def version(self) -> int:
        """cuDriverGetVersion works before cuInit: the CUDA version the driver supports, 1000*major+10*minor."""
        value = ctypes.c_int()
        self._call("cuDriverGetVersion", ctypes.byref(value))
        return value.value

    def init(self) -> None:
        if not self._initialised:
            self._call("cuInit", 0)
            self._initialised = True

    def device_count(self) -> int:
        self.init()
        count = ctypes.c_int()
        self._call("cuDeviceGetCount", ctypes.byref(count))
        return count.value

    def _attribute(self, attribute: int, device: ctypes.c_int) -> int | None:
        value = ctypes.c_int()
        code = self.lib.cuDeviceGetAttribute(ctypes.byref(value), attribute, device)
        return value.value if code == 0 else None

    def device(self, index: int) -> DriverDevice:
        self.init()
        handle = ctypes.c_int()
        self._call("cuDeviceGet", ctypes.byref(handle), index)
        name = ctypes.create_string_buffer(256)
        self._call("cuDeviceGetName", name, 256, handle)
        memory = ctypes.c_size_t()
        self._call("cuDeviceTotalMem_v2", ctypes.byref(memory), handle)
        major = self._attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, handle)
        minor = self._attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, handle)
        clock_khz = self._attribute(CU_DEVICE_ATTRIBUTE_CLOCK_RATE, handle)
        bus = ctypes.create_string_buffer(64)
        try:
            bus_id = bus.value.decode() if self.lib.cuDeviceGetPCIBusId(bus, 64, handle) == 0 else None
        except AttributeError:
            bus_id = None
        return DriverDevice(
            index=index,
            name=name.value.decode(errors="replace"),
            compute_capability=f"{major}.{minor}",
            memory_bytes=memory.value,
            multiprocessors=self._attribute(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, handle),
            clock_mhz=clock_khz / 1000 if clock_khz else None,
            pci_bus_id=bus_id,
        )


# ---------------------------------------------------------------------------------------------------------------
# The runtime, cuBLAS, cuDNN


class CudaRuntime:
    """libcudart: versions, memory, copies, events."""

    def __init__(self, lib: ctypes.CDLL, path: str) -> None:
        self.lib, self.path = lib, path
        self.lib.cudaGetErrorString.restype = ctypes.c_char_p
        for func in ("cudaFree", "cudaFreeHost", "cudaEventDestroy"):
            getattr(self.lib, func).argtypes = [ctypes.c_void_p]
        self.lib.cudaMemcpy.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        self.lib.cudaMemset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
        self.lib.cudaMalloc.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_size_t]
        self.lib.cudaMallocHost.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_size_t]
        self.lib.cudaEventRecord.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        self.lib.cudaEventSynchronize.argtypes = [ctypes.c_void_p]
        self.lib.cudaEventElapsedTime.argtypes = [ctypes.POINTER(ctypes.c_float), ctypes.c_void_p, ctypes.c_void_p]

    @classmethod
    def load(cls, platform: str, driver_version: int | None = None) -> CudaRuntime:
        """The newest runtime the driver supports, preferring a major version that has a cuBLAS beside it:
        one CUDA version per process (a toolkit's CUDA 13 runtime next to a wheel's CUDA 12 cuBLAS is a mix)."""
        most = driver_version // 1000 if driver_version else None
        candidates = library_candidates("cudart", platform)
        with_cublas = {major_of(p, "cublas") for p in library_candidates("cublas", platform)}
        majors = [m for m in (major_of(p, "cudart") for p in candidates) if m in with_cublas]
        prefer = max((m for m in majors if m is not None and (most is None or m <= most)), default=None)
        candidates = pick_by_major(candidates, "cudart", most, prefer)
        lib, path = load_first(candidates, "the CUDA runtime (libcudart)")
        return cls(lib, path)

    def check(self, func: str, code: int) -> None:
        if code != 0:
            text = self.lib.cudaGetErrorString(code)
            raise CudaError(f"{func} failed: {text.decode() if text else 'error'} ({code})", code)

    def call(self, func: str, *args: object) -> None:
        self.check(func, getattr(self.lib, func)(*args))

    def version(self) -> int:
        value = ctypes.c_int()
        self.call("cudaRuntimeGetVersion", ctypes.byref(value))
        return value.value

    def device_count(self) -> int:
        value = ctypes.c_int()
        self.call("cudaGetDeviceCount", ctypes.byref(value))
        return value.value

    def malloc(self, size: int) -> ctypes.c_void_p:
        ptr = ctypes.c_void_p()
        self.call("cudaMalloc", ctypes.byref(ptr), size)
        return ptr

    def malloc_host(self, size: int) -> ctypes.c_void_p:
        ptr = ctypes.c_void_p()
        self.call("cudaMallocHost", ctypes.byref(ptr), size)
        return ptr

    def timed_ms(self, work: Callable[[], None], repeat: int) -> float:
        """Milliseconds the GPU took for `repeat` calls of `work()`, timed with CUDA events on the default stream."""
        start, end = ctypes.c_void_p(), ctypes.c_void_p()
        self.call("cudaEventCreate", ctypes.byref(start))
        self.call("cudaEventCreate", ctypes.byref(end))
        try:
            self.call("cudaEventRecord", start, None)
            for _ in range(repeat):
                work()
            self.call("cudaEventRecord", end, None)
            self.call("cudaEventSynchronize", end)
            elapsed = ctypes.c_float()
            self.call("cudaEventElapsedTime", ctypes.byref(elapsed), start, end)
            return float(elapsed.value)
        finally:
            self.lib.cudaEventDestroy(start)
            self.lib.cudaEventDestroy(end)

    def copy_bandwidth(self, size: int, repeat: int) -> tuple[float, float]:
        """Pinned host <-> device copy bandwidth in GB/s (1e9 bytes/s): (host to device, device to host)."""
        host = self.malloc_host(size)
        try:
            device = self.malloc(size)
            try:
                self.call("cudaMemset", device, 0x3C, size)
                ctypes.memset(host, 0x3C, size)

                def h2d() -> None:
                    self.call("cudaMemcpy", device, host, size, CUDA_MEMCPY_HOST_TO_DEVICE)

                def d2h() -> None:
                    self.call("cudaMemcpy", host, device, size, CUDA_MEMCPY_DEVICE_TO_HOST)

                h2d(), d2h()  # first copies map pages and wake the link from its power-saving state
                h2d_ms = self.timed_ms(h2d, repeat)
                d2h_ms = self.timed_ms(d2h, repeat)
            finally:
                self.lib.cudaFree(device)
        finally:
            self.lib.cudaFreeHost(host)
        return size * repeat / (h2d_ms / 1000) / 1e9, size * repeat / (d2h_ms / 1000) / 1e9


@dataclass
class SgemmResult:
    gflops: float
    n: int
    repeat: int
    milliseconds: float
    max_relative_error: float
    library: str


def load_cublas(platform: str, runtime_path: str, driver_version: int | None) -> tuple[ctypes.CDLL, str]:
    """cuBLAS of the runtime's major version when there is one (one CUDA version per process is the safe way)."""
    prefer = major_of(runtime_path, "cudart")
    most = driver_version // 1000 if driver_version else None
    candidates = pick_by_major(library_candidates("cublas", platform), "cublas", most, prefer)
    for path in candidates:
        # Wheels keep cublasLt beside cublas; load it first in case cublas's rpath does not name its directory.
        if os.sep in path:
            for lt in glob.glob(os.path.join(os.path.dirname(path), "libcublasLt*")):
                with contextlib.suppress(OSError):
                    ctypes.CDLL(lt, mode=ctypes.RTLD_GLOBAL)
    return load_first(candidates, "cuBLAS (libcublas)")


def sgemm(runtime: CudaRuntime, cublas: ctypes.CDLL, cublas_path: str, n: int, repeat: int) -> SgemmResult:
    """C = A x B with n x n FP32 matrices of one constant value, timed over `repeat` calls; the result is checked
    against its exact value (n * a * b) so a fast wrong answer does not pass."""
    size = n * n * 4
    handle = ctypes.c_void_p()
    status = cublas.cublasCreate_v2(ctypes.byref(handle))
    if status != 0:
        raise CudaError(f"cublasCreate_v2 failed: status {status}", status)
    cublas.cublasSgemm_v2.argtypes = [
        ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int,
        ctypes.POINTER(ctypes.c_float), ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int,
        ctypes.POINTER(ctypes.c_float), ctypes.c_void_p, ctypes.c_int,
    ]  # fmt: skip
    pointers: list[ctypes.c_void_p] = []
    try:
        a, b, c = (runtime.malloc(size) for _ in range(3))
        pointers += [a, b, c]
        # Bytes 0x3c make every float 0x3c3c3c3c = 0.011489...: normal, non-zero, exact products.
        for ptr in (a, b, c):
            runtime.call("cudaMemset", ptr, 0x3C, size)
        alpha, beta = ctypes.c_float(1.0), ctypes.c_float(0.0)

        def gemm() -> None:
            code = cublas.cublasSgemm_v2(
                handle, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, ctypes.byref(alpha), a, n, b, n, ctypes.byref(beta), c, n
            )
            if code != 0:
                raise CudaError(f"cublasSgemm_v2 failed: status {code}", code)

        gemm(), gemm()  # warm-up: kernel selection, clocks up
        runtime.call("cudaDeviceSynchronize")
        milliseconds = runtime.timed_ms(gemm, repeat)
        sample = (ctypes.c_float * 256)()
        runtime.call("cudaMemcpy", ctypes.cast(sample, ctypes.c_void_p), c, 256 * 4, CUDA_MEMCPY_DEVICE_TO_HOST)
        value = ctypes.c_float.from_buffer_copy(bytes([0x3C] * 4)).value
        exact = n * value * value
        error = max(abs(x - exact) / exact for x in sample)
    finally:
        for ptr in pointers:
            runtime.lib.cudaFree(ptr)
        cublas.cublasDestroy_v2(handle)
    gflops = 2.0 * n * n * n * repeat / (milliseconds / 1000) / 1e9
    return SgemmResult(gflops, n, repeat, milliseconds, error, cublas_path)


def load_cudnn(platform: str, runtime_path: str | None) -> tuple[int, str]:
    """cudnnGetVersion of the first cuDNN that loads: (encoded version, path)."""
    prefer = major_of(runtime_path, "cudart") if runtime_path else None
    candidates = library_candidates("cudnn", platform)
    if prefer is not None:
        # cuDNN's file name carries its own major, not CUDA's; keep a cuDNN beside the runtime first.
        same_dir = [p for p in candidates if os.path.dirname(p) == os.path.dirname(runtime_path or "")]
        candidates = same_dir + [p for p in candidates if p not in same_dir]
    lib, path = load_first(candidates, "cuDNN (libcudnn)")
    lib.cudnnGetVersion.restype = ctypes.c_size_t
    return int(lib.cudnnGetVersion()), path
