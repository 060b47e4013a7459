"""One ansible-playbook run through ansible-runner: private data dir, event queue, views, report.

ansible-runner runs the playbook in its own thread (`run_async`); its event handler only puts events on a
queue, and this module's loop on the main thread applies them to a RunState and redraws the view. The run's
private data dir (`<runs_dir>/<time>-<command>`) is fresh for every run and kept: the artifacts (events as
JSON, ansible's stdout) let anyone rebuild the report later.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from egpu_setup import paths
from egpu_setup.errors import EgpuError, ExitCode, Terminated
from egpu_setup.runner.batches import batch_count, forks_for
from egpu_setup.runner.content import Content, find_content
from egpu_setup.runner.facts import read_plan_inputs, wants_plans
from egpu_setup.runner.plans import resolve_all, write_plans
from egpu_setup.runner.report import build_report, write_report
from egpu_setup.runner.request import RunOutcome, RunRequest
from egpu_setup.runner.run_state import RunState
from egpu_setup.runner.signals import Winding, winding_down
from egpu_setup.runner.task_list import TaskListing
from egpu_setup.runner.view import PlainView, SafeView

log = logging.getLogger("egpu_setup.runner")

IDENT = "ansible"  # artifacts/<IDENT>/ under the run dir: job_events/, stdout, rc, status
LOG_NAME = "ansible.log"  # the full ansible-playbook output: a link to artifacts/<IDENT>/stdout
BECOME_PROMPT = r"^BECOME password.*:\s*?$"  # what ansible-playbook --ask-become-pass prints
RUN_CONFIG = Path(__file__).with_name("ansible.cfg")  # the runs' settings, packaged with egpu_setup


def make_run_dir(runs_dir: Path, command: str) -> Path:
    """A new directory `<UTC time>-<command>`; a numeric suffix keeps two runs in one second apart."""
    runs_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for attempt in range(1, 1000):
        candidate = runs_dir / (f"{stamp}-{command}" if attempt == 1 else f"{stamp}-{command}-{attempt}")
        try:
            candidate.mkdir(mode=0o700)
        except FileExistsError:
            continue
        return candidate
    raise EgpuError(f"cannot make a run directory under {runs_dir}", fix="remove old runs from it")


def ansible_env(content: Content) -> dict[str, str]:
    """The environment ansible-playbook gets on top of ours: our collection, settings (RUN_CONFIG) and tools."""
    bin_dir = str(Path(sys.executable).parent)  # ansible-playbook of the same virtual environment
    collections = [str(content.root), str(Path.home() / ".ansible/collections"), "/usr/share/ansible/collections"]
    return {
        "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "/usr/bin:/bin")]),
        "ANSIBLE_CONFIG": str(RUN_CONFIG),
        "ANSIBLE_COLLECTIONS_PATH": os.pathsep.join(collections),  # this installation's egpu.mac comes first
        "ANSIBLE_NOCOLOR": "1",  # the log file is read with less and grep, not a terminal
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        # ansible-runner turns host key checking off unless this is set: a Mac whose key changed must be refused
        "ANSIBLE_HOST_KEY_CHECKING": os.environ.get("ANSIBLE_HOST_KEY_CHECKING", "True"),
    }


def playbook_args(content: Content, request: RunRequest, extravars: dict[str, Any]) -> list[str]:
    """The arguments of the equivalent plain `ansible-playbook` command (recorded in the report, listed tasks with)."""
    args = ["-i", str(request.inventory)]
    if request.limit:
        args += ["--limit", request.limit]
    if extravars:
        args += ["-e", json.dumps(extravars, sort_keys=True)]
    if request.check:
        args += ["--check", "--diff"]
    return [*args, content.playbook_fqcn(request.playbook)]


@contextlib.contextmanager
def _run_log(run_dir: Path) -> Iterator[Path]:
    """egpu-setup's own log of the run (renderer errors and the like), beside ansible's."""
    path = run_dir / "egpu-setup.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.addHandler(handler)
    previous = log.level
    log.setLevel(logging.DEBUG)
    try:
        yield path
    finally:
        log.removeHandler(handler)
        log.setLevel(previous)
        handler.close()


@dataclass
class _Run:
    """One run's working set, passed between the steps of `run_playbook`."""

    request: RunRequest
    content: Content
    run_dir: Path
    log: Path
    extravars: dict[str, Any]
    summary: dict[str, Any]
    hosts: list[str]  # the targeted hosts (after --limit)
    state: RunState = field(default_factory=RunState)
    events: queue.Queue[dict[str, Any]] = field(default_factory=queue.Queue)
    cancel: threading.Event = field(default_factory=threading.Event)
    killed: threading.Event = field(default_factory=threading.Event)

    def on_event(self, event: dict[str, Any]) -> bool:
        # ansible-runner's thread: only queue. A requested kill is done right here, within milliseconds of Ansible
        # writing the event: ansible-runner's own cancel is polled and lands several tasks later.
        self.events.put(event)
        kill_when = self.request.kill_when
        if kill_when is not None and not self.killed.is_set() and kill_when(event):
            self.killed.set()
            kill_ansible_playbook()
            self.cancel.set()
        return True  # keep the event in artifacts/


