"""Controller-side helpers of the collection's action plugins: run POSIX sh on the target through the connection.

Action plugins use these instead of Python modules so that they work before the target has a Python 3 (a bare
High Sierra Mac has only /usr/bin/python 2.7, which ansible-core 2.19 modules cannot use): `plan` on a bare host
must still read the real state and say what would change.
"""

from __future__ import annotations

import shlex
from typing import Any

# LC_ALL=C so every tool prints the formats macos_parse expects; /usr/libexec holds PlistBuddy.
# sha256sum_of FILE prints `<hex>  FILE` like `shasum -a 256` (Perl's, on every macOS); where that cannot run it
# falls back to `openssl dgst -sha256 -r` (LibreSSL on macOS), whose `<hex> *FILE` has the digest first too.
ENV_PREFIX = (
    "LC_ALL=C; PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin:/usr/libexec; export LC_ALL PATH; "
    'sha256sum_of() { shasum -a 256 "$1" 2>/dev/null || openssl dgst -sha256 -r "$1"; }; '
)
_BEGIN = "@@egpu-begin "
_END = "@@egpu-end "


class TargetCommandError(Exception):
    """A command on the target failed; carries what fail_json-style results report."""

    def __init__(self, msg: str, cmd: str, rc: int, stdout: str = "", stderr: str = "") -> None:
        super().__init__(msg)
        self.msg, self.cmd, self.rc, self.stdout, self.stderr = msg, cmd, rc, stdout, stderr

    def result(self) -> dict[str, Any]:
        return {
            "failed": True,
            "msg": self.msg,
            "cmd": self.cmd,
            "rc": self.rc,
            "stdout": self.stdout,
            "stderr": self.stderr,
        }


def quote(value: str) -> str:
    return shlex.quote(str(value))


def run(action: Any, cmd: str, *, check_rc: bool = True, what: str = "", sudoable: bool = True) -> tuple[int, str, str]:
    """Run `cmd` under sh on the target, with become when the task has it. Raises TargetCommandError on rc != 0."""
    res = action._low_level_execute_command(ENV_PREFIX + cmd, sudoable=sudoable)
    rc = int(res.get("rc", 0) or 0)
    out = res.get("stdout", "") or ""
    err = res.get("stderr", "") or ""
    if check_rc and rc != 0:
        raise TargetCommandError(
            f"{what or 'command'} failed on the target (rc={rc}): {(err or out).strip()[-800:]}", cmd, rc, out, err
        )
    return rc, out, err


def sectioned(commands: dict[str, str]) -> str:
    """One sh script that runs every command and frames its stdout, so one round trip reads many facts.

    stderr is dropped (error texts like nvram's go there); each section keeps its exit status.
    """
    parts = []
    for name, cmd in commands.items():
        parts.append(f"echo '{_BEGIN}{name}'; ( {cmd} ) 2>/dev/null; echo \"{_END}{name} $?\"")
    return "\n".join(parts) + "\n"


def parse_sectioned(stdout: str) -> dict[str, tuple[int, str]]:
    """The inverse of `sectioned`: section name -> (exit status, its stdout)."""
    out: dict[str, tuple[int, str]] = {}
    name: str | None = None
    lines: list[str] = []
    for line in stdout.splitlines():
        if line.startswith(_BEGIN):
            name, lines = line[len(_BEGIN) :].strip(), []
        elif line.startswith(_END) and name is not None:
            rc_text = line[len(_END) :].strip().rpartition(" ")[2]
            out[name] = (int(rc_text) if rc_text.lstrip("-").isdigit() else 1, "\n".join(lines))
            name = None
        elif name is not None:
            lines.append(line)
    return out


def run_sections(action: Any, commands: dict[str, str]) -> dict[str, tuple[int, str]]:
    _, out, _ = run(action, sectioned(commands), check_rc=False, what="reading facts")
    return parse_sectioned(out)
