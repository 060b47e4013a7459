"""End to end on one rehearsal Mac: one run at a time. Two provisions at once (the second refuses with exit 4 and
starts nothing, the first converges, a third with --wait waits and then runs); a Mac lock of another controller
(busy, stale, broken with --break-lock); SIGTERM on a running provision (exit 143, its report) and the next run
taking over the lock the killed run left. The tests run in file order on one lab."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.lab]

EGPU_SETUP = str(Path(sys.executable).with_name("egpu-setup"))


@pytest.fixture(scope="module")
def lab(tmp_path_factory, make_lab):
    with make_lab(tmp_path_factory.mktemp("runlock")) as lab:
        lab.fill_cache()
        yield lab


def mac_lock(lab) -> Path:
    return lab.host_dir("mac1") / "root/private/var/db/egpu-setup.run-lock"


def runs_dir(lab) -> Path:
    return Path(os.environ["XDG_DATA_HOME"]) / "egpu-setup" / "runs"


def start(lab, command: str, *args: str) -> subprocess.Popen[str]:
    """`egpu-setup COMMAND -i <lab> --json ARGS` in the background (the environment is the lab's)."""
    cmd = [EGPU_SETUP, command, "-i", str(lab.inventory), "--json", *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(path: Path, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.2)


def write_lock(lab, **fields: object) -> str:
    entry = {"controller": "ctl-elsewhere", "pid": 4242, "command": "rollback", "run_id": "elsewhere-run",
             "since": int(time.time())} | fields  # fmt: skip
    text = "".join(f"{key}={value}\n" for key, value in entry.items())
    mac_lock(lab).write_text(text)
    return text


def test_two_provisions_at_once_the_second_refuses_and_a_waiting_one_runs_after(lab):
    first = start(lab, "provision")
    wait_for(mac_lock(lab))  # the play has started: the Mac's run lock is taken
    assert f"controller={socket.gethostname()}" in mac_lock(lab).read_text()
    runs_before = sorted(runs_dir(lab).iterdir())

    code, report, err, _ = lab.run("provision")
    assert code == 4, err
    assert report is None
    assert "error: mac1 is busy: another run on this controller holds it: provision" in err
    assert "fix: wait for that run to end, or run again with --wait [SECONDS]" in err
    assert sorted(runs_dir(lab).iterdir()) == runs_before  # nothing started, nothing written

    waiting = start(lab, "provision", "--wait")
    out, err = first.communicate(timeout=900)
    assert first.returncode == 0, err
    assert json.loads(out)["hosts"]["mac1"]["changed"] > 0
    out, err = waiting.communicate(timeout=900)
    assert waiting.returncode == 0, err
    assert "waiting for mac1: another run on this controller holds it: provision" in err
    assert json.loads(out)["hosts"]["mac1"]["changed"] == 0  # ran after the first, which had converged
    assert not mac_lock(lab).exists()  # released at the end


def test_a_mac_locked_by_another_controller_is_busy_and_changes_nothing(lab, digest_of):
    write_lock(lab)
    before = digest_of(lab.host_dir("mac1"))
    for command in ("provision", "plan", "rollback"):
        code, report, err, _ = lab.run(command)
        assert code == 4, err
        assert report["status"] == "busy"
        (failure,) = report["hosts"]["mac1"]["failures"]
        assert "another run holds this Mac: rollback from ctl-elsewhere (pid 4242, run elsewhere-run)" in (
            failure["message"]
        )
        assert "--wait [SECONDS]" in failure["message"]
        assert digest_of(lab.host_dir("mac1")) == before


def test_a_stale_mac_lock_is_named_with_its_fix_and_broken_with_break_lock(lab):
    text = write_lock(lab, since=int(time.time()) - 2 * 86400)
    code, report, err, _ = lab.run("provision")
    assert code == 4, err
    (failure,) = report["hosts"]["mac1"]["failures"]
    assert "run lock /private/var/db/egpu-setup.run-lock is stale: rollback from ctl-elsewhere" in failure["message"]
    assert "look on ctl-elsewhere), then run again with --break-lock" in failure["message"]
    assert mac_lock(lab).read_text() == text

    code, report, err, _ = lab.run("provision", "--break-lock")
    assert code == 0, err
    assert report["hosts"]["mac1"]["changed"] == 0
    assert not mac_lock(lab).exists()


def test_sigterm_ends_a_provision_with_143_and_the_next_run_takes_over_its_lock(lab):
    running = start(lab, "provision")
    wait_for(mac_lock(lab))
    time.sleep(2)
    running.send_signal(signal.SIGTERM)
    _, err = running.communicate(timeout=120)
    assert running.returncode == 143, err
    assert "error: terminated (SIGTERM)" in err and "Traceback" not in err
    newest = sorted(runs_dir(lab).iterdir())[-1]
    report = json.loads((newest / "report.json").read_text())
    assert (report["status"], report["exit_code"]) == ("terminated", 143)
    assert f"controller={socket.gethostname()}" in mac_lock(lab).read_text()  # its ansible-playbook was killed

    code, report, err, _ = lab.run("provision")
    assert code == 0, err
    log = Path(report["log"]).read_text()
    assert "taken over (its ansible-playbook no longer runs on this controller)" in log
    assert not mac_lock(lab).exists()
