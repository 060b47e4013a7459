/* Stand-in of mshadow's mshadow/base.h (dmlc/mshadow@2d7780c): CUDA is on unless -DMSHADOW_USE_CUDA=0 (what
 * mshadow.mk passes when USE_CUDA = 0), cuDNN off unless -DMSHADOW_USE_CUDNN=1 (the Makefile, USE_CUDNN = 1). */
#ifndef MSHADOW_BASE_H_
#define MSHADOW_BASE_H_
#ifndef MSHADOW_USE_CUDA
#define MSHADOW_USE_CUDA 1
#endif
#ifndef MSHADOW_USE_CUDNN
#define MSHADOW_USE_CUDNN 0
#endif
#endif
