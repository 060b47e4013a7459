#!/usr/bin/python
"""Documentation of egpu.mac.restore; the work is done on the controller by plugins/action/restore.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: restore
short_description: Undo everything the provisioning journal recorded, byte for byte
version_added: "0.1.0"
description:
  - Forgets the receipts provisioning created (C(pkgutil --forget)), puts NVRAM variables back, removes added
    paths newest first and new entries of recorded directories, copies every backed-up file back and checks its
    SHA-256, recreates links. Only when every digest matches is the journal removed.
options:
  keep:
    description: Paths whose records stay for a later call (a trailing C(*) matches by prefix); the journal then
      holds only those. Rollback keeps Python 3 and the target tools until the restart that needs them.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - egpu.mac.journal
attributes:
  check_mode:
    support: full
    description: Lists what it would remove and restore.
  diff_mode:
    support: full
author:
  - egpu-setup developers
"""

EXAMPLES = r"""
- name: Ensure the Mac is back to its state before provisioning
  egpu.mac.restore:
"""

RETURN = r"""
forgotten:
  description: Receipts forgotten.
  returned: changed
  type: list
removed:
  description: Paths removed.
  returned: changed
  type: list
restored:
  description: Files restored from backups.
  returned: changed
  type: list
relinked:
  description: Symbolic links recreated with their recorded targets.
  returned: changed
  type: list
nvram:
  description: NVRAM variables set back to their recorded values (name -> value as nvram printed it).
  returned: changed
  type: dict
nvram_removed:
  description: NVRAM variables deleted because they were absent before provisioning.
  returned: changed
  type: list
undone:
  description: The recorded undo commands run, newest first.
  returned: changed
  type: list
kept:
  description: Paths left for a later call because they match O(keep).
  returned: changed
  type: list
mismatched:
  description: Restored files whose SHA-256 differs from their backup (the task then fails and the journal stays).
  returned: changed
  type: list
"""
