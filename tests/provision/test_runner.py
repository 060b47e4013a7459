"""The runner and the provision/plan/rollback commands on a small real Ansible project (local connection)."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from egpu_setup import runner
from egpu_setup.runner.request import RunRequest
from egpu_setup.runner.run_state import RunState
from egpu_setup.runner.task_list import parse_listing
from egpu_setup.runner.view import LiveView, PlainView


def runs_of(tmp_path: Path) -> list[Path]:
    runs = tmp_path / "data" / "egpu-setup" / "runs"
    return sorted(runs.iterdir()) if runs.exists() else []


def test_provision_reports_counts_failures_log_and_exits_1(cli, demo_project, tmp_path, inventory_of):
    inventory = inventory_of(tmp_path / "inventory.yml", ["alpha", "beta"], demo_broken=["beta"])

    result = cli("provision", "-i", str(inventory), "--profile", "default", "--json")

    assert result.code == 1, result.err
    report = json.loads(result.out)
    assert report["kind"] == "run_report" and report["schema_version"] == 1
    assert report["command"] == "provision" and report["status"] == "failed" and report["exit_code"] == 1
    alpha, beta = report["hosts"]["alpha"], report["hosts"]["beta"]
    assert (alpha["status"], alpha["changed"], alpha["failed"], alpha["failures"]) == ("ok", 1, 0, [])
    assert alpha["changes"][0]["task"] == "Ensure the marker file is written"
    assert alpha["verify"] == {"host": "alpha", "passed": True}
    assert (beta["status"], beta["failed"], beta["unreachable"]) == ("failed", 1, 0)
    assert beta["failures"] == [
        {
            "task": "Ensure the host is not the broken one",
            "role": "demo",
            "message": "beta is broken: remedy: replace it",
        }
    ]
    # --profile reaches the play as egpu_profile
    assert (tmp_path / "hosts/alpha.txt").read_text() == "provisioned alpha with default\n"
    # the report on disk is the one printed; the log is ansible's full output
    run_dir = Path(report["run_dir"])
    assert json.loads((run_dir / "report.json").read_text()) == report
    log = Path(report["log"]).read_text()
    assert "TASK [egpu.mac.demo : Ensure the marker file is written]" in log  # a collection role, by FQCN
    assert "beta is broken" in log
    assert f"log: {report['log']}" in result.err
    # not a terminal: plain ordered lines, the failure's message under its line
    lines = result.err.splitlines()
    written = next(
        i for i, line in enumerate(lines) if line.endswith("alpha: changed: demo : Ensure the marker file is written")
    )
    failed = next(
        i for i, line in enumerate(lines) if line.endswith("beta: failed: demo : Ensure the host is not the broken one")
    )
    assert written < failed and lines[failed + 1] == "    beta is broken: remedy: replace it"
    # secrets never go in extravars; the profile does, and the command line is recorded
    assert report["ansible_playbook"][:3] == ["ansible-playbook", "-i", str(inventory)]


def test_second_run_changes_nothing(cli, demo_project, tmp_path, inventory_of):
    inventory = inventory_of(tmp_path / "inventory.yml", ["alpha"])

    first = json.loads(cli("provision", "-i", str(inventory), "--json").out)
    second = cli("provision", "-i", str(inventory), "--json")

    assert first["hosts"]["alpha"]["changed"] == 1
    assert second.code == 0
    report = json.loads(second.out)
    assert report["status"] == "ok" and report["hosts"]["alpha"]["changed"] == 0
    assert report["hosts"]["alpha"]["ok"] >= 2
    assert report["run_dir"] != first["run_dir"]  # a fresh private data dir per run


@pytest.mark.slow
def test_plan_lists_diffs_changes_nothing_and_leaks_no_check_mode(cli, demo_project, tmp_path, inventory_of):
    inventory = inventory_of(tmp_path / "inventory.yml", ["alpha"])
    marker = tmp_path / "hosts/alpha.txt"

    plan = cli("plan", "-i", str(inventory))

    assert plan.code == 0, plan.err
    assert not marker.exists()
    assert "alpha: 1 change(s) to make:" in plan.out
    assert "~ demo : Ensure the marker file is written" in plan.out
    assert "+provisioned alpha with default" in plan.out
    report = json.loads((runs_of(tmp_path)[-1] / "report.json").read_text())
    assert report["check"] is True and report["hosts"]["alpha"]["changes"][0]["diff"].endswith(
        "+provisioned alpha with default"
    )
    # the next run is not in check mode: nothing of the plan's command line leaked (suppress_env_files)
    assert cli("provision", "-i", str(inventory)).code == 0
    assert marker.exists()
    converged = cli("plan", "-i", str(inventory))
    assert converged.code == 0 and "alpha: nothing to change" in converged.out


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "does not exist"),
        ("all: [unclosed\n", "is not valid YAML (line 2)"),
        ("- just\n- a list\n", "is not an Ansible YAML inventory"),
    ],
)
def test_bad_inventory_exits_2_naming_the_path(cli, demo_project, tmp_path, content, expected):
    inventory = tmp_path / "bad.yml"
    if content is not None:
        inventory.write_text(content)

    result = cli("provision", "-i", str(inventory))

    assert result.code == 2
    assert f"error: inventory {inventory} {expected}" in result.err
    assert "fix: " in result.err
    assert runs_of(tmp_path) == []  # refused before anything ran


def test_unknown_profile_and_missing_inventory_exit_2(cli, demo_project, demo_inventory, tmp_path):
    unknown = cli("plan", "-i", str(demo_inventory), "--profile", "nosuch")
    assert unknown.code == 2 and "unknown profile 'nosuch'" in unknown.err and "fix: use one of: default" in unknown.err
    missing = cli("rollback")
    assert missing.code == 2 and "`rollback` needs an inventory" in missing.err
    both = cli("provision", "-i", str(demo_inventory), "--rehearse")
    assert both.code == 2 and "exclude each other" in both.err
    assert runs_of(tmp_path) == []


@pytest.mark.parametrize("command", ["plan", "provision", "rollback"])
@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["-i", ""], "argument -i/--inventory: an empty inventory path (Ansible would read every file"),
        (["-i", "  "], "argument -i/--inventory: an empty inventory path"),
        (["--limit", ""], "argument --limit: an empty pattern (it would select every host)"),
        (["-i", "no/such/inventory.yml"], "inventory no/such/inventory.yml does not exist"),
    ],
)
def test_an_empty_inventory_or_limit_and_a_missing_inventory_exit_2(
    cli, demo_project, demo_inventory, tmp_path, monkeypatch, command, argv, said
):
    monkeypatch.chdir(tmp_path)  # an empty -i taken as "." would read this directory
    if argv[0] == "--limit":
        argv = ["-i", str(demo_inventory), *argv]
    result = cli(command, *argv)
    assert result.code == 2, result.err
    assert f"error: {said}" in result.err and "fix: " in result.err and "Traceback" not in result.err
    assert runs_of(tmp_path) == []


def test_no_host_matching_the_limit_exits_2_before_a_run(cli, demo_project, demo_inventory, tmp_path):
    result = cli("rollback", "-i", str(demo_inventory), "--limit", "gamma")

    assert result.code == 2
    assert f"--limit 'gamma' selects no host of inventory {demo_inventory}" in result.err
    assert "fix: hosts there: alpha" in result.err
    assert runs_of(tmp_path) == []


def test_an_inventory_without_hosts_is_refused_before_a_run(cli, demo_project, tmp_path):
    empty = tmp_path / "empty-inventory"
    empty.mkdir()
    listed = tmp_path / "listed.yml"
    listed.write_text("all:\n  hosts: [mac-01, mac-02]\n")  # hosts must be a mapping
    for inventory in (empty, listed):
        result = cli("provision", "-i", str(inventory))
        assert result.code == 2, result.err
        assert f"inventory {inventory} names no host" in result.err and "as a mapping" in result.err
        assert "Traceback" not in result.err
    assert runs_of(tmp_path) == []


def test_lab_dir_without_rehearse_is_a_usage_error(cli, demo_project, demo_inventory, tmp_path):
    result = cli("plan", "-i", str(demo_inventory), "--lab-dir", str(tmp_path / "lab"))
    assert result.code == 2 and "--lab-dir only chooses the lab of --rehearse" in result.err
    assert runs_of(tmp_path) == []


class ExplodingView(PlainView):
    def event(self, event: dict[str, Any], state: RunState) -> None:
        if event.get("event") == "runner_on_ok":
            raise RuntimeError("the terminal went away")
        super().event(event, state)


def test_a_broken_view_is_logged_and_the_run_goes_on(demo_project, demo_inventory, tmp_path):
    stream = io.StringIO()
    request = RunRequest(command="provision", playbook="provision", inventory=demo_inventory)

    outcome = runner.run(replace(request, view=ExplodingView(stream)))

    assert outcome.exit_code == 0
    assert outcome.report["hosts"]["beta"]["changed"] == 1  # events after the error still counted
    own_log = (outcome.run_dir / "egpu-setup.log").read_text()
    assert "progress view failed in event" in own_log and "the terminal went away" in own_log


def test_kill_when_stops_ansible_on_the_spot(demo_project, tmp_path, inventory_of):
    inventory = inventory_of(tmp_path / "inventory.yml", ["alpha"], demo_sleep=60)
    request = RunRequest(
        command="provision",
        playbook="provision",
        inventory=inventory,
        kill_when=lambda event: (
            event.get("event") == "playbook_on_task_start"
            and event["event_data"].get("task") == "Bring the verification report back"
        ),
    )
    started = time.monotonic()

    outcome = runner.run(replace(request, view=PlainView(io.StringIO())))

    assert time.monotonic() - started < 30  # not the 60 s sleep
    assert outcome.report["status"] == "killed" and outcome.exit_code == 1
    assert (outcome.run_dir / "artifacts/ansible/status").read_text() == "canceled"
    # killed as the task started: it never ran, and the marker task before it did
    assert outcome.report["hosts"]["alpha"].get("verify") is None  # no report came back in the events
    assert (tmp_path / "hosts/alpha.txt").exists()


def test_live_view_shows_role_task_counts_and_progress():
    from rich.console import Console

    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=160, color_system=None)
    view = LiveView(console, "egpu-setup provision")
    state = RunState(tasks={"mac1": 4})  # what Ansible listed for mac1
    for event in (
        {"event": "playbook_on_play_start", "event_data": {"name": "Provision"}},
        {"event": "runner_on_start", "event_data": {"host": "mac1", "role": "cudnn", "task": "Ensure cuDNN"}},
        {
            "event": "runner_on_ok",
            "event_data": {"host": "mac1", "role": "cudnn", "task": "Ensure cuDNN", "res": {"changed": True}},
        },
        {"event": "runner_on_skipped", "event_data": {"host": "mac1", "role": "mxnet", "task": "Build MXNet"}},
    ):
        state.apply(event)
    view.start()
    view.refresh(state)
    view.stop(state)

    text = out.getvalue()
    assert "egpu-setup provision - Provision" in text
    row = next(line for line in text.splitlines() if "mac1" in line)
    assert "mxnet : Build MXNet" in row
    cells = [cell for cell in row.split("mxnet : Build MXNet")[1].split() if cell != "│"]
    assert cells[:4] == ["1", "1", "0", "1"]  # ok changed failed skipped
    assert "━" in row  # the progress bar: 2 of 4 tasks


class RecordingView(PlainView):
    """A plain view that asks for the task count, as the live view does, and keeps the state it last saw."""

    wants_task_total = True

    def stop(self, state: RunState) -> None:
        self.state = state


def test_task_count_comes_from_ansible_and_grows_with_dynamic_includes(demo_project, tmp_path, inventory_of):
    (demo_project / "roles/demo/tasks/extra.yml").write_text(
        "- name: One\n  ansible.builtin.debug:\n\n- name: Two\n  ansible.builtin.debug:\n"
    )
    main = demo_project / "roles/demo/tasks/main.yml"
    main.write_text(
        main.read_text()
        + "\n- name: Ensure extra {{ demo_dir }} things\n  ansible.builtin.include_tasks: extra.yml\n"
        + "\n- name: Also import\n  ansible.builtin.import_tasks: extra.yml\n"
    )
    inventory = inventory_of(tmp_path / "inventory.yml", ["alpha", "beta"])
    view = RecordingView(io.StringIO())

    outcome = runner.run(RunRequest(command="provision", playbook="provision", inventory=inventory, view=view))

    assert outcome.exit_code == 0
    # Ansible lists the four tasks, the import's two, and the dynamic include as one task (not what it brings)
    assert view.state.tasks == {"alpha": 4 + 1 + 2, "beta": 4 + 1 + 2}
    # the include's own result and its two tasks' come on top: the bar's total, max(listed, done), grows past 7
    alpha = view.state.hosts["alpha"]
    assert alpha.done == 4 + (1 + 2) + 2
    assert "━" in _live_row(view.state, "alpha")


def test_a_skipped_dynamic_include_adds_nothing_to_the_listed_count():
    listing = (
        "\nplaybook: p.yml\n\n  play #1 (all): Demo\tTAGS: []\n    pattern: ['all']\n    hosts (2):\n      a\n"
        "      b\n    tasks:\n      demo : One\tTAGS: []\n      Include {{ x }}\tTAGS: []\n\n"
        "  play #2 (b): Second\tTAGS: []\n    pattern: ['b']\n    hosts (1):\n      b\n    tasks:\n"
        "      demo : Three\tTAGS: [t]\n"
    )
    assert parse_listing(listing) == {"a": 2, "b": 3}  # per host, over the plays that target it
    state = RunState(tasks=parse_listing(listing))
    for task, kind in (("One", "runner_on_ok"), ("Include", "runner_on_skipped")):
        state.apply({"event": kind, "event_data": {"host": "a", "role": "demo", "task": task}})
    assert state.hosts["a"].done == 2  # the skipped include is its one listed result: the bar is full


def _live_row(state: RunState, host: str) -> str:
    from rich.console import Console

    out = io.StringIO()
    view = LiveView(Console(file=out, force_terminal=True, width=160, color_system=None), "egpu-setup provision")
    view.start()
    view.stop(state)
    return next(line for line in out.getvalue().splitlines() if host in line)


def test_help_stays_fast_and_imports_no_runner():
    code = (
        "import sys, time; t = time.perf_counter(); from egpu_setup.cli import build_parser; build_parser(); "
        "print(time.perf_counter() - t, 'ansible_runner' in sys.modules, 'rich' in sys.modules)"
    )
    elapsed, runner, rich = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert (runner, rich) == ("False", "False")
    assert float(elapsed) < 0.3


def test_run_report_is_rebuilt_from_kept_artifacts(cli, demo_project, demo_inventory, tmp_path):
    """The run directory keeps every event: replaying them gives the same counts as the report."""
    report = json.loads(cli("provision", "-i", str(demo_inventory), "--json").out)
    events_dir = Path(report["run_dir"]) / "artifacts/ansible/job_events"
    events = [json.loads(p.read_text()) for p in events_dir.glob("*.json")]
    state = RunState()
    for event in sorted(events, key=lambda e: e["counter"]):
        state.apply(event)
    assert {name: host.changed for name, host in state.hosts.items()} == {
        name: host["changed"] for name, host in report["hosts"].items()
    }
    assert yaml.safe_load((Path(report["run_dir"]) / "artifacts/ansible/status").read_text()) == "successful"


def test_rollback_rehearse_needs_an_existing_lab(cli, demo_project, tmp_path):
    result = cli("rollback", "--rehearse", "--lab-dir", str(tmp_path / "nolab"))

    assert result.code == 2
    assert f"error: no rehearsal lab at {tmp_path / 'nolab'}" in result.err
    assert "provision --rehearse" in result.err
    assert not (tmp_path / "nolab").exists()


def test_the_become_password_answers_ansibles_prompt_and_is_nowhere_on_disk(demo_project, demo_inventory, tmp_path):
    secret = "s3cret-become-pass"
    request = RunRequest(command="provision", playbook="provision", inventory=demo_inventory, become_password=secret)

    outcome = runner.run(replace(request, view=PlainView(io.StringIO())))

    assert outcome.exit_code == 0  # ansible-playbook -K got its answer (else it would wait at the prompt)
    assert "--ask-become-pass" in (outcome.run_dir / "artifacts/ansible/command").read_text()
    for path in outcome.run_dir.rglob("*"):
        if path.is_file():
            assert secret not in path.read_text(errors="replace"), path


@pytest.mark.skipif(shutil.which("ssh") is None, reason="needs an ssh client")
def test_an_unreachable_host_is_exit_1_with_the_reason(cli, demo_project, tmp_path):
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(
        yaml.safe_dump(
            {"all": {"hosts": {"gone": {"ansible_host": "127.0.0.1", "ansible_port": 1, "demo_dir": str(tmp_path)}}}}
        )
    )

    result = cli("provision", "-i", str(inventory), "--json")

    assert result.code == 1
    host = json.loads(result.out)["hosts"]["gone"]
    assert (host["status"], host["unreachable"]) == ("unreachable", 1)
    assert "Connection refused" in host["failures"][0]["message"]
    assert "fix: check that the Mac is on and reachable" in host["failures"][0]["message"]


class CtrlCView(PlainView):
    def event(self, event: dict[str, Any], state: RunState) -> None:
        if event.get("event") == "playbook_on_task_start" and "Wait a little" in event["event_data"].get("task", ""):
            raise KeyboardInterrupt


def test_ctrl_c_stops_ansible_and_still_writes_the_report(demo_project, tmp_path, inventory_of):
    inventory = inventory_of(tmp_path / "inventory.yml", ["alpha"], demo_sleep=60)
    request = RunRequest(command="provision", playbook="provision", inventory=inventory)
    started = time.monotonic()

    with pytest.raises(KeyboardInterrupt):
        runner.run(replace(request, view=CtrlCView(io.StringIO())))

    assert time.monotonic() - started < 30  # ansible-playbook was stopped, not waited for
    (run_dir,) = runs_of(tmp_path)
    report = json.loads((run_dir / "report.json").read_text())
    assert (report["status"], report["exit_code"]) == ("interrupted", 130)
    assert report["hosts"]["alpha"]["changed"] == 1


def test_summary_shows_each_hosts_verification() -> None:
    import io

    from rich.console import Console

    from egpu_setup.runner.report import print_summary

    host = {"ok": 3, "changed": 1, "failed": 0, "unreachable": 0, "duration_s": 2.0, "failures": []}
    report = {
        "command": "provision",
        "status": "ok",
        "check": False,
        "log": "/runs/x/ansible.log",
        "run_dir": "/runs/x",
        "hosts": {
            "mac1": {**host, "verify": {"summary": {"outcome": "pass", "passed": 7, "failed": 0, "skipped": 4}}},
            "mac2": {**host, "verify": {"summary": {"outcome": "fail", "passed": 5, "failed": 2, "skipped": 4}}},
            "mac3": {**host, "verify": None},
        },
    }
    out = io.StringIO()
    print_summary(Console(file=out, width=200, color_system=None), report)
    rows = {line.split()[1]: line for line in out.getvalue().splitlines() if line.startswith("│ mac")}
    assert "pass (7 passed, 0 failed, 4 skipped)" in rows["mac1"]
    assert "fail (5 passed, 2 failed, 4 skipped)" in rows["mac2"]
    assert rows["mac3"].rstrip(" │").endswith("-")


def _event(kind: str, res: dict[str, Any], stdout: str = "", task: str = "A task") -> dict[str, Any]:
    return {"event": kind, "stdout": stdout,
            "event_data": {"host": "mac1", "task": task, "role": "demo", "task_action": "x", "res": res}}  # fmt: skip


def test_a_sudo_password_failure_gets_the_K_remedy_line() -> None:
    state = RunState()
    state.apply(_event("runner_on_failed", {"msg": "Task failed: Missing sudo password: mac1's sudo asks ..."}))
    state.apply(_event("runner_on_failed", {"msg": "MODULE FAILURE", "module_stderr": "sudo: a password is required"}))
    state.apply(_event("runner_on_failed", {"msg": "Task failed: Incorrect sudo password: refused"}))
    state.apply(_event("runner_on_failed", {"msg": "installer: The install failed"}))
    missing, module, wrong, other = (f.message for f in state.hosts["mac1"].failures)
    assert "fix: the Mac's sudo asks for the account password" in missing and "-K (--ask-become-pass)" in missing
    assert "-K (--ask-become-pass)" in module
    assert "fix: sudo on the Mac refused the password given" in wrong
    assert "fix:" not in other


def test_a_no_log_tasks_change_is_listed_without_its_hidden_result() -> None:
    censored = {"censored": "the output has been hidden due to the fact that 'no_log: true' was specified"}
    state = RunState()
    state.apply(_event("runner_on_ok", censored, stdout="changed: [mac1]", task="Arm it"))
    state.apply(_event("runner_on_ok", censored, stdout="ok: [mac1]", task="Read it"))
    (change,) = state.hosts["mac1"].changes
    assert (change.task, change.diff) == ("Arm it", None)


def test_only_a_role_spec_refusing_a_value_counts_as_bad_input() -> None:
    """Ansible's check of a role's meta/argument_specs.yml refusing a value is bad input (2); the same task failing
    because a role default could not be templated is not the user's doing (1)."""
    state = RunState()
    for res in ({"msg": "Validation of arguments failed:\nargument 'x' is of type list", "argument_errors": ["..."]},
                {"msg": "Task failed: object of type 'dict' has no attribute 'memsize'"}):  # fmt: skip
        event = _event("runner_on_failed", res)
        event["event_data"]["task_action"] = "ansible.builtin.validate_argument_spec"
        state.apply(event)
    assert [f.exit_code for f in state.hosts["mac1"].failures] == [2, None]
