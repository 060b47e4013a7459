"""egpu.mac.pkg_install: a macOS installer package present at a version, decided by its receipt.

Controller-side: reads the receipt with `pkgutil --pkg-info`, and only when it is missing or at another version
uploads the pkg, records in the journal what the payload will add or replace, every receipt it will write and the
NVRAM variables its scripts set (so rollback can undo it), and runs `installer -pkg X -target /`. Works without
Python on the target; check mode reports the change with a diff. A package shipped in a zip (`archive_member`) is
taken out of the zip on the controller, after the zip's digest is checked; `volume_check` reads the package's
Distribution volume-check against the Mac first and refuses with the reason before anything is uploaded.
"""

from __future__ import annotations

import plistlib
import posixpath
import tempfile
from pathlib import Path
from typing import Any, ClassVar

from ansible_collections.egpu.mac.plugins.module_utils import flat_pkg, journal, volume_check
from ansible_collections.egpu.mac.plugins.module_utils.macos_parse import parse_nvram, parse_pkg_info
from ansible_collections.egpu.mac.plugins.module_utils.target_shell import TargetCommandError, quote, run
from ansible_collections.egpu.mac.plugins.module_utils.uploads import checked_sha256, upload
from ansible_collections.egpu.mac.plugins.plugin_utils.mac_action import MacAction


def receipt_version(action: Any, receipt: str) -> str | None:
    rc, out, _ = run(action, f"pkgutil --pkg-info {quote(receipt)}", check_rc=False)
    return parse_pkg_info(out).get("version") if rc == 0 else None


# installer(8) appends its log here (the file is created on first use); rollback gives back the one before.
INSTALL_LOG = "/private/var/log/install.log"


def receipt_files(receipt: str) -> list[str]:
    """Where pkgutil keeps a receipt (pkgutil(1): /private/var/db/receipts/<id>.bom and .plist)."""
    base = f"/private/var/db/receipts/{receipt}"
    return [base + ".bom", base + ".plist"]


