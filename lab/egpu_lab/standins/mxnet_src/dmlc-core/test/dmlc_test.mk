# Stand-in of dmlc-core's test/dmlc_test.mk: its tests (none in the stand-in), included by dmlc-core's Makefile.
TEST=
ALL_TEST=$(TEST)
ALL_TEST_OBJ=
