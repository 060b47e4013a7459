#-------------------------------------------------------------------------------
#  Stand-in of ps-lite's make/ps.mk (dmlc/ps-lite@2ce8b9a), included by MXNet's Makefile: the link flags of the
#  parameter server, used only with USE_DIST_KVSTORE = 1 (not part of the stand-in).
#-------------------------------------------------------------------------------
ifeq ($(USE_KEY32), 1)
ADD_CFLAGS += -DUSE_KEY32=1
endif

PS_LDFLAGS_SO = -L$(DEPS_PATH)/lib -lprotobuf-lite -lzmq
PS_LDFLAGS_A = $(addprefix $(DEPS_PATH)/lib/, libprotobuf-lite.a libzmq.a)
