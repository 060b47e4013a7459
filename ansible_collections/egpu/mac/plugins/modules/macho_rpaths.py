#!/usr/bin/python
"""Ansible module egpu.mac.macho_rpaths: make dyld find the libraries a Mach-O file references."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: macho_rpaths
short_description: Make dyld find the libraries that Mach-O files reference (LC_RPATH, install names)
version_added: "0.1.0"
description:
  - Resolves every library reference (C(LC_LOAD_DYLIB), C(LC_LOAD_WEAK_DYLIB), C(LC_REEXPORT_DYLIB), ...) of the
    Mach-O files in O(paths) as dyld does on macOS 10.13 High Sierra (C(@rpath) through the LC_RPATHs of the image
    and of the libraries it loads, C(@loader_path), C(@executable_path), absolute paths, the default fallback
    C(/usr/local/lib:/usr/lib)).
  - Fixes each unresolved reference by adding an C(LC_RPATH) for the O(search) directory that holds the library
    (O(mode=rpath), like C(install_name_tool -add_rpath)), or by changing the reference to that absolute path
    (O(mode=absolute), like C(install_name_tool -change)).
  - Every file is planned and checked by dyld's rules before anything is written. O(tool) says what writes the
    plan. With C(install_name_tool) (Apple's, found by C(xcrun --find install_name_tool)), each file gets one
    invocation with all its edits (C(-change OLD NEW ... -add_rpath DIR ... FILE)), returned in RV(commands); the
    file is then read again and must carry exactly the planned references, each resolving by dyld's rules. A
    refusal (for instance no room for larger load commands) fails the task with install_name_tool's message;
    install_name_tool writes nothing when it refuses, and files our header-room model expects to be refused go
    first, so nothing has changed then. With C(builtin), egpu-setup's own writer writes each file beside itself
    and moves it into place, keeping its mode; a file without room fails the task with nothing changed.
  - A code-signed file is re-signed ad hoc with C(codesign) after the edit.
  - The logic is egpu-setup's own (C(egpu_setup.macho)); the module must run with the interpreter of the
    egpu-setup target tools (C(/usr/local/egpu-setup/venv/bin/python)), whose site-packages hold C(egpu_setup)
    and C(macholib).
options:
  paths:
    description: Mach-O files, or directories whose Mach-O files are treated (other files are skipped).
    type: list
    elements: path
    required: true
  search:
    description: Directories on the Mac where missing libraries may be found, in order.
    type: list
    elements: str
    default: [/usr/local/cuda/lib]
  mode:
    description: How to fix an C(@rpath/) reference; other references are always changed to absolute paths.
    type: str
    choices: [rpath, absolute]
    default: rpath
  root:
    description: Root of the Mac's file system (C(/) on the Mac itself; a copied tree for offline use).
    type: path
    default: /
  executable:
    description: Main executable, to check C(@executable_path) references.
    type: path
  fail_on_unresolved:
    description: Fail when a required reference still does not resolve after the fix.
    type: bool
    default: true
  tool:
    description:
      - What writes the fix. C(install_name_tool) is Apple's (Command Line Tools), found by
        C(xcrun --find install_name_tool), else on PATH; the task fails when there is none. C(builtin) is
        egpu-setup's own load-command writer (for copied trees on a controller without Apple's tools).
        C(auto) takes install_name_tool where one is found, else builtin.
      - A universal file whose slices need different edits cannot be fixed by one install_name_tool invocation
        (it edits every slice alike); with C(auto) the builtin writer takes it, with C(install_name_tool) it fails.
    type: str
    choices: [auto, install_name_tool, builtin]
    default: auto
attributes:
  check_mode:
    support: full
    description: Reports the plan and whether it would change anything; writes nothing.
  diff_mode:
    support: full
    description: >-
      Before and after list of the library load commands of every file that changes, and the install_name_tool
      invocations.
requirements:
  - egpu_setup and macholib importable by the module's Python interpreter
author:
  - egpu-setup developers
"""

EXAMPLES = r"""
- name: Ensure libmxnet.so finds the CUDA 9.1 and cuDNN 7 libraries through an LC_RPATH
  egpu.mac.macho_rpaths:
    paths: [/usr/local/src/mxnet/lib/libmxnet.so]
    search: [/usr/local/cuda/lib]
  vars:
    ansible_python_interpreter: /usr/local/egpu-setup/venv/bin/python

- name: Ensure every Mach-O file under the MXNet Python package references CUDA by absolute paths
  egpu.mac.macho_rpaths:
    paths: [/usr/local/src/mxnet/python/mxnet]
    mode: absolute

- name: Ensure libmxnet.so finds CUDA, fixed by Apple's install_name_tool (the task fails where there is none)
  egpu.mac.macho_rpaths:
    paths: [/usr/local/src/mxnet/lib/libmxnet.so]
    tool: install_name_tool
  diff: true  # the install_name_tool invocations go into the log with the load commands before and after

- name: Check a rehearsal Mac's tree from the controller without changing it
  egpu.mac.macho_rpaths:
    paths: [/usr/local/src/mxnet/lib]
    root: /var/lib/egpu-lab/hosts/mac1/root
  check_mode: true
"""

