#!/usr/bin/python
"""Documentation of egpu.mac.nvram; the work is done on the controller by plugins/action/nvram.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: nvram
short_description: Ensure an NVRAM variable is set to a value or absent
version_added: "0.1.0"
description:
  - Reads the variable with C(nvram NAME), sets it with C(nvram NAME=VALUE) or deletes it with C(nvram -d NAME).
    C(1) and C(1%00) (as NVIDIA's installers write it) compare equal.
  - The value before the first change is recorded in the provisioning journal for rollback.
options:
  name:
    description: Variable name.
    type: str
    required: true
  value:
    description: Wanted value; required with O(state=present).
    type: str
  state:
    description: Present with O(value), or absent.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - egpu.mac.journal
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    description: The variable before and after.
author:
  - egpu-setup developers
"""

EXAMPLES = r"""
- name: Ensure the NVIDIA web driver is enabled at boot
  egpu.mac.nvram:
    name: nvda_drv
    value: "1"
"""

RETURN = r"""
name:
  description: The NVRAM variable.
  returned: always
  type: str
before:
  description: The value as nvram printed it before (null when absent).
  returned: always
  type: str
after:
  description: The value after.
  returned: always
  type: str
cmd:
  description: The nvram command run.
  returned: changed and not check mode
  type: str
"""
