#-------------------------------------------------------------------------------
#  Stand-in of MXNet 1.0.0's tests/cpp/unittest.mk, included by the Makefile: the C++ unit tests, linked against
#  lib/libmxnet.so (the stand-in has no test sources, so `make test` builds nothing).
#-------------------------------------------------------------------------------
TEST_SRC = $(shell find tests/cpp/ -name "*.cc")
TEST_OBJ = $(patsubst %.cc, build/%.o, $(TEST_SRC))
TEST = build/tests/cpp/mxnet_unit_tests
GTEST_LIB=$(GTEST_PATH)/lib/
GTEST_INC=$(GTEST_PATH)/include/
TEST_CFLAGS = -Itests/cpp/include -Isrc $(CFLAGS)
TEST_LDFLAGS = $(LDFLAGS) -Llib -lmxnet

.PHONY: runtest testclean

build/tests/cpp/%.o : tests/cpp/%.cc
	@mkdir -p $(@D)
	$(CXX) -c -std=c++11 $(TEST_CFLAGS) -I$(GTEST_INC) -o $@ $<

$(TEST): $(TEST_OBJ) lib/libmxnet.so
	$(CXX) -std=c++11 $(TEST_CFLAGS) -I$(GTEST_INC) -o $@ $^ $(TEST_LDFLAGS) -L$(GTEST_LIB) -lgtest

runtest: $(TEST)
	$(TEST)

testclean:
	rm -f $(TEST) $(TEST_OBJ)
