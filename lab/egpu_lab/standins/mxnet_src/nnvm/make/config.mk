# Stand-in of nnvm's make/config.mk (dmlc/nnvm@e4a138a): what nnvm's make reads when it has no ./config.mk.
export NVCC = nvcc
ADD_LDFLAGS=
ADD_CFLAGS=
