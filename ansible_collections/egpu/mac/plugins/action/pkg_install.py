"""egpu.mac.pkg_install: a macOS installer package present at a version, decided by its receipt.

Controller-side: reads the receipt with `pkgutil --pkg-info`, and only when it is missing or at another version
uploads the pkg, records in the journal what the payload will add or replace, every receipt it will write and the
NVRAM variables its scripts set (so rollback can undo it), and runs `installer -pkg X -target /`. Works without
Python on the target; check mode reports the change with a diff. A package shipped in a zip (`archive_member`) is
taken out of the zip on the controller, after the zip's digest is checked; `volume_check` reads the package's
Distribution volume-check against the Mac first and refuses with the reason before anything is uploaded.
A controller package is read once (flat_pkg.read); one already on the Mac (`remote_src`, e.g. in a mounted dmg)
is listed there and never copied back.
"""

from __future__ import annotations

import plistlib
import posixpath
import tempfile
from pathlib import Path
from typing import Any, ClassVar

from ansible_collections.egpu.mac.plugins.module_utils import flat_pkg, journal, transfers, volume_check
from ansible_collections.egpu.mac.plugins.module_utils.macos_parse import parse_nvram, parse_pkg_info
from ansible_collections.egpu.mac.plugins.module_utils.target_shell import TargetCommandError, quote, run
from ansible_collections.egpu.mac.plugins.module_utils.uploads import checked_sha256, space_or, target_name, upload
from ansible_collections.egpu.mac.plugins.plugin_utils.mac_action import MacAction
from egpu_setup.runner.failure_kinds import failure


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
        local, upload_sha256 = self._local_package(args, unzipped)
        package = self._describe(args, local)
        want = args["version"] or next((c.version for c in package.components if c.identifier == receipt), None)
        before = receipt_version(self, receipt)
        out = self._status(receipt, before, want)
        if not out["changed"]:
            return out
        if self.check_mode:
            out["msg"] = f"would install {receipt} {want or ''} (now {before or 'absent'})".replace("  ", " ")
            return out
        if args["volume_check"] and local is not None and package.distribution:
            self._volume_check(local.name, package.distribution, args["volume_check_fix"])
        journal.track(self, args["state_dir"], [args["work_dir"]], check_mode=False)
        target_pkg = self._stage(args, local, upload_sha256)
        installed_pkg = (
            self._without_installation_check(target_pkg, args["work_dir"])
            if args["drop_installation_check"]
            else target_pkg
        )
        out["tracked"] = self._journal_install(args, package)
        out.update(self._install(args, installed_pkg, {installed_pkg, target_pkg} - {args["remote_src"]}))
        self._check_receipt(receipt, want, out)
        return out

    def _local_package(self, args: dict[str, Any], unzipped: Path) -> tuple[Path | None, str | None]:
        """The controller's copy (checked against its digest, taken out of its zip), and the digest of what is sent."""
        if not args["src"]:
            return None, None
        local = Path(args["src"])
        if not local.is_file():
            raise OSError(f"{local} does not exist on the controller: fetch the artifact into the cache first")
        if args["sha256"]:
            checked_sha256(local, args["sha256"])  # a damaged cache entry stops here, before its payload is read
        if not args["archive_member"]:
            return local, args["sha256"]
        # The checked zip's package, on the controller only: the upload is checked against its own digest.
        return flat_pkg.extract_member(local, args["archive_member"], unzipped), None

    def _describe(self, args: dict[str, Any], local: Path | None) -> flat_pkg.FlatPackage:
        """Components, payload paths (and Distribution) of the package: read once here, or on the Mac for a pkg
        inside a mounted dmg (nothing to read in check mode, where the dmg is not mounted)."""
        if local is not None:
            return flat_pkg.read(local)
        if self.check_mode:
            return flat_pkg.FlatPackage()
        remote = args["remote_src"]
        listing = posixpath.join(args["work_dir"], "listing-" + posixpath.basename(remote))
        _, printed, _ = run(
            self,
            flat_pkg.LISTING_SCRIPT.format(dir=quote(listing), pkg=quote(remote)),
            what=f"listing the components and payload of {remote}",
        )
        return flat_pkg.from_listing(printed, remote)

    def _status(self, receipt: str, before: str | None, want: str | None) -> dict[str, Any]:
        changed = before is None or (want is not None and before != want)
        out: dict[str, Any] = {"receipt": receipt, "before": before, "after": want or before, "changed": changed}
        if self._task.diff:
            out["diff"] = {
                "before_header": f"receipt {receipt}",
                "after_header": f"receipt {receipt}",
                "before": f"{receipt}: {before or 'absent'}\n",
                "after": f"{receipt}: {want or 'installed'}\n",
            }
        return out

    def _stage(self, args: dict[str, Any], local: Path | None, upload_sha256: str | None) -> str:
        """The package's path on the Mac: uploaded into the work dir, or where it already is (a mounted dmg)."""
        if local is None:
            return str(args["remote_src"])
        target_pkg = posixpath.join(args["work_dir"], args["filename"] or local.name)
        upload(self, local, target_pkg, upload_sha256)
        return target_pkg

    def _journal_install(self, args: dict[str, Any], package: flat_pkg.FlatPackage) -> dict[str, list[str]]:
        """Records what the install adds or replaces, the receipts it writes and the NVRAM its scripts set."""
        state_dir = args["state_dir"]
        ids = list(dict.fromkeys([args["receipt"], *(c.identifier for c in package.components if c.identifier)]))
        receipts = [f for rid in ids for f in receipt_files(rid)]
        tracked = journal.track(
            self, state_dir, [*package.paths, *receipts, INSTALL_LOG], check_mode=False, trees=False
        )
        if args["track"]:
            tracked_extra = journal.track(self, state_dir, args["track"], check_mode=False)
            tracked = {key: tracked[key] + tracked_extra[key] for key in ("added", "backed_up", "trees")}
        self._record_receipts_and_nvram(state_dir, ids, args["track_nvram"])
        return tracked

    def _install(self, args: dict[str, Any], installed_pkg: str, leftovers: set[str]) -> dict[str, Any]:
        cmd = f"installer -pkg {quote(installed_pkg)} -target /" + (
            " -allowUntrusted" if args["allow_untrusted"] else ""
        )
        rc, stdout, stderr = run(self, cmd, check_rc=False)
        if rc != 0:
            raise self._install_failure(args["receipt"], installed_pkg, stdout, stderr)
        # The uploaded (or patched) copy is not needed once installed; the controller's cache keeps the original.
        run(self, "rm -f " + " ".join(quote(p) for p in sorted(leftovers)), check_rc=False)
        return {"cmd": cmd, "stdout": stdout}

    def _install_failure(self, receipt: str, pkg: str, stdout: str, stderr: str) -> Exception:
        """A full disk when the Mac's free space is below the package's size, else installer's own words and its log."""
        _, size, _ = run(self, f"wc -c < {quote(pkg)}", check_rc=False)
        need = int(size.split()[0]) if size.split() and size.split()[0].isdigit() else 0
        return space_or(self, receipt, need, lambda: failure(
            "installer", host=target_name(self), package=receipt, detail=(stderr or stdout).strip()[-800:],
            log=INSTALL_LOG))  # fmt: skip

    def _check_receipt(self, receipt: str, want: str | None, out: dict[str, Any]) -> None:
        after = receipt_version(self, receipt)
        out["after"] = after
        if after is None or (want is not None and after != want):
            raise TargetCommandError(
                f"installer finished but the receipt {receipt} says {after or 'absent'}, expected {want}: "
                "the package is not the one the profile names",
                out["cmd"],
                1,
                out["stdout"],
            )

    def _volume_check(self, name: str, distribution: str, fix: str) -> None:
        """Refuse, before Installer does, a package whose Distribution volume-check this Mac does not pass."""
        from ansible_collections.egpu.mac.plugins.action.mac_facts import SYSTEM_VERSION, parse_files, plist_value

        req = volume_check.parse(distribution)
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
                f"installer would refuse {name} on this Mac: its Distribution's volume-check fails: {reason}"
                f"{detail}. {fix}".rstrip(),
                f"volume-check of {name}",
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
            transfers.fetch(self, dist_remote, local)
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
