#!/usr/bin/python
"""Ansible module egpu.mac.build_archive: pack what a Mac built, or install a build archive another Mac packed."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: build_archive
short_description: Pack a build into a reproducible archive, or install one with every file's SHA-256 checked
version_added: "0.2.0"
description:
  - O(state=packed) packs the O(members) under O(root) (MXNet's C(lib/libmxnet.so), its references already fixed,
    and C(python/mxnet)) into O(dest), a reproducible tar.gz whose first member, C(egpu-build.json), names the build
    O(key), its O(inputs) and every file's SHA-256 and size; the same manifest is left under O(root). Bytecode
    (C(__pycache__), C(.pyc)) is left out. Files are streamed a MiB at a time (a CUDA C(libmxnet.so) is hundreds of
    MB), into C(DEST.partial), which replaces O(dest) only when complete; in check mode only the digest is computed.
    A file that changes while it is packed fails the task.
  - O(state=unpacked) installs the archive O(src) under O(root). The manifest must name O(key); every member is
    checked against it (name, size, SHA-256) in a staging directory first, so a damaged or foreign archive changes
    nothing. Each member then replaces what was there, and the manifest is left under O(root).
  - Unchanged when O(root) already holds this build (its manifest names O(key) and each file hashes as recorded),
    and, for O(state=packed), O(dest) holds the same bytes.
  - The logic is egpu-setup's own (C(egpu_setup.builds.archive)), shared with the controller, which checks an
    archive before it enters the cache; the module must run with the interpreter of the egpu-setup target tools
    (C(/usr/local/egpu-setup/venv/bin/python)).
options:
  state:
    description: Pack the build, or install an archive.
    type: str
    choices: [packed, unpacked]
    required: true
  root:
    description: The build's root on the Mac (MXNet's tree, C(mxnet_home)).
    type: path
    required: true
  key:
    description: The build key (SHA-256 of the build's inputs) the archive is for.
    type: str
    required: true
  members:
    description: O(state=packed) only; files or directories below O(root) that make the build.
    type: list
    elements: str
    default: []
  name:
    description: O(state=packed) only; what was built (its manifest's C(name)).
    type: str
    default: mxnet
  version:
    description: O(state=packed) only; the version built.
    type: str
    default: ""
  inputs:
    description: O(state=packed) only; the inputs the key is the digest of, recorded in the manifest for people.
    type: dict
    default: {}
  dest:
    description: O(state=packed) only; where the archive is written on the Mac.
    type: path
  src:
    description: O(state=unpacked) only; the archive on the Mac.
    type: path
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
author:
  - egpu-setup developers
"""

EXAMPLES = r"""
- name: Pack the MXNet build
  egpu.mac.build_archive:
    state: packed
    root: /usr/local/egpu-setup/mxnet-1.0.0
    members: [lib/libmxnet.so, python/mxnet]
    version: 1.0.0
    key: "{{ mxnet_build_key }}"
    dest: /private/var/tmp/egpu-setup/mxnet-build.tar.gz
  vars:
    ansible_python_interpreter: /usr/local/egpu-setup/venv/bin/python
"""

RETURN = r"""
sha256:
  description: SHA-256 of the archive (O(dest) or O(src)).
  returned: success
  type: str
size:
  description: Bytes of the archive.
  returned: success
  type: int
files:
  description: Number of files the build holds.
  returned: success
  type: int
file_sha256:
  description: SHA-256 of each file of the build, by its path below O(root).
  returned: success
  type: dict
"""

from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.egpu.mac.plugins.module_utils.target_tools_python import fail_without_tools  # noqa: E402

try:
    from egpu_setup.builds import archive
    from egpu_setup.errors import EgpuError
    from egpu_setup.files import file_sha256
except ImportError as exc:  # not the egpu-setup target interpreter
    archive = None  # type: ignore[assignment]
    EgpuError = Exception  # type: ignore[assignment,misc]  # never raised then: main() fails first
    IMPORT_ERROR: ImportError | None = exc
else:
    IMPORT_ERROR = None

# Written out, not read from DOCUMENTATION (the Mac's interpreter may lack yaml); tests/roles/test_argument_specs.py
# holds the two equal.
ARGUMENT_SPEC = {
    "state": {"type": "str", "choices": ["packed", "unpacked"], "required": True},
    "root": {"type": "path", "required": True},
    "key": {"type": "str", "required": True},
    "members": {"type": "list", "elements": "str", "default": []},
    "name": {"type": "str", "default": "mxnet"},
    "version": {"type": "str", "default": ""},
    "inputs": {"type": "dict", "default": {}},
    "dest": {"type": "path"},
    "src": {"type": "path"},
}


def _packed(module: AnsibleModule, root: Path, key: str) -> dict[str, Any]:
    p = module.params
    if not p["dest"] or not p["members"]:
        module.fail_json(msg="state=packed needs dest and members")
    dest = Path(p["dest"])
    partial = dest.with_name(dest.name + ".partial")
    facts = {"name": p["name"], "version": p["version"], "key": key, "inputs": p["inputs"]}
    if module.check_mode:
        built = archive.pack(root, p["members"], None, **facts)  # the digest only: nothing is written
    else:
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            with partial.open("wb") as out:
                built = archive.pack(root, p["members"], out, **facts)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    changed = file_sha256(dest) != built.sha256 or archive.installed(root) != built.manifest
    if not module.check_mode:
        if changed:
            partial.chmod(0o644)  # the controller fetches it as the SSH user
            partial.replace(dest)
            (root / archive.MANIFEST).write_bytes(archive.manifest_bytes(built.manifest))
        else:
            partial.unlink()
    return {"changed": changed, "sha256": built.sha256, "size": built.size, "manifest": built.manifest}


def _unpacked(module: AnsibleModule, root: Path, key: str) -> dict[str, Any]:
    src = Path(module.params["src"] or "")
    if not module.params["src"] or not src.is_file():
        module.fail_json(msg=f"state=unpacked: the archive {src} is not on the Mac")
    manifest = archive.intact(root)
    if manifest is not None and manifest.get("key") != key:
        manifest = None
    changed = manifest is None
    if changed:
        manifest = archive.read_manifest(src, key) if module.check_mode else archive.unpack(src, root, key)
    return {"changed": changed, "sha256": file_sha256(src), "size": src.stat().st_size, "manifest": manifest}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    fail_without_tools(module, "egpu_setup", IMPORT_ERROR)
    root, key = Path(module.params["root"]), module.params["key"]
    try:
        result = _packed(module, root, key) if module.params["state"] == "packed" else _unpacked(module, root, key)
    except (EgpuError, OSError) as exc:
        fix = getattr(exc, "fix", None)
        module.fail_json(msg=str(exc), **({"fix": fix} if fix else {}))
    manifest = result.pop("manifest") or {}
    files = manifest.get("files") or []
    result.update(files=len(files), file_sha256={f["path"]: f["sha256"] for f in files}, key=key)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
