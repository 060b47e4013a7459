"""egpu.mac.nvram: an NVRAM variable set to a value or absent, through the `nvram` command.

The value before the first change is recorded in the provisioning journal so rollback can put it back.
nvram prints `name<TAB>value` with non-printable bytes as %xx; NVIDIA's installers write `nvda_drv=1%00`, so the
comparison decodes both sides and ignores trailing NUL bytes (docs/macos-commands.md, nvram).
"""

from __future__ import annotations

from typing import Any, ClassVar

from ansible_collections.egpu.mac.plugins.module_utils import journal
from ansible_collections.egpu.mac.plugins.module_utils.macos_parse import decode_nvram_value, parse_nvram
from ansible_collections.egpu.mac.plugins.module_utils.target_shell import quote, run
from ansible_collections.egpu.mac.plugins.plugin_utils.mac_action import MacAction


def same_value(printed: str | None, wanted: str | None) -> bool:
    if printed is None or wanted is None:
        return printed is None and wanted is None
    return decode_nvram_value(printed).rstrip("\x00") == decode_nvram_value(wanted).rstrip("\x00")


class ActionModule(MacAction):
    ARG_RULES: ClassVar[dict[str, Any]] = {"required_if": [("state", "present", ("value",))]}

    def act(self, result: dict[str, Any], args: dict[str, Any], task_vars: dict[str, Any]) -> None:
        name = args["name"]
        wanted = args["value"] if args["state"] == "present" else None
        rc, out, _ = run(self, f"nvram {quote(name)}", check_rc=False)
        before = parse_nvram(out).get(name) if rc == 0 else None
        changed = not same_value(before, wanted)
        result.update(name=name, before=before, after=wanted if changed else before)
        self.add_diff(
            result,
            before=f"{name}={before}\n" if before is not None else f"{name} absent\n",
            after=f"{name}={wanted}\n" if wanted is not None else f"{name} absent\n",
        )
        self.settle(result, changed, lambda: self.set_value(result, args["state_dir"], name, before, wanted))

    def set_value(
        self, result: dict[str, Any], state_dir: str, name: str, before: str | None, wanted: str | None
    ) -> None:
        state = "absent" if before is None else "present"
        journal.record(self, state_dir, f"nvram\t{name}\t{state}\t{before or ''}", check_mode=False)
        cmd = f"nvram {quote(name + '=' + wanted)}" if wanted is not None else f"nvram -d {quote(name)}"
        run(self, cmd, what=f"setting nvram {name}")
        result["cmd"] = cmd