class ActionModule(MacAction):
    ARG_RULES: ClassVar[dict[str, Any]] = {
        "mutually_exclusive": [("src", "remote_src")],
        "required_one_of": [("src", "remote_src")],
    }

    def act(self, result: dict[str, Any], args: dict[str, Any], task_vars: dict[str, Any]) -> None:
        try:
            with tempfile.TemporaryDirectory(prefix="egpu-pkg-zip-") as unzipped:
                result.update(self._ensure(args, Path(unzipped)))
        except (flat_pkg.PackageFormatError, OSError) as exc:
            result.update(failed=True, msg=str(exc))

    def _ensure(self, args: dict[str, Any], unzipped: Path) -> dict[str, Any]:
        receipt = args["receipt"]
        local = Path(args["src"]) if args["src"] else None
        if local is not None and not local.is_file():
            raise OSError(f"{local} does not exist on the controller: fetch the artifact into the cache first")
        if local is not None and args["sha256"]:
            checked_sha256(local, args["sha256"])  # a damaged cache entry stops here, before its payload is read
        upload_sha256 = args["sha256"]
        if local is not None and args["archive_member"]:
            # The checked zip's package, on the controller only: the upload below is checked against its own digest.
            local = flat_pkg.extract_member(local, args["archive_member"], unzipped)
            upload_sha256 = None
        comps = flat_pkg.components(local) if local is not None else []
        remote_paths: list[str] = []
        if local is None and not self._task.check_mode:
            # A pkg inside a mounted dmg: bring it to the controller to read its payload and components.
            remote_paths, comps = self._remote_listing(args["remote_src"])
        want = args["version"] or next((c["version"] for c in comps if c["identifier"] == receipt), None)
        before = receipt_version(self, receipt)
        changed = before is None or (want is not None and before != want)
        out: dict[str, Any] = {"receipt": receipt, "before": before, "after": want or before, "changed": changed}
        if self._task.diff:
            out["diff"] = {
                "before_header": f"receipt {receipt}",
                "after_header": f"receipt {receipt}",
                "before": f"{receipt}: {before or 'absent'}\n",
                "after": f"{receipt}: {want or 'installed'}\n",
            }
        if not changed:
            return out
        if self._task.check_mode:
            out["msg"] = f"would install {receipt} {want or ''} (now {before or 'absent'})".replace("  ", " ")
            return out
        if args["volume_check"] and local is not None:
            self._volume_check(local, args["volume_check_fix"])
        work, state_dir = args["work_dir"], args["state_dir"]
        journal.track(self, state_dir, [work], check_mode=False)
        if local is not None:
            target_pkg = posixpath.join(work, args["filename"] or local.name)
            upload(self, local, target_pkg, upload_sha256)
            paths = flat_pkg.payload_paths(local)
        else:
            target_pkg, paths = args["remote_src"], remote_paths
        installed_pkg = target_pkg
        if args["drop_installation_check"]:
            installed_pkg = self._without_installation_check(target_pkg, work)
        ids = list(dict.fromkeys([receipt, *(c["identifier"] for c in comps if c["identifier"])]))
        receipts = [f for rid in ids for f in receipt_files(rid)]
        tracked = journal.track(self, state_dir, [*paths, *receipts, INSTALL_LOG], check_mode=False, trees=False)
        if args["track"]:
            tracked_extra = journal.track(self, state_dir, args["track"], check_mode=False)
            tracked = {key: tracked[key] + tracked_extra[key] for key in ("added", "backed_up", "trees")}
        self._record_receipts_and_nvram(state_dir, ids, args["track_nvram"])
        cmd = f"installer -pkg {quote(installed_pkg)} -target /" + (
            " -allowUntrusted" if args["allow_untrusted"] else ""
        )
        _, stdout, _ = run(self, cmd, what=f"installing {receipt}")
        # The uploaded (or patched) copy is not needed once installed; the controller's cache keeps the original.
        leftovers = {installed_pkg} | ({target_pkg} if local is not None else set())
        run(self, "rm -f " + " ".join(quote(p) for p in sorted(leftovers) if p != args["remote_src"]), check_rc=False)
        after = receipt_version(self, receipt)
        out.update(cmd=cmd, stdout=stdout, after=after, tracked=tracked)
        if after is None or (want is not None and after != want):
            raise TargetCommandError(
                f"installer finished but the receipt {receipt} says {after or 'absent'}, expected {want}: "
                "the package is not the one the profile names",
                cmd,
                1,
                stdout,
            )
        return out

    def _volume_check(self, pkg: Path, fix: str) -> None:
        """Refuse, before Installer does, a package whose Distribution volume-check this Mac does not pass."""
        from ansible_collections.egpu.mac.plugins.action.mac_facts import SYSTEM_VERSION, parse_files, plist_value

        text = flat_pkg.distribution(pkg)
        req = volume_check.parse(text) if text else None
        if req is None:
            return
        paths = [SYSTEM_VERSION, *(b.info_plist for b in req.bundles)]
        listed = " ".join(quote(p) for p in paths)
        _, out, _ = run(
            self,
            f'for f in {listed}; do [ -f "$f" ] && {{ echo "@@file $f"; base64 < "$f"; }}; done; true',
            what="reading the bundles the package requires",
        )
        files = parse_files(out)

        def read_info(path: str) -> dict[str, Any] | None:
            try:
                info = plistlib.loads(files[path])
            except (KeyError, plistlib.InvalidFileException, ValueError):
                return None
            return info if isinstance(info, dict) else None

        found = volume_check.problems(req, plist_value(files.get(SYSTEM_VERSION), "ProductVersion"), read_info)
        if found:
            reason = req.description or "; ".join(found)
            detail = "" if not req.description else f" ({'; '.join(found)})"
            raise TargetCommandError(
                f"installer would refuse {pkg.name} on this Mac: its Distribution's volume-check fails: {reason}"
                f"{detail}. {fix}".rstrip(),
                f"volume-check of {pkg.name}",
                1,
            )

    def _record_receipts_and_nvram(self, state_dir: str, ids: list[str], nvram_names: list[str]) -> None:
        records = journal.read_journal(self, state_dir)
        lines = []
        for rid in ids:
            if rid not in records.receipts and receipt_version(self, rid) is None:
                lines.append(f"receipt\t{rid}")
        for name in nvram_names:
            if name in records.nvram:
                continue
            rc, printed, _ = run(self, f"nvram {quote(name)}", check_rc=False)
            value = parse_nvram(printed).get(name) if rc == 0 else None
            lines.append(f"nvram\t{name}\t{'present' if value is not None else 'absent'}\t{value or ''}")
        for line in lines:
            journal.record(self, state_dir, line, check_mode=False)

    def _remote_listing(self, target_pkg: str) -> tuple[list[str], list[dict[str, str]]]:
        with tempfile.TemporaryDirectory(prefix="egpu-pkg-") as tmpdir:
            local = Path(tmpdir) / posixpath.basename(target_pkg)
            self._connection.fetch_file(target_pkg, str(local))
            return flat_pkg.payload_paths(local), flat_pkg.components(local)

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
