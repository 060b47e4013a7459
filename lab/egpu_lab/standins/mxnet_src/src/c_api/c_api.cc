// Stand-in of MXNet's C API (src/c_api/): the entry points the Python package calls, and the build's feature
// switches as one string the stand-in Python package reads from the library.
#include <mxnet/base.h>
#if MXNET_USE_CUDA
extern "C" int cudaRuntimeGetVersion(int *v);
extern "C" int cublasGetVersion_v2(void *h, int *v);
extern "C" int curandGetVersion(int *v);
#endif
#if MXNET_USE_CUDNN
extern "C" unsigned long cudnnGetVersion(void);
#endif

__attribute__((used)) static const char mxnet_features[] =
    "EGPU_MXNET_FEATURES:CUDA=" MX_STR(MXNET_USE_CUDA) ";CUDNN=" MX_STR(MXNET_USE_CUDNN)
    ";OPENCV=" MX_STR(MXNET_USE_OPENCV) ";VERSION=1.0.0;";

extern "C" int MXGetVersion(int *out) { *out = MXNET_VERSION; return 0; }

extern "C" int MXGetGPUCount(int *out) {
#if MXNET_USE_CUDA
    int v = 0;
    cudaRuntimeGetVersion(&v);
    cublasGetVersion_v2(0, &v);
    curandGetVersion(&v);
#if MXNET_USE_CUDNN
    v += (int)cudnnGetVersion();
#endif
    *out = v > 0;
#else
    *out = 0;
#endif
    return 0;
}
