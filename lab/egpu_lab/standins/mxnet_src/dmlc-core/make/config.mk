# Stand-in of dmlc-core's make/config.mk (dmlc/dmlc-core@87b7ffa): used only when dmlc-core is made on its own.
export CC = gcc
export CXX = g++
WITH_FPIC = 1
USE_OPENMP = 0
USE_HDFS = 0
USE_S3 = 0
USE_AZURE = 0
BUILD_TEST = 0
