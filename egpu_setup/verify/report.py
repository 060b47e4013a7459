"""The report of one run: its JSON document (schema in report.schema.json), outcome and exit code."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from egpu_setup import __version__
from egpu_setup.errors import ExitCode
from egpu_setup.verify.backend import HostInfo
from egpu_setup.verify.expectations import Expectations
from egpu_setup.verify.result import Check, Status
from egpu_setup.verify.state import Options

# Bumped when the document's shape changes incompatibly (the gpu_verify role reads it); the schema pins it.
SCHEMA_VERSION = 1
KIND = "verify"
SCHEMA_PATH = Path(__file__).with_name("report.schema.json")


@dataclass
class Report:
    host: HostInfo
    expectations: Expectations
    options: Options
    checks: list[Check]
    no_gpu: str | None
    started: str
    devices: list[dict[str, Any]] = field(default_factory=list)

    def count(self, status: Status) -> int:
        return sum(1 for c in self.checks if c.status is status)

    @property
    def outcome(self) -> str:
        """`no_gpu` when there is no NVIDIA GPU or driver and --cpu-ok was not given; else "fail" or "pass"."""
        if self.no_gpu is not None and not self.options.cpu_ok:
            return "no_gpu"
        return "fail" if self.count(Status.FAIL) else "pass"

    @property
    def exit_code(self) -> ExitCode:
        return {"no_gpu": ExitCode.NO_GPU, "fail": ExitCode.CHECK_FAILED, "pass": ExitCode.OK}[self.outcome]

    @property
    def device(self) -> str:
        """Where the work ran: the GPU, the CPU (--cpu-ok without a GPU), or nowhere (rehearsal, no GPU)."""
        if self.host.rehearsal or (self.no_gpu is not None and not self.options.cpu_ok):
            return "none"
        return "cpu" if self.no_gpu is not None else "gpu"

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": KIND,
            "tool_version": __version__,
            "started": self.started,
            "host": asdict(self.host),
            "options": asdict(self.options),
            "device": self.device,
            "no_gpu": self.no_gpu,
            "devices": self.devices,
            "expectations": self.expectations.as_dict(),
            "summary": {
                "outcome": self.outcome,
                "exit_code": int(self.exit_code),
                "passed": self.count(Status.PASS),
                "failed": self.count(Status.FAIL),
                "skipped": self.count(Status.SKIP),
            },
            "checks": [c.to_dict() for c in self.checks],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"
