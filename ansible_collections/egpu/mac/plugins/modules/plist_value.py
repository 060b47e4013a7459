#!/usr/bin/python
"""Documentation of egpu.mac.plist_value; the work is done on the controller by plugins/action/plist_value.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: plist_value
short_description: Ensure a value (or its absence) in a property list, with a backup first
version_added: "0.1.0"
description:
  - Reads the value with C(PlistBuddy -c "Print :KEY"), sets it with C(Set) (or C(Add) when missing); a value of
    another I(type) than the one stored is replaced (C(Delete) then C(Add)); I(state=absent) deletes the key.
  - Before the first change the file is copied to the provisioning journal's backups with its SHA-256; a file
    this task creates (I(create)) is recorded as added. Rollback gives back the exact bytes either way.
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
    description: The wanted value, as PlistBuddy prints it (C(0), C(true)). Required with I(state=present).
    type: str
  type:
    description: The value's property list type.
    type: str
    choices: [string, integer, bool]
    default: string
  state:
    description: C(present) sets the value; C(absent) deletes the key (nothing to do when the file is missing).
    type: str
    choices: [present, absent]
    default: present
  create:
    description:
      - Create the file when it is missing (PlistBuddy's C(Add) does); its directory must exist. Without it a
        missing file is an error.
    type: bool
    default: false
  owner:
    description:
      - C(USER) or C(USER:GROUP) the file belongs to after the task (C(chown)), for a file in a user's home such as
        their preferences. With become, a file PlistBuddy creates is root's, and that user's own programs could
        not write their preferences again. A file of another owner is changed (and reported) even when the value is
        already right. Empty leaves the owner as the write left it.
    type: str
    default: ""
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

- name: Ensure the web driver's agent does not check for updates
  egpu.mac.plist_value:
    path: /Users/admin/Library/Preferences/ByHost/com.nvidia.nvagent.0A1B2C3D-0000-0000-0000-000000000000.plist
    key: autoCheck
    value: "0"
    type: integer
    create: true
    owner: admin:staff
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
  returned: the value changed and not check mode
  type: str
before:
  description: The value before, as PlistBuddy prints it (null when the key or the file was missing).
  returned: success
  type: str
after:
  description: The wanted value (null with I(state=absent)).
  returned: success
  type: str
owner_before:
  description: The file's C(USER:GROUP) before the task (null when it did not exist); only with O(owner).
  returned: success and O(owner) is set
  type: str
owner:
  description: The owner the task leaves the file with (O(owner)).
  returned: success and O(owner) is set
  type: str
backup:
  description: What the journal recorded.
  returned: changed and not check mode
  type: dict
"""
