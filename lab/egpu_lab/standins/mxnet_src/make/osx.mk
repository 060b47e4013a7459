#-------------------------------------------------------------------------------
#  Stand-in of MXNet 1.0.0's make/osx.mk: a template to copy, `cp make/osx.mk config.mk`, then edit config.mk.
#  Same settings as apache/mxnet:make/osx.mk@1.0.0 (facts table: mxnet.osx_mk), in its order.
#-------------------------------------------------------------------------------

# the compilers (on a Mac, gcc and g++ are Apple clang behind xcrun)
export CC = gcc
export CXX = g++
export NVCC = nvcc

DEV = 0
DEBUG = 0
ADD_LDFLAGS =
ADD_CFLAGS =

# CUDA: off, and where the toolkit is (NONE: on the default paths)
USE_CUDA = 0
USE_CUDA_PATH = NONE
USE_CUDNN = 0

USE_OPENCV = 1
# Apple clang has no OpenMP
USE_OPENMP = 0

# BLAS from Apple's Accelerate framework, and LAPACK with it
USE_BLAS = apple
USE_LAPACK = 1
ifeq ($(USE_BLAS), mkl)
USE_LAPACK = 0
endif
USE_INTEL_PATH = NONE

# distributed training and remote file systems: off
USE_DIST_KVSTORE = 0
USE_HDFS = 0
LIBJVM=$(JAVA_HOME)/jre/lib/amd64/server
USE_S3 = 0

EXTRA_OPERATORS =
USE_CPP_PACKAGE = 0
