#!/usr/bin/python
"""Documentation of egpu.mac.pkg_install; the work is done on the controller by plugins/action/pkg_install.py."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pkg_install
short_description: Ensure a macOS installer package is installed at a version, decided by its receipt
version_added: "0.1.0"
description:
  - Reads the receipt with C(pkgutil --pkg-info). When it is missing or at another version, uploads the package
    (O(src), checked with C(shasum -a 256)) or uses one already on the Mac (O(remote_src), e.g. in a mounted dmg),
    records in the provisioning journal every path the payload adds or replaces and the receipt, then runs
    C(installer -pkg PKG -target /) and checks the receipt again.
  - With O(drop_installation_check) the package is expanded (C(pkgutil --expand)), the C(installation-check)
    and C(volume-check) elements of its Distribution are removed, and it is flattened again
    (C(pkgutil --flatten)); the payload is not touched.
  - With O(archive_member), O(src) is a zip (as egpu.io ships NVDAEGPUSupport). Its SHA-256 is checked against
    O(sha256), then the package of that name at the zip's top level is taken out on the controller and installed.
  - With O(volume_check), the package's Distribution C(volume-check) (C(allowed-os-versions), and
    C(required-bundles) with each bundle at its path and at least the version it names) is read against the Mac
    before anything is uploaded, and the task fails naming what is missing or too old, followed by
    O(volume_check_fix). Not in check mode, because the bundles may come from earlier tasks of the same run.
  - Runs on the controller through the connection; needs no Python on the target.
options:
  src:
    description: The package on the controller (from the artifact cache).
    type: path
  remote_src:
    description: The package on the Mac (e.g. in a dmg mounted there); its components and payload are listed on
      the Mac with C(pkgutil --expand) and C(lsbom -s), the package itself never comes to the controller.
    type: str
  receipt:
    description: The package id of its receipt (e.g. C(com.nvidia.web-driver)).
    type: str
    required: true
  version:
    description: The receipt version that counts as installed; default the version in the package's PackageInfo
      for O(receipt) (O(src), or O(remote_src) read on the Mac).
    type: str
  sha256:
    description: Expected SHA-256 of O(src); the uploaded copy is checked against it.
    type: str
  filename:
    description: Name of the upload on the Mac (the artifact's file name; the cache names files by digest).
      Default with O(archive_member) is the member's name.
    type: str
  archive_member:
    description: The package's file name at the top level of the zip O(src).
    type: str
  volume_check:
    description: Read the package's Distribution volume-check against the Mac first and fail with the reason.
    type: bool
    default: false
  volume_check_fix:
    description: The remedy appended to a failed O(volume_check)'s message.
    type: str
    default: ""
  drop_installation_check:
    description: Remove the Distribution's installation-check before installing.
    type: bool
    default: false
  allow_untrusted:
    description: Pass C(-allowUntrusted) to installer.
    type: bool
    default: false
  track:
    description: Further paths (outside the payload, e.g. written by scripts) to record before installing.
    type: list
    elements: str
    default: []
  track_nvram:
    description: NVRAM variables the package's scripts set; their values before are recorded for rollback.
    type: list
    elements: str
    default: []
  work_dir:
    description: Where uploads and expanded packages go on the Mac.
    type: str
    default: /private/var/tmp/egpu-setup
extends_documentation_fragment:
  - egpu.mac.journal
attributes:
  check_mode:
    support: full
    description: Reports whether it would install, with the receipt before and after; uploads nothing.
  diff_mode:
    support: full
    description: The receipt version before and after.
author:
  - egpu-setup developers
"""

EXAMPLES = r"""
- name: Ensure the NVIDIA web driver 387.10.10.10.25.156 is installed
  egpu.mac.pkg_install:
    src: "{{ egpu_plan.artifacts.webdriver.local_path }}"
    sha256: "{{ egpu_plan.artifacts.webdriver.sha256 }}"
    receipt: com.nvidia.web-driver
    version: 387.10.10.10.25.156
    drop_installation_check: true

- name: Ensure NVDAEGPUSupport v6 from egpu.io's zip is installed, if this Mac has the kexts it requires
  egpu.mac.pkg_install:
    src: "{{ egpu_plan.artifacts.egpu_support.local_path }}"
    sha256: "{{ egpu_plan.artifacts.egpu_support.local_sha256 }}"
    archive_member: NVDAEGPUSupport-v6.pkg
    receipt: lu.yifan.NVDAEGPUSupport
    volume_check: true
    volume_check_fix: Install the web driver this package was made for first.

- name: Ensure the CUDA driver from the mounted dmg is installed
  egpu.mac.pkg_install:
    remote_src: /Volumes/CUDADriver/CUDADriver.pkg
    receipt: com.nvidia.cuda.kext.pkg
"""

RETURN = r"""
receipt:
  description: The package id.
  returned: always
  type: str
before:
  description: Receipt version before the task (null when absent).
  returned: always
  type: str
after:
  description: Receipt version after the task (the wanted one in check mode).
  returned: always
  type: str
cmd:
  description: The installer command run.
  returned: changed and not check mode
  type: str
stdout:
  description: installer's output.
  returned: changed and not check mode
  type: str
tracked:
  description: What the journal recorded (added, backed_up, trees).
  returned: changed and not check mode
  type: dict
egpu_sent:
  description: The files copied to the Mac (none when it already held them with the right SHA-256), each with its
    name on the Mac and its size; egpu-setup's run report sums them per Mac (C(bytes_sent)).
  returned: when a file was copied
  type: list
  elements: dict
egpu_received:
  description: The files copied from the Mac to the controller, each with its name and size; egpu-setup's run
    report sums them per Mac (C(bytes_received)).
  returned: when a file was brought back
  type: list
  elements: dict
"""
