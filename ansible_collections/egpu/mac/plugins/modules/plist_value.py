#!/usr/bin/python
"""Documentation of egpu.mac.plist_value; the work is done on the controller by plugins/action/plist_value.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: plist_value
short_description: Ensure a string value in a property list, with a backup first
version_added: "0.1.0"
description:
  - Reads the value with C(PlistBuddy -c "Print :KEY"), sets it with C(Set) (or C(Add) when missing).
  - Before the first change the file is copied to the provisioning journal's backups with its SHA-256.
options:
  path:
    description: The plist on the Mac.
    type: str
    required: true
  key:
    description: PlistBuddy key path, colon-separated (e.g. C(IOKitPersonalities:NVDAStartup:NVDARequiredOS)).
    type: str
    required: true
  value:
    description: The wanted string.
    type: str
    required: true
extends_documentation_fragment:
  - egpu.mac.journal
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    description: The key's value before and after.
author:
  - egpu-setup developers
"""

EXAMPLES = r"""
- name: Ensure NVDAStartupWeb accepts the running build
  egpu.mac.plist_value:
    path: /Library/Extensions/NVDAStartupWeb.kext/Contents/Info.plist
    key: IOKitPersonalities:NVDAStartup:NVDARequiredOS
    value: 17C88
"""

RETURN = r"""
path:
  description: The property list.
  returned: success
  type: str
key:
  description: The key path, without the leading colon.
  returned: success
  type: str
cmd:
  description: The PlistBuddy command run.
  returned: changed and not check mode
  type: str
before:
  description: The value before (null when the key was missing).
  returned: success
  type: str
after:
  description: The wanted value.
  returned: success
  type: str
backup:
  description: What the journal recorded.
  returned: changed and not check mode
  type: dict
"""
