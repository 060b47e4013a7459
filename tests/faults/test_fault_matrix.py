"""The fault matrix: every fault the lab can inject, at each role it can hit, told by one clear message (exit 1, no
traceback); the re-run with the faults cleared converges, the next one changes nothing, and rollback gives back
each Mac as it was before provisioning (digest of its tree and NVRAM).

Chained to stay within minutes: three hosts, one fault kind each (mac1 installer, mac2 transfer, mac3 a disk that
fills mid-run), and every run moves each fault on to the next role. The lab's switches count events (installer
runs, sftp sessions: machine.Faults), so the Nth event of a run is aimed from what each role does on a fresh Mac.
Nothing here assumes those counts: a fourth Mac, the pacer, is provisioned whole in the first run, and the lab's
journal of counted events (machine/faults.log) set against the run's task events tells how many events each role
had on it. A role that failed at its first event redoes all of them in the next run and a converged role has none,
so the next role's first event is the (events of the failed role + 1)th; an aim that misses its role fails the
test with each role's events of that run. mac1 also takes the restart that never comes back (after cuda_driver)
and a power loss after its installer chain.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.lab]

HOSTS = ("mac1", "mac2", "mac3")
PACER = "mac4"  # no fault: its first run measures each role's events on a fresh Mac
CHAINED = ":".join(HOSTS)  # --limit of the runs after the first
ROLES = ("python_bootstrap", "nvidia_webdriver", "egpu_support", "cuda_driver", "cuda_toolkit", "xcode_clt", "cudnn",
         "mxnet")  # fmt: skip
BEFORE = "(before the roles)"  # events of a run before its first role's first task
Counts = dict[str, Counter[str]]  # role -> {"install": n, "download": n}


def set_faults(lab, name: str, **faults) -> None:
    """Replace the host's fault switches (and their counters) with these."""
    from egpu_lab.machine import Faults

    with lab.machine(name).edit() as state:
        state.faults = Faults(**faults)


def first_failure(report, name: str) -> dict:
    failures = report["hosts"][name]["failures"]
    assert len(failures) == 1, failures  # one failure, told once
    return failures[0]


def role_starts(report: dict[str, Any], name: str) -> list[tuple[float, str]]:
    """(time, role) of each task of ROLES the run started on host `name` (its job events); tasks of other roles
    (egpu_common's restart, included by cuda_driver) count to the role that included them, as on a fresh Mac."""
    starts = []
    for path in (Path(report["run_dir"]) / "artifacts/ansible/job_events").glob("*.json"):
        event = json.loads(path.read_text())
        data = event.get("event_data", {})
        if event.get("event") == "runner_on_start" and data.get("host") == name and data.get("role") in ROLES:
            starts.append((datetime.fromisoformat(event["created"]).timestamp(), data["role"]))
    return sorted(starts)


def events_by_role(lab, report: dict[str, Any], name: str, since: float) -> Counts:
    """The lab's counted events on host `name` since `since`, by the role whose task was running."""
    starts = role_starts(report, name)
    counts: Counts = {}
    log = lab.host_dir(name) / "machine/faults.log"
    for line in log.read_text().splitlines() if log.exists() else []:
        stamp, kind, _ = line.split()
        if float(stamp) < since or kind == "command":
            continue
        role = next((role for started, role in reversed(starts) if started <= float(stamp)), BEFORE)
        counts.setdefault(role, Counter())[kind] += 1
    return counts


def chain(table: Counts, kinds: tuple[str, ...]) -> list[tuple[int, str]]:
    """(N, role) for each run of a chain over the roles with events of `kinds` on a fresh Mac: the Nth such event
    of the run is the first of that role (after the events before the roles and the failed role's redo)."""

    def of(role: str) -> int:
        return sum(table.get(role, Counter())[kind] for kind in kinds)

    roles = [role for role in ROLES if of(role)]
    return [(of(BEFORE) + (of(roles[i - 1]) if i else 0) + 1, role) for i, role in enumerate(roles)]


def mac1_steps(table: Counts) -> list[dict[str, Any]]:
    """mac1's faults, a run each: the installer chain, the restart that hangs where the chain passes cuda_driver,
    and the power loss at its end; `expect` is (role or None for any, failure kind)."""
    steps: list[dict[str, Any]] = []
    for n, role in chain(table, ("install",)):
        # CUDAMacOSXInstaller runs as a command: its own text, no kind
        steps.append({"fail_install": n, "expect": (role, None if role == "cuda_toolkit" else "installer")})
        if role == "cuda_driver":
            steps.append({"reboot_hangs": True, "expect": ("egpu_common", "reboot_hang")})
    # after the restart, cuda_driver is done: the next role's install is the run's first
    after_hang = next(i for i, step in enumerate(steps) if "reboot_hangs" in step) + 1
    steps[after_hang]["fail_install"] = table.get(BEFORE, Counter())["install"] + 1
    steps.append({"lose_after": 40, "expect": (None, "host_lost")})
    return steps


