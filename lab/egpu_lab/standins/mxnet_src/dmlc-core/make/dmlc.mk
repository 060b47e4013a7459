#-------------------------------------------------------------------------------
#  Stand-in of dmlc-core's make/dmlc.mk (dmlc/dmlc-core@87b7ffa), included by MXNet's Makefile and by dmlc-core's
#  own: DMLC_CFLAGS and DMLC_LDFLAGS. It asks `uname` and `$(CC) -dumpmachine` what it builds on.
#-------------------------------------------------------------------------------
UNAME=$(shell uname)
MACHINE=$(shell $(CC) -dumpmachine)

# no OpenMP from Apple's clang
ifneq ($(USE_OPENMP), 0)
ifneq ($(UNAME), Darwin)
	DMLC_CFLAGS += -fopenmp
	DMLC_LDFLAGS += -fopenmp
endif
endif

# librt exists on Linux only
ifeq (-linux, $(findstring -linux,$(MACHINE)))
	DMLC_LDFLAGS += -lrt
endif

ifndef WITH_FPIC
	WITH_FPIC = 1
endif
ifeq ($(WITH_FPIC), 1)
	DMLC_CFLAGS += -fPIC
endif

DMLC_CFLAGS += -DDMLC_USE_HDFS=0 -DDMLC_USE_S3=0 -DDMLC_USE_AZURE=0
