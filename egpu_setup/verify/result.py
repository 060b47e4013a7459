"""The outcome of one check: name, status, why, and what it measured."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


# (str, Enum) rather than StrEnum: bench/verify_gpu.sh may run this under the Python of a GPU box older than 3.11.
class Status(str, Enum):  # noqa: UP042
    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"


@dataclass
class Check:
    """One line of the report. `reason` says why it failed or was skipped, or summarises a pass."""

    name: str
    status: Status
    reason: str = ""
    measurements: dict[str, Any] = field(default_factory=dict)
    expected: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status.value,
            "reason": self.reason,
            "measurements": self.measurements,
            "expected": self.expected,
            "duration_s": round(self.duration_s, 3),
        }


def passed(name: str, reason: str = "", **measurements: Any) -> Check:
    return Check(name, Status.PASS, reason, dict(measurements))


def failed(name: str, reason: str, **measurements: Any) -> Check:
    return Check(name, Status.FAIL, reason, dict(measurements))


def skipped(name: str, reason: str, **measurements: Any) -> Check:
    return Check(name, Status.SKIP, reason, dict(measurements))
