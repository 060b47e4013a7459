"""End to end: preflight refusals change nothing, and a run killed between the driver install and the restart is
finished by the next run, which restarts the Mac because the installed driver is not the loaded one."""

from __future__ import annotations

import io
import json

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.lab]

REBOOT_CHECK = "Read which NVIDIA kexts are installed and which are loaded"
REBOOT_TASK = "Restart the Mac so that the drivers running are the ones installed"


def test_preflight_refuses_with_the_remedy_and_changes_nothing(tmp_path, make_lab, digest_of):
    """mac1 has kext signing on: the Recovery OS command. mac2 has Command Line Tools 9.3, whose clang nvcc 9.1
    refuses: the CLT remedy."""
    from egpu_lab.machine import sip_preset

    with make_lab(tmp_path, hosts=2) as lab:
        with lab.machine("mac1").edit() as state:
            state.sip = sip_preset("enabled")
        lab.preinstall_clt("mac2", "9.3")
        before = {name: digest_of(lab.host_dir(name)) for name in ("mac1", "mac2")}

        code, report, err, _ = lab.run("provision")

        assert code == 1, err
        assert report["status"] == "failed"
        for name in ("mac1", "mac2"):
            host = report["hosts"][name]
            assert (host["failed"], host["changed"]) == (1, 0)
            assert digest_of(lab.host_dir(name)) == before[name]
        (kext_signing,) = report["hosts"]["mac1"]["failures"]
        assert kext_signing["role"] == "preflight"
        assert "csrutil enable --without kext" in kext_signing["message"]
        assert "Recovery OS" in kext_signing["message"]
        (clt,) = report["hosts"]["mac2"]["failures"]
        assert clt["role"] == "preflight"
        assert "Command Line Tools 9.2" in clt["message"]
        assert (
            "nvcc fatal : The version ('90100') of the host compiler ('Apple clang') is not supported" in clt["message"]
        )
        assert "sudo xcode-select --switch /Library/Developer/CommandLineTools" in clt["message"]
        assert "clang-902.0.39.1" in clt["message"]  # what the selected tools are now


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory, lab_at):
    """A lab brought up the way the README's main job does it: `egpu-setup plan --rehearse --lab-dir D`."""
    from egpu_setup.cli import main

    base = tmp_path_factory.mktemp("rehearse")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("XDG_DATA_HOME", str(base / "data"))
        out, err = io.StringIO(), io.StringIO()
        code = main(["plan", "--rehearse", "--lab-dir", str(base / "lab"), "--json"], stdout=out, stderr=err)
        assert code == 0, err.getvalue()
        assert f"rehearsal: bringing up a one-host lab at {base / 'lab'}" in err.getvalue()
        assert json.loads(out.getvalue())["hosts"]["mac1"]["changes"]
        yield lab_at(base / "lab")
        main(["lab", "down", "--dir", str(base / "lab")], stdout=io.StringIO(), stderr=io.StringIO())


def test_a_run_killed_before_the_restart_is_restarted_by_the_next_run(rehearsal):
    from egpu_setup import runner
    from egpu_setup.cli import main
    from egpu_setup.runner.request import RunRequest
    from egpu_setup.runner.view import PlainView

    lab = rehearsal
    machine = lab.machine("mac1")
    boots = machine.read().boot.count
    killed = runner.run(
        RunRequest(
            command="provision",
            playbook="provision",
            inventory=lab.inventory,
            # the drivers are installed, the restart not decided yet: the moment a crash hurts most
            kill_when=lambda event: (
                event.get("event") == "playbook_on_task_start" and event["event_data"].get("task") == REBOOT_CHECK
            ),
            view=PlainView(io.StringIO()),
            resolve_plans=True,
        ),
    )
    assert killed.report["status"] == "killed"
    state = machine.read()
    assert state.boot.count == boots
    assert (lab.host_dir("mac1") / "root/Library/Extensions/NVDAStartupWeb.kext").is_dir()
    assert "com.nvidia.NVDAStartupWeb" not in {kext.bundle_id for kext in state.kexts}

    out, err = io.StringIO(), io.StringIO()
    code = main(["provision", "--rehearse", "--lab-dir", str(lab.dir), "--json"], stdout=out, stderr=err)

    assert code == 0, err.getvalue()
    assert f"rehearsal: using the lab at {lab.dir}" in err.getvalue()
    report = json.loads(out.getvalue())
    restarts = [c for c in report["hosts"]["mac1"]["changes"] if c["task"] == REBOOT_TASK]
    assert len(restarts) == 1
    state = machine.read()
    assert state.boot.count == boots + 1
    assert "com.nvidia.NVDAStartupWeb" in {kext.bundle_id for kext in state.kexts}
