"""One run at a time per Mac: the controller's lock per host (egpu_setup.runner.host_lock), the Mac's run lock
(egpu.mac.run_lock, run by ansible-playbook on the local connection), SIGTERM and a report when the plans stop."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from egpu_setup import runner
from egpu_setup.errors import EgpuError, ExitCode, Terminated
from egpu_setup.runner import execute
from egpu_setup.runner.host_lock import hold_hosts
from egpu_setup.runner.request import RunRequest

ROOT = Path(__file__).resolve().parents[2]


def runs_of(tmp_path: Path) -> list[Path]:
    runs = tmp_path / "data" / "egpu-setup" / "runs"
    return sorted(runs.iterdir()) if runs.exists() else []


# --- the controller's lock -----------------------------------------------------------------------------------------


def test_a_second_run_on_a_held_host_is_refused_with_exit_4_before_anything_is_written(
    cli, demo_project, tmp_path, inventory_of
):
    inventory = inventory_of(tmp_path / "inventory.yml", ["alpha", "beta"])
    with hold_hosts(inventory, "beta", {"command": "provision", "run_id": "first-run"}, wait_s=None):
        result = cli("provision", "-i", str(inventory))
        assert result.code == ExitCode.BUSY, result.err
        assert "error: beta is busy: another run on this controller holds it: provision" in result.err
        assert f"pid {os.getpid()}" in result.err and "run first-run" in result.err
        assert "fix: wait for that run to end, or run again with --wait [SECONDS]" in result.err
        assert runs_of(tmp_path) == []  # no run directory, nothing started
        assert not (tmp_path / "hosts" / "alpha.txt").exists()

        other = cli("provision", "-i", str(inventory), "--limit", "alpha")  # another host is free
        assert other.code == 0, other.err


def test_wait_waits_for_the_host_then_runs(cli, demo_project, tmp_path, inventory_of):
    inventory = inventory_of(tmp_path / "inventory.yml", ["alpha"])
    taken, release = threading.Event(), threading.Event()

    def first() -> None:
        with hold_hosts(inventory, None, {"command": "rollback"}, wait_s=None):
            taken.set()
            release.wait(30)

    holder = threading.Thread(target=first)
    holder.start()
    taken.wait(10)
    try:
        short = cli("plan", "-i", str(inventory), "--wait", "0.5")
        assert short.code == ExitCode.BUSY
        assert "waiting for alpha: another run on this controller holds it: rollback" in short.err
        assert "still busy after waiting" in short.err
        threading.Timer(1.0, release.set).start()
        started = time.monotonic()
        waited = cli("provision", "-i", str(inventory), "--wait")
    finally:
        release.set()
        holder.join()
    assert waited.code == 0, waited.err
    assert time.monotonic() - started >= 0.9
    assert "waiting for alpha" in waited.err
    assert (tmp_path / "hosts" / "alpha.txt").exists()


def test_two_names_of_one_mac_share_its_lock(tmp_path, monkeypatch, inventory_of):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    inventory = inventory_of(tmp_path / "inventory.yml", ["alpha"])
    other = tmp_path / "other.yml"
    other.write_text(yaml.safe_dump({"all": {"hosts": {"mac-a": {"ansible_host": "alpha"}},
                                             "vars": {"ansible_connection": "local"}}}))  # fmt: skip
    with (
        hold_hosts(inventory, None, {"command": "provision"}, wait_s=None),
        pytest.raises(EgpuError) as refused,
        hold_hosts(other, None, {"command": "plan"}, wait_s=None),
    ):
        pass
    assert refused.value.exit_code == ExitCode.BUSY
    assert "mac-a is busy" in refused.value.message


@pytest.mark.parametrize("value", ["-1", "soon", "inf"])
def test_wait_takes_a_number_of_seconds(cli, value):
    result = cli("provision", "-i", "x.yml", f"--wait={value}")
    assert result.code == ExitCode.USAGE
    assert "not a number of seconds" in result.err


# --- what stops a run: SIGTERM, and a stop before the play --------------------------------------------------------


STOPS = [Terminated(), KeyboardInterrupt(), EgpuError("the lock file is damaged", "fix it")]


@pytest.mark.parametrize("stop", STOPS)
def test_a_stop_before_the_play_still_writes_the_report(demo_project, tmp_path, inventory_of, monkeypatch, stop):
    inventory = inventory_of(tmp_path / "inventory.yml", ["alpha"])

    def resolve(run: object) -> None:
        raise stop

    monkeypatch.setattr(execute, "_resolve_plans", resolve)
    with pytest.raises(type(stop)):
        runner.run(RunRequest(command="provision", playbook="provision", inventory=inventory))
    (run_dir,) = runs_of(tmp_path)
    report = json.loads((run_dir / "report.json").read_text())
    expected = {Terminated: ("terminated", 143), KeyboardInterrupt: ("interrupted", 130), EgpuError: ("error", 2)}
    assert (report["status"], report["exit_code"]) == expected[type(stop)]
    assert not (tmp_path / "hosts" / "alpha.txt").exists()  # the play never started


def test_a_second_stop_while_the_run_winds_down_still_writes_the_report(
    demo_project, tmp_path, inventory_of, monkeypatch
):
    """SIGTERM, then SIGTERM and Ctrl-C again while ansible-playbook is being stopped: the report is written with
    the first stop's status, and the handlers are as they were before the run."""
    from egpu_setup.cli import _sigterm_raises

    inventory = inventory_of(tmp_path / "inventory.yml", ["alpha"])
    again: list[int] = []

    def resolve(run: object) -> None:
        raise Terminated()

    def kill_and_signal_again() -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):  # SIGTERM first: raised, it is Terminated (caught below)
            os.kill(os.getpid(), signum)
            again.append(signum)

    monkeypatch.setattr(execute, "_resolve_plans", resolve)
    monkeypatch.setattr(execute, "kill_ansible_playbook", kill_and_signal_again)
    with _sigterm_raises():
        handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
        with pytest.raises(Terminated):
            runner.run(RunRequest(command="provision", playbook="provision", inventory=inventory))
        assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers

    assert again == [signal.SIGTERM, signal.SIGINT]  # both were sent, and neither cut the winding down short
    (run_dir,) = runs_of(tmp_path)
    report = json.loads((run_dir / "report.json").read_text())
    assert (report["status"], report["exit_code"]) == ("terminated", 143)