def check_mac1(failure: dict, expect: tuple[str | None, str | None]) -> None:
    role, kind = expect
    assert role is None or failure["role"] == role, failure
    assert failure["kind"] == kind, failure
    if kind == "installer":
        assert failure["message"].startswith("the installer failed on mac1 installing "), failure
        assert "/private/var/log/install.log" in failure["fix"]
    elif kind == "reboot_hang":
        assert re.match(r"mac1 did not come back after \d+ s from the restart", failure["message"]), failure
        assert "FileVault unlock? kernel panic?" in failure["fix"]
        assert "ssh" not in failure["message"].lower()
    elif kind == "host_lost":
        assert failure["message"].startswith("mac1 stopped answering during "), failure
        assert "converges" in failure["fix"]


def check_aim(lab, report, name: str, since: float, aim: tuple[int, str], table: Counts) -> dict:
    """The host's one failure, in the role its fault was aimed at; else say where the events of this run fell."""
    failure = first_failure(report, name)
    n, role = aim
    if failure["role"] != role:
        pytest.fail(f"{name}'s fault at event {n}, aimed at the first of {role} from {PACER}'s events per role "
                    f"{table}, fell in {failure['role']}: this run's events per role on {name}: "
                    f"{events_by_role(lab, report, name, since)}")  # fmt: skip
    return failure


def run_with_faults(lab, mac1: dict[str, Any] | None, download: tuple[int, str] | None,
                    fill: tuple[int, str] | None, *args: str) -> tuple[dict[str, Any], float]:  # fmt: skip
    """One provision run with these faults (None: that host has none left); its report and start time."""
    set_faults(lab, "mac1", **{k: v for k, v in (mac1 or {}).items() if k != "expect"})
    set_faults(lab, "mac2", **({"fail_download": download[0]} if download else {}))
    set_faults(lab, "mac3", **({"disk_full_at": fill[0]} if fill else {}))
    since = time.time()
    code, report, err, _ = lab.run("provision", *args)
    assert code == 1, err
    assert "Traceback" not in err
    return report, since


def check_run(lab, report, since, table, mac1, download, fill) -> None:
    """Each host's failure as its fault says (a host whose chain is over has none)."""
    for name, step in (("mac1", mac1), ("mac2", download), ("mac3", fill)):
        if step is None:
            assert report["hosts"][name]["failures"] == [], (name, report["hosts"][name]["failures"])
    if mac1 and "fail_install" in mac1:
        check_aim(lab, report, "mac1", since, (mac1["fail_install"], mac1["expect"][0]), table)
    if mac1:
        check_mac1(first_failure(report, "mac1"), mac1["expect"])
    if download:
        transfer = check_aim(lab, report, "mac2", since, download, table)
        assert transfer["kind"] == "transfer", transfer
        assert re.match(r"copying \S+ to mac2 failed: ", transfer["message"]), transfer
        assert "resumes" in transfer["fix"]
    if fill:
        full = check_aim(lab, report, "mac3", since, fill, table)
        assert full["kind"] == "disk_full", full
        assert re.match(r"the disk of mac3 is full: 0 bytes free, \S+ needs \d+", full["message"]), full
        assert "free space" in full["fix"]


def test_each_fault_at_each_role_fails_clearly_then_converges_and_rolls_back(tmp_path, make_lab, digest_of):
    started = time.monotonic()
    names = (*HOSTS, PACER)
    with make_lab(tmp_path, hosts=len(names)) as lab:
        bare = {name: digest_of(lab.host_dir(name)) for name in names}
        (lab.dir / "host_vars").mkdir(exist_ok=True)
        (lab.dir / "host_vars/mac1.yml").write_text("egpu_common_reboot_timeout: 3\n")

        # The first run aims every fault at the first event of its kind; the pacer, faultless, goes through.
        first = {"fail_install": 1, "expect": ("python_bootstrap", "installer")}
        report, since = run_with_faults(lab, first, (1, "python_bootstrap"), (1, "python_bootstrap"))
        assert report["hosts"][PACER]["failures"] == [], report["hosts"][PACER]["failures"]
        table = events_by_role(lab, report, PACER, since)
        print(f"events per role on a fresh Mac: {table}")
        mac1, downloads, disk = mac1_steps(table), chain(table, ("download",)), chain(table, ("download", "install"))
        assert [step["expect"][0] for step in mac1 if "fail_install" in step][:1] == ["python_bootstrap"], table
        assert [role for _, role in downloads][:1] == [role for _, role in disk][:1] == ["python_bootstrap"], table
        check_run(lab, report, since, table, mac1[0], downloads[0], disk[0])

        for i in range(1, max(len(mac1), len(downloads), len(disk))):
            steps = [steps[i] if i < len(steps) else None for steps in (mac1, downloads, disk)]
            report, since = run_with_faults(lab, *steps, "--limit", CHAINED)
            check_run(lab, report, since, table, *steps)

        for name in HOSTS:
            set_faults(lab, name)
        code, report, err, _ = lab.run("provision")
        assert code == 0, (err, report)
        code, report, err, _ = lab.run("provision")
        assert code == 0, err
        assert {name: report["hosts"][name]["changed"] for name in names} == dict.fromkeys(names, 0)

        code, report, err, _ = lab.run("rollback")
        assert code == 0, err
        for name in names:
            assert digest_of(lab.host_dir(name)) == bare[name], name
        print(f"fault matrix: {time.monotonic() - started:.0f} s; runs: {lab.runs}")
