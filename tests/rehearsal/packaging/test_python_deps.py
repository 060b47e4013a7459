"""numpy into a tools venv on a rehearsal Mac (bubblewrap) the way the mxnet role does it on a Mac: python.org's
Python, a venv without pip, pip from ensurepip, the wheel installed offline with its SHA-256 required."""

from __future__ import annotations

import hashlib

import pytest

from egpu_lab import facts
from egpu_lab.standins import numpy_wheel, python3

pytestmark = pytest.mark.lab

VENV = "/usr/local/egpu-setup/venv"
PIP = f"{VENV}/bin/python3 -m pip install --isolated --no-index --no-deps --no-cache-dir --disable-pip-version-check"


def test_python_org_python_has_no_numpy_and_pip_installs_the_wheel_offline_hash_checked(make_host, tmp_path):
    mac = make_host()
    tmp = mac.root / "private/tmp"
    python3.build_python_pkg(tmp / "py.pkg", tmp_path, "3.11.9")
    wheel = numpy_wheel.build_wheel(tmp)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert mac.sh("installer -pkg /private/tmp/py.pkg -target /", user="root").rc == 0
    # the framework's Python is the Mac's: the controller's own numpy is not in sight
    assert mac.sh("python3 -c 'import numpy'").err.endswith("ModuleNotFoundError: No module named 'numpy'\n")
    made = mac.sh(f"python3 -m venv --without-pip {VENV} && {VENV}/bin/python3 -m ensurepip --default-pip", user="root")
    assert made.rc == 0, made
    # pip sees a Mac: Darwin and SystemVersion.plist's 10.13 give it macOS tags, the wheel's among them
    debug = mac.sh(f"{VENV}/bin/python3 -m pip debug --verbose 2>/dev/null").out.split("Compatible tags:", 1)[1]
    tags = [line.strip() for line in debug.splitlines() if line.strip().count("-") == 2]
    assert facts.value("numpy", "wheel_tag") in tags and not any("linux" in t for t in tags)

    (tmp / "bad.txt").write_text(f"/private/tmp/{wheel.name} --hash=sha256:{'0' * 64}\n")
    refused = mac.sh(f"{PIP} --require-hashes -r /private/tmp/bad.txt", user="root")
    assert refused.rc == 1 and "THESE PACKAGES DO NOT MATCH THE HASHES" in refused.err, refused
    assert mac.sh(f"{VENV}/bin/python3 -c 'import numpy'").rc == 1

    (tmp / "good.txt").write_text(f"/private/tmp/{wheel.name} --hash=sha256:{digest}\n")
    done = mac.sh(f"{PIP} --require-hashes -r /private/tmp/good.txt", user="root")
    version = facts.value("numpy", "version")
    assert done.rc == 0 and f"Successfully installed numpy-{version}" in done.out, done
    imported = mac.sh(f"{VENV}/bin/python3 -c 'import numpy; print(numpy.__version__, numpy.__file__)'")
    assert imported.out == f"{version} {VENV}/lib/python3.11/site-packages/numpy/__init__.py\n", imported
    assert (mac.root / VENV.lstrip("/") / "lib/python3.11/site-packages" / facts.value("numpy", "dist_info")).is_dir()
