"""Per-host progress of a run, built from ansible-runner's events on the main thread."""

from __future__ import annotations

import difflib
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from egpu_setup.runner import transfers

# Events that end one task on one host (item events are parts of a task and are not counted again).
RESULT_EVENTS = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_skipped": "skipped",
    "runner_on_unreachable": "unreachable",
}

# What to do when Ansible cannot reach a host: nothing on it was touched, the connection settings are the suspects.
UNREACHABLE_FIX = (
    "fix: check that the Mac is on and reachable as the inventory says (ansible_host, ansible_port, ansible_user): "
    "`ssh USER@HOST true` must work without a password prompt (an SSH key); then run again"
)


# sudo asked for a password the run did not give (ansible's connections: "Missing sudo password"; sudo itself:
# "sudo: a password is required"), or refused the one given ("Incorrect sudo password"; sudo's log line
# "incorrect password attempt").
MISSING_BECOME_PASSWORD = ("Missing sudo password", "sudo: a password is required")
INCORRECT_BECOME_PASSWORD = ("Incorrect sudo password", "incorrect password attempt")
MISSING_BECOME_PASSWORD_FIX = (
    "fix: the Mac's sudo asks for the account password (its sudoers has no NOPASSWD): run again with -K "
    "(--ask-become-pass) and type the admin account's password, or set ansible_become_password from an Ansible vault; "
    "nothing after this task ran on that Mac"
)
INCORRECT_BECOME_PASSWORD_FIX = (
    "fix: sudo on the Mac refused the password given: run again with -K (--ask-become-pass) and the admin account's "
    "password (the one that logs in on that Mac)"
)


def remedy(message: str) -> str | None:
    """The fix line for failures whose cause is outside the task: sudo's password."""
    if any(text in message for text in INCORRECT_BECOME_PASSWORD):
        return INCORRECT_BECOME_PASSWORD_FIX
    if any(text in message for text in MISSING_BECOME_PASSWORD):
        return MISSING_BECOME_PASSWORD_FIX
    return None


# Ansible's check of a role's meta/argument_specs.yml when the role starts: its refusal is bad input (exit 2).
ARGUMENT_SPEC_ACTIONS = ("validate_argument_spec", "ansible.builtin.validate_argument_spec")


@dataclass
class Failure:
    task: str
    role: str | None
    message: str  # the reason, then the fix line when there is one
    kind: str | None = None  # a key of failure_kinds.KINDS when the cause lies outside the task
    fix: str | None = None  # the remedy alone ("fix: ...")
    # what an input check (egpu.mac.inventory_check, resolve_plan) put in its result: 2 for bad input
    exit_code: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "role": self.role, "message": self.message, "kind": self.kind, "fix": self.fix}


@dataclass
class Change:
    """A task that changed the host (or, in check mode, would change it), with its diff when the module gave one."""

    task: str
    role: str | None
    action: str | None
    diff: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "role": self.role, "action": self.action, "diff": self.diff}


