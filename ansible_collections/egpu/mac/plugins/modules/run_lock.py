#!/usr/bin/python
"""Documentation of egpu.mac.run_lock; the work is done on the controller by plugins/action/run_lock.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: run_lock
short_description: One provisioning run at a time on a Mac, whichever controller starts it
version_added: "0.1.0"
description:
  - C(state=locked) creates the lock file O(path) on the Mac atomically (C(set -C), an exclusive create) with who
    holds it (the controller's host name, the pid of its ansible-playbook, the command, a run id and the start time).
    When another run holds it the task fails with RV(busy) and a message naming the holder and the fix, after
    waiting up to O(wait) seconds for it to go.
  - A lock whose holder is gone is stale. One written by this controller whose ansible-playbook no longer runs is
    taken over, with a warning. One older than O(stale_after) seconds is reported as stale (its holder may be on
    another controller, which this one cannot ask), and taken only with O(break_lock).
  - C(state=unlocked) removes the lock when this run holds it, and leaves anyone else's alone.
  - The lock is bookkeeping of the run, gone when the run ends, so it never counts as a change (C(changed) is
    always false); a run that provisions nothing reports no change.
  - Runs only POSIX sh on the Mac, so it works before the Mac has a Python 3.
options:
  state:
    description: C(locked) takes the lock (in check mode it only checks that the lock is free), C(unlocked) releases it.
    type: str
    choices: [locked, unlocked]
    default: locked
  path:
    description: The lock file on the Mac.
    type: path
    required: true
  command:
    description: What the run is (C(provision), C(rollback)), written into the lock for whoever meets it.
    type: str
    default: ansible-playbook
  run_id:
    description: The run's id (egpu-setup's run directory name); empty means the controller's name and pid.
    type: str
    default: ""
  wait:
    description: Seconds to wait for a held lock before failing; 0 fails at once.
    type: float
    default: 0
  poll:
    description: Seconds between two looks at a held lock while waiting.
    type: float
    default: 5
  stale_after:
    description: Age in seconds after which a lock is reported as stale (a run that old is taken to be gone).
    type: int
    default: 86400
  break_lock:
    description: Remove any lock, live or stale, and take it (the holder's details go into a warning).
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Checks the lock and fails when it is held; creates, takes over and removes nothing.
  diff_mode:
    support: none
author:
  - egpu-setup developers
"""

EXAMPLES = r"""
- name: Take the Mac's run lock
  egpu.mac.run_lock:
    path: /private/var/db/egpu-setup.run-lock
    command: provision
    wait: 600
  become: true

- name: Release the Mac's run lock
  egpu.mac.run_lock:
    path: /private/var/db/egpu-setup.run-lock
    state: unlocked
  become: true
"""

RETURN = r"""
owner:
  description: This run's entry (controller, pid, command, run_id, since as seconds since the epoch).
  returned: always
  type: dict
holder:
  description: The entry of the run that held the lock (when it was busy, stale or taken over).
  returned: when the lock was held by another run
  type: dict
busy:
  description: True when the task failed because another run holds the lock (egpu-setup exits 4 then).
  returned: when the lock was held
  type: bool
taken_over:
  description: True when a stale lock of this controller (or any lock, with break_lock) was replaced.
  returned: when a lock was taken over
  type: bool
"""