def run_playbook(request: RunRequest) -> RunOutcome:
    """Run the request's playbook; returns the outcome with its report (also written to the run dir).

    First the controller's lock of every targeted host (host_lock): a busy one is refused with EgpuError (exit 4)
    before anything is written, or waited for with `request.wait_s`. `request.on_start` gets the log's path before
    Ansible starts (so people can follow it with `tail -F`).

    Raises EgpuError when ansible-playbook stops before any host ran (exit 2 when its inputs are at fault: a
    parser or option error, rc 4 or 5; else 1), when no host of the inventory matches (exit 2) and when resolving
    the plans before the play fails; KeyboardInterrupt (or errors.Terminated) when Ctrl-C (SIGTERM) stopped the
    run. The report is written first in every case.
    """
    from egpu_setup.runner.host_lock import hold_hosts

    note = {"command": request.command}
    with hold_hosts(request.inventory, request.limit, note, request.wait_s, request.on_wait) as tell:
        return _run_held(request, tell)


def _run_held(request: RunRequest, tell: Callable[..., None]) -> RunOutcome:
    run = _prepare(request)
    tell(run_id=run.run_dir.name)  # for the message of a run that finds these hosts busy
    view = SafeView(request.view or PlainView(sys.stderr))
    started = time.monotonic()
    runner: Any = None
    with winding_down() as winding:  # from the first stop on, a second Ctrl-C waits for the report
        with _run_log(run.run_dir):
            log.info("run %s: %s", request.command, " ".join(run.summary["ansible_playbook"]))
            listing = _list_tasks(run) if getattr(request.view, "wants_task_total", False) else None
            try:
                stopped = _resolve_plans_or_stop(run, winding)
                if stopped is None:
                    thread, runner = _start(run)
                    stopped = _follow(run, thread, view, listing, winding)
            finally:
                if listing is not None:
                    listing.stop(wait_s=0)
            status, exit_code, error = _judge(request, run.state, runner, run.log, run.killed.is_set(), stopped)
            log.info(
                "run %s ended: %s (rc %s, exit %s)", request.command, status, getattr(runner, "rc", None), exit_code
            )
            if winding.noted:
                log.info("signals while the run wound down, not acted on: %s", winding.noted)
        report = build_report(
            command=request.command, request=run.summary, state=run.state, status=status, exit_code=exit_code,
            run_dir=run.run_dir, log=run.log, duration_s=time.monotonic() - started,
            verify_reports=run.state.verify_reports,
        )  # fmt: skip
        if error is not None:
            report["error"] = {"message": error.message, "fix": error.fix}
        write_report(report, run.run_dir)
    if error is not None:
        raise error
    if isinstance(stopped, KeyboardInterrupt):
        raise stopped
    return RunOutcome(report=report, exit_code=exit_code, run_dir=run.run_dir, log=run.log)


def _resolve_plans_or_stop(run: _Run, winding: Winding) -> BaseException | None:
    """`_resolve_plans`, or what stopped it (a refusal, Ctrl-C, SIGTERM), so the run's report is still written; the
    facts play's ansible-playbook is stopped with it."""
    try:
        _resolve_plans(run)
    except (EgpuError, KeyboardInterrupt) as exc:
        winding.start()
        kill_ansible_playbook()
        return exc
    return None


def _prepare(request: RunRequest) -> _Run:
    """The run directory, its log link and the summary of what runs (the equivalent ansible-playbook command)."""
    content = find_content()
    run_dir = make_run_dir(request.runs_dir or paths.runs_dir(), request.command)
    extravars = request.all_extravars() | lock_extravars(request, run_dir.name)
    playbook = content.playbook(request.playbook)
    hosts = request.hosts if request.hosts is not None else _targeted_hosts(request)
    summary = {
        "playbook": str(playbook),
        "inventory": str(request.inventory),
        "limit": request.limit,
        "profile": request.profile,
        "check": request.check,
        "forks": forks_for(len(hosts), request.serial),
        "serial": request.serial,
        "max_fail_percent": request.max_fail_percent,
        "ansible_playbook": ["ansible-playbook", *playbook_args(content, request, extravars)],
    }
    run = _Run(request, content, run_dir, _link_log(run_dir), extravars, summary, hosts)
    run.state.targets = list(hosts)
    run.state.batches_total = batch_count(request.serial, len(hosts))
    if request.on_start is not None:
        request.on_start(run.log)
    return run