@dataclass
class HostState:
    name: str
    role: str | None = None
    task: str | None = None
    ok: int = 0
    changed: int = 0
    failed: int = 0
    skipped: int = 0
    unreachable: int = 0
    ignored: int = 0
    rescued: int = 0
    busy: bool = False  # another run holds the Mac's run lock (egpu.mac.run_lock's `busy`): exit 4
    batch: int = 0  # the serial batch (1, 2, ...) the host ran in
    # the playbooks' RUN_INCOMPLETE_TASK failed on the host: not a step of its own, so not counted in `failed`
    incomplete: int = 0
    stopped: bool = False  # Ansible ended its run (max_fail_percentage) with no failure of its own
    done: int = 0  # tasks finished on this host, for the progress bar
    answered: bool = False  # a task that reaches the host succeeded: an unreachable one later means it was lost
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    failures: list[Failure] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    sent: dict[str, int] = field(default_factory=dict)  # file name -> bytes the plugins copied to the Mac
    received: dict[str, int] = field(default_factory=dict)  # file name -> bytes brought back from it

    @property
    def duration_s(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    @property
    def status(self) -> str:
        if self.unreachable:
            return "unreachable"
        if self.failed:
            return "failed"
        return "stopped" if self.stopped else "ok"


# The last task of provision.yml and rollback.yml (in the `always` of their block): it fails on a Mac whose run
# did not complete, because Ansible's max_fail_percentage does not count a failure inside a block that has an
# `always` (strategy/__init__.py counts a failed host only once its block is done). Its failure is a count, not a
# step: a Mac with a failure of its own keeps that one; one without was stopped by the failures of its batch.
RUN_INCOMPLETE_TASK = "Count a Mac whose run did not complete toward max_fail_percentage"

VERIFY_FACT = "gpu_verify_result"  # the fact gpu_verify sets with the Mac's report: it comes in the event stream


@dataclass
class RunState:
    """Everything the views and the report need, updated one event at a time."""

    hosts: dict[str, HostState] = field(default_factory=dict)
    play: str | None = None
    # host -> the tasks Ansible lists for it (task_list.py), once known: a lower bound, as a dynamic include is
    # listed as one task; the view's total grows past it with the results
    tasks: dict[str, int] | None = None
    stats: dict[str, Any] | None = None  # the playbook_on_stats event data: Ansible's own final counts
    # host -> the verification report gpu_verify handed back in its task's result (fact gpu_verify_result)
    verify_reports: dict[str, dict[str, Any]] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    targets: list[str] = field(default_factory=list)  # the hosts the run targets, in the inventory's order
    batches_total: int = 1  # serial batches the targets make (batches.batch_count)
    batches_run: int = 0  # batches started: Ansible starts the play once per batch (playbook_on_play_start)

    def host(self, name: str) -> HostState:
        if name not in self.hosts:
            self.hosts[name] = HostState(name, batch=self.batches_run)
        return self.hosts[name]

    def not_run(self) -> list[str]:
        """Targeted hosts no task ran on: their batch never started (the run stopped before it)."""
        return [name for name in self.targets if name not in self.hosts]

    def apply(self, event: dict[str, Any]) -> None:
        kind = event.get("event", "")
        data = event.get("event_data") or {}
        if kind == "playbook_on_play_start":
            self.play = data.get("name")
            self.batches_run += 1
        elif kind == "runner_on_start" and data.get("host"):
            host = self.host(data["host"])
            host.role, host.task = data.get("role"), data.get("task")
        elif kind in RESULT_EVENTS and data.get("host"):
            self._result(RESULT_EVENTS[kind], data, str(event.get("stdout") or ""))
        elif kind == "playbook_on_stats":
            self.stats = data
            self._final_counts(data)

    def _result(self, status: str, data: dict[str, Any], stdout: str = "") -> None:
        host = self.host(data["host"])
        res = data.get("res") or {}
        if status == "failed" and data.get("task") == RUN_INCOMPLETE_TASK:
            host.incomplete += 1
            host.stopped = not (host.failures or host.failed or host.unreachable)
            return
        if "censored" in res:
            # no_log: the result is hidden (it may hold a password), but whether the task changed the host is not a
            # secret; Ansible still prints it ("changed: [mac1]"), and the report must list the change.
            res = {"changed": stdout.lstrip().startswith("changed:"), "msg": res["censored"]}
        host.role, host.task = data.get("role"), data.get("task")
        transfers.add_up(host.sent, res, transfers.SENT)  # a failed task's copies were sent all the same
        transfers.add_up(host.received, res, transfers.RECEIVED)
        host.done += 1
        host.finished = time.monotonic()
        task = data.get("task") or ""
        if status == "ok":
            host.ok += 1
            host.answered = host.answered or data.get("task_action") not in CONTROLLER_ACTIONS
            report = (res.get("ansible_facts") or {}).get(VERIFY_FACT)
            if isinstance(report, dict):
                self.verify_reports[host.name] = report
            if res.get("changed"):
                host.changed += 1
                host.changes.append(Change(task, data.get("role"), data.get("task_action"), render_diff(res)))
        elif status == "failed":
            if data.get("ignore_errors"):
                host.ignored += 1
            else:
                host.failed += 1
                host.busy = host.busy or bool(res.get("busy"))
                self._add_failure(host, data, res, answered=True)
        elif status == "skipped":
            host.skipped += 1
        else:
            host.unreachable += 1
            # a host that answered earlier in the run was lost, not misconfigured (its key, user, port)
            self._add_failure(host, data, res, answered=host.answered, unreachable=True)

    def _add_failure(
        self, host: HostState, data: dict[str, Any], res: dict[str, Any], *, answered: bool, unreachable: bool = False
    ) -> None:
        """One failure per task, told the way failure_kinds says for a cause outside the task."""
        task = data.get("task") or ""
        failure = classify(host.name, data, res, answered=answered, unreachable=unreachable)
        failure.exit_code = input_exit_code(data, res)
        if host.failures and host.failures[-1].task == task and failure.kind and host.failures[-1].kind == failure.kind:
            return  # the reboot action's timeout and the unreachable host after it are one failure
        if unreachable and host.failures and host.failures[-1].kind in GONE_KINDS:
            return  # a task after the host was gone (the run lock's release) meets it gone: the same failure
        host.failures.append(failure)

    def _final_counts(self, stats: dict[str, Any]) -> None:
        """Ansible's own totals replace the counts seen on the way (they also count handlers and rescues)."""
        names = set()
        for key in ("ok", "changed", "failures", "dark", "skipped", "ignored", "rescued", "processed"):
            names.update((stats.get(key) or {}).keys())
        for name in names:
            host = self.host(name)
            host.ok = int((stats.get("ok") or {}).get(name, 0))
            host.changed = int((stats.get("changed") or {}).get(name, 0))
            host.failed = max(int((stats.get("failures") or {}).get(name, 0)) - host.incomplete, 0)
            host.unreachable = int((stats.get("dark") or {}).get(name, 0))
            host.skipped = int((stats.get("skipped") or {}).get(name, 0))
            host.ignored = int((stats.get("ignored") or {}).get(name, 0))
            host.rescued = int((stats.get("rescued") or {}).get(name, 0))


# A connection's put_file that failed: the sandbox's "failed to transfer SRC to DEST on HOST: why", ssh's
# "failed to transfer file to SRC DEST:".
TRANSFER_FAILED = re.compile(r"failed to transfer (?:file to )?(\S+) (?:to )?(\S+)")
# Actions that run on the controller alone: their success says nothing of whether the Mac answers.
CONTROLLER_ACTIONS = (
    "egpu.mac.inventory_check", "egpu.mac.resolve_plan", "ansible.builtin.validate_argument_spec",
    "validate_argument_spec", "ansible.builtin.set_fact", "set_fact", "ansible.builtin.assert", "assert",
    "ansible.builtin.debug", "debug", "ansible.builtin.meta", "meta",
)  # fmt: skip
# Failures after which the host answers nothing more in this run.
GONE_KINDS = ("reboot_hang", "host_lost")
# The actions whose failure means the Mac did not come back from its restart.
REBOOT_ACTIONS = ("ansible.builtin.reboot", "reboot")


def classify(name: str, data: dict[str, Any], res: dict[str, Any], *, answered: bool, unreachable: bool) -> Failure:
    """The failure of one task result: a kind from failure_kinds where the cause lies outside the task (the action
    plugins name theirs in `failure_kind`), otherwise Ansible's reason with the sudo or connection remedy."""
    from egpu_setup.runner import failure_kinds

    task, role = data.get("task") or "", data.get("role")
    message = failure_message(res)
    kind = res.get("failure_kind") if res.get("failure_kind") in failure_kinds.KINDS else None
    if kind:
        fix = "fix: " + str(res.get("fix") or "")
        return Failure(task, role, message if fix in message else f"{message}\n{fix}", kind, fix)
    if data.get("task_action") in REBOOT_ACTIONS:
        # How long the reboot action waited: its timeout when it timed out, else the task's own duration (a
        # connection that refused at once); Ansible's own text would repeat the connection's advice.
        timeout = re.search(r"timeout=(\d+)", message)
        waited = timeout.group(1) if timeout else round(float(res.get("elapsed") or data.get("duration") or 0))
        text, fix = failure_kinds.describe("reboot_hang", host=name, seconds=waited)
        return Failure(task, role, f"{text}\n{fix}", "reboot_hang", fix)
    transfer = TRANSFER_FAILED.search(message)
    if transfer and not unreachable:  # a file Ansible itself copies (a module, a template's result)
        artifact = transfer.group(2).rstrip(":").rpartition("/")[2]
        text, fix = failure_kinds.describe("transfer", artifact=artifact, host=name, detail=message.splitlines()[0])
        return Failure(task, role, f"{text}\n{fix}", "transfer", fix)
    if unreachable and answered:
        where = f"{role} : {task}" if role else task
        text, fix = failure_kinds.describe("host_lost", host=name, task=where, detail=_reason(message))
        return Failure(task, role, f"{text}\n{fix}", "host_lost", fix)
    fix = UNREACHABLE_FIX if unreachable else remedy(message)
    return Failure(task, role, message + (f"\n{fix}" if fix else ""), None, fix)


def input_exit_code(data: dict[str, Any], res: dict[str, Any]) -> int | None:
    """2 where the task refused the user's input: an input check (egpu.mac.inventory_check, resolve_plan) says so
    in `exit_code`; a role's own argument spec refusing a variable (its `argument_errors`) is bad input too, while
    its templating failing is not the user's input."""
    if data.get("task_action") in ARGUMENT_SPEC_ACTIONS and res.get("argument_errors"):
        return 2
    code = res.get("exit_code")
    return code if isinstance(code, int) else None


def _reason(message: str) -> str:
    """The connection's reason in one line, without Ansible's "Task failed: " and the repeat it appends
    ("why. fix: why")."""
    line = message.splitlines()[0].removeprefix("Task failed: ") if message else ""
    at = line.find(": ")
    while at != -1:
        if line.startswith(line[at + 2 :]):
            return line[:at]
        at = line.find(": ", at + 1)
    return line


def failure_message(res: dict[str, Any]) -> str:
    """The reason Ansible gives, plus the command's stderr when the module ran one."""
    parts = [str(res.get("msg") or "").strip()]
    for key in ("stderr", "module_stderr"):
        text = str(res.get(key) or "").strip()
        if text and text not in parts[0]:
            parts.append(text)
    message = "\n".join(part for part in parts if part)
    return message or "failed (no message; see the log)"


def render_diff(res: dict[str, Any]) -> str | None:
    """A module's `diff` (one dict or a list of them) as unified-diff text, the way Ansible's --diff shows it."""
    diffs = res.get("diff")
    if not diffs:
        return None
    chunks: list[str] = []
    for diff in diffs if isinstance(diffs, list) else [diffs]:
        if not isinstance(diff, dict):
            continue
        if diff.get("prepared"):
            chunks.append(str(diff["prepared"]).rstrip("\n"))
            continue
        before, after = diff.get("before"), diff.get("after")
        if before is None and after is None:
            continue
        before_text = _as_text(before)
        after_text = _as_text(after)
        if before_text == after_text:
            continue
        lines = difflib.unified_diff(
            before_text.splitlines(keepends=True),
            after_text.splitlines(keepends=True),
            fromfile=str(diff.get("before_header") or "before"),
            tofile=str(diff.get("after_header") or "after"),
        )
        chunks.append("".join(line if line.endswith("\n") else line + "\n" for line in lines).rstrip("\n"))
    return "\n".join(chunks) or None


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, indent=2, sort_keys=True) + "\n"
    text = str(value)
    return text if text.endswith("\n") or not text else text + "\n"
