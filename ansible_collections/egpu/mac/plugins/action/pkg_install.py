"""egpu.mac.pkg_install: a macOS installer package present at a version, decided by its receipt.

Controller-side: reads the receipt with `pkgutil --pkg-info`, and only when it is missing or at another version
uploads the pkg, records in the journal what the payload will add or replace (so rollback can undo it), and runs
`installer -pkg X -target /`. Works without Python on the target; check mode reports the change with a diff.
"""

from __future__ import annotations

import posixpath
import tempfile
from pathlib import Path
from typing import Any

from ansible.plugins.action import ActionBase

from ansible_collections.egpu.mac.plugins.module_utils import flat_pkg, journal
from ansible_collections.egpu.mac.plugins.module_utils.macos_parse import parse_pkg_info
from ansible_collections.egpu.mac.plugins.module_utils.target_shell import TargetCommandError, quote, run
from ansible_collections.egpu.mac.plugins.module_utils.uploads import upload

ARGUMENT_SPEC: dict[str, Any] = {
    "src": {"type": "path"},
    "remote_src": {"type": "str"},
    "receipt": {"type": "str", "required": True},
    "version": {"type": "str", "required": True},
    "sha256": {"type": "str"},
    "drop_installation_check": {"type": "bool", "default": False},
    "allow_untrusted": {"type": "bool", "default": False},
    "track": {"type": "list", "elements": "str", "default": []},
    "state_dir": {"type": "str", "default": "/var/db/egpu-setup"},
    "work_dir": {"type": "str", "default": "/var/tmp/egpu-setup"},
}


def receipt_version(action: Any, receipt: str) -> str | None:
    rc, out, _ = run(action, f"pkgutil --pkg-info {quote(receipt)}", check_rc=False)
    return parse_pkg_info(out).get("version") if rc == 0 else None


def receipt_files(receipt: str) -> list[str]:
    """Where pkgutil keeps a receipt (pkgutil(1): /private/var/db/receipts/<id>.bom and .plist)."""
    base = f"/private/var/db/receipts/{receipt}"
    return [base + ".bom", base + ".plist"]


class ActionModule(ActionBase):
    TRANSFERS_FILES = True
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        self._supports_check_mode = True
        result = super().run(tmp, task_vars)
        _, args = self.validate_argument_spec(
            argument_spec=ARGUMENT_SPEC,
            mutually_exclusive=[("src", "remote_src")],
            required_one_of=[("src", "remote_src")],
        )
        try:
            result.update(self._ensure(args))
        except (TargetCommandError, flat_pkg.PackageFormatError, OSError) as exc:
            if isinstance(exc, TargetCommandError):
                result.update(exc.result())
            else:
                result.update(failed=True, msg=str(exc))
        return result

    def _ensure(self, args: dict[str, Any]) -> dict[str, Any]:
        receipt, want = args["receipt"], args["version"]
        before = receipt_version(self, receipt)
        diff = {
            "before_header": f"receipt {receipt}",
            "after_header": f"receipt {receipt}",
            "before": f"{receipt}: {before or 'absent'}\n",
            "after": f"{receipt}: {want}\n",
        }
        out: dict[str, Any] = {"receipt": receipt, "before": before, "after": want, "changed": before != want}
        if self._task.diff:
            out["diff"] = diff
        if before == want:
            out["after"] = before
            return out
        if self._task.check_mode:
            out["msg"] = f"would install {receipt} {want} (now {before or 'absent'})"
            return out
        work = args["work_dir"]
        journal.track(self, args["state_dir"], [work], check_mode=False)
        if args["src"]:
            local = Path(args["src"])
            if not local.is_file():
                raise OSError(f"{local} does not exist on the controller: run `egpu-setup cache fetch` first")
            target_pkg = posixpath.join(work, local.name)
            upload(self, local, target_pkg, args["sha256"])
            paths = flat_pkg.payload_paths(local)
        else:
            target_pkg = args["remote_src"]
            paths = self._remote_payload_paths(target_pkg)
        if args["drop_installation_check"]:
            target_pkg = self._without_installation_check(target_pkg, work)
        tracked = journal.track(
            self, args["state_dir"], [*paths, *receipt_files(receipt), *args["track"]], check_mode=False
        )
        if before is None:
            journal.record(self, args["state_dir"], f"receipt\t{receipt}", check_mode=False)
        cmd = f"installer -pkg {quote(target_pkg)} -target /" + (" -allowUntrusted" if args["allow_untrusted"] else "")
        _, stdout, _ = run(self, cmd, what=f"installing {receipt}")
        if args["src"] or args["drop_installation_check"]:
            # The uploaded (or patched) copy is not needed once installed; the cache on the controller keeps it.
            run(
                self,
                f"rm -f {quote(target_pkg)} {quote(posixpath.join(work, Path(args['src'] or '').name))}",
                check_rc=False,
            )
        after = receipt_version(self, receipt)
        out.update(cmd=cmd, stdout=stdout, after=after, tracked=tracked)
        if after != want:
            raise TargetCommandError(
                f"installer finished but the receipt {receipt} says {after or 'absent'}, expected {want}: "
                "the package is not the one the profile names",
                cmd,
                1,
                stdout,
            )
        return out

    def _remote_payload_paths(self, target_pkg: str) -> list[str]:
        """A pkg inside a mounted dmg: bring it to the controller to read its payload listing."""
        with tempfile.TemporaryDirectory(prefix="egpu-pkg-") as tmpdir:
            local = Path(tmpdir) / posixpath.basename(target_pkg)
            self._connection.fetch_file(target_pkg, str(local))
            return flat_pkg.payload_paths(local)

    def _without_installation_check(self, target_pkg: str, work: str) -> str:
        """Expand, drop the Distribution's installation-check, flatten again (payload untouched)."""
        expanded = posixpath.join(work, "expanded")
        patched = posixpath.join(work, "patched-" + posixpath.basename(target_pkg))
        run(
            self,
            f"rm -rf {quote(expanded)} {quote(patched)}; pkgutil --expand {quote(target_pkg)} {quote(expanded)}",
            what="expanding the package",
        )
        dist_remote = posixpath.join(expanded, "Distribution")
        with tempfile.TemporaryDirectory(prefix="egpu-dist-") as tmpdir:
            local = Path(tmpdir) / "Distribution"
            self._connection.fetch_file(dist_remote, str(local))
            text, removed = flat_pkg.drop_installation_check(local.read_text(encoding="utf-8"))
            if removed:
                local.write_text(text, encoding="utf-8")
                upload(self, local, dist_remote)
        run(
            self,
            f"pkgutil --flatten {quote(expanded)} {quote(patched)} && rm -rf {quote(expanded)}",
            what="flattening the patched package",
        )
        return patched
