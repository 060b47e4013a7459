#!/usr/bin/python
"""Documentation of egpu.mac.run_command; the work is done on the controller by plugins/action/run_command.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: run_command
short_description: Run a command on a Mac, guarded by the path it creates or removes
version_added: "0.1.0"
description:
  - Like M(ansible.builtin.command) with O(creates)/O(removes), but run through the connection with C(sh) (no Python
    on the target), so check mode works on a bare Mac and reports what would run.
  - Paths in O(track) are recorded in the provisioning journal before the command runs.
options:
  cmd:
    description: Shell command line.
    type: str
    required: true
  chdir:
    description: Directory to run in.
    type: str
  creates:
    description: Do not run when this path exists.
    type: str
  removes:
    description: Run only when this path exists.
    type: str
  env:
    description: Environment variables for the command.
    type: dict
    default: {}
  track:
    description: Paths to record in the journal before running.
    type: list
    elements: str
    default: []
  undo:
    description: A command that undoes this one's effect outside the file system (e.g. C(xcode-select --switch
      OLD)); recorded in the journal before running, run by M(egpu.mac.restore) after the files are back.
    type: str
  fetch:
    description: After the command, whatever its exit status, copy O(fetch.src) from the Mac to O(fetch.dest) on
      the controller with the connection (no Python on the Mac), when O(fetch.src) exists.
    type: dict
    suboptions:
      src:
        description: The file on the Mac.
        type: str
        required: true
      dest:
        description: The file on the controller; its directory is created.
        type: path
        required: true
extends_documentation_fragment:
  - egpu.mac.journal
attributes:
  check_mode:
    support: full
    description: Reports changed when it would run; runs nothing.
  diff_mode:
    support: none
author:
  - egpu-setup developers
"""

EXAMPLES = r"""
- name: Ensure the CUDA 9.1 toolkit is installed
  egpu.mac.run_command:
    cmd: >-
      /Volumes/CUDAMacOSXInstaller/CUDAMacOSXInstaller.app/Contents/MacOS/CUDAMacOSXInstaller
      --accept-eula --silent --no-window --install-package=cuda-toolkit
    creates: /Developer/NVIDIA/CUDA-9.1/bin/nvcc
    track: [/Developer/NVIDIA/CUDA-9.1, /usr/local/cuda]
"""

RETURN = r"""
cmd:
  description: The command.
  returned: always
  type: str
rc:
  description: Exit status.
  returned: when run
  type: int
stdout:
  description: Output.
  returned: when run
  type: str
stderr:
  description: Error output.
  returned: when run
  type: str
tracked:
  description: What the journal recorded for O(track) before the command ran (C(added), C(backed_up), C(trees)).
  returned: when run with O(track)
  type: dict
fetched:
  description: The controller path O(fetch) wrote, or null when C(src) did not exist.
  returned: when run with O(fetch)
  type: str
egpu_received:
  description: The files copied from the Mac to the controller, each with its name and size; egpu-setup's run
    report sums them per Mac (C(bytes_received)).
  returned: when a file was brought back
  type: list
  elements: dict
"""
