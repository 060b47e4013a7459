#!/usr/bin/python
"""Documentation of egpu.mac.build_cache; the work is done on the controller by plugins/action/build_cache.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: build_cache
short_description: The build key of a Mac's build, and its archive in the controller cache
version_added: "0.2.0"
description:
  - >-
    Runs on the controller. Computes the build key, the SHA-256 of O(name), O(version) and O(inputs) (what decides
    the build's bytes: the source's digest, config.mk's digest, the toolchain's versions, the CUDA architecture, the
    macOS SDK), and looks for that key's archive in the controller cache (C(egpu-setup cache)) and the lock file,
    where it is recorded as C(mxnet_build@VERSION+KEY) with origin C(built) and the Mac that built it.
  - >-
    O(state=query) only reads. O(state=fetched) brings the archive O(src) that the building Mac packed
    (M(egpu.mac.build_archive)) to the controller over the connection, checks its SHA-256 against O(sha256) and its
    manifest against the key, stores it in the cache and records it in the lock file (under the lock file's own
    file lock, so Macs of several keys may fetch at once). An archive already recorded for the key is kept: the
    first archive of a key is the one every Mac installs.
options:
  state:
    description: Only look (V(query)), or bring the built archive to the controller (V(fetched)).
    type: str
    choices: [query, fetched]
    default: query
  name:
    description: What is built.
    type: str
    default: mxnet
  version:
    description: The version built (the archive's id is C(NAME_build@VERSION+KEY)).
    type: str
    required: true
  inputs:
    description: >-
      What decides the build's bytes; the key is the SHA-256 of their sorted JSON with O(name) and O(version).
    type: dict
    required: true
  src:
    description: O(state=fetched) only; the archive on the Mac.
    type: str
  sha256:
    description: O(state=fetched) only; the archive's SHA-256 as the Mac packed it.
    type: str
  cache_dir:
    description: Artifact cache (default C($EGPU_SETUP_CACHE) or the XDG cache dir).
    type: path
  lock_file:
    description: Lock file to record the archive in; without one the cache's index alone finds it.
    type: path
attributes:
  check_mode:
    support: full
    description: >-
      In check mode nothing is fetched, stored or recorded; O(state=fetched) reports the change it would make.
  diff_mode:
    support: none
author:
  - egpu-setup developers
"""

EXAMPLES = r"""
- name: Work out the build key and whether its archive is in the cache
  egpu.mac.build_cache:
    version: 1.0.0
    inputs: {source_sha256: "...", config_mk_sha256: "...", cuda: "9.1.128", cuda_arch: ["61"]}
    lock_file: "{{ egpu_lock_file | default(omit) }}"
  register: mxnet_cache
"""

RETURN = r"""
key:
  description: The build key (64 hex digits).
  returned: success
  type: str
filename:
  description: The archive's name in the cache and the lock file.
  returned: success
  type: str
archive:
  description: >-
    The cached archive (C(path), C(sha256), C(size), C(built_on)), or null when the cache has none for the key.
  returned: success
  type: dict
egpu_received:
  description: O(state=fetched); the archive brought from the Mac (C(name), C(bytes)), for the run report.
  returned: when fetched
  type: list
  elements: dict
"""