def _targeted_hosts(request: RunRequest) -> list[str]:
    """The hosts of the inventory after --limit, for a request made without them (the CLI's come checked)."""
    from egpu_setup.runner.host_lock import host_keys

    return list(host_keys(request.inventory, request.limit))


def lock_extravars(request: RunRequest, run_id: str) -> dict[str, Any]:
    """What egpu.mac.run_lock writes into a Mac's lock (this run's command and id), and how it meets a held lock."""
    from egpu_setup.runner.host_lock import WAIT_FOREVER

    wait = 0.0 if request.wait_s is None else 10 * 365 * 86400.0 if request.wait_s == WAIT_FOREVER else request.wait_s
    extravars: dict[str, Any] = {"egpu_run_command": request.command, "egpu_run_id": run_id}
    if wait:
        extravars["egpu_run_lock_wait"] = wait
    if request.break_lock:
        extravars["egpu_run_lock_break"] = True
    return extravars


def _runner_args(run: _Run) -> dict[str, Any]:
    """What the facts play and the main play share: inventory, limit, extravars, environment, become password."""
    password = run.request.become_password
    return {
        "inventory": str(run.request.inventory),
        "limit": run.request.limit,
        "extravars": dict(run.extravars),
        "envvars": ansible_env(run.content),
        "cmdline": "--ask-become-pass" if password is not None else None,
        "passwords": {BECOME_PROMPT: password} if password is not None else None,
        "forks": forks_for(len(run.hosts)),  # the facts play reads every Mac at once; the main play sets its own
    }


def _resolve_plans(run: _Run) -> None:
    """Before the play: every host's plan resolved on the controller once (plans.py), its artifacts fetched once
    with progress bars (not in check mode), and the plans file handed to the play (extravar egpu_plans_file)."""
    if not (run.request.resolve_plans and wants_plans(run.content)):
        return
    inputs = read_plan_inputs(run.content, run.run_dir, _runner_args(run))
    log.info("plan inputs: %s", {host: i.key() for host, i in inputs.items()})
    console = run.request.console
    if console is None or run.request.check:
        resolved = resolve_all(inputs, fetch=not run.request.check)
    else:
        from egpu_setup.cache.progress import RichProgress

        with RichProgress(console) as progress:
            resolved = resolve_all(inputs, fetch=True, progress=progress)
    run.extravars["egpu_plans_file"] = str(write_plans(resolved, run.run_dir))


def _list_tasks(run: _Run) -> TaskListing:
    """Ansible's list of the play's tasks per host, made while the facts play runs (task_list.py)."""
    args = playbook_args(run.content, run.request, run.extravars)

    def done(totals: dict[str, int]) -> None:
        run.state.tasks = totals  # one assignment: the main thread reads it whole or not at all

    return TaskListing(args, ansible_env(run.content), done).start()


def _start(run: _Run) -> tuple[threading.Thread, Any]:
    """ansible-playbook started in ansible-runner's thread; its events go to the run's queue."""
    import ansible_runner

    args = _runner_args(run)
    args["cmdline"] = " ".join(_cmdline(run.request)) or None
    args["forks"] = run.summary["forks"]
    return ansible_runner.run_async(  # type: ignore[no-any-return]
        private_data_dir=str(run.run_dir),
        playbook=run.content.playbook_fqcn(run.request.playbook),  # run from the run dir, found in the collection
        ident=IDENT,
        suppress_env_files=True,  # nothing of this run's env (--check!) may leak into another
        quiet=True,  # ansible's output goes to the log file, the view shows progress
        settings={"pexpect_timeout": 0.5},  # how often ansible-runner looks at a cancel (Ctrl-C)
        event_handler=run.on_event,
        cancel_callback=run.cancel.is_set,
        **args,
    )


def _follow(
    run: _Run, thread: threading.Thread, view: SafeView, listing: TaskListing | None, winding: Winding
) -> KeyboardInterrupt | None:
    """Apply the events to the state and the view until the run ends; what stopped it (Ctrl-C, SIGTERM) or None."""
    view.start()
    try:
        _pump(thread, run.events, run.state, view)
        if listing is not None:
            listing.stop()  # the rare play over before Ansible listed its tasks: the final view has the count
    except KeyboardInterrupt as stop:  # errors.Terminated (SIGTERM) too
        winding.start()
        # ansible-playbook runs in its own session on a pty, so the terminal's SIGINT did not reach it;
        # ansible-runner's cancel would SIGKILL it at its next poll: do that now.
        run.cancel.set()
        kill_ansible_playbook()
        _pump(thread, run.events, run.state, view)
        return stop
    finally:
        view.stop(run.state)
    return None


