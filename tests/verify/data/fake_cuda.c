/* Stand-ins for libcuda, libcudart, libcublas and libcudnn with the C signatures egpu_setup/verify/cuda_api.py
 * calls through ctypes, so the bindings run for real on a machine without a GPU. "Device" memory is host memory;
 * events read CLOCK_MONOTONIC. One GPU: "Fake GPU", compute 8.6, 4 SMs, 1500 MHz, bus 0000:AB:00.0.
 * FAKE_CUINIT=<code> makes cuInit fail with that code; FAKE_SGEMM_WRONG=1 makes cublasSgemm_v2 add 1 to C.
 * cublasSgemm_v2 computes only the first column's first 256 rows (what the check reads back). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* driver API */
int cuInit(unsigned flags) { (void)flags; const char *e = getenv("FAKE_CUINIT"); return e ? atoi(e) : 0; }
int cuDriverGetVersion(int *v) { *v = 12080; return 0; }
int cuDeviceGetCount(int *n) { *n = 1; return 0; }
int cuDeviceGet(int *dev, int ordinal) { *dev = ordinal; return ordinal == 0 ? 0 : 101; }
int cuDeviceGetName(char *name, int len, int dev) { (void)dev; strncpy(name, "Fake GPU", len); return 0; }
int cuDeviceTotalMem_v2(size_t *bytes, int dev) { (void)dev; *bytes = (size_t)16 << 30; return 0; }
int cuDeviceGetAttribute(int *value, int attribute, int dev) {
    (void)dev;
    switch (attribute) {
    case 75: *value = 8; return 0;        /* compute capability major */
    case 76: *value = 6; return 0;        /* minor */
    case 16: *value = 4; return 0;        /* multiprocessors */
    case 13: *value = 1500000; return 0;  /* clock, kHz */
    default: return 1;
    }
}
int cuDeviceGetPCIBusId(char *bus, int len, int dev) { (void)dev; strncpy(bus, "0000:AB:00.0", len); return 0; }
int cuGetErrorName(int code, const char **text) {
    *text = code == 100 ? "CUDA_ERROR_NO_DEVICE" : code == 999 ? "CUDA_ERROR_UNKNOWN" : "CUDA_ERROR_FAKE";
    return 0;
}

/* runtime */
int cudaRuntimeGetVersion(int *v) { *v = 12040; return 0; }
int cudaGetDeviceCount(int *n) { *n = 1; return 0; }
const char *cudaGetErrorString(int code) { return code == 2 ? "out of memory" : "fake error"; }
int cudaMalloc(void **p, size_t size) { *p = malloc(size); return *p ? 0 : 2; }
int cudaMallocHost(void **p, size_t size) { *p = malloc(size); return *p ? 0 : 2; }
int cudaFree(void *p) { free(p); return 0; }
int cudaFreeHost(void *p) { free(p); return 0; }
int cudaMemcpy(void *dst, const void *src, size_t size, int kind) { (void)kind; memcpy(dst, src, size); return 0; }
int cudaMemset(void *p, int value, size_t size) { memset(p, value, size); return 0; }
int cudaDeviceSynchronize(void) { return 0; }
int cudaEventCreate(double **event) { *event = malloc(sizeof(double)); return 0; }
int cudaEventRecord(double *event, void *stream) { (void)stream; *event = now_ms(); return 0; }
int cudaEventSynchronize(double *event) { (void)event; return 0; }
int cudaEventElapsedTime(float *ms, double *start, double *end) {
    *ms = (float)(*end - *start);
    if (*ms < 0.001f) *ms = 0.001f;
    return 0;
}
int cudaEventDestroy(double *event) { free(event); return 0; }

/* cuBLAS: column-major C = alpha * A x B + beta * C, no transposes */
int cublasCreate_v2(void **handle) { *handle = malloc(1); return 0; }
int cublasDestroy_v2(void *handle) { free(handle); return 0; }
int cublasSgemm_v2(void *handle, int ta, int tb, int m, int n, int k, const float *alpha, const float *a, int lda,
                   const float *b, int ldb, const float *beta, float *c, int ldc) {
    (void)handle; (void)n; (void)ldc;
    if (ta != 0 || tb != 0) return 7;
    float extra = getenv("FAKE_SGEMM_WRONG") ? 1.0f : 0.0f;
    for (int i = 0; i < m && i < 256; i++) {
        float sum = 0.0f;
        for (int p = 0; p < k; p++) sum += a[i + (size_t)p * lda] * b[p + 0 * (size_t)ldb];
        c[i] = *alpha * sum + *beta * c[i] + extra;
    }
    return 0;
}

/* cuDNN 9.1.0 */
size_t cudnnGetVersion(void) { return 90100; }
