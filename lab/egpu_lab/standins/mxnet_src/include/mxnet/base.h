/* Stand-in of MXNet 1.0.0's include/mxnet/base.h: the feature switches come from mshadow's, as in the real header
 * (MXNET_USE_CUDA defaults to MSHADOW_USE_CUDA, MXNET_USE_CUDNN to MSHADOW_USE_CUDNN). */
#ifndef MXNET_BASE_H_
#define MXNET_BASE_H_
#include <mshadow/base.h>
#ifndef MXNET_USE_CUDA
#define MXNET_USE_CUDA MSHADOW_USE_CUDA
#endif
#ifndef MXNET_USE_CUDNN
#define MXNET_USE_CUDNN MSHADOW_USE_CUDNN
#endif
#define MX_STR2(x) #x
#define MX_STR(x) MX_STR2(x)
#define MXNET_VERSION 10000
#ifdef __cplusplus
#define MXNET_EXTERN_C extern "C"
#else
#define MXNET_EXTERN_C
#endif
MXNET_EXTERN_C int MXGetVersion(int *out);
#endif
