"""egpu.mac.target_tools: the egpu-setup target tools on a Mac, without Python modules (raw-level only).

A virtual environment (`python3 -m venv --without-pip`) whose site-packages hold a `.pth` line pointing at a copy
of the pure-Python code that runs on a Mac, taken from the controller (egpu_setup.mac_bundle.MAC_BUNDLE, the one
list of it), pushed as one deterministic tar.gz. Custom modules that need egpu_setup (Mach-O references, verify)
run with the venv's python, so the logic exists once. The bundle's SHA-256 is kept in a stamp file: a new
egpu-setup version re-installs it, the same version changes nothing.
"""

from __future__ import annotations

import hashlib
import posixpath
import tempfile
from pathlib import Path
from typing import Any

from ansible_collections.egpu.mac.plugins.module_utils import journal
from ansible_collections.egpu.mac.plugins.module_utils.target_shell import quote, run
from ansible_collections.egpu.mac.plugins.module_utils.uploads import upload
from ansible_collections.egpu.mac.plugins.plugin_utils.mac_action import MacAction

STAMP = "lib/.bundle-sha256"
PTH = "egpu-setup-tools.pth"


class ActionModule(MacAction):
    def act(self, result: dict[str, Any], args: dict[str, Any], task_vars: dict[str, Any]) -> None:
        from egpu_setup.mac_bundle import MAC_BUNDLE, build_bundle

        bundle = build_bundle(args["packages"] or MAC_BUNDLE)
        digest = hashlib.sha256(bundle).hexdigest()
        base = args["dir"]
        venv = posixpath.join(base, "venv")
        # One round trip: the stamped digest, and whether the venv's python starts (it may be a broken copy).
        _, out, _ = run(
            self,
            f"cat {quote(posixpath.join(base, STAMP))} 2>/dev/null; "
            f"{quote(venv)}/bin/python3 -c 'import encodings' 2>/dev/null && echo venv-ok; true",
        )
        venv_ok = "venv-ok" in out.split()
        out = "\n".join(w for w in out.split() if w != "venv-ok")
        before = out.strip() or None
        result.update(bundle_sha256=digest, before_sha256=before, venv=venv)
        self.add_diff(result, f"tools bundle: {before or 'absent'}\n", f"tools bundle: {digest}\n")
        self.settle(result, before != digest or not venv_ok, lambda: self.install(args, bundle, digest, venv_ok))

    def install(self, args: dict[str, Any], bundle: bytes, digest: str, venv_ok: bool) -> None:
        base = args["dir"]
        venv, lib = posixpath.join(base, "venv"), posixpath.join(base, "lib")
        journal.track(self, args["state_dir"], [base], check_mode=False)
        if not venv_ok:
            # Create it from the interpreter's real path (python.org's framework bin/python3.11, behind the
            # /usr/local/bin link): pyvenv.cfg's `home` must be the directory whose ../lib holds the stdlib.
            real = f"\"$({quote(args['python'])} -c 'import os, sys; print(os.path.realpath(sys.executable))')\""
            run(self, f"{real} -m venv --clear --without-pip {quote(venv)}", what="creating the venv")
        with tempfile.TemporaryDirectory(prefix="egpu-tools-") as tmpdir:
            local = Path(tmpdir) / "egpu-setup-tools.tar.gz"
            local.write_bytes(bundle)
            remote = posixpath.join(base, "egpu-setup-tools.tar.gz")
            upload(self, local, remote, digest)
        site = f'site=$({quote(venv)}/bin/python3 -c "import sysconfig; print(sysconfig.get_paths()[\\"purelib\\"])")'
        run(
            self,
            f"set -e; rm -rf {quote(lib)}; mkdir -p {quote(lib)}; tar -xzf {quote(remote)} -C {quote(lib)}; "
            f"rm -f {quote(remote)}; {site}; printf '%s\\n' {quote(lib)} > \"$site\"/{PTH}; "
            f"printf '%s\\n' {digest} > {quote(posixpath.join(base, STAMP))}",
            what="installing the tools bundle",
        )
        run(self, f"{quote(venv)}/bin/python3 -c 'import egpu_setup, macholib'", what="checking the tools")
