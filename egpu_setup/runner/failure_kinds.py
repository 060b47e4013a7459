"""The one mapping from a failure whose cause lies outside the task to its message and its fix.

A transfer that broke, an installer that failed, a full disk, a restart that never came back, a Mac that stopped
answering: each is told once, naming the cause and what to do, the same way in the live view, the summary and
`report.json` (`failures[].kind` and `.fix`). The action plugins raise `failure(kind, ...)` where they know the
artifact or package (uploads, egpu.mac.pkg_install); the runner (run_state) names the kinds that only Ansible's
result shows (the reboot action's timeout, an unreachable host).

Imported by the collection's action plugins on the controller: standard library and egpu_setup.errors only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from egpu_setup.errors import EgpuError, ExitCode

# installer(8)'s own log on the Mac, where it says why an install failed.
INSTALL_LOG = "/private/var/log/install.log"


@dataclass(frozen=True)
class FailureKind:
    message: str  # str.format templates over the fields the raiser gives
    fix: str


KINDS: dict[str, FailureKind] = {
    "transfer": FailureKind(
        "copying {artifact} to {host} failed: {detail}",
        "fix: check the connection to {host}, then run again: the run resumes where it stopped (what is already on "
        "the Mac stays and is not copied again)",
    ),
    "installer": FailureKind(
        "the installer failed on {host} installing {package}: {detail}",
        "fix: read the installer's log {log} on {host} for the cause, then run again",
    ),
    "disk_full": FailureKind(
        "the disk of {host} is full: {free} bytes free, {what} needs {need}",
        "fix: free space on {host}'s startup disk, then run again",
    ),
    "reboot_hang": FailureKind(
        "{host} did not come back after {seconds} s from the restart that loads the drivers",
        "fix: look at its screen (FileVault unlock? kernel panic?), then run again once it is up: the run goes on "
        "from the restart",
    ),
    "host_lost": FailureKind(
        "{host} stopped answering during {task}: {detail}",
        "fix: once {host} is back (power, network), run again: provisioning converges from where it stopped",
    ),
}


class KindFailure(EgpuError):
    """A task failed for one of KINDS; `kind` travels in the task's result (`failure_kind`)."""

    def __init__(self, kind: str, message: str, fix: str) -> None:
        super().__init__(message, fix=fix.removeprefix("fix: "), exit_code=ExitCode.CHECK_FAILED)
        self.kind = kind


def describe(kind: str, **fields: Any) -> tuple[str, str]:
    """The message and the fix line ("fix: ...") of a failure of `kind`."""
    entry = KINDS[kind]
    return entry.message.format(**fields), entry.fix.format(**fields)


def failure(kind: str, **fields: Any) -> KindFailure:
    """The error an action plugin raises for a failure of `kind`."""
    message, fix = describe(kind, **fields)
    return KindFailure(kind, message, fix)
