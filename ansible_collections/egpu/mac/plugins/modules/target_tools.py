#!/usr/bin/python
"""Documentation of egpu.mac.target_tools; the work is done on the controller by plugins/action/target_tools.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: target_tools
short_description: Ensure the egpu-setup target tools venv on a Mac, using only the connection
version_added: "0.1.0"
description:
  - Creates a virtual environment (C(python3 -m venv --without-pip)) in O(dir)/venv and puts a C(.pth) line in its
    site-packages pointing at O(dir)/lib, a copy of pure-Python packages taken from the controller (O(packages)),
    pushed as one reproducible tar.gz checked with C(shasum -a 256).
  - The bundle's SHA-256 is stamped in O(dir)/lib/.bundle-sha256; the same egpu-setup version changes nothing, a new
    one replaces the copy. O(dir) is recorded in the provisioning journal before the first change.
  - Runs macOS commands through the connection only, so it works before any Python module can run on the Mac.
options:
  python:
    description: The Python 3 that creates the venv.
    type: str
    default: /usr/local/bin/python3
  dir:
    description: Where the tools live on the Mac.
    type: str
    default: /usr/local/egpu-setup
  packages:
    description:
      - What to copy from the controller, as packages or paths below one (C(egpu_setup/verify)); by default the
        code that runs on a Mac, as C(egpu_setup.mac_bundle.MAC_BUNDLE) lists it (no CLI, no rehearsal lab).
    type: list
    elements: str
extends_documentation_fragment:
  - egpu.mac.journal
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    description: The bundle digest before and after.
author:
  - egpu-setup developers
"""

EXAMPLES = r"""
- name: Ensure the egpu-setup target tools are installed
  egpu.mac.target_tools:
    python: /usr/local/bin/python3
"""

RETURN = r"""
bundle_sha256:
  description: SHA-256 of the bundle this controller would install.
  returned: always
  type: str
before_sha256:
  description: The stamped digest on the Mac before (null when none).
  returned: always
  type: str
venv:
  description: The venv directory.
  returned: always
  type: str
egpu_sent:
  description: The files copied to the Mac (none when it already held them with the right SHA-256), each with its
    name on the Mac and its size; egpu-setup's run report sums them per Mac (C(bytes_sent)).
  returned: when a file was copied
  type: list
  elements: dict
"""
