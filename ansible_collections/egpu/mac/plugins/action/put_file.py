"""egpu.mac.put_file: a controller file present on the target with a verified SHA-256, without target Python.

Copies through the connection's put_file only when the target's copy is missing or differs (`shasum -a 256`),
records the destination in the provisioning journal first, and checks the digest after the copy.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, ClassVar

from ansible_collections.egpu.mac.plugins.module_utils import journal
from ansible_collections.egpu.mac.plugins.module_utils.uploads import checked_sha256, remote_sha256, upload
from ansible_collections.egpu.mac.plugins.plugin_utils.mac_action import ActionFailed, MacAction


class ActionModule(MacAction):
    ARG_RULES: ClassVar[dict[str, Any]] = {
        "mutually_exclusive": [("src", "content")],
        "required_one_of": [("src", "content")],
    }

    def act(self, result: dict[str, Any], args: dict[str, Any], task_vars: dict[str, Any]) -> None:
        if args["content"] is not None:
            with tempfile.TemporaryDirectory(prefix="egpu-content-") as tmpdir:
                src = Path(tmpdir) / "content"
                src.write_text(args["content"], encoding="utf-8")
                self._put(result, src, args)
                return
        self._put(result, Path(args["src"]), args)

    def _put(self, result: dict[str, Any], src: Path, args: dict[str, Any]) -> None:
        if not src.is_file():
            raise ActionFailed(f"{src} does not exist on the controller")
        dest = args["dest"]
        want = checked_sha256(src, args["sha256"])
        before = remote_sha256(self, dest)
        result.update(dest=dest, sha256=want, before_sha256=before)
        self.add_diff(result, f"{dest}: {before or 'absent'}\n", f"{dest}: {want}\n")
        self.settle(result, before != want, lambda: self._upload(src, args, want))

    def _upload(self, src: Path, args: dict[str, Any], digest: str) -> None:
        journal.track(self, args["state_dir"], [args["dest"]], check_mode=False)
        upload(self, src, args["dest"], digest, args["mode"], differs=True)  # _put read the Mac's digest
