# Stand-in of dmlc-core's example/dmlc_example.mk: its examples (none in the stand-in), included by its Makefile.
ALL_EXAMPLE=
