#-------------------------------------------------------------------------------
#  Stand-in of MXNet 1.0.0's make/config.mk, the template the Makefile reads when there is no ./config.mk
#  (apache/mxnet:make/config.mk@1.0.0; facts table: mxnet.config_mk). Copy it to config.mk and edit that.
#-------------------------------------------------------------------------------
export CC = gcc
export CXX = g++
export NVCC = nvcc

DEV = 0
DEBUG = 0
ADD_LDFLAGS =
ADD_CFLAGS =

USE_CUDA = 0
USE_CUDA_PATH = NONE
USE_CUDNN = 0
USE_NCCL = 0
USE_OPENCV = 1
USE_OPENMP = 1

UNAME_S := $(shell uname -s)
ifeq ($(UNAME_S), Darwin)
USE_BLAS = apple
else
USE_BLAS = atlas
endif
USE_LAPACK = 1
USE_LAPACK_PATH =

USE_DIST_KVSTORE = 0
USE_HDFS = 0
USE_S3 = 0
EXTRA_OPERATORS =
USE_CPP_PACKAGE = 0
