#!/usr/bin/python
"""Documentation of egpu.mac.backup; the work is done on the controller by plugins/action/backup.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: backup
short_description: Record paths in the provisioning journal before they are created, replaced or patched
version_added: "0.1.0"
description:
  - A missing path is recorded as added (rollback removes it, with its topmost missing parent directory); a file
    is copied to C(STATE_DIR/files/SHA256); a symbolic link keeps its target; a directory keeps its listing and
    the copies of its files. Only the first record of a path counts. M(egpu.mac.restore) undoes it all.
options:
  paths:
    description: Absolute paths on the Mac.
    type: list
    elements: str
    required: true
extends_documentation_fragment:
  - egpu.mac.journal
attributes:
  check_mode:
    support: full
    description: Reports what it would record; writes nothing.
  diff_mode:
    support: none
author:
  - egpu-setup developers
"""

EXAMPLES = r"""
- name: Ensure the prelinked kernel and the shell profile can be restored
  egpu.mac.backup:
    paths:
      - /System/Library/PrelinkedKernels/prelinkedkernel
      - /Users/admin/.bash_profile
"""

RETURN = r"""
added:
  description: Paths recorded as added by provisioning.
  returned: always
  type: list
backed_up:
  description: Files copied to the backup directory.
  returned: always
  type: list
trees:
  description: Directories whose listing was recorded.
  returned: always
  type: list
"""
