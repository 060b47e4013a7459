#-------------------------------------------------------------------------------
#  Template configuration for compiling mxnet on macOS (stand-in of MXNet 1.0.0's make/osx.mk)
#  cp make/osx.mk config.mk, then edit config.mk
#-------------------------------------------------------------------------------
export CC = clang
export CXX = clang++
export NVCC = nvcc

# Apple clang has no OpenMP
USE_OPENMP = 0
USE_OPENCV = 1
USE_CUDA = 0
USE_CUDA_PATH = NONE
USE_CUDNN = 0
CUDA_ARCH :=
# on Mac, use Apple's Accelerate framework
USE_BLAS = apple