RETURN = r"""
changed:
  description: Whether a file was (or in check mode would be) changed.
  type: bool
  returned: always
files:
  description: One entry per Mach-O file treated.
  type: list
  elements: dict
  returned: always
  contains:
    path: {description: The file as named or found., type: str}
    mac_path: {description: Its path on the Mac (inside O(root))., type: str}
    archs: {description: Architectures of its slices., type: list}
    status: {description: "ok, fixed, would-fix, failing or error.", type: str}
    changed: {description: Whether this file was rewritten., type: bool}
    unresolved_before: {description: References dyld could not resolve before (name, kind, tried, ...)., type: list}
    actions: {description: "Changes made or planned (action add_rpath or change, value, old, archs, fixes).",
              type: list}
    still_failing: {description: References that still do not resolve after the fix., type: list}
    references: {description: "Every direct reference after the fix: arch, name, kind, status, path, via.", type: list}
    notes: {description: Remarks (code signature, references no search directory holds, ...)., type: list}
    load_commands_before: {description: The library load commands before., type: list}
    load_commands_after: {description: The library load commands after (planned ones in check mode)., type: list}
    writer: {description: "What wrote (or would write) this file: install_name_tool or builtin; null: no edits.",
             type: str}
    command: {description: "Its install_name_tool invocation (argv), run or, in check mode, planned.", type: list}
    ran: {description: Whether the invocation ran., type: bool}
    tool_output: {description: What install_name_tool printed (its refusal)., type: str}
skipped_files:
  description: Files found in directories and skipped (not Mach-O, symlinks), with the reason.
  type: list
  elements: dict
  returned: always
search:
  description: The search directories used.
  type: list
  returned: always
tool:
  description: The writer chosen, install_name_tool or builtin (for O(tool=auto) what was found).
  type: str
  returned: always
  sample: install_name_tool
tool_path:
  description: The install_name_tool run, and how it was found (RV(tool_how)); null with the builtin writer.
  type: str
  returned: always
  sample: /Library/Developer/CommandLineTools/usr/bin/install_name_tool
tool_how:
  description: How install_name_tool was found (C(xcrun --find install_name_tool), C(PATH)) or why not.
  type: str
  returned: always
commands:
  description: The install_name_tool invocations as shell text, in the order they ran (in check mode, would run).
  type: list
  elements: str
  returned: always
  sample:
    - >-
      /Library/Developer/CommandLineTools/usr/bin/install_name_tool -add_rpath /usr/local/cuda/lib
      /usr/local/src/mxnet/lib/libmxnet.so
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.egpu.mac.plugins.module_utils.target_tools_python import fail_without_tools  # noqa: E402

try:
    from egpu_setup.errors import EgpuError
    from egpu_setup.macho.fixer import fix_rpaths
except ImportError as exc:  # not the egpu-setup target interpreter
    fix_rpaths = None
    EgpuError = Exception  # never raised then: main() fails before calling anything
    IMPORT_ERROR: ImportError | None = exc
else:
    IMPORT_ERROR = None


# Written out, not read from DOCUMENTATION: this module runs on the Mac, where the interpreter may lack yaml before
# it fails with missing_required_lib. tests/roles/test_argument_specs.py holds the two equal.
ARGUMENT_SPEC = {
    "paths": {"type": "list", "elements": "path", "required": True},
    "search": {"type": "list", "elements": "str", "default": ["/usr/local/cuda/lib"]},
    "mode": {"type": "str", "choices": ["rpath", "absolute"], "default": "rpath"},
    "root": {"type": "path", "default": "/"},
    "executable": {"type": "path"},
    "fail_on_unresolved": {"type": "bool", "default": True},
    "tool": {"type": "str", "choices": ["auto", "install_name_tool", "builtin"], "default": "auto"},
}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    fail_without_tools(module, "egpu_setup and macholib", IMPORT_ERROR)
    p = module.params
    try:
        report = fix_rpaths(
            p["paths"],
            root=p["root"],
            search=p["search"],
            mode=p["mode"],
            check=module.check_mode,
            executable=p["executable"],
            tool=p["tool"],
        )
    except EgpuError as exc:  # bad parameters: root or executable that do not exist, no install_name_tool
        module.fail_json(msg=str(exc), changed=False)

    data = report.to_dict()
    files = data["files"]
    changed = any(f["changed"] for f in files) or (module.check_mode and any(f["actions"] for f in files))
    result = {
        "changed": changed,
        "files": files,
        "skipped_files": data["skipped"],
        "search": data["search"],
        "tool": data["tool"],
        "tool_path": data["tool_path"],
        "tool_how": data["tool_how"],
        "commands": data["commands"],
    }
    if module._diff:
        result["diff"] = [
            {
                "before_header": f["path"],
                "after_header": f["path"],
                "before": "\n".join(f["load_commands_before"]) + "\n",
                "after": "\n".join(f["load_commands_after"]) + "\n",
            }
            for f in files
            if f["actions"] and f["status"] != "error"
        ]
        if data["commands"]:
            verb = "would run" if module.check_mode else "ran"
            result["diff"].append({"prepared": f"install_name_tool ({verb}):\n" + "\n".join(data["commands"]) + "\n"})
    if report.errors:
        msgs = "; ".join(f"{e.error} ({e.fix})" if e.fix else str(e.error) for e in report.errors)
        # A write that fails after others succeeded leaves those files fixed: say so only when it is true.
        prefix = "some files were fixed, but" if report.changed else "nothing was changed:"
        module.fail_json(msg=f"{prefix} {msgs}", **result)
    failing = [f"{f['path']}: {s['name']}" for f in files for s in f["still_failing"]]
    if failing and p["fail_on_unresolved"]:
        written = f" after {data['tool']} wrote the fix" if report.changed else ""
        module.fail_json(msg=f"library references still do not resolve{written}: " + ", ".join(failing), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
