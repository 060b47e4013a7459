"""egpu.mac.put_file: a controller file present on the target with a verified SHA-256, without target Python.

Copies through the connection's put_file only when the target's copy is missing or differs (`shasum -a 256`),
records the destination in the provisioning journal first, and checks the digest after the copy.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from ansible.plugins.action import ActionBase

from ansible_collections.egpu.mac.plugins.module_utils import journal
from ansible_collections.egpu.mac.plugins.module_utils.journal import STATE_DIR_OPTION
from ansible_collections.egpu.mac.plugins.module_utils.target_shell import TargetCommandError
from ansible_collections.egpu.mac.plugins.module_utils.uploads import checked_sha256, remote_sha256, upload


class ActionModule(ActionBase):
    TRANSFERS_FILES = False  # no remote tmp dir: nothing of Ansible's own is left on the Mac
    _VALID_ARGS = frozenset(("src", "content", "dest", "sha256", "mode", "state_dir"))

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        self._supports_check_mode = True
        result = super().run(tmp, task_vars)
        _, args = self.validate_argument_spec(
            argument_spec={
                "src": {"type": "path"},
                "content": {"type": "str"},
                "dest": {"type": "str", "required": True},
                "sha256": {"type": "str"},
                "mode": {"type": "str", "default": "0644"},
                "state_dir": STATE_DIR_OPTION,
            },
            mutually_exclusive=[("src", "content")],
            required_one_of=[("src", "content")],
        )
        if args["content"] is not None:
            with tempfile.TemporaryDirectory(prefix="egpu-content-") as tmpdir:
                src = Path(tmpdir) / "content"
                src.write_text(args["content"], encoding="utf-8")
                return self._put(result, src, args)
        return self._put(result, Path(args["src"]), args)

    def _put(self, result: dict[str, Any], src: Path, args: dict[str, Any]) -> dict[str, Any]:
        if not src.is_file():
            return {**result, "failed": True, "msg": f"{src} does not exist on the controller"}
        try:
            want = checked_sha256(src, args["sha256"])
            before = remote_sha256(self, args["dest"])
            changed = before != want
            result.update(changed=changed, dest=args["dest"], sha256=want, before_sha256=before)
            if self._task.diff:
                dest = args["dest"]
                result["diff"] = {"before": f"{dest}: {before or 'absent'}\n", "after": f"{dest}: {want}\n"}
            if changed and not self._task.check_mode:
                journal.track(self, args["state_dir"], [args["dest"]], check_mode=False)
                upload(self, src, args["dest"], want, args["mode"])
        except TargetCommandError as exc:
            result.update(exc.result())
        return result