def _cmdline(request: RunRequest) -> list[str]:
    args = ["--check", "--diff"] if request.check else []
    if request.become_password is not None:
        args.append("--ask-become-pass")
    return args


def kill_ansible_playbook() -> None:
    """SIGKILL the process group of the ansible-playbook that ansible-runner started from this process (it runs
    in its own session on a pty), the way a crash or a power cut stops a run: no handler, no cleanup."""
    import psutil

    for child in psutil.Process().children(recursive=True):
        try:
            cmdline = child.cmdline()
            if any(Path(arg).name == "ansible-playbook" for arg in cmdline[:2]) and "--list-tasks" not in cmdline:
                os.killpg(os.getpgid(child.pid), signal.SIGKILL)
        except (psutil.Error, ProcessLookupError, PermissionError):
            continue


def _pump(thread: threading.Thread, events: queue.Queue[dict[str, Any]], state: RunState, view: SafeView) -> None:
    """Apply queued events in order and redraw until ansible-runner's thread is done and the queue is empty."""
    while thread.is_alive() or not events.empty():
        try:
            event = events.get(timeout=0.1)
        except queue.Empty:
            view.refresh(state)
            continue
        state.apply(event)
        view.event(event, state)
    thread.join()
    view.refresh(state)


def _link_log(run_dir: Path) -> Path:
    """`<run dir>/ansible.log`: ansible-runner's stdout file (written as the run goes) under a name people
    look for; a relative link, so a run directory can be moved or archived whole."""
    path = run_dir / LOG_NAME
    path.symlink_to(Path("artifacts") / IDENT / "stdout")
    return path


def _judge(
    request: RunRequest, state: RunState, runner: Any, log_path: Path, killed: bool, stopped: BaseException | None
) -> tuple[str, int, EgpuError | None]:
    """(status, exit code, error to raise) from the events and ansible-playbook's end, or from what stopped the
    run (`stopped`: Ctrl-C, SIGTERM, or a refusal before the play)."""
    if isinstance(stopped, Terminated):
        return "terminated", int(ExitCode.TERMINATED), None
    if isinstance(stopped, KeyboardInterrupt):
        return "interrupted", int(ExitCode.INTERRUPTED), None
    if isinstance(stopped, EgpuError):
        return "error", int(stopped.exit_code), stopped
    if killed:
        return "killed", int(ExitCode.CHECK_FAILED), None
    if state.stats is None and _no_hosts(log_path):
        return _no_host_error(request)
    if state.stats is None:
        message = ansible_error(log_path) or f"ansible-playbook ended with status {runner.status} (rc {runner.rc})"
        # rc 4 (parser error) and 5 (bad options) come from the inputs: inventory, variables, options.
        code = ExitCode.USAGE if runner.rc in (4, 5) else ExitCode.CHECK_FAILED
        return (
            "error",
            int(code),
            EgpuError(
                f"ansible-playbook stopped before running any host: {message}",
                fix=f"see the log {log_path}",
                exit_code=code,
            ),
        )
    if not state.hosts:
        return _no_host_error(request)
    if any(host.busy for host in state.hosts.values()):
        return "busy", int(ExitCode.BUSY), None  # a Mac's run lock held by another run (egpu.mac.run_lock)
    if any(host.failed or host.unreachable or host.stopped for host in state.hosts.values()):
        return "failed", int(_failure_code(state)), None
    return "ok", int(ExitCode.OK), None


def _failure_code(state: RunState) -> ExitCode:
    """2 when every failure is bad input (a wrong inventory value, an unknown profile, a damaged lock: what the
    CLI refuses with 2 before a run), else 1."""
    failures = [f for host in state.hosts.values() for f in host.failures]
    unreachable = any(host.unreachable for host in state.hosts.values())
    if failures and not unreachable and all(f.exit_code == ExitCode.USAGE for f in failures):
        return ExitCode.USAGE
    return ExitCode.CHECK_FAILED


def _no_host_error(request: RunRequest) -> tuple[str, int, EgpuError]:
    where = f" matches --limit {request.limit}" if request.limit else " is in it"
    error = EgpuError(
        f"no host of inventory {request.inventory}{where}",
        fix="check the host names with `ansible-inventory -i INVENTORY --graph`",
    )
    return "error", int(ExitCode.USAGE), error


def _no_hosts(log_path: Path) -> bool:
    """ansible-core 2.19 stops with this error when the inventory and --limit select no host."""
    try:
        return "leaves us with no hosts to target" in log_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def ansible_error(log_path: Path) -> str | None:
    """The error lines ansible-playbook printed before giving up."""
    try:
        lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    errors = [line.strip() for line in lines if line.startswith(("ERROR!", "[ERROR]"))]
    return " ".join(errors[:3]) if errors else None
