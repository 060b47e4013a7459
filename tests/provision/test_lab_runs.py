"""Lab runs without a lab: --serial and --max-fail-percent as arguments, forks sized to the hosts, the playbooks'
keywords, and the report of a run that stopped after a batch, built from synthetic Ansible event sequences."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest
import yaml

from egpu_setup.cli.run_options import percent_arg, serial_arg
from egpu_setup.runner.batches import MAX_FORKS, batch_count, batch_size, forks_for
from egpu_setup.runner.report import build_report, print_summary
from egpu_setup.runner.request import RunRequest
from egpu_setup.runner.run_state import RUN_INCOMPLETE_TASK, RunState

PLAYBOOKS = Path(__file__).resolve().parents[2] / "ansible_collections/egpu/mac/playbooks"
MACS = ["mac1", "mac2", "mac3", "mac4"]


@pytest.mark.parametrize(("text", "value"), [("1", 1), ("2", 2), ("25%", "25%"), ("100%", "100%"), ("007", 7)])
def test_serial_takes_a_number_of_macs_or_a_percentage(text, value):
    assert serial_arg(text) == value


@pytest.mark.parametrize("text", ["0", "-1", "0%", "101%", "x", "2.5", "", "%", "٣"])
def test_serial_refuses_what_ansible_would_not_batch(text):
    with pytest.raises(argparse.ArgumentTypeError, match="not a batch size"):
        serial_arg(text)


@pytest.mark.parametrize(("text", "value"), [("0", 0), ("100", 100), ("25%", 25)])
def test_max_fail_percent_takes_0_to_100(text, value):
    assert percent_arg(text) == value


@pytest.mark.parametrize("text", ["101", "-1", "x", "", "1.5"])
def test_max_fail_percent_refuses_the_rest(text):
    with pytest.raises(argparse.ArgumentTypeError, match="not a percentage"):
        percent_arg(text)


@pytest.mark.parametrize("args", [("--serial", "0"), ("--max-fail-percent", "101"), ("--serial", "many")])
def test_bad_values_exit_2_naming_the_option(cli, args):
    result = cli("provision", "--rehearse", *args)
    assert result.code == 2 and result.out == ""
    assert args[0] in result.err and "Traceback" not in result.err


def test_batches_follow_ansibles_serial_rules():
    assert [batch_size(s, 4) for s in (None, 2, 3, 9, "25%", "10%", "50%")] == [4, 2, 3, 4, 1, 1, 2]
    assert [batch_count(s, 4) for s in (None, 2, 3, "25%", "50%")] == [1, 2, 2, 4, 2]
    assert batch_count(None, 0) == 0


def test_forks_are_sized_to_the_hosts_within_the_limit():
    assert forks_for(1) == 1 and forks_for(8) == 8 and forks_for(8, 2) == 2 and forks_for(8, "50%") == 4
    assert forks_for(MAX_FORKS + 10) == MAX_FORKS and forks_for(0) == 1


def test_serial_and_max_fail_percent_go_to_the_play_as_extravars():
    request = RunRequest(command="provision", playbook="provision", inventory=Path("i"), serial="25%",
                         max_fail_percent=0)  # fmt: skip
    assert request.all_extravars() == {"egpu_serial": "25%", "egpu_max_fail_percent": 0}
    assert RunRequest(command="provision", playbook="provision", inventory=Path("i")).all_extravars() == {}


@pytest.mark.parametrize("name", ["provision.yml", "rollback.yml"])
def test_the_plays_take_serial_and_max_fail_from_extravars_in_lock_step(name):
    play = yaml.safe_load((PLAYBOOKS / name).read_text())[0]
    assert play["strategy"] == "ansible.builtin.linear"
    assert play["serial"] == "{{ egpu_serial | default(0) }}"
    assert play["max_fail_percentage"] == "{{ egpu_max_fail_percent | default(omit) }}"
    block = play["tasks"][-1]
    assert "egpu_run_complete" in block["block"][-1]["ansible.builtin.set_fact"]
    assert block["always"][-1]["name"] == RUN_INCOMPLETE_TASK


def _events(*batches: list[tuple[str, str, str]]) -> list[dict]:
    """One play start per batch, then (event, host, task) results, then the stats Ansible ends with."""
    events, failures, ok = [], {}, {}
    for batch in batches:
        events.append({"event": "playbook_on_play_start", "event_data": {"name": "Provision"}})
        for kind, host, task in batch:
            events.append({"event": f"runner_on_{kind}", "event_data": {"host": host, "task": task, "res": {}}})
            counts = failures if kind == "failed" else ok
            counts[host] = counts.get(host, 0) + 1
    events.append({"event": "playbook_on_stats", "event_data": {"failures": failures, "ok": ok}})
    return events


def _report(events: list[dict], serial, max_fail, total: int) -> dict:
    state = RunState(targets=list(MACS), batches_total=total)
    for event in events:
        state.apply(event)
    return build_report(
        command="provision", request={"serial": serial, "max_fail_percent": max_fail}, state=state, status="failed",
        exit_code=1, run_dir=Path("/runs/r"), log=Path("/runs/r/ansible.log"), duration_s=1.0, verify_reports={},
    )  # fmt: skip


def test_a_batch_with_a_failure_stops_the_run_and_the_report_lists_the_macs_not_run():
    first = [("ok", "mac1", "lock"), ("ok", "mac2", "lock"), ("failed", "mac1", "Install Python 3"),
             ("ok", "mac2", "Install Python 3"), ("failed", "mac1", RUN_INCOMPLETE_TASK)]  # fmt: skip
    report = _report(_events(first), 2, 0, 2)

    hosts = report["hosts"]
    assert {name: h["status"] for name, h in hosts.items()} == {
        "mac1": "failed", "mac2": "ok", "mac3": "not run", "mac4": "not run"
    }  # fmt: skip
    assert hosts["mac1"]["failed"] == 1 and [f["task"] for f in hosts["mac1"]["failures"]] == ["Install Python 3"]
    assert "nothing on it was touched" in hosts["mac3"]["message"]
    assert report["batches"] == {"serial": 2, "run": 1, "total": 2}
    assert report["stopped_early"] == (
        "stopped after batch 1 of 2: mac1 failed and --max-fail-percent is 0; not run: mac3, mac4"
    )
    out = io.StringIO()
    from rich.console import Console

    print_summary(Console(file=out, width=200), report)
    text = out.getvalue()
    assert report["stopped_early"] in text and text.count("not run") >= 3  # the line and two rows


def test_every_batch_ran_when_nothing_stopped_it():
    first = [("ok", "mac1", "lock"), ("ok", "mac2", "lock")]
    second = [("failed", "mac3", "lock"), ("failed", "mac3", RUN_INCOMPLETE_TASK), ("ok", "mac4", "lock")]
    report = _report(_events(first, second), 2, None, 2)
    assert report["batches"] == {"serial": 2, "run": 2, "total": 2} and report["stopped_early"] is None
    assert [h["status"] for h in report["hosts"].values()] == ["ok", "ok", "failed", "ok"]


def test_a_batch_whose_every_mac_failed_ends_the_play_without_max_fail():
    first = [("failed", "mac1", "lock"), ("failed", "mac2", "lock")]
    report = _report(_events(first), 2, None, 2)
    assert report["stopped_early"] == (
        "stopped after batch 1 of 2: every Mac of the batch failed (mac1, mac2), which ends an Ansible play; "
        "not run: mac3, mac4"
    )


def test_a_mac_ansible_ended_for_its_batch_is_stopped_not_ok():
    first = [("ok", "mac1", "lock"), ("ok", "mac2", "lock"), ("failed", "mac1", "Install Python 3"),
             ("failed", "mac1", RUN_INCOMPLETE_TASK), ("failed", "mac2", RUN_INCOMPLETE_TASK)]  # fmt: skip
    report = _report(_events(first), 2, 0, 2)
    mac2 = report["hosts"]["mac2"]
    assert mac2["status"] == "stopped" and mac2["failed"] == 0 and mac2["failures"] == []
    assert "max-fail-percent" in mac2["message"]
