"""Setup mxnet package (stand-in of MXNet 1.0.0's python/setup.py: pure Python, finds ../lib/libmxnet.so)."""

from setuptools import setup

setup(
    name="mxnet",
    version="1.0.0",
    description="MXNet stand-in of the egpu-setup rehearsal lab",
    packages=["mxnet"],
    zip_safe=False,
)
