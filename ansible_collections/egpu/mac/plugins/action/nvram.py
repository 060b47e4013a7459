"""egpu.mac.nvram: an NVRAM variable set to a value or absent, through the `nvram` command.

The value before the first change is recorded in the provisioning journal so rollback can put it back.
nvram prints `name<TAB>value` with non-printable bytes as %xx; NVIDIA's installers write `nvda_drv=1%00`, so the
comparison decodes both sides and ignores trailing NUL bytes (docs/macos-commands.md, nvram).
"""

from __future__ import annotations

from typing import Any

from ansible.plugins.action import ActionBase

from ansible_collections.egpu.mac.plugins.module_utils import journal
from ansible_collections.egpu.mac.plugins.module_utils.journal import STATE_DIR_OPTION
from ansible_collections.egpu.mac.plugins.module_utils.macos_parse import decode_nvram_value, parse_nvram
from ansible_collections.egpu.mac.plugins.module_utils.target_shell import TargetCommandError, quote, run


def same_value(printed: str | None, wanted: str | None) -> bool:
    if printed is None or wanted is None:
        return printed is None and wanted is None
    return decode_nvram_value(printed).rstrip("\x00") == decode_nvram_value(wanted).rstrip("\x00")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("name", "value", "state", "state_dir"))

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        self._supports_check_mode = True
        result = super().run(tmp, task_vars)
        _, args = self.validate_argument_spec(
            argument_spec={
                "name": {"type": "str", "required": True},
                "value": {"type": "str"},
                "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
                "state_dir": STATE_DIR_OPTION,
            },
            required_if=[("state", "present", ("value",))],
        )
        name = args["name"]
        wanted = args["value"] if args["state"] == "present" else None
        try:
            rc, out, _ = run(self, f"nvram {quote(name)}", check_rc=False)
            before = parse_nvram(out).get(name) if rc == 0 else None
            changed = not same_value(before, wanted)
            result.update(changed=changed, name=name, before=before, after=wanted if changed else before)
            if self._task.diff:
                result["diff"] = {
                    "before": f"{name}={before}\n" if before is not None else f"{name} absent\n",
                    "after": f"{name}={wanted}\n" if wanted is not None else f"{name} absent\n",
                }
            if changed and not self._task.check_mode:
                state = "absent" if before is None else "present"
                journal.record(self, args["state_dir"], f"nvram\t{name}\t{state}\t{before or ''}", check_mode=False)
                cmd = f"nvram {quote(name + '=' + wanted)}" if wanted is not None else f"nvram -d {quote(name)}"
                run(self, cmd, what=f"setting nvram {name}")
                result["cmd"] = cmd
        except TargetCommandError as exc:
            result.update(exc.result())
        return result