def test_the_facts_play_leaves_the_signal_handlers_alone(tmp_path, inventory_of):
    """ansible-runner, given no cancel_callback, installs SIGINT/SIGTERM handlers that only set a flag and leaves
    them in place: Ctrl-C and SIGTERM would then no longer stop the main play."""
    from egpu_setup.runner.content import find_content
    from egpu_setup.runner.facts import read_plan_inputs

    inventory = inventory_of(tmp_path / "inventory.yml", ["alpha"])
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    read_plan_inputs(find_content(), run_dir, {"inventory": str(inventory), "limit": None, "extravars": {}})
    assert (run_dir / "facts" / "artifacts" / "ansible" / "rc").is_file()  # the facts play ran
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_sigterm_stops_a_provision_writes_the_report_and_exits_143(demo_project, tmp_path, inventory_of):
    inventory = inventory_of(tmp_path / "inventory.yml", ["alpha"], demo_sleep=60)
    env = {**os.environ, "EGPU_SETUP_CONTENT": str(demo_project.parents[2]), "XDG_DATA_HOME": str(tmp_path / "data")}
    exe = Path(sys.executable).with_name("egpu-setup")
    started = time.monotonic()
    proc = subprocess.Popen([str(exe), "provision", "-i", str(inventory)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    marker = tmp_path / "hosts" / "alpha.txt"  # written by the task before the sleep
    while not marker.exists() and time.monotonic() - started < 60:
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == ExitCode.TERMINATED, err
    assert time.monotonic() - started < 50  # ansible-playbook was stopped, its 60 s sleep not waited for
    assert "error: terminated (SIGTERM)" in err and "Traceback" not in err
    (run_dir,) = runs_of(tmp_path)
    report = json.loads((run_dir / "report.json").read_text())
    assert (report["status"], report["exit_code"]) == ("terminated", 143)
    assert report["hosts"]["alpha"]["changed"] == 1
    assert not ansible_playbooks_of(inventory)  # stopped, not left running


def ansible_playbooks_of(inventory: Path) -> list[int]:
    import psutil

    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if any(Path(arg).name == "ansible-playbook" for arg in cmdline[:2]) and str(inventory) in cmdline:
            found.append(proc.pid)
    return found


# --- stdout closed or full ----------------------------------------------------------------------------------------


def _egpu_setup(args: list[str], stdout: object) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("egpu-setup")
    return subprocess.run([str(exe), *args], stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=60)


def _one_clean_error(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == ExitCode.OUTPUT_FAILED, done.stderr
    assert done.stderr.count("error: ") == 1 and "error: cannot write the output to stdout" in done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr


@pytest.mark.parametrize("args", [["matrix", "--json"], ["matrix"], ["--help"]])
def test_a_full_stdout_exits_74_with_one_message(args):
    with open("/dev/full", "w") as full:
        done = _egpu_setup(args, full)
    _one_clean_error(done)
    assert "No space left on device" in done.stderr


def test_a_closed_pipe_exits_74_with_one_message():
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone, as after `| head`
    try:
        done = _egpu_setup(["matrix", "--json"], write_end)
    finally:
        os.close(write_end)
    _one_clean_error(done)
    assert "Broken pipe" in done.stderr


def test_a_closed_stdout_exits_74_with_one_message():
    exe = Path(sys.executable).with_name("egpu-setup")
    done = subprocess.run(["sh", "-c", f"'{exe}' matrix --json >&-"], stderr=subprocess.PIPE, text=True, timeout=60)
    _one_clean_error(done)
    assert "stdout is closed" in done.stderr


# --- the Mac's run lock (egpu.mac.run_lock) on the local connection -----------------------------------------------

LOCK_PLAY = """\
- name: Run lock
  hosts: localhost
  gather_facts: false
  tasks:
    - name: The run lock
      egpu.mac.run_lock: {args}
      register: lock
      ignore_errors: true
    - name: Keep the result
      ansible.builtin.copy:
        content: "{{{{ lock | to_json }}}}"
        dest: {result}
        mode: "0644"
      check_mode: false
"""


def run_lock(tmp_path: Path, check: bool = False, **args: object) -> tuple[int, dict, str]:
    """egpu.mac.run_lock once through ansible-playbook: (rc, the task's result, stdout)."""
    play = tmp_path / "lock.yml"
    kept = tmp_path / "result.json"
    kept.unlink(missing_ok=True)
    lock_args = json.dumps({"path": str(tmp_path / "run-lock"), **args})
    play.write_text(LOCK_PLAY.format(args=lock_args, result=json.dumps(str(kept))))
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_LOCALHOST_WARNING": "0"}  # fmt: skip
    exe = Path(sys.executable).with_name("ansible-playbook")
    cmd = [str(exe), "-i", "localhost,", "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}",
           str(play), *(["--check"] if check else [])]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(kept.read_text())
    return int(bool(result.get("failed"))), result, done.stdout


def lock_text(**fields: object) -> str:
    entry = {"controller": socket.gethostname(), "pid": os.getpid(), "command": "provision", "run_id": "r1",
             "since": int(time.time())} | fields  # fmt: skip
    return "".join(f"{k}={v}\n" for k, v in entry.items())


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_mac_lock_is_taken_with_its_holder_and_released_only_by_its_run(tmp_path):
    rc, result, _ = run_lock(tmp_path, command="provision", run_id="run-1")
    assert rc == 0 and result["changed"] is False
    entry = dict(line.split("=", 1) for line in (tmp_path / "run-lock").read_text().splitlines())
    assert (entry["controller"], entry["command"], entry["run_id"]) == (socket.gethostname(), "provision", "run-1")
    assert int(entry["since"]) <= time.time() and int(entry["pid"]) > 0

    rc, result, _ = run_lock(tmp_path, state="unlocked", run_id="another-run")
    assert rc == 0 and (tmp_path / "run-lock").exists()  # not ours: left alone
    rc, result, _ = run_lock(tmp_path, state="unlocked", run_id="run-1")
    assert rc == 0 and not (tmp_path / "run-lock").exists()


def test_mac_lock_held_by_another_controller_is_busy_and_waited_for(tmp_path):
    (tmp_path / "run-lock").write_text(lock_text(controller="lab-ctl-2", pid=4242, command="rollback"))
    started = time.monotonic()
    rc, result, _ = run_lock(tmp_path, wait=1.5, poll=0.5)
    assert rc != 0 and result["busy"] is True
    assert time.monotonic() - started >= 1.5
    assert "another run holds this Mac: rollback from lab-ctl-2 (pid 4242, run r1) since" in result["msg"]
    assert "--wait [SECONDS]" in result["msg"] and "--break-lock" in result["msg"]
    assert "controller=lab-ctl-2" in (tmp_path / "run-lock").read_text()  # untouched

    rc, result, _ = run_lock(tmp_path, check=True)  # plan checks it too, and changes nothing
    assert rc != 0 and result["busy"] is True


def test_mac_lock_of_a_dead_run_of_this_controller_is_taken_over_with_a_note(tmp_path):
    (tmp_path / "run-lock").write_text(lock_text(pid=dead_pid()))
    rc, result, _ = run_lock(tmp_path, check=True)
    assert rc == 0 and "is stale" in " ".join(result.get("warnings", []))
    assert "run_id=r1" in (tmp_path / "run-lock").read_text()  # check mode took nothing over

    rc, result, _ = run_lock(tmp_path, run_id="run-2")
    assert rc == 0 and result["taken_over"] is True
    assert "taken over (its ansible-playbook no longer runs on this controller)" in " ".join(result["warnings"])
    assert "run_id=run-2" in (tmp_path / "run-lock").read_text()


def test_an_old_mac_lock_is_reported_stale_with_the_fix_and_broken_only_on_request(tmp_path):
    (tmp_path / "run-lock").write_text(lock_text(controller="gone-ctl", pid=7, since=int(time.time()) - 90000))
    rc, result, _ = run_lock(tmp_path)
    assert rc != 0 and result["busy"] is True
    assert "the Mac's run lock" in result["msg"] and "is stale: provision from gone-ctl (pid 7" in result["msg"]
    assert "older than 86400 s" in result["msg"]
    assert "look on gone-ctl" in result["msg"] and "--break-lock" in result["msg"]

    rc, result, _ = run_lock(tmp_path, break_lock=True, run_id="run-3")
    assert rc == 0 and result["taken_over"] is True
    assert "run_id=run-3" in (tmp_path / "run-lock").read_text()
