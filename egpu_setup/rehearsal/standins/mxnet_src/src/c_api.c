#include "mxnet_standin.h"
#if MXNET_USE_CUDA
int cudaRuntimeGetVersion(int *v);
int cublasGetVersion_v2(void *h, int *v);
int curandGetVersion(int *v);
#endif
#if MXNET_USE_CUDNN
unsigned long cudnnGetVersion(void);
#endif

__attribute__((used)) static const char mxnet_features[] =
    "EGPU_MXNET_FEATURES:CUDA=" MX_STR(MXNET_USE_CUDA) ";CUDNN=" MX_STR(MXNET_USE_CUDNN)
    ";OPENCV=" MX_STR(MXNET_USE_OPENCV) ";VERSION=1.0.0;";

int MXGetVersion(int *out) { *out = MXNET_VERSION; return 0; }

int MXGetGPUCount(int *out) {
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
