"""egpu.mac.restore: undo everything the provisioning journal recorded, byte for byte, then drop the journal.

Order: forget receipts, put NVRAM variables back, remove added paths (newest first), remove entries that appeared in
recorded directories, copy every backed-up file back and check its SHA-256, recreate links; only when every digest
matches is the state directory removed, so a failed restore can be run again.
"""

from __future__ import annotations

import posixpath
from typing import Any

from ansible.plugins.action import ActionBase

from ansible_collections.egpu.mac.plugins.module_utils import journal
from ansible_collections.egpu.mac.plugins.module_utils.target_shell import TargetCommandError, quote, run


def _tree_extras(action: Any, state_dir: str, trees: dict[str, str]) -> list[str]:
    """Entries under each recorded directory that were not in its listing, deepest first."""
    extras: list[str] = []
    for root, listing in trees.items():
        _, kept, _ = run(action, f"cat {quote(posixpath.join(state_dir, 'trees', listing))}", what="reading a listing")
        _, now, _ = run(action, f"[ -d {quote(root)} ] && find {quote(root)} -mindepth 1; true", what="listing")
        known = set(kept.splitlines())
        extras += [p for p in now.splitlines() if p and p not in known]
    return sorted(set(extras), key=lambda p: (-p.count("/"), p))


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("state_dir",))

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        self._supports_check_mode = True
        result = super().run(tmp, task_vars)
        _, args = self.validate_argument_spec(
            argument_spec={"state_dir": {"type": "str", "default": "/private/var/db/egpu-setup"}}
        )
        state_dir = args["state_dir"]
        try:
            rc, _, _ = run(self, f"[ -f {quote(posixpath.join(state_dir, journal.JOURNAL))} ]", check_rc=False)
            if rc != 0:
                return {**result, "changed": False, "msg": "nothing to restore: no provisioning journal on the host"}
            records = journal.read_journal(self, state_dir)
            extras = _tree_extras(self, state_dir, records.trees)
            summary = {
                "forgotten": list(reversed(records.receipts)),
                "nvram": {name: value for name, (state, value) in records.nvram.items() if state == "present"},
                "nvram_removed": [name for name, (state, _) in records.nvram.items() if state == "absent"],
                "removed": list(reversed(records.added)) + extras,
                "restored": sorted(records.backups),
                "relinked": sorted(records.links),
                "undone": list(reversed(records.undo)),
            }
            result.update(changed=True, **summary)
            if self._task.diff:
                result["diff"] = {
                    "before": "".join(f"{p}\n" for p in summary["removed"]),
                    "after": "".join(f"restored {p}\n" for p in summary["restored"]),
                }
            if self._task.check_mode:
                return result
            files = posixpath.join(state_dir, "files")
            script = []
            script += [f"pkgutil --forget {quote(r)} >/dev/null 2>&1 || true" for r in summary["forgotten"]]
            script += [f"nvram {quote(n + '=' + v)}" for n, v in summary["nvram"].items()]
            script += [f"nvram -d {quote(n)}" for n in summary["nvram_removed"]]
            script += [f"rm -rf {quote(p)}" for p in summary["removed"]]
            for path, digest in records.backups.items():
                script.append(
                    f"if [ -d {quote(path)} ] && [ ! -L {quote(path)} ]; then rm -rf {quote(path)}; fi; "
                    f"mkdir -p {quote(posixpath.dirname(path))} && "
                    f"cp -p {quote(posixpath.join(files, digest))} {quote(path)}"
                )
            for path, target in records.links.items():
                script.append(
                    f"rm -rf {quote(path)}; mkdir -p {quote(posixpath.dirname(path))} && "
                    f"ln -s {quote(target)} {quote(path)}"
                )
            script += summary["undone"]
            run(self, "set -e\n" + "\n".join(script), what="restoring the pre-provisioning state")
            bad = self._verify(records.backups)
            if bad:
                return {**result, "failed": True, "msg": "restored files differ from their backups: " + ", ".join(bad)}
            run(self, f"rm -rf {quote(state_dir)}", what="removing the journal")
        except TargetCommandError as exc:
            result.update(exc.result())
        return result

    def _verify(self, backups: dict[str, str]) -> list[str]:
        if not backups:
            return []
        _, out, _ = run(self, "shasum -a 256 " + " ".join(quote(p) for p in backups), check_rc=False)
        got = {}
        for line in out.splitlines():
            digest, _, path = line.partition("  ")
            got[path] = digest.lower()
        return [p for p, d in backups.items() if got.get(p) != d]
