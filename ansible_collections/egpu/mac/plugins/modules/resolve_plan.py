#!/usr/bin/python
"""Documentation of egpu.mac.resolve_plan; the work is done on the controller by plugins/action/resolve_plan.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: resolve_plan
short_description: Resolve the host's plan from the compatibility matrix and put every artifact in the cache
version_added: "0.1.0"
description:
  - Runs on the controller with egpu_setup's matrix and cache (C(egpu-setup matrix), C(egpu-setup cache fetch)).
    Resolves the build and GPU against the profile, makes sure each artifact is in the controller cache with its
    SHA-256 checked, records digests in the lock file, and sets the fact C(egpu_plan) (docs/architecture.md,
    Resolution) with C(local_path) and C(local_sha256) for each artifact.
  - A refusal (not 10.13, a build outside the profile, an impossible pairing, a file that must be added by hand)
    fails the task with the reason and the remedy.
options:
  build:
    description: The Mac's build (C(egpu_mac.build)).
    type: str
    required: true
  profile:
    description: Matrix profile.
    type: str
    default: default
  overlay:
    description: Matrix overlay file (the rehearsal lab's carries the stand-ins' URLs and digests).
    type: path
  gpu:
    description: GPU key (C(gtx1080)) or PCI device id (C(0x1b80)); the profile's GPU when omitted.
    type: raw
  allow_nearest:
    description: Plan for the nearest build of the same update when the build is not in the matrix.
    type: bool
    default: false
  cache_dir:
    description: Artifact cache (default C($EGPU_SETUP_CACHE) or the XDG cache dir).
    type: path
  lock_file:
    description: Lock file recording artifact digests.
    type: path
  mirror_url:
    description: Mirror base URL; artifacts are fetched from C(MIRROR/FILENAME).
    type: str
  urls:
    description: Artifact id -> URL overrides.
    type: dict
    default: {}
  fetch:
    description: Artifact ids to put in the cache (default all the plan names).
    type: list
    elements: str
  plans_file:
    description:
      - The plans egpu-setup resolved on the controller before the play (extravar C(egpu_plans_file)); the task
        then only reads this host's entry and neither fetches nor writes the lock file.
    type: path
attributes:
  check_mode:
    support: full
    description: >-
      In check mode nothing is downloaded and no lock file is written; an artifact not in the cache fails the task,
      naming it and the C(egpu-setup cache fetch) that brings it.
  diff_mode:
    support: none
author:
  - egpu-setup developers
"""

EXAMPLES = r"""
- name: Resolve the plan for this Mac and fetch its artifacts
  egpu.mac.resolve_plan:
    build: "{{ egpu_mac.build }}"
    profile: "{{ egpu_profile | default('default') }}"
    gpu: "{{ egpu_mac.nvidia_gpu.device_id | default(omit) }}"
"""

RETURN = r"""
plan:
  description: The same resolution as C(ansible_facts.egpu_plan), for C(register).
  returned: success
  type: dict
ansible_facts:
  description: C(egpu_plan), the resolution with C(local_path) and C(local_sha256) (the SHA-256 the cache checked)
    per fetched artifact.
  returned: success
  type: dict
fix:
  description: The remedy when the resolver refused.
  returned: failure
  type: str
"""
