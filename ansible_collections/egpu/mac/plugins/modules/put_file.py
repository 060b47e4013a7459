#!/usr/bin/python
"""Documentation of egpu.mac.put_file; the work is done on the controller by plugins/action/put_file.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: put_file
short_description: Ensure a controller file is on the Mac with a verified SHA-256, without Python on the target
version_added: "0.1.0"
description:
  - Compares C(shasum -a 256 DEST) with the source's digest, copies with the connection's put_file only when they
    differ, and checks the digest on the Mac after the copy. The destination is recorded in the journal first.
options:
  src:
    description: File on the controller.
    type: path
  content:
    description: Text to write instead of a file (e.g. a generated C(config.mk)).
    type: str
  dest:
    description: Path on the Mac.
    type: str
    required: true
  sha256:
    description: Expected SHA-256 of O(src) (from the plan); a different file fails the task.
    type: str
  mode:
    description: Mode of the copy.
    type: str
    default: "0644"
extends_documentation_fragment:
  - egpu.mac.journal
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
author:
  - egpu-setup developers
"""

EXAMPLES = r"""
- name: Ensure the Python 3 installer is on the Mac
  egpu.mac.put_file:
    src: "{{ egpu_plan.artifacts.python3.local_path }}"
    dest: /var/tmp/egpu-setup/python3.pkg
    sha256: "{{ egpu_plan.artifacts.python3.sha256 }}"
"""

RETURN = r"""
dest:
  description: The path on the Mac.
  returned: success
  type: str
sha256:
  description: Digest of the file.
  returned: success
  type: str
before_sha256:
  description: Digest of the destination before (null when missing).
  returned: success
  type: str
egpu_sent:
  description: The files copied to the Mac (none when it already held them with the right SHA-256), each with its
    name on the Mac and its size; egpu-setup's run report sums them per Mac (C(bytes_sent)).
  returned: when a file was copied
  type: list
  elements: dict
"""
