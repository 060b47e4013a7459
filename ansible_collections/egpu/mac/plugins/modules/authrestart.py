#!/usr/bin/python
"""Documentation of egpu.mac.authrestart; the work is done on the controller by plugins/action/authrestart.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: authrestart
short_description: Arm FileVault's authenticated restart so that the next restart skips the unlock screen
version_added: "0.1.0"
description:
  - A FileVault Mac stops at the pre-boot unlock screen after a restart until someone types a password; nothing runs
    there, so Ansible cannot reach it. C(fdesetup authrestart -delayminutes -1 -inputplist) stores an unlock key
    without restarting; the next restart (for example M(ansible.builtin.reboot)) then comes back without the screen,
    once (Apple's fdesetup(8)).
  - The password goes to fdesetup only as the plist on its standard input; it is never on a command line and never in
    the result. Without O(password) the connection's become password is used (C(--ask-become-pass)).
  - Use it with C(no_log) all the same, and C(become), since fdesetup authrestart needs root.
options:
  state:
    description:
      - C(armed) runs fdesetup; C(ready) runs nothing and only reports in RV(password_source) whether a password is
        at hand, for a check before anything changes.
    type: str
    choices: [ready, armed]
    default: armed
  password:
    description: The password of a FileVault user of the Mac (or its recovery key); empty means the become password.
    type: str
    default: ""
    no_log: true
  user:
    description: The FileVault user's short name, sent as the plist's Username (authrestart ignores it).
    type: str
attributes:
  check_mode:
    support: full
    description: Reports the change without running fdesetup.
  diff_mode:
    support: none
author:
  - egpu-setup developers
"""

EXAMPLES = r"""
- name: Arm FileVault's authenticated restart for the restart below
  egpu.mac.authrestart:
    password: "{{ vault_filevault_password }}"
  become: true
  no_log: true

- name: Restart the Mac (it comes back without the unlock screen)
  ansible.builtin.reboot:
  become: true
"""

RETURN = r"""
password_source:
  description: C(password), C(become password), or null when no password is at hand.
  returned: always
  type: str
cmd:
  description: The fdesetup command run (the password is on its standard input).
  returned: O(state=armed)
  type: str
rc:
  description: fdesetup's exit status.
  returned: O(state=armed) and not check mode
  type: int
stderr:
  description: >-
    What fdesetup printed on standard error (a refusal such as C(Error: Unable to unlock FileVault.)).
  returned: O(state=armed) and not check mode
  type: str
"""
