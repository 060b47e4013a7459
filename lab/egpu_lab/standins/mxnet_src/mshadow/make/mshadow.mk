#-------------------------------------------------------------------------------
#  Stand-in of mshadow's make/mshadow.mk (dmlc/mshadow@2d7780c), included by MXNet's Makefile after config.mk:
#  it gives MSHADOW_CFLAGS, MSHADOW_LDFLAGS (the CUDA libraries, their directories, the BLAS) and MSHADOW_NVCCFLAGS.
#-------------------------------------------------------------------------------
MSHADOW_CFLAGS = -funroll-loops -Wno-unused-variable -Wno-unused-parameter -Wno-unknown-pragmas -Wno-unused-local-typedefs
MSHADOW_LDFLAGS = -lm
MSHADOW_NVCCFLAGS =

ifndef USE_SSE
	USE_SSE=1
endif
ifeq ($(USE_SSE), 1)
	MSHADOW_CFLAGS += -msse3
else
	MSHADOW_CFLAGS += -DMSHADOW_USE_SSE=0
endif

# CUDA's runtime and libraries, searched in lib64 (Linux) and lib (macOS) of USE_CUDA_PATH
ifeq ($(USE_CUDA), 0)
	MSHADOW_CFLAGS += -DMSHADOW_USE_CUDA=0
else
	MSHADOW_LDFLAGS += -lcudart -lcublas -lcurand -lcusolver
endif
ifneq ($(USE_CUDA_PATH), NONE)
	MSHADOW_CFLAGS += -I$(USE_CUDA_PATH)/include
	MSHADOW_LDFLAGS += -L$(USE_CUDA_PATH)/lib64 -L$(USE_CUDA_PATH)/lib
endif

ifneq ($(USE_BLAS), NONE)
	MSHADOW_CFLAGS += -DMSHADOW_USE_CBLAS=1 -DMSHADOW_USE_MKL=0
endif
ifeq ($(USE_BLAS), openblas)
	MSHADOW_LDFLAGS += -lopenblas
else ifeq ($(USE_BLAS), atlas)
	MSHADOW_LDFLAGS += -lcblas
else ifeq ($(USE_BLAS), blas)
	MSHADOW_LDFLAGS += -lblas
else ifeq ($(USE_BLAS), apple)
	MSHADOW_CFLAGS += -I/System/Library/Frameworks/Accelerate.framework/Versions/Current/Frameworks/vecLib.framework/Versions/Current/Headers/
	MSHADOW_LDFLAGS += -framework Accelerate
endif

MSHADOW_CFLAGS += -DMSHADOW_RABIT_PS=0 -DMSHADOW_DIST_PS=0 -DMSHADOW_USE_PASCAL=0
