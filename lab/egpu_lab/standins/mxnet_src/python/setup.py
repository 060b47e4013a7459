"""Setup mxnet package (stand-in of MXNet 1.0.0's python/setup.py: pure Python, its library found by libinfo).

As in 1.0.0 the requirements are numpy, requests and graphviz, unpinned (facts/mxnet_python.yaml
setup_install_requires); egpu-setup does not run it (the package is used from the source tree through a .pth).
"""

from setuptools import find_packages, setup

setup(
    name="mxnet",
    version="1.0.0",
    description="MXNet stand-in of the egpu-setup rehearsal lab",
    packages=find_packages(),
    install_requires=["numpy", "requests", "graphviz"],
    zip_safe=False,
)
