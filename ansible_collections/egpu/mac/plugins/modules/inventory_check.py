#!/usr/bin/python
"""Documentation of egpu.mac.inventory_check; the controller runs plugins/action/inventory_check.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: inventory_check
short_description: Check every variable the inventory sets for egpu.mac's roles against the roles' argument specs
version_added: "0.1.0"
description:
  - Runs on the controller before the first change (preflight's first task, rollback's first task). Ansible
    validates a role's C(meta/argument_specs.yml) only when that role starts, which for the mxnet role is after
    the drivers are installed; this checks the specs of all the roles at once.
  - Checks the variables set for the host outside the roles (inventory group_vars and host_vars, extravars) that
    a role's spec declares, with Ansible's own argument validator, plus one rule Ansible's lacks for roles - a
    C(str) option must not be a list, a mapping or a boolean (Ansible would turn C([61, 70]) into the text
    C("[61, 70]")).
  - A value that refers to facts not known yet (the plan's) is left to the role's own validation when it starts.
  - Fails naming each wrong variable, where it was set (file and line, when Ansible knows them), and what is
    expected.
options:
  roles:
    description: The roles of this collection whose specs to check (every entry point of each); all when omitted.
    type: list
    elements: str
attributes:
  check_mode:
    support: full
    description: Reads only; the same in check mode.
  diff_mode:
    support: none
author:
  - egpu-setup developers
"""

EXAMPLES = r"""
- name: Check the inventory's values for every role before the first change
  egpu.mac.inventory_check:
"""

RETURN = r"""
checked:
  description: The names of the variables checked (those set for the host that a role declares).
  returned: always
  type: list
  elements: str
fix:
  description: The remedy when a value was refused.
  returned: failure
  type: str
"""
