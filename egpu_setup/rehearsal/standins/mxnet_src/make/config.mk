#-------------------------------------------------------------------------------
#  Template configuration for compiling mxnet (stand-in of MXNet 1.0.0's make/config.mk)
#  Copy it to the root folder (cp make/config.mk .) and edit it.
#-------------------------------------------------------------------------------
export CC = gcc
export CXX = g++
export NVCC = nvcc

USE_OPENMP = 1
USE_OPENCV = 1
USE_CUDA = 0
USE_CUDA_PATH = NONE
USE_CUDNN = 0
# CUDA architecture setting: going with all of them (see KNOWN_CUDA_ARCHS in the Makefile).
CUDA_ARCH :=
USE_BLAS = atlas
